"""Signal helpers over 16 kHz float32 audio: 10 ms frame levels, quiet-point blocks, span unions and masks,
channel sums.

The project's one analysis frame lives here (at the one sample rate, ``types.SAMPLE_RATE``):
every 10 ms frame array of the pipeline is at ``FRAME`` samples (``FRAME_S`` seconds) per frame.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import BinaryIO, TypeVar

import numpy as np

from pipeline.types import SAMPLE_RATE, Span

T = TypeVar("T")

FRAME = SAMPLE_RATE // 100  # 10 ms
FRAME_S = FRAME / SAMPLE_RATE
BLOCK_S = 300.0  # a long signal is processed in blocks of about this long (Silero; the ASR: ASR_BLOCK_S)...
SEARCH_S = 30.0  # ...each ending at the quietest point this close before its nominal end
CUT_S = 0.3  # ... averaged over this long
LEVEL_BLOCK = 1 << 12  # frames per step of frame_db (10 MB of float64 samples)
BLOCK = 1 << 20  # samples per step of the whole-call sums
SPILL_BLOCK = 1 << 22  # bytes per step when a file-backed signal is rearranged
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter...
MMAP_THRESHOLD = 16 << 20  # ...set to this many bytes (``map_large_blocks``)


def block_bounds(level: np.ndarray, n: int, block_s: float | None = None) -> list[tuple[int, int]]:
    """Sample bounds of blocks of a signal of ``n`` samples, its level ``frame_db``: each ends at the quietest
    ``CUT_S`` within ``SEARCH_S`` before its nominal end, ``block_s`` (default ``BLOCK_S``) after its start."""
    block_s = BLOCK_S if block_s is None else block_s
    block, search, cut = (round(x * SAMPLE_RATE / FRAME) for x in (block_s, SEARCH_S, CUT_S))
    if len(level) <= block + search:  # one block (a signal too short for a frame included)
        return [(0, n)]
    smooth = np.convolve(level, np.ones(cut) / cut, mode="same")
    bounds, start = [], 0
    while start + block + search < len(level):
        lo = start + block - search
        end = lo + int(np.argmin(smooth[lo:start + block]))
        bounds.append((start * FRAME, end * FRAME))
        start = end
    return [*bounds, (start * FRAME, n)]


def map_blocks(levels: Sequence[np.ndarray], n: int | Sequence[int], work: Callable[[int, int, int], T],
               workers: int, block_s: float | None = None) -> list[list[T]]:
    """``work(k, lo, hi)`` over the blocks (``block_bounds``) of every signal k, of level ``levels[k]`` and
    ``n`` samples (one count for all, or one each), ``workers`` blocks at a time; per signal, its blocks' results
    in order. The blocks depend on the signals alone, so the results do not depend on ``workers``."""
    sizes = [n] * len(levels) if isinstance(n, int) else list(n)
    jobs = [(k, lo, hi) for k, level in enumerate(levels) for lo, hi in block_bounds(level, sizes[k], block_s)]
    with ThreadPoolExecutor(max(1, min(workers, len(jobs)))) as pool:
        done = list(pool.map(lambda job: work(*job), jobs))
    return [[r for (j, _, _), r in zip(jobs, done, strict=True) if j == k] for k in range(len(levels))]


def frame_db(samples: np.ndarray, frame: int = FRAME) -> np.ndarray:
    """RMS level in dBFS of consecutive 10 ms frames, shape (frames,), of one channel (n,) or of the mix of
    channels (channels, n); computed in blocks of frames."""
    n = samples.shape[-1] // frame
    level = np.empty(n)
    for a in range(0, n, LEVEL_BLOCK):
        b = min(n, a + LEVEL_BLOCK)
        x = samples[..., a * frame:b * frame]
        x = (x.mean(axis=0) if x.ndim == 2 else x).reshape(b - a, frame).astype(np.float64)
        level[a:b] = 10 * np.log10(np.mean(x * x, axis=1) + 1e-12)
        release(samples)
    return level


def merge(spans: Iterable[Span], bridge_s: float = 0.0) -> tuple[Span, ...]:
    """Union of spans, sorted; gaps shorter than ``bridge_s`` are bridged (touching spans join)."""
    out: list[Span] = []
    for s in sorted(spans, key=lambda s: s.start):
        if out and (s.start <= out[-1].end or s.start - out[-1].end < bridge_s):
            out[-1] = Span(out[-1].start, max(out[-1].end, s.end))
        else:
            out.append(Span(s.start, s.end))
    return tuple(out)


def spans_to_mask(spans: tuple[Span, ...], n_frames: int, frame_s: float) -> np.ndarray:
    """Boolean frame mask, shape (n_frames,), true where a span covers the frame centre."""
    mask = np.zeros(n_frames, bool)
    for span in spans:
        lo = max(0, int(np.ceil(span.start / frame_s - 0.5)))
        hi = min(n_frames, int(np.ceil(span.end / frame_s - 0.5)))
        mask[lo:hi] = True
    return mask


def mask_to_spans(mask: np.ndarray, frame_s: float, min_duration_s: float = 0.0) -> tuple[Span, ...]:
    """Runs of true frames as spans, dropping those shorter than ``min_duration_s``."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    spans = (Span(a * frame_s, b * frame_s) for a, b in zip(edges[::2], edges[1::2], strict=True))
    return tuple(s for s in spans if s.duration >= min_duration_s)


def channel_correlation(samples: np.ndarray) -> float:
    """Pearson correlation of the two channels (1.0: a duplicated mono signal), summed in blocks."""
    n = samples.shape[1]
    sa = sb = saa = sbb = sab = 0.0
    for s in range(0, n, BLOCK):
        a, b = samples[0, s:s + BLOCK].astype(np.float64), samples[1, s:s + BLOCK].astype(np.float64)
        sa, sb, saa, sbb, sab = sa + a.sum(), sb + b.sum(), saa + a @ a, sbb + b @ b, sab + a @ b
        release(samples)
    var_a, var_b = max(saa - sa * sa / n, 0.0), max(sbb - sb * sb / n, 0.0)
    if var_a * var_b == 0:  # a silent channel: the same signal only when both are
        return 1.0 if not (saa or sbb) else 0.0
    return float((sab - sa * sb / n) / np.sqrt(var_a * var_b))


def channel_energy(samples: np.ndarray) -> np.ndarray:
    """Sum of squares of each channel, shape (channels,), in float64 over blocks."""
    energy = np.zeros(samples.shape[0])
    for s in range(0, samples.shape[1], BLOCK):
        block = samples[:, s:s + BLOCK].astype(np.float64)
        energy += (block * block).sum(axis=1)
        release(samples)
    return energy


def cross_correlation(a: np.ndarray, b: np.ndarray, max_lag: int, chunk: int = 1 << 16) -> np.ndarray:
    """``r[k + max_lag] = sum_n a[n] b[n + k]`` for lags ``k`` in [-max_lag, max_lag], shape (2 max_lag + 1,).

    Exact, by FFT over chunks of ``a``, so memory stays in the chunk however long the call.
    """
    n = min(a.size, b.size)
    nfft = 1 << int(np.ceil(np.log2(chunk + 2 * max_lag)))
    out = np.zeros(2 * max_lag + 1)
    for s in range(0, n, chunk):
        near = b[max(s - max_lag, 0):min(s + chunk + max_lag, n)].astype(np.float64)
        near = np.concatenate([np.zeros(max(max_lag - s, 0)), near])  # near[j] = b[s - max_lag + j]
        spectrum = np.conj(np.fft.rfft(a[s:s + chunk].astype(np.float64), nfft)) * np.fft.rfft(near, nfft)
        out += np.fft.irfft(spectrum, nfft)[:2 * max_lag + 1]
        release(a)
        release(b)
    return out


@cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def map_large_blocks() -> None:
    """Have glibc map each allocation of ``MMAP_THRESHOLD`` or more on its own and unmap it when it is freed
    (``mallopt``). By default the threshold rises with the largest block freed, up to 32 MB, after which such
    blocks stay in the heaps of the threads that freed them: with two ASR decoders at once, a 6-minute stereo
    call peaked at 760-850 MB, 650 MB with this, at no cost in speed."""
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def release_freed_memory() -> None:
    """Hand the heap's free pages back to the system (glibc ``malloc_trim``): the large short-lived arrays of a
    stage, or of one block of a long call's ASR, otherwise stay resident into the next (240 MB after the VAD of a
    2-hour call; 220 MB more after 30 minutes of ASR)."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def is_file_backed(x: np.ndarray) -> bool:
    """Whether ``x`` maps a file (``file_backed``, or a slice of such an array)."""
    return getattr(x, "_mmap", None) is not None


def release(x: np.ndarray) -> None:
    """Give back the pages of a file-backed array (``np.memmap``, or a slice of one) that this process holds.

    They stay in the page cache, and a later touch maps them again, so a pass over a long recording holds one
    block of it at a time; an array in memory is left as it is.
    """
    if is_file_backed(x):
        x._mmap.madvise(mmap.MADV_DONTNEED)


def mix(samples: np.ndarray) -> np.ndarray:
    """The channel mean of (channels, n) samples, shape (n,); of a file-backed recording, a file-backed mix made a
    block at a time."""
    if samples.shape[0] == 1:
        return samples[0]
    if not is_file_backed(samples):
        return samples.mean(axis=0)

    def blocks() -> Iterable[np.ndarray]:
        for a in range(0, samples.shape[1], BLOCK):
            yield samples[:, a:a + BLOCK].mean(axis=0, keepdims=True)
            release(samples)

    return file_backed(blocks(), 1)[0]


def file_backed(blocks: Iterable[np.ndarray], channels: int) -> np.ndarray:
    """The (channels, m) float32 ``blocks`` joined in time, as a read-only (channels, n) array in a temporary file.

    The file is unlinked at once (it lives as long as the array): the recording costs disk, not memory, and is
    written block by block, then rearranged a channel at a time. Raises ``OSError`` when the temporary
    directory (``TMPDIR``) cannot hold it.
    """
    n = 0
    with tempfile.TemporaryFile() as frames:
        for block in blocks:
            frames.write(np.ascontiguousarray(block.T, np.float32).tobytes())  # (m, channels): time-major
            n += block.shape[1]
        frames.flush()
        if channels == 1 or not n:
            return _mapped(frames, channels, n)
        with tempfile.TemporaryFile() as out:
            os.ftruncate(out.fileno(), channels * n * 4)
            step = max(1, SPILL_BLOCK // (4 * channels))
            for a in range(0, n, step):
                m = min(step, n - a)
                chunk = np.frombuffer(os.pread(frames.fileno(), m * channels * 4, a * channels * 4), np.float32)
                for c, row in enumerate(chunk.reshape(m, channels).T):
                    os.pwrite(out.fileno(), np.ascontiguousarray(row).tobytes(), (c * n + a) * 4)
            return _mapped(out, channels, n)


def scratch(rows: int, columns: int) -> np.ndarray:
    """A writable (rows, columns) float32 array in an unlinked temporary file, for what a pass over a file-backed
    recording derives from all of it (``release`` its pages as it is filled and read). Raises ``OSError`` when
    the temporary directory cannot hold it."""
    if not rows * columns:
        return np.zeros((rows, columns), np.float32)
    with tempfile.TemporaryFile() as handle:
        os.ftruncate(handle.fileno(), rows * columns * 4)
        return np.memmap(handle, np.float32, "r+", shape=(rows, columns))


def _mapped(handle: BinaryIO, channels: int, n: int) -> np.ndarray:
    """A read-only (channels, n) float32 map of an open file (the map holds its own descriptor)."""
    return np.memmap(handle, np.float32, "r", shape=(channels, n)) if n else np.zeros((channels, 0), np.float32)
