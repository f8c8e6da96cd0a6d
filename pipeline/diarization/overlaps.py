"""Overlapped speech on mono calls: the local speakers of pyannote's segmentation model mapped to the
call's speakers, and who talks around each overlap."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy.ndimage import binary_dilation
from scipy.optimize import linear_sum_assignment

from pipeline.audio.signal import FRAME_S
from pipeline.models import segmentation

MIN_VOTE_FRAMES = 10  # a local speaker is mapped to a call speaker on at least this many solo frames
MAYBE_OVERLAP = 0.25  # coarse pass: two speakers this likely at once call for the chunks between
MIN_LOCAL_SOLO_S = 1.0  # speaker count: a local speaker counts with this much speech alone in its chunk...
MIN_LOCAL_CHUNKS = 2  # ...in at least this many chunks


def coarse_chunks(samples: np.ndarray, step_s: float, threads: int = 0) -> segmentation.LocalActivity:
    """The segmentation model's chunks every ``2 * step_s`` over the call (the model on ``threads`` threads)."""
    return segmentation.local_activity(samples, segmentation.chunk_starts(samples.shape[0], 2 * step_s), threads)


def local_speaker_count(local: segmentation.LocalActivity, speech: np.ndarray) -> int:
    """The most speakers the segmentation model hears talking alone, each for ``MIN_LOCAL_SOLO_S`` or
    more, within one 10 s chunk, in at least ``MIN_LOCAL_CHUNKS`` chunks: a lower bound of the
    call's speaker count.

    The model separates voices inside a chunk far better than call-level clustering of 1 s
    windows tells a short-spoken party from a long-spoken one on a narrowband line; two chunks,
    not one, so that a single confused chunk does not add a speaker.

    Parameters
    ----------
    speech : shape (frames,), bool, speech per 10 ms frame: solo activity outside it does not count
    """
    counts = []
    for start, probs in zip(local.starts_s.tolist(), local.probs, strict=True):
        times = start + local.offset_s + np.arange(probs.shape[0]) * local.step_s
        inside = speech[np.clip(np.round(times / FRAME_S).astype(int), 0, speech.size - 1)]
        on = probs > 0.5
        solo = on & (on.sum(1, keepdims=True) == 1) & inside[:, None]
        counts.append(int((solo.sum(0) * local.step_s >= MIN_LOCAL_SOLO_S).sum()))
    counts.sort(reverse=True)
    return counts[MIN_LOCAL_CHUNKS - 1] if len(counts) >= MIN_LOCAL_CHUNKS else 0


def local_speakers(samples: np.ndarray, coarse: segmentation.LocalActivity, labels: np.ndarray, k: int,
                   step_s: float, threads: int = 0) -> segmentation.LocalActivity:
    """The segmentation model's chunks: the ``coarse`` ones every ``2 * step_s`` over the call, then the
    chunks between (every ``step_s``) only where that coarse pass sees a possible overlap.

    An overlap can sit where one chunk is unsure of it (near its edge, say) and the next one is
    sure, so overlaps need the fine hop; most of a call is one voice at a time, and there the
    coarse pass is enough. The fine chunks go where two speakers' mapped activity both exceed
    ``MAYBE_OVERLAP``.

    Parameters
    ----------
    labels : shape (frames,), call speaker of each 10 ms frame, -1 outside speech
    """
    maybe = np.flatnonzero((mapped_activity(labels, coarse, k) > MAYBE_OVERLAP).sum(0) >= 2) * FRAME_S
    between = segmentation.chunk_starts(samples.shape[0], 2 * step_s, offset_s=step_s)
    near = [s for s in between if np.any((maybe >= s) & (maybe < s + segmentation.CHUNK_S))]
    return segmentation.merged(coarse, segmentation.local_activity(samples, np.array(near), threads))


def mapped_chunks(labels: np.ndarray, local: segmentation.LocalActivity, k: int) -> Iterator[tuple[int, np.ndarray]]:
    """Per chunk, its first 10 ms frame and its call speakers' activity probabilities, shape (k, chunk frames).

    In every chunk each local speaker is mapped to the call speaker that the labels give most of its
    solo frames (one-to-one, Hungarian; at least ``MIN_VOTE_FRAMES``).

    Parameters
    ----------
    labels : shape (frames,), call speaker of each 10 ms frame, -1 outside speech
    k : number of call speakers
    """
    n = labels.shape[0]
    chunk_frames = local.probs.shape[1]
    for start, probs in zip(local.starts_s.tolist(), local.probs, strict=True):
        lo, hi = round(start / FRAME_S), min(n, round((start + segmentation.CHUNK_S) / FRAME_S))
        if hi <= lo:
            continue
        grid = np.arange(lo, hi)
        nearest = np.clip(np.round((grid * FRAME_S - start - local.offset_s) / local.step_s).astype(int),
                          0, chunk_frames - 1)
        act = probs[nearest]  # (grid frames, 3 local speakers)
        solo = (act > 0.5) & ((act > 0.5).sum(1, keepdims=True) == 1)
        known = labels[grid] >= 0
        votes = np.stack([np.bincount(labels[grid][solo[:, j] & known], minlength=k) for j in range(act.shape[1])])
        mapped = np.zeros((k, grid.size))
        for j, g in zip(*linear_sum_assignment(-votes), strict=True):
            if votes[j, g] >= MIN_VOTE_FRAMES:
                mapped[g] += act[:, j]
        yield lo, mapped


def mapped_activity(labels: np.ndarray, local: segmentation.LocalActivity, k: int) -> np.ndarray:
    """Call speakers' activity probability per 10 ms frame: ``mapped_chunks`` averaged over the chunks
    covering a frame.

    Parameters
    ----------
    labels : shape (frames,), call speaker of each 10 ms frame, -1 outside speech
    k : number of call speakers

    Returns
    -------
    shape (k, frames)
    """
    total, cover = np.zeros((k, labels.shape[0])), np.zeros(labels.shape[0])
    for lo, mapped in mapped_chunks(labels, local, k):
        total[:, lo : lo + mapped.shape[1]] += mapped
        cover[lo : lo + mapped.shape[1]] += 1
    return total / np.maximum(cover, 1)


def overlap_aware(labels: np.ndarray, local: segmentation.LocalActivity, k: int, context_s: float) -> np.ndarray:
    """Speaker activity with overlaps, from the local speakers of the segmentation model.

    A call speaker talks where its mapped activity (``mapped_activity``) exceeds 0.5. Where two or
    more talk at once, and ``context_s`` around it, this activity replaces the Viterbi labels: the
    model resolves who stopped and who started finer than 1 s embedding windows can. Elsewhere the
    Viterbi labels stand (on far-field meetings the model's single-speaker activity is less
    reliable than the call-level clustering). Speech frames (``labels >= 0``) stay the only ones
    with speech; one that no speaker claims keeps its Viterbi label, and so does a speaker that
    no chunk maps, so that none vanishes.

    Returns
    -------
    shape (k, frames), bool activity per speaker
    """
    seg_active = (mapped_activity(labels, local, k) > 0.5) & (labels >= 0)
    near = binary_dilation(seg_active.sum(0) >= 2, np.ones(2 * round(context_s / FRAME_S) + 1, bool))
    active = np.where(near, seg_active, labels[None] == np.arange(k)[:, None])
    unclaimed = (labels >= 0) & ~active.any(0)
    active[labels[unclaimed], np.flatnonzero(unclaimed)] = True
    lost = ~active.any(1)
    active[lost] |= labels[None] == np.flatnonzero(lost)[:, None]
    return active
