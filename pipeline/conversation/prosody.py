"""Prosody: pitch and loudness of each speaker over their solo speech, and per-turn pitch contours.

Pure functions over numpy arrays. Only the frames inside a speaker's *solo* speech count (their
segments minus everybody else's), taken from their own channel when channel diarization gave
them one, else from the channel mix. A frame is 10 ms apart from the next (``hop_ms``).

1. **levels**: RMS level of each frame in dBFS (``20 log10 rms``: a full-scale square wave is
   0 dB, a full-scale sine -3 dB). Frames more than ``level_range_db`` below the speaker's loud
   level (95th percentile) are silence; the rest are the speaker's speech frames.
2. **pitch, first pass**: YIN (de Cheveigné & Kawahara 2002) over the speech frames in the wide
   range ``fmin_hz``-``fmax_hz``: the first trough of the cumulative mean normalised difference
   (CMND) below ``voicing_threshold`` gives the period, refined by parabolic interpolation; no
   such trough: unvoiced.
3. **pitch, second pass**: the speaker's own range from the first pass (De Looze & Hirst 2008):
   floor 0.75 x the 25th percentile, ceiling 1.5 x the 75th, and YIN again inside it. Octave
   jumps of the first pass (halving, doubling) fall outside the range and drop out.
4. **figures**: median F0 in Hz; semitones re that median for the range (p95 - p5) and the std.
5. **contours**: per turn, the median semitone value of each 1 / ``contour_rate_hz`` s bin of
   voiced frames, and the movement over the last ``final_window_s`` of voiced speech; likewise the
   median level (dBFS) of each bin's speech frames.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.fft

from pipeline.audio import signal
from pipeline.config import ProsodyConfig
from pipeline.conversation.timeline import inside, solo_spans
from pipeline.types import Alignment, Audio, CallProsody, Span, SpeakerProsody, TurnContour

RANGE_FLOOR = (25, 0.75)  # second-pass floor: this percentile of the first pass, times this factor
RANGE_CEILING = (75, 1.5)  # second-pass ceiling, likewise
SILENCE_DBFS = -100.0  # frames below this level are digital silence, whatever the speaker's level
MIN_FINAL_FRAMES = 5  # voiced frames a final movement needs
_BLOCK_FRAMES = 2048  # frames analysed at once (bounds the memory of long calls)


# ---------------------------------------------------------------- frame analysis


def _blocks(x: np.ndarray, centres: np.ndarray, length: int) -> Iterator[tuple[int, np.ndarray]]:
    """Frames of ``length`` samples starting ``length // 2`` before ``centres`` (zeros beyond the signal), as
    (first index, frames of shape (up to ``_BLOCK_FRAMES``, length)) blocks."""
    offsets = np.arange(length) - length // 2
    for b in range(0, len(centres), _BLOCK_FRAMES):
        index = centres[b:b + _BLOCK_FRAMES, None] + offsets
        inside = (index >= 0) & (index < len(x))
        frames = x[np.clip(index, 0, len(x) - 1)]
        signal.release(x)
        yield b, frames if inside.all() else np.where(inside, frames, x.dtype.type(0))


def levels_db(x: np.ndarray, centres: np.ndarray, *, frame_length: int) -> np.ndarray:
    """RMS level in dBFS of the frames centred on sample indices ``centres``, shape (n,).

    Digital silence reads ``SILENCE_DBFS`` - 20 dB rather than minus infinity.
    """
    out = np.empty(len(centres))
    for b, frames in _blocks(x, centres, frame_length):
        out[b:b + len(frames)] = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    return 20 * np.log10(np.maximum(out, 10 ** ((SILENCE_DBFS - 20) / 20)))


def is_speech(levels: np.ndarray, *, level_range_db: float) -> np.ndarray:
    """Mask of the frames (levels in dBFS, shape (n,)) within ``level_range_db`` of the loud level (p95)."""
    if not len(levels):
        return np.zeros(0, bool)
    return levels >= max(SILENCE_DBFS, float(np.percentile(levels, 95)) - level_range_db)


def _cmnd(frames: np.ndarray, window: int, max_lag: int) -> np.ndarray:
    """YIN's cumulative mean normalised difference of each frame, lags 0..max_lag, shape (n, max_lag + 1).

    ``frames`` (n, window + max_lag): d(tau) = sum over j < window of (x[j] - x[j + tau])^2.
    """
    n_fft = scipy.fft.next_fast_len(frames.shape[1], real=True)
    spec = scipy.fft.rfft(frames, n_fft, axis=1)
    head = scipy.fft.rfft(frames[:, :window], n_fft, axis=1)
    corr = scipy.fft.irfft(spec * head.conj(), n_fft, axis=1)[:, :max_lag + 1]
    power = np.concatenate([np.zeros((len(frames), 1), frames.dtype), np.cumsum(frames**2, axis=1)], axis=1)
    energy = power[:, window:window + max_lag + 1] - power[:, :max_lag + 1]  # sum of x^2 over [tau, tau + window)
    diff = np.maximum(energy[:, :1] + energy - 2 * corr, 0.0)
    mean = np.cumsum(diff[:, 1:], axis=1) / np.arange(1, max_lag + 1)
    out = np.ones_like(diff)
    out[:, 1:] = diff[:, 1:] / np.maximum(mean, np.finfo(frames.dtype).tiny)
    return out


def yin(x: np.ndarray, centres: np.ndarray, *, sample_rate: int, fmin_hz: float, fmax_hz: float,
        threshold: float) -> np.ndarray:
    """F0 in Hz of the frames centred on sample indices ``centres``, shape (n,); NaN where unvoiced.

    The integration window is one period of ``fmin_hz``. A frame is voiced when its CMND has a
    trough below ``threshold`` for a period within 1 / ``fmax_hz`` .. 1 / ``fmin_hz``; the first
    such trough is taken and refined by parabolic interpolation.
    """
    if not 0 < fmin_hz < fmax_hz < sample_rate / 4:
        raise ValueError(f"need 0 < fmin_hz < fmax_hz < sample_rate / 4, got {fmin_hz}, {fmax_hz}")
    lo = max(2, int(np.floor(sample_rate / fmax_hz)))
    hi = int(np.ceil(sample_rate / fmin_hz))
    window, max_lag = hi, hi + 1
    f0 = np.full(len(centres), np.nan)
    for b, frames in _blocks(x, centres, window + max_lag):
        d = _cmnd(frames.astype(np.float32), window, max_lag)
        mid = d[:, lo:hi + 1]  # lags lo..hi, with their neighbours on either side
        trough = (mid <= d[:, lo - 1:hi]) & (mid < d[:, lo + 1:hi + 2]) & (mid < threshold)
        voiced = trough.any(axis=1)
        rows = np.flatnonzero(voiced)
        tau = lo + trough[rows].argmax(axis=1)
        left, centre, right = d[rows, tau - 1], d[rows, tau], d[rows, tau + 1]
        curve = left - 2 * centre + right
        shift = np.where(curve > 0, 0.5 * (left - right) / np.where(curve > 0, curve, 1.0), 0.0)
        f0[b + rows] = sample_rate / (tau + np.clip(shift, -0.5, 0.5))
    return f0


def pitch_range(f0_hz: np.ndarray, *, fmin_hz: float, fmax_hz: float) -> tuple[float, float]:
    """A speaker's F0 search range (floor, ceiling) in Hz from first-pass estimates (voiced, shape (n,)).

    De Looze & Hirst (2008): 0.75 x q25 .. 1.5 x q75, kept inside ``fmin_hz`` .. ``fmax_hz``.
    """
    floor = RANGE_FLOOR[1] * np.percentile(f0_hz, RANGE_FLOOR[0])
    ceiling = RANGE_CEILING[1] * np.percentile(f0_hz, RANGE_CEILING[0])
    return max(fmin_hz, float(floor)), min(fmax_hz, float(ceiling))


def semitones(f0_hz: np.ndarray, reference_hz: float) -> np.ndarray:
    """F0 in semitones re ``reference_hz``: 12 log2(f0 / reference)."""
    return 12 * np.log2(f0_hz / reference_hz)


# ---------------------------------------------------------------- per speaker


def level_frame_length(config: ProsodyConfig, sample_rate: int) -> int:
    """Samples of a level frame: one period of ``fmin_hz`` (16.7 ms at 60 Hz)."""
    return int(np.ceil(sample_rate / config.fmin_hz))


def speaker_track(x: np.ndarray, centres: np.ndarray, *, sample_rate: int,
                  config: ProsodyConfig) -> tuple[np.ndarray, np.ndarray]:
    """Levels (dBFS) and F0 (Hz, NaN unvoiced or silent) of the frames centred on ``centres``, shapes (n,).

    ``x`` (samples,) is the speaker's signal, ``centres`` the sample indices of their solo speech frames.
    """
    levels = levels_db(x, centres, frame_length=level_frame_length(config, sample_rate))
    f0 = np.full(len(centres), np.nan)
    speech = is_speech(levels, level_range_db=config.level_range_db)
    first = yin(x, centres[speech], sample_rate=sample_rate, fmin_hz=config.fmin_hz, fmax_hz=config.fmax_hz,
                threshold=config.voicing_threshold)
    voiced = first[~np.isnan(first)]
    if len(voiced) * config.hop_ms / 1000 < config.min_voiced_s:
        return levels, f0
    floor, ceiling = pitch_range(voiced, fmin_hz=config.fmin_hz, fmax_hz=config.fmax_hz)
    f0[speech] = yin(x, centres[speech], sample_rate=sample_rate, fmin_hz=floor, fmax_hz=ceiling,
                     threshold=config.voicing_threshold)
    return levels, f0


def speaker_figures(levels: np.ndarray, f0_hz: np.ndarray, *, config: ProsodyConfig) -> SpeakerProsody:
    """The contract figures from one speaker's frame levels (dBFS) and F0 (Hz, NaN unvoiced), shapes (n,).

    Loudness is the mean and the std of the frame levels in dB (not the level of the mean power)
    over the speech frames; pitch figures are None below ``min_voiced_s`` of voiced frames.
    """
    speech = levels[is_speech(levels, level_range_db=config.level_range_db)]
    voiced = f0_hz[~np.isnan(f0_hz)]
    voiced_s = len(voiced) * config.hop_ms / 1000
    loud = (float(np.mean(speech)), float(np.std(speech))) if len(speech) else (None, None)
    if voiced_s < config.min_voiced_s:
        return SpeakerProsody(None, None, None, *loud, voiced_s)
    median = float(np.median(voiced))
    st = semitones(voiced, median)
    p5, p95 = np.percentile(st, [5, 95])
    return SpeakerProsody(median, float(p95 - p5), float(np.std(st)), *loud, voiced_s)


def turn_contour(times: np.ndarray, st: np.ndarray, turn: Span, *, config: ProsodyConfig
                 ) -> tuple[tuple[float | None, ...], float | None]:
    """One turn's pitch contour and final movement from frame times (s) and semitones (NaN unvoiced).

    The contour holds the median of the voiced frames of each 1 / ``contour_rate_hz`` s bin from
    the turn start (None: no voiced frame); the final movement (semitones, > 0 a rise) is the
    least-squares slope of the last ``final_window_s`` of voiced frames times their time span,
    None with fewer than ``MIN_FINAL_FRAMES`` frames over less than half that window.
    """
    n_bins = max(1, int(np.ceil((turn.end - turn.start) * config.contour_rate_hz - 1e-9)))
    sel = (times >= turn.start) & (times < turn.end) & ~np.isnan(st)
    t, v = times[sel], st[sel]
    bins = np.minimum(((t - turn.start) * config.contour_rate_hz).astype(int), n_bins - 1)
    contour = tuple(float(np.median(v[bins == k])) if np.any(bins == k) else None for k in range(n_bins))
    if not len(t):
        return contour, None
    last = t >= t[-1] - config.final_window_s
    span = t[last][-1] - t[last][0]
    if last.sum() < MIN_FINAL_FRAMES or span < config.final_window_s / 2:
        return contour, None
    slope = np.polyfit(t[last], v[last], 1)[0]
    return contour, float(slope * span)


# ---------------------------------------------------------------- the call


def analyze(audio: Audio, alignment: Alignment, config: ProsodyConfig) -> CallProsody:
    """Pitch and loudness figures per speaker and a pitch contour per turn (``alignment.turns`` order)."""
    sr = audio.sample_rate
    hop, half = round(sr * config.hop_ms / 1000), level_frame_length(config, sr) // 2
    centres = np.arange(half, audio.samples.shape[1] - half, hop)  # level frames wholly inside the call
    times = centres / sr
    mix = None  # the channel mix, made once if a speaker has no channel of their own
    speakers, tracks = {}, {}
    for spk, spans in solo_spans(alignment.segments).items():
        channel = alignment.channel_of.get(spk)
        if channel is not None and audio.channels > 1:
            x = audio.samples[channel]
        else:
            x = mix = signal.mix(audio.samples) if mix is None else mix
        mine = inside(times, spans)
        levels, f0 = speaker_track(x, centres[mine], sample_rate=sr, config=config)
        speakers[spk] = speaker_figures(levels, f0, config=config)
        median = speakers[spk].pitch_median_hz
        speech = np.where(is_speech(levels, level_range_db=config.level_range_db), levels, np.nan)
        tracks[spk] = (times[mine], semitones(f0, median) if median else np.full(len(f0), np.nan), speech)
    turns = []
    for turn in alignment.turns:
        t, st, db = tracks.get(turn.speaker, (np.zeros(0), np.zeros(0), np.zeros(0)))
        lo, hi = np.searchsorted(t, [turn.start, turn.end])  # the turn's frames: times ascend
        t, st, db = t[lo:hi], st[lo:hi], db[lo:hi]
        contour, final = turn_contour(t, st, Span(turn.start, turn.end), config=config)
        loudness, _ = turn_contour(t, db, Span(turn.start, turn.end), config=config)
        turns.append(TurnContour(turn.speaker, turn.start, turn.end, contour, final, loudness))
    return CallProsody(speakers, tuple(turns), config.contour_rate_hz, config.final_window_s)
