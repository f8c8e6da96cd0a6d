"""Decode a recording once into float32 (channels, samples) at 16 kHz, channels kept."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from pipeline.audio.signal import file_backed
from pipeline.errors import AudioError
from pipeline.types import SAMPLE_RATE, Audio, AudioInfo

log = logging.getLogger(__name__)

MIN_SOURCE_RATE = 8000
BLOCK_FRAMES = 1 << 18  # source frames decoded and resampled at a time
IN_MEMORY_BYTES = 64 << 20  # a decoded recording larger than this (17 min of stereo) goes to a file


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


@dataclass
class _Stream:
    """A recording being decoded: its format and its samples as (frames, channels) float32 blocks."""

    rate: int
    channels: int
    codec: str
    frames: int  # expected frames at the source rate, 0 when unknown
    blocks: Iterator[np.ndarray]


@contextmanager
def _open_soundfile(path: Path) -> Iterator[_Stream]:
    info = sf.info(str(path))
    if info.format == "WAV":
        _check_wav_length(path, info)
    with sf.SoundFile(str(path)) as handle:
        yield _Stream(int(handle.samplerate), handle.channels, f"{info.format}/{info.subtype}", handle.frames,
                      handle.blocks(BLOCK_FRAMES, dtype="float32", always_2d=True))


@contextmanager
def _open_av(path: Path) -> Iterator[_Stream]:
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise AudioError(path, "no audio stream in the file")
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate or stream.rate or 0)
        expected = int(stream.duration * stream.time_base * rate) if stream.duration and stream.time_base else 0

        channels = stream.codec_context.channels

        def blocks() -> Iterator[np.ndarray]:
            # packed float: one plane whatever the channel count (PyAV miscounts the planes of a planar
            # frame of more than 8 channels and reads past them: a crash of the process)
            resampler = av.AudioResampler(format="flt", layout=stream.codec_context.layout, rate=rate)
            pending, size = [], 0
            for frame in chain(container.decode(stream), [None]):
                for out in resampler.resample(frame):
                    pending.append(out.to_ndarray().reshape(-1, out.layout.nb_channels))
                    size += pending[-1].shape[0]
                if pending and (size >= BLOCK_FRAMES or frame is None):
                    yield np.concatenate(pending).astype(np.float32, copy=False)
                    pending, size = [], 0

        yield _Stream(rate, channels, stream.codec_context.name, expected, blocks())


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _resampled_blocks(path: Path, stream: _Stream) -> Iterator[np.ndarray]:
    """The recording as (channels, m) float32 blocks in [-1, 1] at 16 kHz, decoded and resampled block by block.

    More than two channels are mixed to one and NaN or infinite samples set to 0 a block at a time.
    """
    if stream.rate < MIN_SOURCE_RATE:
        raise AudioError(path, f"sample rate {stream.rate} Hz is below {MIN_SOURCE_RATE} Hz")
    channels = 1 if stream.channels > 2 else stream.channels
    resampler = (soxr.ResampleStream(stream.rate, SAMPLE_RATE, channels, dtype="float32", quality="HQ")
                 if stream.rate != SAMPLE_RATE else None)
    filled = read = 0
    nonfinite = False
    for block in chain(stream.blocks, [None] if resampler else []):
        if block is None:  # flush the resampler
            block = resampler.resample_chunk(np.zeros((0, channels), np.float32), last=True)
        else:
            read += len(block)
            if stream.channels > 2:
                block = block.mean(axis=1, keepdims=True)
            if not np.isfinite(block).all():
                nonfinite = True
                block = np.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)
            if resampler:
                block = resampler.resample_chunk(block, last=False)
        if len(block):
            filled += len(block)
            yield np.clip(block.T, -1.0, 1.0)
    if not filled:
        raise AudioError(path, f"no audio samples at {SAMPLE_RATE} Hz (header says {stream.rate} Hz)"
                         if read else "no audio samples")
    if stream.channels > 2:
        log.warning("%s: %d channels mixed down to mono", path, stream.channels)
    if nonfinite:
        log.warning("%s: NaN or infinite samples set to 0", path)


def _resampled(path: Path, stream: _Stream) -> np.ndarray:
    """The whole recording as (channels, n) float32 in [-1, 1] at 16 kHz (``_resampled_blocks``).

    It is held in memory, with one block besides, when the header says it takes at most ``IN_MEMORY_BYTES``;
    a longer recording, or one of unknown length, goes to a temporary file, mapped read-only
    (``signal.file_backed``), so a worker's memory does not grow with the length of its calls.
    """
    channels = 1 if stream.channels > 2 else stream.channels
    blocks = _resampled_blocks(path, stream)
    expected = int(stream.frames * SAMPLE_RATE / stream.rate) if stream.rate else 0
    if not expected or expected * channels * 4 > IN_MEMORY_BYTES:
        try:
            return file_backed(blocks, channels)
        except OSError as exc:
            raise AudioError(path, f"cannot hold the decoded audio in a temporary file: {_first_line(exc)}") from exc
    out = np.empty((channels, expected + 64), np.float32)
    filled = 0
    for block in blocks:
        if filled + block.shape[1] > out.shape[1]:  # longer than the header said: grow
            grown = np.empty((channels, max(2 * out.shape[1], filled + block.shape[1])), np.float32)
            grown[:, :filled] = out[:, :filled]
            out = grown
        out[:, filled:filled + block.shape[1]] = block
        filled += block.shape[1]
    return out[:, :filled] if out.shape[1] - filled <= 64 else out[:, :filled].copy()


def decode(path: Path) -> tuple[np.ndarray, _Stream]:
    """Decode with libsndfile, falling back to FFmpeg (PyAV) for what it cannot read (M4A, ...).

    Returns samples (channels, n) float32 at 16 kHz and the opened stream's format.
    """
    causes = []
    for opener in (_open_soundfile, _open_av):
        try:
            with opener(path) as stream:
                return _resampled(path, stream), stream
        except (AudioError, MemoryError):
            raise
        except Exception as exc:  # this decoder could not read it: try the next
            causes.append(_first_line(exc))
    raise AudioError(path, f"not a readable audio file ({'; '.join(causes)})")


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
    samples, stream = decode(path)
    samples.flags.writeable = False  # an Audio is frozen, its samples too: stages make new arrays
    info = AudioInfo(
        path=str(path),
        sha256=sha,
        codec=stream.codec,
        sample_rate=stream.rate,
        channels=stream.channels,
        duration_s=samples.shape[1] / SAMPLE_RATE,
    )
    return Audio(info, samples, SAMPLE_RATE)
