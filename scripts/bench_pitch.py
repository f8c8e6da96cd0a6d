"""Benchmark our YIN and frame levels against librosa's, with Praat as the pitch reference.

Pitch trackers, all on the same frames (16 kHz, 10 ms hop, the frame centres of Praat's track):

- ``ours 1-pass``: ``prosody.yin``, 60-600 Hz, threshold 0.25 (window one period of 60 Hz: frames of 535 samples);
- ``ours 2-pass``: ``prosody.speaker_track``, the pipeline (level gate, 60-600 Hz, then the speaker's range);
- ``librosa.yin``: ``librosa.yin(y, fmin=60, fmax=600, sr=16000, frame_length=535, hop_length=160,
  trough_threshold=0.25)``; it has no voicing decision (every frame gets an F0);
- ``librosa.yin 2-pass``: the same inside ``speaker_track``'s scheme (level gate, speaker's range; frame length
  2 x ceil(sr / floor) + 1 like ours); voiced = passes the level gate;
- ``pyin``: ``librosa.pyin(y, fmin=60, fmax=600, sr=16000, frame_length=535, hop_length=160)``, other
  parameters left at librosa's defaults (100 thresholds, beta (2, 18), 0.1 semitone bins); voiced = its flag;
- ``pyin 2-pass``: pyin inside ``speaker_track``'s scheme (level gate, speaker's range);
- ``pyin, 1-semitone bins``: ``pyin`` with ``resolution=1.0`` (40 pitch states instead of 400: a cheaper Viterbi).

librosa is run per stretch of evaluated frames (with 100 ms of signal either side), as the pipeline would
run it over a speaker's solo speech; ours runs on the evaluated frames. Reference: Praat's
autocorrelation pitch as in tests/test_prosody.py (``to_pitch_ac``, 10 ms step, 60-600 Hz, Praat's other
defaults) on real and espeak speech, plus Praat 2-pass (``to_pitch_ac`` again inside the speaker's range from
its first pass, ``prosody.pitch_range``'s rule) for the per-speaker figures and a second gross-error column;
the exact F0 on synthetic signals (Praat then a row of its own).

Levels: ``prosody.levels_db`` against ``librosa.feature.rms`` + ``librosa.amplitude_to_db`` on the pipeline's
frames, ``signal.frame_db`` against ``librosa.feature.rms`` + ``librosa.power_to_db``.

Speed is CPU time (``time.process_time``) per second of audio, one thread, the minimum of 3 runs. Writes a
marked section of docs/benchmarks.md.

    python scripts/bench_pitch.py [--out docs/benchmarks.md]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread: CPU time per second of audio, comparable between methods

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import parselmouth  # noqa: E402
import soundfile as sf  # noqa: E402
import soxr  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline import evaluate  # noqa: E402
from pipeline.audio import signal  # noqa: E402
from pipeline.config import ProsodyConfig  # noqa: E402
from pipeline.conversation import prosody, timeline  # noqa: E402
from pipeline.types import Span, SpeakerSegment  # noqa: E402

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval-audio"
SR = 16000
HOP = 160
CONFIG = ProsodyConfig()
FMIN, FMAX, THRESHOLD = CONFIG.fmin_hz, CONFIG.fmax_hz, CONFIG.voicing_threshold
LEVEL_FRAME = prosody.level_frame_length(CONFIG, SR)  # 267 samples
GROSS = 0.20  # |f0 / ref - 1| above this: a gross error
OCTAVE_CENTS = 300  # within this of +-1200 cents: an octave error
PAD_FRAMES = 10  # signal either side of a stretch given to librosa, in hops
MERGE_FRAMES = 50  # stretches of evaluated frames closer than this are run as one
REPEATS = 3


# ---------------------------------------------------------------- the signals


@dataclasses.dataclass(frozen=True)
class Case:
    """One speaker's signal (16 kHz float32, shape (n,)) and where to score it.

    ``spans``: the speaker's solo speech (real and espeak signals); ``truth_hz``/``truth_state`` (per sample,
    synthetic signals only): the exact F0 (NaN unvoiced) and 1 voiced, 0 unvoiced, -1 not scored.
    """

    name: str
    group: str
    x: np.ndarray
    spans: tuple[Span, ...]
    truth_hz: np.ndarray | None = None
    truth_state: np.ndarray | None = None


def harmonics(f0_hz: np.ndarray, weights: Callable[[int], float] = lambda k: 0.7**k) -> np.ndarray:
    """Harmonics below 7 kHz of an F0 track (Hz per sample), the k-th (0: the fundamental) of ``weights(k)``."""
    phase = 2 * np.pi * np.cumsum(f0_hz) / SR
    x = sum(weights(k) * np.sin((k + 1) * phase) * ((k + 1) * f0_hz < 7000) for k in range(40))
    return 0.3 * x / np.abs(x).max()


def syllables(rng: np.random.Generator, n: int) -> np.ndarray:
    """Voicing per sample: syllables of 120-300 ms between 40-100 ms gaps (as tests/test_prosody.py)."""
    voiced, pos = np.zeros(n, bool), 0
    while pos < n:
        length = int(rng.uniform(0.12, 0.30) * SR)
        voiced[pos:pos + length] = True
        pos += length + int(rng.uniform(0.04, 0.10) * SR)
    return voiced


def synthetic_case(name: str, f0_hz: np.ndarray, voiced: np.ndarray, snr_db: float, rng: np.random.Generator,
                   weights: Callable[[int], float] = lambda k: 0.7**k, excluded: np.ndarray | None = None,
                   extra: np.ndarray | None = None) -> Case:
    """Voice ``f0_hz`` where ``voiced`` (per sample), 0.5 s of noise either side, white noise at ``snr_db``
    re the voiced power. Frames within 25 ms of a voicing edge, and ``excluded`` samples, are not scored."""
    ramp = np.convolve(voiced.astype(float), np.hanning(161) / np.hanning(161).sum(), "same")
    voice = harmonics(f0_hz, weights) * ramp + (0 if extra is None else extra)
    lead = int(0.5 * SR)
    x = np.concatenate([np.zeros(lead), voice, np.zeros(lead)])
    power = np.mean(voice[voiced] ** 2)
    x = x + rng.standard_normal(len(x)) * np.sqrt(power / 10 ** (snr_db / 10))
    v = np.concatenate([np.zeros(lead, bool), voiced, np.zeros(lead, bool)])
    around = np.convolve(v, np.ones(801), "same")  # voiced samples within 25 ms
    state = np.where(around >= 801, 1, np.where(around == 0, 0, -1))
    if excluded is not None:
        state[lead:lead + len(voiced)][excluded] = -1
    truth = np.concatenate([np.full(lead, np.nan), np.where(voiced, f0_hz, np.nan), np.full(lead, np.nan)])
    return Case(name, "synthetic", x.astype(np.float32), (Span(0.0, len(x) / SR),), truth, state)


def synthetic_cases() -> list[Case]:
    """Glides (male up 90-180 Hz, female down 300-150 Hz, syllabic) at 40/20/10/5 dB SNR, a voice with a
    strong 2nd harmonic (fundamental 16 dB below it), and a voice period-doubled a fifth of the time."""
    rng = np.random.default_rng(11)
    n = 3 * SR
    t = np.arange(n) / SR
    cases = []
    for snr in (40, 20, 10, 5):
        for label, f0 in (("male glide", 90 * 2 ** (t / 3)), ("female glide", 300 * 2 ** (-t / 3))):
            cases.append(synthetic_case(f"{label} {snr} dB", f0, syllables(rng, n), snr, rng))
    vibrato = 130 * 2 ** (2 * np.sin(2 * np.pi * 0.5 * t) / 12)
    cases.append(synthetic_case("strong H2 20 dB", vibrato, syllables(rng, n), 20, rng,
                                weights=lambda k: 0.15 if k == 0 else 0.8**(k - 1)))
    t4 = np.arange(4 * SR) / SR
    f0 = 220 * 2 ** (2 * np.sin(2 * np.pi * 0.3 * t4) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    doubled = (t4 % 2 >= 0.5) & (t4 % 2 < 0.9)
    sub = doubled * sum(0.7**k * np.sin((k + 0.5) * phase) for k in range(12)) * 0.3 / 4
    cases.append(synthetic_case("period-doubled 40 dB", f0, np.ones(len(t4), bool), 40, rng,
                                excluded=doubled, extra=sub))
    return cases


def load_16k(path: Path) -> np.ndarray:
    """A recording as float32 at 16 kHz, shape (channels, n); soxr HQ where it is at another rate."""
    x, rate = sf.read(path, dtype="float32", always_2d=True)
    if rate != SR:
        x = soxr.resample(x, rate, SR, quality="HQ")
    return np.ascontiguousarray(x.T, dtype=np.float32)


def merged(spans) -> tuple[Span, ...]:
    """Sorted, disjoint union of (start, end) pairs."""
    out: list[list[float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return tuple(Span(a, b) for a, b in out)


def speech_cases() -> list[Case]:
    """The espeak samples (solo spans from the truth), the HarperValley party files (the party's own
    transcript segments), AMI dev00 and pyannote's sample.wav (solo spans of the reference RTTM)."""
    from tests.conftest import PYANNOTE_SAMPLE

    cases = []
    for name in ("billing_stereo.flac", "delivery_mono.wav", "billing_8k_mulaw.wav"):
        x = load_16k(ROOT / "sample_audio" / name)
        script = json.loads((ROOT / "sample_audio" / f"{name.split('.')[0]}.truth.json").read_text())
        segs = [SpeakerSegment(u["speaker"], a, b) for u in script["utterances"] for a, b in u["speech"]]
        for spk, spans in sorted(timeline.solo_spans(sorted(segs, key=lambda s: s.start)).items()):
            channel = (script["channels"] or {}).get(spk) if x.shape[0] > 1 else None
            sig = x[channel] if channel is not None else x.mean(axis=0)
            cases.append(Case(f"{name} {spk}", "espeak", sig, spans))
    for sid in sorted(p.stem for p in (EVAL / "harper-valley" / "transcript").glob("*.json")):
        segments = json.loads((EVAL / "harper-valley" / "transcript" / f"{sid}.json").read_text())
        for role in ("agent", "caller"):
            words = [s for s in segments if s["speaker_role"] == role
                     and any(not w.startswith("[") for w in s["human_transcript"].split())]
            spans = merged((s["start_ms"] / 1000, (s["start_ms"] + s["duration_ms"]) / 1000) for s in words)
            x = load_16k(EVAL / "harper-valley" / "audio" / role / f"{sid}.wav")[0]
            cases.append(Case(f"HV {sid[:6]} {role}", "HarperValley", x, spans))
    for label, path, rttm in (("AMI dev00", EVAL / "ami" / "dev00.wav", EVAL / "ami" / "debug.development.rttm"),
                              ("pyannote sample", PYANNOTE_SAMPLE / "sample.wav", PYANNOTE_SAMPLE / "sample.rttm")):
        x = load_16k(path).mean(axis=0)
        segs = sorted((SpeakerSegment(*r) for r in evaluate.read_rttm(rttm, path.stem)), key=lambda s: s.start)
        for spk, spans in sorted(timeline.solo_spans(segs).items()):
            cases.append(Case(f"{label} {spk}", "AMI + pyannote", x, spans))
    return cases


# ---------------------------------------------------------------- the trackers


def praat(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Praat's pitch as the tests take it: (frame centres as sample indices, F0 Hz with NaN unvoiced)."""
    pitch = parselmouth.Sound(x.astype(np.float64), sampling_frequency=SR).to_pitch_ac(
        time_step=HOP / SR, pitch_floor=FMIN, pitch_ceiling=FMAX)
    f0 = pitch.selected_array["frequency"]
    return np.round(pitch.xs() * SR - 0.5).astype(int), np.where(f0 > 0, f0, np.nan)


def praat_2pass(x: np.ndarray, centres: np.ndarray, mask: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Praat again inside the speaker's range from its first pass ``first`` (De Looze & Hirst 2008, the same
    rule as ``prosody.pitch_range``), read at ``centres`` (NaN unvoiced or outside ``mask``).

    The second track's frames may sit 5 ms off the first's: a value between two voiced frames is their
    geometric mean weighted by distance, next to an unvoiced one NaN.
    """
    voiced = first[mask & ~np.isnan(first)]
    if len(voiced) * CONFIG.hop_ms / 1000 < CONFIG.min_voiced_s:
        return np.full(len(centres), np.nan)
    floor, ceiling = prosody.pitch_range(voiced, fmin_hz=FMIN, fmax_hz=FMAX)
    pitch = parselmouth.Sound(x.astype(np.float64), sampling_frequency=SR).to_pitch_ac(
        time_step=HOP / SR, pitch_floor=floor, pitch_ceiling=ceiling)
    f0 = pitch.selected_array["frequency"]
    f0 = np.log(np.where(f0 > 0, f0, np.nan))
    pos = ((centres + 0.5) / SR - pitch.xs()[0]) / (HOP / SR)
    i = np.clip(np.floor(pos + 0.01).astype(int), 0, len(f0) - 1)
    w = np.clip(pos - i, 0, 1)
    w = np.where(w < 0.02, 0.0, w)
    after = f0[np.minimum(i + 1, len(f0) - 1)]
    out = np.exp(np.where(w > 0, (1 - w) * f0[i] + w * after, f0[i]))
    out[~mask] = np.nan
    return out


def stretches(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) frame indices of the runs of ``mask``, runs closer than ``MERGE_FRAMES`` joined."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    runs: list[list[int]] = []
    for a, b in zip(edges[::2], edges[1::2] - 1, strict=True):
        if runs and a - runs[-1][1] <= MERGE_FRAMES:
            runs[-1][1] = b
        else:
            runs.append([a, b])
    return [(a, b) for a, b in runs]


def on_stretches(track: Callable[[np.ndarray], np.ndarray], x: np.ndarray, centres: np.ndarray,
                 mask: np.ndarray) -> np.ndarray:
    """A librosa tracker (centred frames every ``HOP`` from the first sample of its input) run over each
    stretch of ``mask`` with ``PAD_FRAMES`` of signal either side; F0 per frame, NaN outside ``mask``."""
    out = np.full(len(centres), np.nan)
    for a, b in stretches(mask):
        pad = min(PAD_FRAMES, centres[a] // HOP)
        start = centres[a] - pad * HOP
        f0 = track(x[start:centres[b] + PAD_FRAMES * HOP + 1])
        out[a:b + 1] = f0[pad:pad + b - a + 1]
    out[~mask] = np.nan
    return out


def frame_length(fmin_hz: float) -> int:
    """librosa's frame for a floor: our YIN's frame, window and lags of one period of the floor."""
    return 2 * int(np.ceil(SR / fmin_hz)) + 1


def librosa_yin(fmin_hz: float, fmax_hz: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda y: librosa.yin(y, fmin=fmin_hz, fmax=fmax_hz, sr=SR, frame_length=frame_length(fmin_hz),
                                 hop_length=HOP, trough_threshold=THRESHOLD)


def librosa_pyin(fmin_hz: float, fmax_hz: float, **options) -> Callable[[np.ndarray], np.ndarray]:
    return lambda y: librosa.pyin(y, fmin=fmin_hz, fmax=fmax_hz, sr=SR, frame_length=frame_length(fmin_hz),
                                  hop_length=HOP, **options)[0]


def two_pass(make: Callable[[float, float], Callable], x: np.ndarray, centres: np.ndarray,
             mask: np.ndarray) -> np.ndarray:
    """``speaker_track``'s scheme around a librosa tracker: level gate, the wide range, the speaker's own
    range (``prosody.pitch_range``), the tracker again inside it; NaN off the gated frames."""
    levels = prosody.levels_db(x, centres[mask], frame_length=LEVEL_FRAME)
    speech = np.zeros(len(centres), bool)
    speech[mask] = prosody.is_speech(levels, level_range_db=CONFIG.level_range_db)
    first = on_stretches(make(FMIN, FMAX), x, centres, mask)
    first[~speech] = np.nan
    voiced = first[~np.isnan(first)]
    if len(voiced) * CONFIG.hop_ms / 1000 < CONFIG.min_voiced_s:
        return np.full(len(centres), np.nan)
    floor, ceiling = prosody.pitch_range(voiced, fmin_hz=FMIN, fmax_hz=FMAX)
    second = on_stretches(make(floor, ceiling), x, centres, mask)
    second[~speech] = np.nan
    return second


def ours_1pass(x, centres, mask):
    out = np.full(len(centres), np.nan)
    out[mask] = prosody.yin(x, centres[mask], sample_rate=SR, fmin_hz=FMIN, fmax_hz=FMAX, threshold=THRESHOLD)
    return out


def ours_2pass(x, centres, mask):
    out = np.full(len(centres), np.nan)
    out[mask] = prosody.speaker_track(x, centres[mask], sample_rate=SR, config=CONFIG)[1]
    return out


METHODS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    "ours 1-pass": ours_1pass,
    "ours 2-pass (pipeline)": ours_2pass,
    "librosa.yin": lambda x, c, m: on_stretches(librosa_yin(FMIN, FMAX), x, c, m),
    "librosa.yin 2-pass": lambda x, c, m: two_pass(librosa_yin, x, c, m),
    "pyin": lambda x, c, m: on_stretches(librosa_pyin(FMIN, FMAX), x, c, m),
    "pyin 2-pass": lambda x, c, m: two_pass(librosa_pyin, x, c, m),
    "pyin, 1-semitone bins": lambda x, c, m: on_stretches(librosa_pyin(FMIN, FMAX, resolution=1.0), x, c, m),
}


# ---------------------------------------------------------------- scoring


@dataclasses.dataclass
class Score:
    """Frame counts and cents errors pooled over cases."""

    cents: list = dataclasses.field(default_factory=list)
    cents_2pass: list = dataclasses.field(default_factory=list)  # against Praat 2-pass (real speech)
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, est: np.ndarray, ref: np.ndarray, scored: np.ndarray, ref_2pass: np.ndarray | None = None) -> None:
        est_v, ref_v = scored & ~np.isnan(est), scored & ~np.isnan(ref)
        both = est_v & ref_v
        self.tp += int(both.sum())
        self.fp += int((est_v & ~ref_v).sum())
        self.fn += int((ref_v & ~est_v).sum())
        self.cents.append(1200 * np.log2(est[both] / ref[both]))
        if ref_2pass is not None:
            both = est_v & ~np.isnan(ref_2pass)
            self.cents_2pass.append(1200 * np.log2(est[both] / ref_2pass[both]))

    def f1(self) -> tuple[float, float, float]:
        p, r = self.tp / max(self.tp + self.fp, 1), self.tp / max(self.tp + self.fn, 1)
        return p, r, 2 * p * r / max(p + r, 1e-9)

    def row(self) -> list[str]:
        c = np.concatenate(self.cents)
        down, up = np.abs(c + 1200) < OCTAVE_CENTS, np.abs(c - 1200) < OCTAVE_CENTS
        second = f"{gross_pct(np.concatenate(self.cents_2pass)):.1f}" if self.cents_2pass else "-"
        return [f"{gross_pct(c):.1f}", second, f"{100 * down.mean():.1f} / {100 * up.mean():.1f}",
                f"{np.median(np.abs(c)):.0f}", *(f"{v:.2f}" for v in self.f1())]

    def short(self) -> str:
        c = np.concatenate(self.cents)
        return f"{gross_pct(c):.1f} / {self.f1()[2]:.2f}" if len(c) else f"- / {self.f1()[2]:.2f}"


def gross_pct(cents: np.ndarray) -> float:
    """Percent of the frames off by more than ``GROSS``."""
    return 100 * float(np.mean(np.abs(2 ** (cents / 1200) - 1) > GROSS)) if len(cents) else float("nan")


def figures(f0: np.ndarray) -> tuple[float, float, float] | None:
    """The pipeline's pitch figures of a speaker's F0 (NaN unvoiced): median Hz, p95 - p5 and std (st)."""
    v = f0[~np.isnan(f0)]
    if len(v) * CONFIG.hop_ms / 1000 < CONFIG.min_voiced_s:
        return None
    st = prosody.semitones(v, float(np.median(v)))
    return float(np.median(v)), float(np.subtract(*np.percentile(st, [95, 5]))), float(np.std(st))


def table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


# ---------------------------------------------------------------- speed and levels


def cpu_per_second(run: Callable[[], object], seconds: float) -> float:
    """The least CPU time of ``REPEATS`` runs, per second of audio."""
    best = np.inf
    for _ in range(REPEATS):
        t0 = time.process_time()
        run()
        best = min(best, time.process_time() - t0)
    return best / seconds


def peak_mb(run: Callable[[], object]) -> float:
    """Peak memory traced during ``run`` (numpy buffers included), MB."""
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def speed_rows(x: np.ndarray) -> list[list[str]]:
    """CPU s per s of audio and peak memory of each tracker over every frame of ``x``."""
    seconds = len(x) / SR
    centres, _ = praat(x)
    every = np.ones(len(centres), bool)
    runs = {"Praat to_pitch_ac (reference)": lambda: praat(x)}
    runs |= {name: (lambda f=f: f(x, centres, every)) for name, f in METHODS.items()}
    rows = []
    for name, run in runs.items():
        cpu = cpu_per_second(run, seconds)
        rows.append([name, f"{1000 * cpu:.1f}", f"{peak_mb(run):.0f}"])
        log.info("speed %s: %.4f", name, cpu)
    return rows


def level_rows(x: np.ndarray, long: np.ndarray) -> tuple[list[list[str]], str]:
    """Our two level framings against librosa's on ``x`` (shape (n,)): the largest difference, CPU time and
    peak memory; peak memory again on the ``long`` signal."""
    seconds = len(x) / SR
    half = LEVEL_FRAME // 2  # prosody.analyze's frames: centres from half a frame in, every hop

    def ours_levels(x=x):
        return prosody.levels_db(x, np.arange(half, len(x) - half, HOP), frame_length=LEVEL_FRAME)

    def librosa_levels(x=x):
        rms = librosa.feature.rms(y=x, frame_length=LEVEL_FRAME, hop_length=HOP, center=False)[0]
        return librosa.amplitude_to_db(rms, ref=1.0, amin=10 ** ((prosody.SILENCE_DBFS - 20) / 20), top_db=None)

    def ours_frames(x=x):
        return signal.frame_db(x)

    def librosa_frames(x=x):
        rms = librosa.feature.rms(y=x, frame_length=HOP, hop_length=HOP, center=False)[0]
        return librosa.power_to_db(rms**2, ref=1.0, amin=1e-12, top_db=None)

    rows = []
    for label, ours, theirs, call in (
            ("levels_db (267-sample frames on prosody's centres)", ours_levels, librosa_levels,
             "`librosa.amplitude_to_db(librosa.feature.rms(y=x, frame_length=267, hop_length=160, center=False)[0], "
             "ref=1.0, amin=1e-6, top_db=None)`"),
            ("frame_db (consecutive 160-sample frames)", ours_frames, librosa_frames,
             "`librosa.power_to_db(librosa.feature.rms(y=x, frame_length=160, hop_length=160, center=False)[0] ** 2, "
             "ref=1.0, amin=1e-12, top_db=None)`")):
        a, b = ours(), theirs()
        m = min(len(a), len(b))
        loud = a[:m] > -60
        rows.append([label, call, f"{len(a)} / {len(b)}", f"{np.max(np.abs(a[:m] - b[:m])):.1e}",
                     f"{np.max(np.abs(a[:m] - b[:m])[loud]):.1e}",
                     f"{1000 * cpu_per_second(ours, seconds):.2f}", f"{1000 * cpu_per_second(theirs, seconds):.2f}",
                     f"{peak_mb(ours):.0f} / {peak_mb(theirs):.0f}",
                     f"{peak_mb(lambda f=ours: f(long)):.0f} / {peak_mb(lambda f=theirs: f(long)):.0f}"])
    return rows, f"{seconds / 60:.0f} min"


# ---------------------------------------------------------------- the run


def main() -> None:
    from scripts.bench import write_report
    from tests.conftest import PYANNOTE_SAMPLE

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cpu0 = time.process_time()
    librosa.pyin(np.zeros(SR, np.float32), fmin=FMIN, fmax=FMAX, sr=SR, frame_length=535, hop_length=HOP)  # JIT

    # 1. every tracker on every case, scored per group
    scores: dict[tuple[str, str], Score] = {}
    per_condition: dict[tuple[str, str], Score] = {}
    party_figures: list[tuple[str, dict[str, tuple | None]]] = []
    cases = synthetic_cases() + speech_cases()
    audio_s = 0.0
    for case in cases:
        centres, ref = praat(case.x)
        mask = timeline.inside(centres / SR, case.spans)
        audio_s += mask.sum() * HOP / SR
        tracks = {name: f(case.x, centres, mask) for name, f in METHODS.items()}
        ref_2pass, condition = None, None
        if case.truth_hz is not None:  # exact truth: Praat is scored too
            tracks = {"Praat to_pitch_ac": ref} | tracks
            ref = case.truth_hz[centres]
            scored = mask & (case.truth_state[centres] >= 0)
            condition = case.name.split(" ", 2)[-1] if "glide" in case.name else case.name
        else:
            scored = mask
            ref_2pass = praat_2pass(case.x, centres, mask, ref)
        for name, f0 in tracks.items():
            scores.setdefault((case.group, name), Score()).add(f0, ref, scored, ref_2pass)
            if condition:
                per_condition.setdefault((condition, name), Score()).add(f0, ref, scored)
        if case.group in ("HarperValley", "AMI + pyannote"):
            party_figures.append((case.name, {"Praat 2-pass": figures(ref_2pass),
                                              "Praat": figures(np.where(mask, ref, np.nan))}
                                  | {name: figures(tracks[name]) for name in FIGURE_METHODS}))
        log.info("%s: %.0f s scored", case.name, mask.sum() * HOP / SR)

    # 2. speed on a real call, every frame; levels on 10 min of real speech (memory also on 60 min)
    x = load_16k(PYANNOTE_SAMPLE / "sample.wav").mean(axis=0)
    speed = speed_rows(x)
    speech = np.concatenate([c.x for c in cases if c.group == "HarperValley"])
    hour = np.tile(speech, int(np.ceil(3600 * SR / len(speech))))[:3600 * SR]
    level, level_len = level_rows(hour[:600 * SR], hour)
    del hour
    cpu_total = time.process_time() - cpu0

    # 3. the report
    groups = ["synthetic", "espeak", "HarperValley", "AMI + pyannote"]
    names = ["Praat to_pitch_ac", *METHODS]
    blocks = []
    head = ["tracker", "gross error %", "gross % vs Praat 2-pass", "octave down / up %", "fine: median abs cents",
            "voicing precision", "recall", "F1"]
    for group in groups:
        ref = "exact F0" if group == "synthetic" else "Praat as in the tests"
        n = sum(len(c) for c in scores[group, "ours 1-pass"].cents)
        blocks.append(f"**{group}** (reference: {ref}; {n} frames voiced in both for ours 1-pass)\n\n"
                      + table(head, [[name, *scores[group, name].row()] for name in names if (group, name) in scores]))
    conditions = list(dict.fromkeys(c for c, _ in per_condition))
    blocks.append("**synthetic, per condition**: gross error % / voicing F1 against the exact F0 (glides: male and "
                  "female pooled)\n\n"
                  + table(["tracker", *conditions],
                          [[name, *(per_condition[c, name].short() for c in conditions)] for name in names]))

    def fig(f):
        return "-" if f is None else f"{f[0]:.0f} / {f[1]:.1f} / {f[2]:.2f}"

    def delta(f, g):
        return "-" if f is None or g is None else (f"{100 * (f[0] / g[0] - 1):+.1f} % / {f[1] - g[1]:+.1f} / "
                                                   f"{f[2] - g[2]:+.2f}")

    shown = ["Praat", *FIGURE_METHODS]
    rows = [[name, fig(f["Praat 2-pass"]), *(fig(f[m]) for m in shown), delta(f["pyin"], f["ours 2-pass (pipeline)"])]
            for name, f in party_figures]
    mean_abs = []
    for m in shown:
        pairs = [(f[m], f["Praat 2-pass"]) for _, f in party_figures if f[m] and f["Praat 2-pass"]]
        mean_abs.append(f"{np.mean([abs(100 * (a[0] / b[0] - 1)) for a, b in pairs]):.1f} % / "
                        f"{np.mean([abs(a[1] - b[1]) for a, b in pairs]):.1f} / "
                        f"{np.mean([abs(a[2] - b[2]) for a, b in pairs]):.2f}")
    moves = [(f["pyin"], f["ours 2-pass (pipeline)"]) for _, f in party_figures
             if f["pyin"] and f["ours 2-pass (pipeline)"]]
    rows.append(["**mean abs difference from Praat 2-pass**", "", *mean_abs,
                 f"{np.mean([abs(100 * (a[0] / b[0] - 1)) for a, b in moves]):.1f} % / "
                 f"{np.mean([abs(a[1] - b[1]) for a, b in moves]):.1f} / "
                 f"{np.mean([abs(a[2] - b[2]) for a, b in moves]):.2f}"])
    blocks.append("**Per-speaker figures on real speech** (the solo frames of each party): median Hz / p95 - p5 st / "
                  "std st, as the pipeline reports them. Reference: Praat 2-pass (`to_pitch_ac` again inside the "
                  "speaker's range from its first pass, the rule of `prosody.pitch_range`); `Praat` is the tests' one "
                  "pass at 60-600 Hz. Last column: how far the figures move from ours to pyin (median % / range st / "
                  "std st)\n\n"
                  + table(["party", "Praat 2-pass", *shown, "pyin - ours 2-pass"], rows))
    blocks.append("**Speed** on pyannote's sample.wav (30 s), every frame as one speaker: CPU ms per second of "
                  "audio (one thread, least of 3 runs) and peak traced memory (tracemalloc) for those 30 s\n\n"
                  + table(["tracker", "CPU ms / s audio", "peak MB (30 s)"], speed))
    blocks.append(f"**Frame levels** on {level_len} of the HarperValley party files (8 kHz resampled): largest "
                  "difference in dB over all frames and over frames above -60 dBFS; CPU ms per second of audio "
                  "(least of 3); peak traced memory on those 10 min and on 60 min of the same speech\n\n"
                  + table(["ours", "librosa equivalent", "frames ours / librosa", "max diff dB", "above -60 dBFS",
                           "ours CPU ms/s", "librosa CPU ms/s", "peak MB 10 min ours / librosa",
                           "peak MB 60 min ours / librosa"], level))
    header = (f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, 2 shared cores, one thread; "
              f"Python {platform.python_version()}, librosa {librosa.__version__}, numpy {np.__version__}, "
              f"parselmouth {parselmouth.__version__} (Praat {parselmouth.PRAAT_VERSION}). {len(cases)} speaker "
              f"signals, {audio_s / 60:.1f} min of scored frames; 16 kHz (8 kHz files resampled with soxr HQ), 10 ms "
              "hop on Praat's frame centres. Trackers and settings in the docstring of `scripts/bench_pitch.py`: "
              "60-600 Hz, frames of 535 samples (window and lags of one period of 60 Hz) for all, YIN threshold "
              "0.25; reference Praat `to_pitch_ac(time_step=0.01, pitch_floor=60, pitch_ceiling=600)` as in the "
              f"tests. Gross error: |f0 / ref - 1| > {GROSS:.0%}; octave: within {OCTAVE_CENTS} cents of a halving / "
              "doubling (share of the frames voiced in both); fine error over all frames voiced in both; voicing "
              "against the reference's voiced frames (librosa.yin has no voicing decision: every frame counts as "
              "voiced; its 2-pass form counts the level gate). 2-pass forms gate by level like `speaker_track`. "
              f"Whole run: {cpu_total / 60:.1f} CPU min. Speeds are CPU time, not wall time.")
    write_report(args.out, header, "\n\n".join(blocks), key="pitch",
                 title="pitch trackers and frame levels: ours vs librosa, Praat as reference "
                       "(`scripts/bench_pitch.py`)")


FIGURE_METHODS = ["ours 2-pass (pipeline)", "pyin", "pyin 2-pass", "librosa.yin 2-pass"]


if __name__ == "__main__":
    main()
