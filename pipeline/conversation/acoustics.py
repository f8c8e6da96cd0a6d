"""What fills the time nobody talks, and how far the call's figures can be trusted.

Pure functions over the decoded samples, shape (channels, samples) at 16 kHz, and the speaker
timeline:

1. **non-talk**: every stretch where nobody speaks, cut into ``block_s`` blocks, each classed
   ``silence`` (RMS below ``silence_dbfs``), ``tone_music`` (louder, with a peaky spectrum: dial
   and ringing tones, hold music) or ``noise`` (louder, with a flat spectrum);
2. **reliability**: speech level over the noise floor (SNR), the other channel's level during a
   speaker's solo speech (stereo bleed), the mean ASR word probability and the overlap ratio,
   each graded high/medium/low by thresholds in the config; the call gets the worst grade.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Literal

import numpy as np
from scipy.signal import welch

from pipeline.audio.signal import FRAME_S, frame_db, release, spans_to_mask
from pipeline.config import AcousticsConfig
from pipeline.conversation.timeline import activity, merge
from pipeline.types import (
    SAMPLE_RATE,
    Alignment,
    AttributedWord,
    CallAcoustics,
    CallDynamics,
    Grade,
    Span,
    SpeakerSegment,
)

BAND_HZ = (150.0, 3800.0)  # the telephone band above mains hum: tones, music and noise are judged here
MIN_SPECTRUM_SAMPLES = 512  # a shorter block has too coarse a spectrum to tell a tone: its class is by level

NontalkClass = Literal["silence", "tone_music", "noise"]


def nontalk_spans(segments: Sequence[SpeakerSegment], duration_s: float) -> tuple[Span, ...]:
    """Where nobody speaks: the complement of all speech in [0, ``duration_s``], sorted."""
    speech = merge(Span(s.start, s.end) for s in segments)
    edges = [0.0, *(t for s in speech for t in (s.start, s.end)), duration_s]
    return tuple(Span(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b > a)


def blocks(span: Span, block_s: float) -> tuple[Span, ...]:
    """``span`` cut into ``block_s`` pieces from its start; a last piece shorter than half a block
    joins the one before."""
    n = max(1, round(span.duration / block_s))
    edges = [span.start + i * block_s for i in range(n)] + [span.end]
    return tuple(Span(a, b) for a, b in pairwise(edges))


def spectral_flatness(x: np.ndarray) -> float:
    """Geometric over arithmetic mean of the Welch power spectrum of ``x`` (16 kHz) in ``BAND_HZ``:
    near 0 for tones and music, about 1 for white noise, 0.65 for pink noise."""
    freqs, power = welch(x, SAMPLE_RATE, nperseg=min(MIN_SPECTRUM_SAMPLES, x.size))
    band = power[(freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])] + 1e-20
    return float(np.exp(np.mean(np.log(band))) / np.mean(band))


def classify(x: np.ndarray, config: AcousticsConfig) -> NontalkClass:
    """The class of one non-talk block of mono samples ``x`` (16 kHz)."""
    if 10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-12) < config.silence_dbfs:
        return "silence"
    if x.size >= MIN_SPECTRUM_SAMPLES and spectral_flatness(x) < config.tonal_max_flatness:
        return "tone_music"
    return "noise"


def nontalk(samples: np.ndarray, segments: Sequence[SpeakerSegment],
            config: AcousticsConfig) -> tuple[tuple[Span, NontalkClass], ...]:
    """Every non-talk block of the call with its class, in time order, judged on the channel mix of
    ``samples`` (channels, n)."""
    out = []
    for span in nontalk_spans(segments, samples.shape[1] / SAMPLE_RATE):
        for b in blocks(span, config.block_s):
            x = samples[:, round(b.start * SAMPLE_RATE):round(b.end * SAMPLE_RATE)].mean(axis=0)
            release(samples)
            if x.size:
                out.append((b, classify(x, config)))
    return tuple(out)


def snr_db(samples: np.ndarray, segments: Sequence[SpeakerSegment], floor: Sequence[Span]) -> float | None:
    """Median 10 ms level of the channel mix of ``samples`` (channels, n) over the speech minus that over
    the ``floor`` spans (non-talk without tones or music), dB; None without either."""
    level = frame_db(samples)
    speech = spans_to_mask(merge(Span(s.start, s.end) for s in segments), level.size, FRAME_S)
    quiet = spans_to_mask(tuple(floor), level.size, FRAME_S) & ~speech
    if not (speech.any() and quiet.any()):
        return None
    return float(np.median(level[speech]) - np.median(level[quiet]))


def bleed_db(samples: np.ndarray, segments: Sequence[SpeakerSegment], channel_of: dict[str, int]) -> float | None:
    """Stereo: median over the 10 ms frames where one speaker talks alone of the other channel's
    level minus the speaker's own channel's, dB (-30: the other party leaks 30 dB down; near 0:
    the channels do not separate the parties); None for other recordings or without solo speech."""
    if samples.shape[0] != 2 or not channel_of or not segments:
        return None
    level = np.stack([frame_db(ch) for ch in samples])  # (2, frames)
    masks = {spk: spans_to_mask(spans, level.shape[1], FRAME_S) for spk, spans in activity(segments).items()}
    talking = np.sum(list(masks.values()), axis=0)  # (frames,) speakers talking
    diffs = [np.empty(0)]
    for spk, ch in channel_of.items():
        solo = masks.get(spk, np.zeros_like(talking, bool)) & (talking == 1)
        diffs.append(level[1 - ch, solo] - level[ch, solo])
    diffs = np.concatenate(diffs)
    return float(np.median(diffs)) if diffs.size else None


def grade(value: float | None, bounds: Sequence[float], *, higher_is_better: bool) -> Grade | None:
    """``high`` at or beyond ``bounds[0]``, ``low`` past ``bounds[1]`` (below it when higher is
    better, above it otherwise), else ``medium``; None for no value."""
    if value is None:
        return None
    sign = 1 if higher_is_better else -1
    if sign * value >= sign * bounds[0]:
        return "high"
    return "low" if sign * value < sign * bounds[1] else "medium"


def word_probability_mean(words: Sequence[AttributedWord]) -> float | None:
    """Mean ASR probability of the words; None without words."""
    return float(np.mean([w.probability for w in words])) if words else None


def analyze(samples: np.ndarray, alignment: Alignment, conversation: CallDynamics,
            config: AcousticsConfig) -> CallAcoustics:
    """Non-talk time by class and the reliability figures of one call (docs/metrics.md)."""
    segments = alignment.segments
    classed = nontalk(samples, segments, config)
    seconds = {c: sum(b.duration for b, k in classed if k == c) for c in ("silence", "tone_music", "noise")}
    snr = snr_db(samples, segments, [b for b, k in classed if k != "tone_music"])
    bleed = bleed_db(samples, segments, alignment.channel_of)
    probability = word_probability_mean(alignment.words)
    overlap = (conversation.overlap_s / conversation.speech_s
               if conversation.overlap_s is not None and conversation.speech_s else None)
    grades = [grade(snr, config.grade_snr_db, higher_is_better=True),
              grade(probability, config.grade_word_probability, higher_is_better=True),
              grade(overlap, config.grade_overlap_ratio, higher_is_better=False),
              grade(bleed, config.grade_bleed_db, higher_is_better=False)]
    known = [g for g in grades if g]
    return CallAcoustics(
        nontalk_silence_s=float(seconds["silence"]),
        nontalk_music_s=float(seconds["tone_music"]),
        nontalk_noise_s=float(seconds["noise"]),
        snr_db=snr,
        bleed_db=bleed,
        asr_word_probability_mean=probability,
        reliability=min(known, key=("low", "medium", "high").index) if known else None,
    )
