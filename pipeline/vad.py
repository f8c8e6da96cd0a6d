"""Speech activity with the Silero VAD model that faster-whisper ships (ONNX, offline)."""

from __future__ import annotations

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps

from pipeline.config import VadConfig
from pipeline.types import Span

SAMPLE_RATE = 16000
FRAME = 160  # 10 ms


def speech_spans(samples: np.ndarray, config: VadConfig) -> tuple[Span, ...]:
    """Speech regions of one channel.

    Parameters
    ----------
    samples : np.ndarray, shape (n,), float32 at 16 kHz
    config : thresholds and durations of the Silero pass

    Returns
    -------
    Spans in seconds, sorted and disjoint.
    """
    if samples.size < SAMPLE_RATE // 10:
        return ()
    options = VadOptions(
        threshold=config.threshold,
        min_speech_duration_ms=config.min_speech_duration_ms,
        min_silence_duration_ms=config.min_silence_duration_ms,
        speech_pad_ms=config.speech_pad_ms,
    )
    stamps = get_speech_timestamps(np.ascontiguousarray(samples, np.float32), options)
    spans = tuple(Span(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps)
    return refine_edges(spans, samples, search_s=config.edge_search_ms / 1000,
                        floor_margin_db=config.edge_floor_margin_db,
                        peak_drop_db=config.edge_peak_drop_db,
                        min_gap_s=config.min_silence_duration_ms / 1000)


def frame_db(samples: np.ndarray, frame: int = FRAME) -> np.ndarray:
    """RMS level in dBFS of consecutive 10 ms frames, shape (frames,)."""
    n = samples.shape[-1] // frame
    x = samples[: n * frame].reshape(n, frame).astype(np.float64)
    return 10 * np.log10(np.mean(x * x, axis=1) + 1e-12)


def refine_edges(spans: tuple[Span, ...], samples: np.ndarray, *, search_s: float,
                 floor_margin_db: float, peak_drop_db: float, min_gap_s: float) -> tuple[Span, ...]:
    """Move each span's edges to where the signal level crosses a per-span threshold.

    Silero decides in 32 ms steps, pads, and bridges short pauses; speech starts and ends where
    the level rises above ``max(noise floor + floor_margin_db, span peak - peak_drop_db)``,
    searched within ``search_s`` of each edge, and a span splits where the level stays below
    that threshold for ``min_gap_s`` or more. A span with no frame above it is dropped.
    """
    if not spans:
        return spans
    level = frame_db(samples)
    frame_s = FRAME / SAMPLE_RATE
    floor = float(np.percentile(level, 10))
    search = round(search_s / frame_s)
    min_gap = round(min_gap_s / frame_s)
    out: list[Span] = []
    for span in spans:
        lo = max(0, int(span.start / frame_s) - search)
        hi = min(len(level), int(np.ceil(span.end / frame_s)) + search)
        if out:
            lo = max(lo, int(np.ceil(out[-1].end / frame_s)))
        if hi <= lo:
            continue
        seg = level[lo:hi]
        loud = np.flatnonzero(seg > max(floor + floor_margin_db, seg.max() - peak_drop_db))
        if not loud.size:
            continue
        cuts = np.flatnonzero(np.diff(loud) > min_gap)
        starts = np.concatenate([[loud[0]], loud[cuts + 1]])
        ends = np.concatenate([loud[cuts], [loud[-1]]]) + 1
        out += [Span((lo + a) * frame_s, (lo + b) * frame_s) for a, b in zip(starts, ends, strict=True)]
    return tuple(out)


def spans_to_mask(spans: tuple[Span, ...], n_frames: int, frame_s: float) -> np.ndarray:
    """Boolean frame mask, shape (n_frames,), true where a span covers the frame centre."""
    mask = np.zeros(n_frames, bool)
    for span in spans:
        lo = max(0, int(np.ceil(span.start / frame_s - 0.5)))
        hi = min(n_frames, int(np.ceil(span.end / frame_s - 0.5)))
        mask[lo:hi] = True
    return mask


def mask_to_spans(mask: np.ndarray, frame_s: float, min_duration_s: float = 0.0) -> tuple[Span, ...]:
    """Runs of true frames as spans, dropping those shorter than ``min_duration_s``."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    spans = (Span(a * frame_s, b * frame_s) for a, b in zip(edges[::2], edges[1::2], strict=True))
    return tuple(s for s in spans if s.duration >= min_duration_s)
