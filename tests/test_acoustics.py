"""Non-talk classes and reliability figures on synthesized calls of exact truth (seeded noise)."""

import numpy as np
import pytest

from pipeline.config import AcousticsConfig, DynamicsConfig
from pipeline.conversation import acoustics, dynamics
from pipeline.types import Alignment, AttributedWord, Span, SpeakerSegment

RATE = 16000
CONFIG = AcousticsConfig()
rng = np.random.default_rng(11)


def n(seconds):
    return round(seconds * RATE)


def voice(seconds, dbfs=-20.0):
    """A 100 Hz buzz of 20 harmonics (1/k): every 10 ms frame holds one period, so its level is exact."""
    t = np.arange(n(seconds)) / RATE
    x = sum(np.sin(2 * np.pi * 100 * k * t) / k for k in range(1, 21))
    return x / np.sqrt(np.mean(x * x)) * 10 ** (dbfs / 20)


def tones(freqs, seconds, dbfs=-20.0):
    t = np.arange(n(seconds)) / RATE
    x = sum(np.sin(2 * np.pi * f * t) for f in freqs)
    return x / np.sqrt(np.mean(x * x)) * 10 ** (dbfs / 20)


def melody(seconds):
    """Three notes (C5, E5, G5) with two overtones each."""
    return np.concatenate([tones((f, 2 * f, 3 * f), seconds / 3) for f in (523.25, 659.25, 783.99)])


def white(seconds, dbfs):
    return rng.normal(scale=10 ** (dbfs / 20), size=n(seconds))


def pink(seconds, dbfs):
    spectrum = np.fft.rfft(rng.normal(size=n(seconds)))
    spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))
    x = np.fft.irfft(spectrum, n(seconds))
    return x / np.sqrt(np.mean(x * x)) * 10 ** (dbfs / 20)


def call(*parts):
    """Mono samples (1, n) and speaker segments from ("S1", seconds) speech and (signal,) non-talk parts."""
    out, segments, t = [], [], 0.0
    for part in parts:
        if isinstance(part[0], str):
            segments.append(SpeakerSegment(part[0], t, t + part[1]))
            out.append(voice(part[1]))
            t += part[1]
        else:
            out.append(part[0])
            t += part[0].size / RATE
    return np.concatenate(out)[None, :].astype(np.float32), tuple(segments)


def test_nontalk_spans_and_blocks():
    segments = (SpeakerSegment("S1", 1, 2), SpeakerSegment("S2", 1.5, 3))
    assert acoustics.nontalk_spans(segments, 5.0) == (Span(0.0, 1), Span(3, 5.0))
    assert acoustics.nontalk_spans((), 2.0) == (Span(0.0, 2.0),)
    assert [b.end for b in acoustics.blocks(Span(0, 2.2), 0.5)] == [0.5, 1.0, 1.5, 2.2]  # 0.2 s joins the last
    assert [b.end for b in acoustics.blocks(Span(0, 2.3), 0.5)] == [0.5, 1.0, 1.5, 2.0, 2.3]
    assert acoustics.blocks(Span(1, 1.1), 0.5) == (Span(1, 1.1),)


def test_spectral_flatness_tells_tones_from_noise():
    assert acoustics.spectral_flatness(tones((440, 480), 0.5)) < 0.01  # a dial tone
    assert acoustics.spectral_flatness(melody(1.5)[:n(0.5)]) < 0.01
    assert acoustics.spectral_flatness(white(0.5, -30)) > 0.9
    assert 0.5 < acoustics.spectral_flatness(pink(0.5, -30)) < 0.75


def test_nontalk_time_split_into_silence_tones_and_noise():
    samples, segments = call(("S1", 2), (white(2, -70),), ("S2", 2), (tones((440, 480), 2),), ("S1", 2),
                             (melody(1.5),), ("S2", 2), (white(2, -35),), ("S1", 2), (pink(1, -35),), ("S2", 1.5),
                             (np.zeros(n(0.7)),))
    classed = acoustics.nontalk(samples[:1], segments, CONFIG)
    by_span = {}
    for b, kind in classed:
        by_span.setdefault(kind, []).append(round(b.duration, 3))
    assert {k: round(sum(v), 3) for k, v in by_span.items()} == {"silence": 2.7, "tone_music": 3.5, "noise": 3.0}
    conversation = dynamics.analyze(Alignment(segments, (), ()), DynamicsConfig(), overlaps_observable=True)
    result = acoustics.analyze(samples, Alignment(segments, (), ()), conversation, CONFIG)
    assert (result.nontalk_silence_s, result.nontalk_music_s, result.nontalk_noise_s) == pytest.approx((2.7, 3.5, 3.0))


def test_snr_is_speech_over_the_noise_floor_without_tones():
    samples, segments = call(("S1", 3), (white(2, -45),), ("S2", 3), (tones((440, 480), 2, dbfs=-10),), ("S1", 2))
    floor = [b for b, kind in acoustics.nontalk(samples[:1], segments, CONFIG) if kind != "tone_music"]
    assert acoustics.snr_db(samples[:1], segments, floor) == pytest.approx(25.0, abs=0.1)  # -20 dBFS over -45
    assert acoustics.snr_db(samples[:1], (), floor) is None


def stereo_call():
    """S1 on channel 0 (0-3 s), S2 on channel 1 (4-8 s), S1 again over S2 (6.5-7.5 s); each channel leaks into
    the other, S1 at -30 dB, S2 at -24 dB; silence 3-4 s."""
    a = np.concatenate([voice(3), np.zeros(n(3.5)), voice(1), np.zeros(n(0.5))])
    b = np.concatenate([np.zeros(n(4)), voice(4)])
    samples = np.stack([a + 10 ** (-24 / 20) * b, b + 10 ** (-30 / 20) * a]).astype(np.float32)
    segments = (SpeakerSegment("S1", 0, 3), SpeakerSegment("S2", 4, 8), SpeakerSegment("S1", 6.5, 7.5))
    return samples, segments


def test_bleed_is_the_other_channel_level_during_solo_speech():
    samples, segments = stereo_call()
    # 300 solo frames of S1 at -30 dB, 300 of S2 at -24 dB (the 1 s overlap left out): the median joins them
    assert acoustics.bleed_db(samples, segments, {"S1": 0, "S2": 1}) == pytest.approx(-27.0, abs=1e-3)
    assert acoustics.bleed_db(samples, segments, {"S2": 1}) == pytest.approx(-24.0, abs=1e-3)  # S2's frames only
    assert acoustics.bleed_db(samples[:1], segments, {}) is None  # mono


@pytest.mark.parametrize(("value", "bounds", "higher", "expected"), [
    (25.0, (20, 10), True, "high"), (20.0, (20, 10), True, "high"), (15.0, (20, 10), True, "medium"),
    (10.0, (20, 10), True, "medium"), (9.9, (20, 10), True, "low"), (0.05, (0.1, 0.25), False, "high"),
    (0.2, (0.1, 0.25), False, "medium"), (0.3, (0.1, 0.25), False, "low"), (None, (0.1, 0.25), False, None),
])
def test_grades(value, bounds, higher, expected):
    assert acoustics.grade(value, bounds, higher_is_better=higher) == expected


def test_reliability_is_the_worst_grade_of_the_figures():
    samples, segments = stereo_call()
    words = (AttributedWord("S1", 0.5, 1, "hello", 0.9), AttributedWord("S2", 4.5, 5, "hi", 0.5))
    alignment = Alignment(segments, words, (), {"S1": 0, "S2": 1})
    conversation = dynamics.analyze(alignment, DynamicsConfig(), overlaps_observable=True)
    result = acoustics.analyze(samples, alignment, conversation, CONFIG)
    assert result.asr_word_probability_mean == pytest.approx(0.7)  # medium
    assert result.bleed_db == pytest.approx(-27.0, abs=1e-3)  # high
    assert result.snr_db > 90  # digital silence between the turns: high
    assert conversation.overlap_s / conversation.speech_s == pytest.approx(1 / 7)  # medium
    assert (result.reliability, result.nontalk_silence_s, result.nontalk_noise_s) == ("medium", 1.0, 0.0)
    clean = acoustics.analyze(samples, Alignment(segments[:2], (), (), {"S1": 0, "S2": 1}),
                              dynamics.analyze(Alignment(segments[:2], (), ()), DynamicsConfig(),
                                               overlaps_observable=True), CONFIG)
    assert clean.reliability == "high" and clean.asr_word_probability_mean is None


def test_no_speech_is_all_non_talk():
    samples = np.zeros((1, n(1.2)), np.float32)
    conversation = dynamics.analyze(Alignment((), (), ()), DynamicsConfig(), overlaps_observable=False)
    result = acoustics.analyze(samples, Alignment((), (), ()), conversation, CONFIG)
    assert (result.nontalk_silence_s, result.snr_db, result.bleed_db, result.reliability) == (1.2, None, None, None)
    empty = acoustics.analyze(np.zeros((2, 0), np.float32), Alignment((), (), ()), conversation, CONFIG)
    assert (empty.nontalk_silence_s, empty.nontalk_music_s, empty.nontalk_noise_s) == (0.0, 0.0, 0.0)
