"""Decode a recording once into float32 (channels, samples) at 16 kHz, channels kept."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from pipeline.errors import AudioError
from pipeline.types import Audio, AudioInfo

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
MIN_SOURCE_RATE = 8000
_WAV_HEADER_SLACK_FRAMES = 1


def file_sha256(path: Path) -> str:
    """sha256 of the file bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _check_wav_length(path: Path, info: sf._SoundFileInfo) -> None:
    """Reject a WAV whose data chunk is shorter than its header declares (a cut-off write)."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    pos = 12
    while pos + 8 <= len(head):
        chunk, size = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
        if chunk == b"data":
            available = path.stat().st_size - (pos + 8)
            if size not in (0, 0xFFFFFFFF) and available < size:
                have_s = info.frames / info.samplerate if info.samplerate else 0.0
                raise AudioError(
                    path,
                    f"truncated WAV: header declares {size} data bytes, file holds {available}"
                    f" ({have_s:.2f} s readable)",
                )
            return
        pos += 8 + size + (size & 1)


def _read_soundfile(path: Path) -> tuple[np.ndarray, int, str]:
    info = sf.info(str(path))
    if info.format == "WAV":
        _check_wav_length(path, info)
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return data.T, int(rate), f"{info.format}/{info.subtype}"


def _read_av(path: Path) -> tuple[np.ndarray, int, str]:
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise AudioError(path, "no audio stream in the file")
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate or stream.rate or 0)
        layout = stream.codec_context.layout
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        chunks = [
            out.to_ndarray()
            for frame in container.decode(stream)
            for out in resampler.resample(frame)
        ]
        chunks += [out.to_ndarray() for out in resampler.resample(None)]
        codec = stream.codec_context.name
    if not chunks:
        return np.zeros((1, 0), np.float32), rate, codec
    return np.concatenate(chunks, axis=1).astype(np.float32), rate, codec


def decode(path: Path) -> tuple[np.ndarray, int, str]:
    """Decode with libsndfile, falling back to FFmpeg (PyAV) for what it cannot read (M4A, ...).

    Returns samples (channels, n) float32 at the source rate, the rate and a codec name.
    """
    try:
        return _read_soundfile(path)
    except AudioError:
        raise
    except Exception as sf_exc:  # libsndfile could not read it: try FFmpeg
        try:
            return _read_av(path)
        except AudioError:
            raise
        except Exception as av_exc:
            cause = str(sf_exc).splitlines()[0] if str(sf_exc) else type(sf_exc).__name__
            av_cause = str(av_exc).splitlines()[0] if str(av_exc) else type(av_exc).__name__
            raise AudioError(path, f"not a readable audio file ({cause}; {av_cause})") from None


def load_audio(path: str | Path) -> Audio:
    """Read any supported recording into an ``Audio`` at 16 kHz.

    Raises ``AudioError`` naming the file and the cause when it is missing, a directory, empty,
    truncated, not audio, silent of samples or sampled below 8 kHz.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(path, "no such file")
    if path.is_dir():
        raise AudioError(path, "is a directory, not an audio file")
    try:
        size = path.stat().st_size
        if size == 0:
            raise AudioError(path, "empty file (0 bytes)")
        sha = file_sha256(path)
    except PermissionError:
        raise AudioError(path, "permission denied") from None
    samples, rate, codec = decode(path)
    if samples.shape[1] == 0:
        raise AudioError(path, "no audio samples")
    if rate < MIN_SOURCE_RATE:
        raise AudioError(path, f"sample rate {rate} Hz is below {MIN_SOURCE_RATE} Hz")
    source_channels = samples.shape[0]
    if source_channels > 2:
        log.warning("%s: %d channels mixed down to mono", path, samples.shape[0])
        samples = samples.mean(axis=0, keepdims=True)
    if not np.isfinite(samples).all():
        log.warning("%s: NaN or infinite samples set to 0", path)
        samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    if rate != SAMPLE_RATE:
        samples = soxr.resample(samples.T, rate, SAMPLE_RATE, quality="HQ").T
        if samples.shape[1] == 0:  # a few samples at a rate a damaged header made huge
            raise AudioError(path, f"no audio samples at {SAMPLE_RATE} Hz (header says {rate} Hz)")
    samples = np.ascontiguousarray(np.clip(samples, -1.0, 1.0), dtype=np.float32)
    info = AudioInfo(
        path=str(path),
        sha256=sha,
        codec=codec,
        sample_rate=rate,
        channels=source_channels,
        duration_s=samples.shape[1] / SAMPLE_RATE,
    )
    return Audio(info, samples, SAMPLE_RATE)
