"""Stereo calls: one party per channel, the choice of method, and the other party's bleed removed."""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.ndimage import uniform_filter1d

from pipeline.audio.signal import FRAME_S, channel_correlation, frame_db, mask_to_spans, spans_to_mask
from pipeline.config import DiarizationConfig
from pipeline.types import Diarization, Span, SpeakerSegment

LEAK_MIN_S = 1.0  # a stretch of a kept segment this long where only the other party's leak is heard is cut out
LEAK_SMOOTH_S = 0.3  # frames are judged leak or not over a window this long


def remove_bleed(
    spans: list[tuple[Span, ...]], samples: np.ndarray, config: DiarizationConfig
) -> list[tuple[Span, ...]]:
    """Drop the speech segments of a channel that are only the other party leaking across.

    A segment is bleed when the other channel speaks during most of it and is, on average over
    those frames, ``bleed_db`` louder. Whole segments are judged, so the level dips inside
    genuine overlapping speech never cut it into pieces. A kept segment loses the stretches of
    ``LEAK_MIN_S`` or more where the other channel speaks ``bleed_db`` louder all along (``_cut_leaks``):
    the VAD joins a party's short reply to the leak around it.
    """
    power = 10 ** (np.stack([frame_db(ch) for ch in samples]) / 10)  # (2, frames)
    n = power.shape[1]
    masks = [spans_to_mask(s, n, FRAME_S) for s in spans]
    cleaned = []
    for ch in (0, 1):
        other = 1 - ch
        kept = []
        for span in spans[ch]:
            lo, hi = int(span.start / FRAME_S), min(n, int(np.ceil(span.end / FRAME_S)))
            both = masks[other][lo:hi]
            if hi <= lo or not both.any():
                kept.append(span)
                continue
            own = power[ch, lo:hi][both].mean()
            theirs = power[other, lo:hi][both].mean()
            if both.mean() < 0.5 or 10 * np.log10(theirs / max(own, 1e-12)) < config.bleed_db:
                kept += _cut_leaks(span, lo, power[ch, lo:hi], power[other, lo:hi], both, config.bleed_db)
        cleaned.append(tuple(kept))
    return cleaned


def _cut_leaks(span: Span, lo: int, own: np.ndarray, theirs: np.ndarray, both: np.ndarray,
               bleed_db: float) -> list[Span]:
    """``span`` (its frames from ``lo``, the two channels' frame powers over it) less its stretches where, over
    ``LEAK_SMOOTH_S`` windows, most frames have the other channel speaking ``bleed_db`` louder: those of at least
    ``LEAK_MIN_S`` inside it, and any that opens or closes it (the party's speech starts or ends there, so no
    dip of its own voice is cut); what is left keeps the span's edges, and pieces shorter than
    ``LEAK_SMOOTH_S`` go."""
    leaky = both & (10 * np.log10(np.maximum(theirs, 1e-12) / np.maximum(own, 1e-12)) >= bleed_db)
    width = max(1, round(LEAK_SMOOTH_S / FRAME_S))
    leak = uniform_filter1d(leaky.astype(float), width, mode="nearest") > 0.5
    runs = [r for r in mask_to_spans(leak, FRAME_S)
            if r.duration >= LEAK_MIN_S or r.start <= 0 or round(r.end / FRAME_S) >= leak.size]
    if not runs:
        return [span]
    keep = ~spans_to_mask(tuple(runs), leak.size, FRAME_S)
    return [Span(max(span.start, lo * FRAME_S + p.start), min(span.end, lo * FRAME_S + p.end))
            for p in mask_to_spans(keep, FRAME_S, LEAK_SMOOTH_S)]


def choose_method(
    samples: np.ndarray, channel_spans: list[tuple[Span, ...]], config: DiarizationConfig
) -> tuple[Literal["channels", "embedding", "pyannote"], tuple[str, ...]]:
    """The diarization method for a call, and the stereo checks that decided it.

    ``auto``: channels for a true two-party stereo call; a stereo file whose channels are one
    signal, or one of whose channels carries (almost) no speech, is diarized as mono over the
    mix, with a note saying why.
    """
    if config.method != "auto":
        return config.method, ()
    if samples.shape[0] != 2:
        return "embedding", ()
    corr = channel_correlation(samples)
    if corr >= config.duplicate_channel_corr:
        return "embedding", (f"stereo: the channels are one signal (correlation {corr:.3f}): analyzed as mono",)
    talk = [sum(s.duration for s in spans) for spans in channel_spans]
    quiet = [ch for ch, t in enumerate(talk) if t < config.min_channel_speech_s]
    if quiet:
        return "embedding", tuple(f"stereo: channel {ch} carries {talk[ch]:.1f} s of speech (dead or silent "
                                  f"party): analyzed as mono" for ch in quiet)
    return "channels", ()


def diarize_channels(
    channel_spans: list[tuple[Span, ...]], samples: np.ndarray, config: DiarizationConfig
) -> Diarization:
    """One speaker per channel with speech; bleed from the other channel removed."""
    spans = remove_bleed(channel_spans, samples, config) if samples.shape[0] == 2 else channel_spans
    segments, channel_of = [], {}
    for ch, ch_spans in enumerate(spans):
        if sum(s.duration for s in ch_spans) < config.min_channel_speech_s:
            continue
        speaker = f"ch{ch}"
        channel_of[speaker] = ch
        segments += [SpeakerSegment(speaker, s.start, s.end) for s in ch_spans]
    segments.sort(key=lambda s: (s.start, s.end))
    return Diarization("channels", tuple(segments), channel_of)
