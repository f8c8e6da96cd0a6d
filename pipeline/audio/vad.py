"""Speech activity with the Silero VAD model that faster-whisper ships (ONNX, offline)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps
from scipy.ndimage import median_filter

from pipeline.audio.signal import FRAME, frame_db, map_blocks, release, spans_to_mask
from pipeline.config import VadConfig
from pipeline.types import SAMPLE_RATE, Span

QUIET_MEDIAN_FRAMES = 5  # refine_edges' quiet threshold: 10 ms levels read as their median over this many...
QUIET_SHARE = 0.25  # ...against this share of the way from the noise floor to the span's peak...
NOISE_PERCENTILE = 90  # ...or, if higher, this percentile of the levels outside all speech


def speech_spans(samples: np.ndarray, config: VadConfig) -> tuple[Span, ...]:
    """Speech regions of one channel (``channels_speech``)."""
    return channels_speech([samples], config)[0]


def channels_speech(channels: Sequence[np.ndarray], config: VadConfig, workers: int = 1) -> list[tuple[Span, ...]]:
    """Speech regions of each channel.

    Silero runs over blocks of about ``BLOCK_S``, each cut at the quietest stretch near its nominal
    end, so memory stays in the block however long the call; spans meeting at a cut are joined. Each
    block starts Silero afresh, so the blocks of all channels run ``workers`` at a time (``signal.map_blocks``) with the
    same result as one after the other.

    Parameters
    ----------
    channels : each np.ndarray, shape (n,), float32 at 16 kHz
    config : thresholds and durations of the Silero pass
    workers : blocks analysed at once

    Returns
    -------
    Per channel, spans in seconds, sorted and disjoint.
    """
    options = VadOptions(
        threshold=config.threshold,
        min_speech_duration_ms=config.min_speech_duration_ms,
        min_silence_duration_ms=config.min_silence_duration_ms,
        speech_pad_ms=config.speech_pad_ms,
    )
    levels = [frame_db(x) for x in channels]

    def stamps(k: int, lo: int, hi: int) -> list[Span]:
        if channels[k].size < SAMPLE_RATE // 10:
            return []
        found = get_speech_timestamps(np.ascontiguousarray(channels[k][lo:hi], np.float32), options)
        release(channels[k])
        return [Span((lo + s["start"]) / SAMPLE_RATE, (lo + s["end"]) / SAMPLE_RATE) for s in found]

    found = map_blocks(levels, [x.size for x in channels], stamps, workers)
    min_gap_s = config.min_silence_duration_ms / 1000
    out = []
    for k, level in enumerate(levels):
        spans: list[Span] = []
        for block_spans in found[k]:
            if spans and block_spans and block_spans[0].start - spans[-1].end < min_gap_s:
                block_spans[0] = Span(spans.pop().start, block_spans[0].end)  # speech running across the cut
            spans += block_spans
        out.append(refine_edges(tuple(spans), level, search_s=config.edge_search_ms / 1000,
                                floor_margin_db=config.edge_floor_margin_db,
                                peak_drop_db=config.edge_peak_drop_db, min_gap_s=min_gap_s))
    return out


def refine_edges(spans: tuple[Span, ...], level: np.ndarray, *, search_s: float, floor_margin_db: float,
                 peak_drop_db: float, min_gap_s: float) -> tuple[Span, ...]:
    """Move each span's edges to where the signal level says speech starts and ends, and cut its pauses.

    ``level`` is the channel's ``frame_db``. Silero decides in 32 ms steps, pads, and bridges short
    pauses; the level, in 10 ms frames, places the edges and the pauses. With the noise floor (the
    channel's 10th percentile level) and the span's peak, two thresholds:

    - *sure*: ``max(floor + floor_margin_db, peak - peak_drop_db)``. A frame above it is speech, within
      ``search_s`` beyond Silero's edges too.
    - *quiet*, inside Silero's span: a frame is speech unless the median level of the
      ``QUIET_MEDIAN_FRAMES`` around it is no higher than ``floor + QUIET_SHARE x (peak - floor)``, nor
      than what the line's noise reaches (the ``NOISE_PERCENTILE`` level of the frames outside every span:
      one noise frame in ten passes it, five in a row seldom do); never above *sure*, never under
      ``peak - peak_drop_db``.

    A span splits where no frame is speech for ``min_gap_s`` or more; a piece shorter than that with no
    frame above *sure* is a flicker of the noise and goes, as does a span with no speech frame.

    Where the speech stands 48 dB or more over the noise the two thresholds are one: ``QUIET_SHARE`` x 48 dB
    is the 12 dB margin. On a noisier line the soft parts of speech (unvoiced consonants, trailing
    syllables) fall below *sure* but stay above the noise, and Silero, which hears them, is kept there:
    cut at *sure* alone, speech with white noise 10 dB under it lost 44 % of its time to some three times
    as many pieces (``scripts/eval_vad.py``).
    """
    if not spans:
        return spans
    frame_s = FRAME / SAMPLE_RATE
    floor = float(np.percentile(level, 10))
    inside = spans_to_mask(spans, len(level), frame_s)
    ceiling = float(np.percentile(level[~inside], NOISE_PERCENTILE)) if not inside.all() else floor
    smooth = median_filter(level, QUIET_MEDIAN_FRAMES, mode="nearest")
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
        peak = float(seg.max())
        sure = max(floor + floor_margin_db, peak - peak_drop_db)
        quiet = min(max(ceiling, floor + QUIET_SHARE * (peak - floor), peak - peak_drop_db), sure)
        speech = (seg > sure) | ((smooth[lo:hi] > quiet) & inside[lo:hi])
        loud = np.flatnonzero(speech)
        if not loud.size:
            continue
        cuts = np.flatnonzero(np.diff(loud) > min_gap)
        starts = np.concatenate([[loud[0]], loud[cuts + 1]])
        ends = np.concatenate([loud[cuts], [loud[-1]]]) + 1
        out += [Span((lo + a) * frame_s, (lo + b) * frame_s) for a, b in zip(starts, ends, strict=True)
                if b - a >= min_gap or (seg[a:b] > sure).any()]
    return tuple(out)
