"""Line or acoustic echo between the channels of a stereo call: found by cross-correlation, cancelled
with a one-tap canceller before speech detection."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from pipeline.audio.signal import (
    BLOCK,
    channel_correlation,
    channel_energy,
    cross_correlation,
    file_backed,
    is_file_backed,
    release,
)
from pipeline.config import DiarizationConfig
from pipeline.types import SAMPLE_RATE, Echo

ECHO_OVER_BLEED = 0.25  # speech correlates with itself up to ~0.1 at lags of 20 ms and more: a late peak below
# this share of the bleed's peak (under the minimum delay) is that bleed's own periodicity, not an echo


def find_echo(samples: np.ndarray, config: DiarizationConfig) -> Echo | None:
    """A delayed, attenuated copy of one stereo channel in the other (line or acoustic echo), or None.

    The cross-correlation of the channels peaks at a lag between ``echo_min_delay_ms`` (closer is
    bleed) and ``echo_max_delay_ms``, ``echo_min_z`` robust standard deviations (1.4826 x the median
    absolute value over those lags) or more above zero, and at ``ECHO_OVER_BLEED`` or more of the
    peak at shorter lags (bleed). The copy's gain is the correlation at that lag over the source
    channel's energy (exact for a one-tap echo of a source uncorrelated with the other party).
    Channels that are one signal are not checked.
    """
    if samples.shape[0] != 2 or channel_correlation(samples) >= config.duplicate_channel_corr:
        return None
    energy = channel_energy(samples)
    if not energy.min():
        return None
    max_lag = round(config.echo_max_delay_ms * SAMPLE_RATE / 1000)
    r = cross_correlation(samples[0], samples[1], max_lag)
    lags = np.arange(-max_lag, max_lag + 1)
    far = np.abs(lags) >= config.echo_min_delay_ms * SAMPLE_RATE / 1000
    j = np.flatnonzero(far)[np.argmax(np.abs(r[far]))]
    spread = 1.4826 * np.median(np.abs(r[far]))
    if abs(r[j]) < config.echo_min_z * spread or abs(r[j]) < ECHO_OVER_BLEED * np.abs(r[~far]).max():
        return None
    channel = int(lags[j] > 0)  # a positive lag: channel 1 repeats channel 0
    gain_db = 20 * np.log10(abs(r[j]) / energy[1 - channel])
    return Echo(channel, abs(int(lags[j])) / SAMPLE_RATE, float(gain_db), float(r[j] / np.sqrt(energy.prod())))


def cancel_echo(samples: np.ndarray, echo: Echo) -> np.ndarray:
    """A read-only copy of ``samples`` (channels, n) with the echo subtracted from its channel (a one-tap
    canceller, block by block), file-backed when ``samples`` are (``signal.file_backed``). The copy is the only
    extra memory: the caller drops the original."""
    delay = round(echo.delay_s * SAMPLE_RATE)
    gain = np.float32(np.sign(echo.correlation) * 10 ** (echo.gain_db / 20))

    def blocks() -> Iterator[np.ndarray]:
        for s in range(0, samples.shape[1], BLOCK):
            block = np.array(samples[:, s:s + BLOCK])
            e = s + block.shape[1]
            if e > delay:
                lo = max(s, delay)
                block[echo.channel, lo - s:] -= gain * samples[1 - echo.channel, lo - delay:e - delay]
            release(samples)
            yield block

    if is_file_backed(samples):
        return file_backed(blocks(), samples.shape[0])
    out = np.empty(samples.shape, np.float32)
    for s, block in zip(range(0, samples.shape[1], BLOCK), blocks(), strict=True):
        out[:, s:s + block.shape[1]] = block
    out.flags.writeable = False
    return out


def echo_note(echo: Echo) -> str:
    """The diarization note of a found echo."""
    return (f"stereo: channel {echo.channel} repeats channel {1 - echo.channel} {echo.delay_s * 1000:.0f} ms later "
            f"at {echo.gain_db:.1f} dB (echo): subtracted before analysis")
