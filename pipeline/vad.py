"""Speech activity with the Silero VAD model that faster-whisper ships (ONNX, offline)."""

from __future__ import annotations

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps

from pipeline.config import VadConfig
from pipeline.types import Span

SAMPLE_RATE = 16000
FRAME = 160  # 10 ms
BLOCK_S = 300.0  # Silero's block: its input and activations stay this size
SEARCH_S = 30.0  # a block ends at the quietest point this close before its nominal end
CUT_S = 0.3  # ... averaged over this long
LEVEL_BLOCK = 1 << 16  # frames per step of frame_db


def speech_spans(samples: np.ndarray, config: VadConfig) -> tuple[Span, ...]:
    """Speech regions of one channel.

    Silero runs over blocks of about ``BLOCK_S``, each cut at the quietest stretch near its nominal
    end, so memory stays in the block however long the call; spans meeting at a cut are joined.

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
    level = frame_db(samples)
    min_gap_s = config.min_silence_duration_ms / 1000
    spans: list[Span] = []
    for lo, hi in block_bounds(level, samples.size):
        stamps = get_speech_timestamps(np.ascontiguousarray(samples[lo:hi], np.float32), options)
        block_spans = [Span((lo + s["start"]) / SAMPLE_RATE, (lo + s["end"]) / SAMPLE_RATE) for s in stamps]
        if spans and block_spans and block_spans[0].start - spans[-1].end < min_gap_s:
            block_spans[0] = Span(spans.pop().start, block_spans[0].end)  # speech running across the cut
        spans += block_spans
    return refine_edges(tuple(spans), level, search_s=config.edge_search_ms / 1000,
                        floor_margin_db=config.edge_floor_margin_db,
                        peak_drop_db=config.edge_peak_drop_db, min_gap_s=min_gap_s)


def block_bounds(level: np.ndarray, n: int) -> list[tuple[int, int]]:
    """Sample bounds of the VAD blocks: each ends at the quietest ``CUT_S`` within ``SEARCH_S`` before
    its nominal end of ``BLOCK_S`` after its start, the level ``frame_db`` of the signal of ``n`` samples."""
    block, search, cut = (round(x * SAMPLE_RATE / FRAME) for x in (BLOCK_S, SEARCH_S, CUT_S))
    smooth = np.convolve(level, np.ones(cut) / cut, mode="same")
    bounds, start = [], 0
    while start + block + search < len(level):
        lo = start + block - search
        end = lo + int(np.argmin(smooth[lo:start + block]))
        bounds.append((start * FRAME, end * FRAME))
        start = end
    return [*bounds, (start * FRAME, n)]


def frame_db(samples: np.ndarray, frame: int = FRAME) -> np.ndarray:
    """RMS level in dBFS of consecutive 10 ms frames, shape (frames,), of one channel (n,) or of the mix of
    channels (channels, n); computed in blocks of frames."""
    n = samples.shape[-1] // frame
    level = np.empty(n)
    for a in range(0, n, LEVEL_BLOCK):
        b = min(n, a + LEVEL_BLOCK)
        x = samples[..., a * frame:b * frame]
        x = (x.mean(axis=0) if x.ndim == 2 else x).reshape(b - a, frame).astype(np.float64)
        level[a:b] = 10 * np.log10(np.mean(x * x, axis=1) + 1e-12)
    return level


def refine_edges(spans: tuple[Span, ...], level: np.ndarray, *, search_s: float,
                 floor_margin_db: float, peak_drop_db: float, min_gap_s: float) -> tuple[Span, ...]:
    """Move each span's edges to where the signal level crosses a per-span threshold.

    ``level`` is the channel's ``frame_db``. Silero decides in 32 ms steps, pads, and bridges short
    pauses; speech starts and ends where the level rises above ``max(noise floor + floor_margin_db,
    span peak - peak_drop_db)``, searched within ``search_s`` of each edge, and a span splits where the
    level stays below that threshold for ``min_gap_s`` or more. A span with no frame above it is dropped.
    """
    if not spans:
        return spans
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
