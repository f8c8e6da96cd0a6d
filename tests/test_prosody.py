"""Prosody: pitch and loudness against exact synthetic truth and against Praat (parselmouth), on
harmonic glides, a scripted two-voice call (also through 8 kHz mu-law), octave traps, the espeak
samples and a real telephone call."""


import numpy as np
import parselmouth
import pytest
import soundfile as sf
import soxr

from pipeline import evaluate
from pipeline.audio.decode import load_audio
from pipeline.audio.signal import mix
from pipeline.config import ProsodyConfig
from pipeline.conversation import prosody, timeline
from pipeline.outputs import store
from pipeline.types import Alignment, Audio, AudioInfo, Span, SpeakerSegment, Turn

from .conftest import PYANNOTE_SAMPLE, SAMPLES, tone, truth

SR = 16000
CONFIG = ProsodyConfig()


def harmonics(f0_hz: np.ndarray, amp: float = 0.3, decay: float = 0.7) -> np.ndarray:
    """Sum of the harmonics below 7 kHz of an F0 track (Hz per sample), amplitude k-th ``decay**k``."""
    phase = 2 * np.pi * np.cumsum(f0_hz) / SR
    x = sum(decay**k * np.sin((k + 1) * phase) * ((k + 1) * f0_hz < 7000) for k in range(40))
    return (amp * x / np.abs(x).max()).astype(np.float32)


def audio_of(samples: np.ndarray) -> Audio:
    """An ``Audio`` from float samples, shape (samples,) or (channels, samples)."""
    samples = np.atleast_2d(samples).astype(np.float32)
    info = AudioInfo("synthetic", "0" * 64, "none", SR, samples.shape[0], samples.shape[1] / SR)
    return Audio(info, samples, SR)


def one_speaker(x: np.ndarray, start: float = 0.0, end: float | None = None) -> prosody.CallProsody:
    end = len(x) / SR if end is None else end
    al = Alignment((SpeakerSegment("S1", start, end),), (), (Turn("S1", start, end, ""),))
    return prosody.analyze(audio_of(x), al, CONFIG)


def praat_track(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Praat's autocorrelation pitch (times s, F0 Hz with 0 unvoiced), 10 ms step, 60-600 Hz."""
    pitch = parselmouth.Sound(x.astype(np.float64), sampling_frequency=SR).to_pitch_ac(
        time_step=0.01, pitch_floor=60.0, pitch_ceiling=600.0)
    return pitch.xs(), pitch.selected_array["frequency"]


def praat_median(x: np.ndarray, spans) -> float:
    times, f0 = praat_track(x)
    return float(np.median(f0[timeline.inside(times, spans) & (f0 > 0)]))


def st_stats(f0_hz: np.ndarray) -> tuple[float, float, float]:
    """Median (Hz), p95 - p5 and std (semitones) of an F0 sample: the truth of the figures."""
    st = 12 * np.log2(f0_hz / np.median(f0_hz))
    return float(np.median(f0_hz)), float(np.subtract(*np.percentile(st, [95, 5]))), float(np.std(st))


# ---------------------------------------------------------------- a scripted two-voice call

# (speaker, start s, end s, base F0 Hz, end-of-turn movement st over the last 0.5 s)
SCRIPT = [("S1", 0.5, 3.0, 110.0, 0.0), ("S2", 3.4, 6.0, 220.0, 4.0), ("S1", 6.3, 9.0, 115.0, 0.0),
          ("S2", 8.5, 11.5, 210.0, 0.0), ("S1", 12.0, 14.0, 105.0, -3.0), ("S2", 14.4, 16.5, 225.0, -3.0)]
CALL_S = 17.0


def utterance(rng: np.random.Generator, n: int, base_hz: float, final_st: float) -> tuple[np.ndarray, np.ndarray]:
    """F0 (Hz per sample) and voicing (bool per sample) of one utterance of ``n`` samples.

    Declination 1 -> -1 st, 5 Hz vibrato of 0.3 st, smoothed jitter of about 0.15 st, a linear
    ``final_st`` movement over the last 0.5 s; voiced syllables of 120-300 ms between 40-100 ms
    unvoiced gaps, the last 0.6 s voiced.
    """
    t = np.arange(n) / SR
    jitter = np.convolve(rng.standard_normal(n), np.hanning(321) / np.hanning(321).sum(), "same") * 1.5
    final = final_st * np.clip((t - (t[-1] - 0.5)) / 0.5, 0, 1)
    st = np.linspace(1, -1, n) + 0.3 * np.sin(2 * np.pi * 5 * t) + jitter + final
    voiced = np.zeros(n, bool)
    pos = 0
    while pos < n - int(0.6 * SR):
        length = int(rng.uniform(0.12, 0.30) * SR)
        voiced[pos:pos + length] = True
        pos += length + int(rng.uniform(0.04, 0.10) * SR)
    voiced[n - int(0.6 * SR):] = True
    return base_hz * 2 ** (st / 12), voiced


def two_voice_call(seed: int = 7) -> tuple[np.ndarray, Alignment, dict[str, np.ndarray], dict[int, float]]:
    """The scripted call (samples,), its timeline, each voice's true F0 on its solo voiced frames, and the
    true end-of-turn movement (st) per turn index. Unvoiced gaps carry faint noise (a fricative)."""
    rng = np.random.default_rng(seed)
    x = np.zeros(int(CALL_S * SR), np.float32)
    f0_true = np.full((2, len(x)), np.nan)
    for spk, start, end, base, final in SCRIPT:
        a, b = int(start * SR), int(end * SR)
        f0, voiced = utterance(rng, b - a, base, final)
        ramp = np.convolve(voiced.astype(float), np.hanning(161) / np.hanning(161).sum(), "same")
        x[a:b] += harmonics(f0, amp=0.25) * ramp + 0.01 * rng.standard_normal(b - a) * (1 - ramp)
        core = np.convolve(voiced, np.ones(801), "same") >= 801  # voiced 25 ms either side
        f0_true[int(spk[1]) - 1, a:b] = np.where(core, f0, np.nan)
    al = Alignment(tuple(SpeakerSegment(s, a, b) for s, a, b, *_ in SCRIPT), (),
                   tuple(Turn(s, a, b, "") for s, a, b, *_ in SCRIPT))
    frames = np.arange(0, len(x), 160)
    solo = timeline.solo_spans(al.segments)
    truth_f0 = {}
    for i, spk in enumerate(("S1", "S2")):
        values = f0_true[i, frames]
        keep = timeline.inside(frames / SR, solo[spk]) & ~np.isnan(values)
        truth_f0[spk] = values[keep]
    # the movement over the last 0.5 s: the scripted one plus 0.5 s of the 2 st declination
    finals = {i: final - 1.0 / (end - start) for i, (_, start, end, _, final) in enumerate(SCRIPT)}
    return x, al, truth_f0, finals


@pytest.fixture(scope="module")
def call():
    return two_voice_call()


def mulaw_8k(x: np.ndarray, tmp_path) -> np.ndarray:
    """``x`` through 8 kHz mu-law WAV and back through the pipeline's decoder (16 kHz)."""
    path = tmp_path / "call_8k.wav"
    sf.write(path, soxr.resample(x, SR, 8000), 8000, subtype="ULAW")
    return load_audio(path).samples[0]


# ---------------------------------------------------------------- exact answers


def test_harmonic_glide_median_range_and_std():
    """A one-octave exponential glide 110 -> 220 Hz over 3 s: F0 is uniform in semitones."""
    t = np.arange(3 * SR) / SR
    result = one_speaker(harmonics(110 * 2 ** (t / 3))).speakers["S1"]
    frames = np.arange(0, 3, 0.01)
    median, span, std = st_stats(110 * 2 ** (frames / 3))
    assert result.pitch_median_hz == pytest.approx(median, rel=0.02)
    assert result.pitch_median_hz == pytest.approx(median, rel=0.005)  # in fact
    assert result.pitch_range_st == pytest.approx(span, abs=0.3)
    assert result.pitch_std_st == pytest.approx(std, abs=0.1)
    assert result.voiced_s >= 2.9


def test_sine_loudness_and_pitch():
    result = one_speaker(tone(200.0, 2.0)[:, 0]).speakers["S1"]
    assert result.loudness_db_mean == pytest.approx(20 * np.log10(0.3 / np.sqrt(2)), abs=0.1)  # -13.47 dBFS
    assert result.loudness_db_std < 0.1
    assert result.pitch_median_hz == pytest.approx(200.0, rel=0.002)
    assert result.pitch_range_st < 0.1


@pytest.mark.parametrize("codec", ["wav", "mulaw_8k"])
def test_two_voice_call_against_truth_and_praat(call, codec, tmp_path):
    x, al, truth_f0, _ = call
    x = mulaw_8k(x, tmp_path) if codec == "mulaw_8k" else x
    result = prosody.analyze(audio_of(x), al, CONFIG)
    solo = timeline.solo_spans(al.segments)
    for spk in ("S1", "S2"):
        figures, (median, span, std) = result.speakers[spk], st_stats(truth_f0[spk])
        assert figures.pitch_median_hz == pytest.approx(praat_median(x, solo[spk]), rel=0.05)
        assert figures.pitch_median_hz == pytest.approx(median, rel=0.02)
        assert figures.pitch_range_st == pytest.approx(span, abs=1.0)
        assert figures.pitch_std_st == pytest.approx(std, abs=0.3)
        assert figures.voiced_s >= 0.8 * len(truth_f0[spk]) * 0.01


def test_end_of_turn_rise_and_fall_and_contours(call):
    x, al, _, finals = call
    result = prosody.analyze(audio_of(x), al, CONFIG)
    assert [(c.speaker, c.start, c.end) for c in result.turns] == [(t.speaker, t.start, t.end) for t in al.turns]
    for i, contour in enumerate(result.turns):
        assert len(contour.pitch_st) == round((contour.end - contour.start) * CONFIG.contour_rate_hz)
        assert contour.final_st == pytest.approx(finals[i], abs=0.5)
        values = [v for v in contour.pitch_st if v is not None]
        assert len(values) >= 0.7 * len(contour.pitch_st)
        assert all(abs(v) < 8 for v in values)
    s2 = result.turns[1]  # S2 at 220 Hz around the speaker's median: the contour starts high (declination)
    assert s2.pitch_st[1] > s2.pitch_st[-8]


def test_octave_traps_do_not_move_the_figures():
    """A 220 Hz voice that is period-doubled (a subharmonic at 110 Hz, diplophonia) a fifth of the
    time: the first pass halves there; the speaker's second-pass range leaves those frames out."""
    t = np.arange(10 * SR) / SR
    f0 = 220 * 2 ** (2 * np.sin(2 * np.pi * 0.3 * t) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    doubled = (t % 2 >= 0.5) & (t % 2 < 0.9)
    x = harmonics(f0) + doubled * sum(0.7**k * np.sin((k + 0.5) * phase) for k in range(12)) * 0.3 / 4
    frames = np.arange(0.05, 9.95, 0.01)
    first = prosody.yin(x, np.round(frames * SR).astype(int), sample_rate=SR, fmin_hz=CONFIG.fmin_hz,
                        fmax_hz=CONFIG.fmax_hz, threshold=CONFIG.voicing_threshold)
    assert np.mean(first < 150) > 0.15  # the trap works: octave-down errors in the first pass
    assert np.subtract(*np.nanpercentile(12 * np.log2(first), [95, 5])) > 12
    result = one_speaker(x).speakers["S1"]
    clean = frames[~doubled[np.round(frames * SR).astype(int)]]
    median, span, std = st_stats(220 * 2 ** (2 * np.sin(2 * np.pi * 0.3 * clean) / 12))
    assert result.pitch_median_hz == pytest.approx(median, rel=0.01)
    assert result.pitch_range_st == pytest.approx(span, abs=0.3)
    assert result.pitch_std_st == pytest.approx(std, abs=0.2)


def test_pitch_range_ignores_octave_errors():
    rng = np.random.default_rng(3)
    f0 = 150 * 2 ** (rng.normal(0, 2, 1000) / 12)
    f0[:150] /= 2  # halving errors
    f0[150:200] *= 2  # doubling errors
    floor, ceiling = prosody.pitch_range(f0, fmin_hz=60, fmax_hz=600)
    assert 75 * 1.1 < floor < 150 / 1.2 and 150 * 1.2 < ceiling < 300 / 1.1
    assert prosody.pitch_range(np.array([100.0, 700.0]), fmin_hz=60, fmax_hz=600)[1] == 600


# ---------------------------------------------------------------- no voice, no speaker


def test_silence_and_noise_have_no_pitch():
    silent = one_speaker(np.zeros(2 * SR, np.float32)).speakers["S1"]
    assert silent == prosody.SpeakerProsody(None, None, None, None, None, 0.0)
    noise = one_speaker(0.1 * np.random.default_rng(0).standard_normal(2 * SR)).speakers["S1"]
    assert noise.pitch_median_hz is None and noise.pitch_range_st is None and noise.voiced_s < CONFIG.min_voiced_s
    assert noise.loudness_db_mean == pytest.approx(-20.0, abs=0.3)
    contour = one_speaker(np.zeros(2 * SR, np.float32)).turns[0]
    assert contour.final_st is None and set(contour.pitch_st) == {None}


def test_too_little_voice_and_empty_speakers():
    x = tone(200.0, 3.0)[:, 0]
    short = one_speaker(x, 1.0, 1.3).speakers["S1"]  # 0.3 s of voice < min_voiced_s
    assert short.pitch_median_hz is None and short.loudness_db_mean == pytest.approx(-13.47, abs=0.1)
    nobody = prosody.analyze(audio_of(x), Alignment((), (), ()), CONFIG)
    assert nobody.speakers == {} and nobody.turns == ()
    # S2 speaks only under S1: no solo speech; S3 has a turn of words but no segment
    al = Alignment((SpeakerSegment("S1", 0, 3), SpeakerSegment("S2", 1, 2)), (), (Turn("S3", 0.5, 1.0, "hi"),))
    result = prosody.analyze(audio_of(x), al, CONFIG)
    assert result.speakers["S2"].pitch_median_hz is None and result.speakers["S2"].loudness_db_mean is None
    assert result.speakers["S1"].voiced_s == pytest.approx(2.0, abs=0.05)
    assert result.turns[0].pitch_st == (None,) * 5 and result.turns[0].final_st is None
    assert prosody.analyze(audio_of(np.zeros(0)), Alignment((), (), ()), CONFIG).speakers == {}


def test_solo_spans():
    segs = [SpeakerSegment("A", 0, 10), SpeakerSegment("B", 2, 3), SpeakerSegment("B", 9, 12),
            SpeakerSegment("C", 2.5, 4)]
    assert timeline.solo_spans(segs) == {"A": (Span(0, 2), Span(4, 9)), "B": (Span(10, 12),), "C": ()}


def test_stereo_speakers_read_their_own_channel():
    """Both channels carry a voice all along; the timeline gives S1 (channel 0) the first half."""
    t = np.arange(4 * SR) / SR
    low, high = harmonics(np.full(len(t), 110.0)), harmonics(np.full(len(t), 220.0))
    al = Alignment((SpeakerSegment("S1", 0, 2), SpeakerSegment("S2", 2, 4)), (), (), {"S1": 0, "S2": 1})
    result = prosody.analyze(audio_of(np.stack([low, high])), al, CONFIG)
    assert result.speakers["S1"].pitch_median_hz == pytest.approx(110, rel=0.005)
    assert result.speakers["S2"].pitch_median_hz == pytest.approx(220, rel=0.005)


# ---------------------------------------------------------------- speech: espeak samples, a real call


def truth_timeline(name: str, channels: int) -> Alignment:
    script = truth(name)
    segs = tuple(sorted((SpeakerSegment(u["speaker"], a, b) for u in script["utterances"] for a, b in u["speech"]),
                        key=lambda s: s.start))
    return Alignment(segs, (), (), dict(script["channels"] or {}) if channels > 1 else {})


@pytest.mark.parametrize("name", ["billing_stereo.flac", "delivery_mono.wav", "billing_8k_mulaw.wav"])
def test_espeak_calls_against_praat(name):
    rec = load_audio(SAMPLES / name)
    al = truth_timeline(name.split(".")[0], rec.channels)
    result = prosody.analyze(rec, al, CONFIG)
    solo = timeline.solo_spans(al.segments)
    for spk, figures in result.speakers.items():
        x = rec.samples[al.channel_of[spk]] if al.channel_of else mix(rec.samples)
        assert figures.pitch_median_hz == pytest.approx(praat_median(x, solo[spk]), rel=0.05), spk
    medians = sorted(f.pitch_median_hz for f in result.speakers.values())
    assert medians[0] < 130 < 180 < medians[1]  # espeak's low and high voices


def test_real_telephone_call():
    rec = load_audio(PYANNOTE_SAMPLE / "sample.wav")
    ref = sorted((SpeakerSegment(*r) for r in evaluate.read_rttm(PYANNOTE_SAMPLE / "sample.rttm")),
                 key=lambda s: s.start)
    al = Alignment(tuple(ref), (), ())
    result = prosody.analyze(rec, al, CONFIG)
    solo = timeline.solo_spans(al.segments)
    assert len(result.speakers) == 2
    for spk, figures in result.speakers.items():
        assert 70 < figures.pitch_median_hz < 400
        assert figures.pitch_median_hz == pytest.approx(praat_median(mix(rec.samples), solo[spk]), rel=0.05)
        assert 1 < figures.pitch_range_st < 24 and -60 < figures.loudness_db_mean < -10
        assert figures.voiced_s > 3


def test_document_carries_prosody(call):
    """Prosody figures join the dynamics in ``speakers[].metrics``; turns carry their contours."""
    from pipeline.config import AcousticsConfig, DynamicsConfig
    from pipeline.conversation import acoustics, dynamics
    from pipeline.types import AttributedWord, CallResult, Diarization, Transcript

    x, al, _, _ = call
    words = tuple(AttributedWord(t.speaker, t.start, t.end, "word", 1.0) for t in al.turns)
    al = Alignment(al.segments, words, al.turns)
    rec = audio_of(x)
    conversation = dynamics.analyze(al, DynamicsConfig(), overlaps_observable=True)
    result = CallResult("synthetic", rec.info, Transcript((), "m", "int8", "en"),
                        Diarization("channels", al.segments), al,
                        conversation, prosody.analyze(rec, al, CONFIG),
                        acoustics.analyze(rec.samples, al, conversation, AcousticsConfig()),
                        {k: 0.0 for k in ("decode", "vad", "asr", "diarize", "dynamics", "prosody", "acoustics",
                                          "total")})
    doc = store.call_document(result)
    store.validate(doc)
    metrics = {s["id"]: s["metrics"] for s in doc["speakers"]}
    assert metrics["S1"]["pitch_median_hz"] == pytest.approx(110, rel=0.05)
    figures = {"pitch_range_st", "pitch_std_st", "loudness_db_mean", "loudness_db_std", "voiced_s", "talk_time_s"}
    assert figures <= set(metrics["S2"])
    assert doc["turns"][1]["final_pitch_st"] == pytest.approx(3.6, abs=0.5)
    assert len(doc["turns"][1]["pitch_contour_st"]) == 26
    assert doc["prosody"] == {"contour_rate_hz": 10.0, "final_window_s": 0.5}
