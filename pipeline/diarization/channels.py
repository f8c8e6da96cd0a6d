"""Stereo calls: one party per channel, the choice of method, and the other party's bleed removed."""

from __future__ import annotations

from typing import Literal

import numpy as np

from pipeline.audio.signal import FRAME_S, channel_correlation, frame_db, spans_to_mask
from pipeline.config import DiarizationConfig
from pipeline.types import Diarization, Span, SpeakerSegment


def remove_bleed(
    spans: list[tuple[Span, ...]], samples: np.ndarray, config: DiarizationConfig
) -> list[tuple[Span, ...]]:
    """Drop the speech segments of a channel that are only the other party leaking across.

    A segment is bleed when the other channel speaks during most of it and is, on average over
    those frames, ``bleed_db`` louder. Whole segments are judged, so the level dips inside
    genuine overlapping speech never cut it into pieces.
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
            if hi <= lo or both.mean() < 0.5:
                kept.append(span)
                continue
            own = power[ch, lo:hi][both].mean()
            theirs = power[other, lo:hi][both].mean()
            if 10 * np.log10(theirs / max(own, 1e-12)) < config.bleed_db:
                kept.append(span)
        cleaned.append(tuple(kept))
    return cleaned


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
