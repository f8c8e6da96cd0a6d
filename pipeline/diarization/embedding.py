"""Mono calls: speaker embeddings of the speech clustered, the speaker count estimated, the call
re-segmented frame by frame, with overlapped speech from the segmentation model (``overlaps``), and each
stretch of one voice checked whole against the speakers."""

from __future__ import annotations

import logging
from dataclasses import replace
from itertools import pairwise

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from pipeline.audio.signal import FRAME_S, mask_to_spans, spans_to_mask
from pipeline.config import DiarizationConfig
from pipeline.diarization import overlaps
from pipeline.diarization.overlaps import coarse_chunks, local_speaker_count, local_speakers, overlap_aware
from pipeline.models.segmentation import LocalActivity
from pipeline.models.speaker_encoder import SpeakerEncoder, load_encoder
from pipeline.types import Diarization, Span, SpeakerSegment

log = logging.getLogger(__name__)

GAP_SWITCH_DISCOUNT = 0.25  # a speaker change across a pause costs this share of the penalty
MAX_LINKAGE_WINDOWS = 2000  # average linkage is O(n^2) in memory: cluster a subsample
BLOCK_FRAMES = 500  # merge check: a cluster's speech embedded in stretches of up to 5 s...
MERGE_BLOCKS = 3  # ...at most this many, spread over the call
MIN_TURN_S = 1.0  # turn reassignment: a stretch of one speaker alone this long is embedded whole
FOLLOW_MIN_CHUNKS = 2  # a shorter stretch follows the segmentation model's voice where this many chunks hold it...
FOLLOW_MARGIN = 0.2  # ...and most give another speaker this much more activity over it than its own...
FOLLOW_GAP_S = 0.5  # ...who talks this close before or after it (the same turn)
MIN_REPLY_S = 0.1  # shorter than any word: a click, or a sliver the VAD's edge search left of a span


def embed_windows(
    encoder: SpeakerEncoder, feats: np.ndarray, window: int, hop: int
) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm speaker embeddings of sliding windows over feature frames.

    Parameters
    ----------
    feats : shape (frames, dim), speech frames only
    window, hop : in frames

    Returns
    -------
    embeddings : shape (windows, size)
    starts : shape (windows,), first frame of each window
    """
    n = feats.shape[0]
    window = min(window, n)
    starts = np.arange(0, max(n - window, 0) + 1, hop)
    if starts[-1] + window < n:
        starts = np.append(starts, n - window)
    emb = encoder.embed(feats, starts, window)
    return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9), starts


def center(embeddings: np.ndarray) -> np.ndarray:
    """Remove the call's mean embedding and renormalise.

    GE2E embeddings of one call share a large common direction (channel, level, language);
    speaker differences live in what is left, so cosine distances grow several-fold.
    """
    centered = embeddings - embeddings.mean(axis=0)
    return centered / np.maximum(np.linalg.norm(centered, axis=1, keepdims=True), 1e-9)


def kmeans_refine(embeddings: np.ndarray, labels: np.ndarray, iterations: int = 10) -> np.ndarray:
    """Spherical k-means from an initial labelling; empty clusters vanish, labels are 0..k-1."""
    _, labels = np.unique(labels, return_inverse=True)
    for _ in range(iterations):
        centroids = centroids_of(embeddings, labels)
        new = np.argmax(embeddings @ centroids.T, axis=1)
        _, new = np.unique(new, return_inverse=True)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def centroids_of(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Unit-norm mean embedding per label, shape (k, dim)."""
    k = int(labels.max()) + 1
    c = np.stack([embeddings[labels == i].mean(0) for i in range(k)])
    return c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-9)


def cluster(raw: np.ndarray, config: DiarizationConfig) -> np.ndarray:
    """Speaker labels 0..k-1 of window embeddings, shape (windows,).

    Clustering runs on the call-centred embeddings: average linkage (on an even subsample of at
    most ``MAX_LINKAGE_WINDOWS``, so long calls stay linear in memory) cut at each candidate
    count, then spherical k-means over all windows. The count is the largest whose clusters all
    stand ``count_threshold`` apart (cosine distance of their mean raw embeddings), one when even
    two clusters stand closer than ``single_speaker_threshold``, or ``num_speakers`` when given.
    """
    n = len(raw)
    lo = config.num_speakers or config.min_speakers
    hi = min(config.num_speakers or config.max_speakers, n)
    if n < 2 or hi < 2:
        return np.zeros(n, int)
    embeddings = center(raw)
    step = -(-n // MAX_LINKAGE_WINDOWS)
    sample = embeddings[::step]
    tree = linkage(sample, method="average", metric="cosine")
    candidates, spread = {}, {}
    for k in range(max(lo, 2), hi + 1):
        seed = fcluster(tree, k, criterion="maxclust") - 1
        labels = kmeans_refine(embeddings, np.argmax(embeddings @ centroids_of(sample, seed).T, axis=1))
        centroids = centroids_of(raw, labels)
        distance = 1.0 - centroids @ centroids.T
        np.fill_diagonal(distance, np.inf)
        candidates[k], spread[k] = labels, float(distance.min())
    log.debug("closest cluster pair by speaker count: %s", spread)
    if config.num_speakers:
        return candidates[config.num_speakers]
    apart = [k for k, d in spread.items() if d >= config.count_threshold]
    return candidates[max(apart, default=min(candidates))]


def merge_small_clusters(
    embeddings: np.ndarray, labels: np.ndarray, min_windows: int, keep_at_least: int
) -> np.ndarray:
    """Give the windows of clusters smaller than ``min_windows`` to the nearest other cluster."""
    labels = labels.copy()
    while True:
        ids, counts = np.unique(labels, return_counts=True)
        if len(ids) <= keep_at_least or counts.min() >= min_windows:
            break
        small = ids[np.argmin(counts)]
        others = ids[ids != small]
        centroids = np.stack([embeddings[labels == k].mean(0) for k in others])
        members = labels == small
        labels[members] = others[np.argmax(embeddings[members] @ centroids.T, axis=1)]
    _, labels = np.unique(labels, return_inverse=True)
    return labels


def cluster_blocks(encoder: SpeakerEncoder, feats: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Unit embeddings of up to ``MERGE_BLOCKS`` stretches of a cluster's speech, spread over the call.

    ``frames`` (sorted indices into ``feats``) is cut into consecutive blocks of ``BLOCK_FRAMES``;
    returns shape (blocks, size).
    """
    blocks = np.array_split(frames, max(1, -(-frames.size // BLOCK_FRAMES)))
    chosen = [blocks[i] for i in np.unique(np.linspace(0, len(blocks) - 1, MERGE_BLOCKS).round().astype(int))]
    emb = np.stack([encoder.embed(feats[b], np.array([0]), b.size)[0] for b in chosen])
    return emb / np.linalg.norm(emb, axis=1, keepdims=True)


def merge_same_speaker(
    encoder: SpeakerEncoder, feats: np.ndarray, frame_labels: np.ndarray, labels: np.ndarray,
    threshold: float, keep_at_least: int,
) -> np.ndarray:
    """Merge clusters that longer embeddings of their speech show to be one voice.

    Window embeddings are noisy, and a single voice in changing conditions (noise, reverb,
    crowd) can split into clusters whose window means stand apart. Embeddings of stretches of
    up to 5 s (``cluster_blocks``) are far more reliable. Two clusters merge, closest first, when
    every pair of their stretches stands closer than ``threshold`` (cosine distance): complete
    linkage, so a cluster that mixes several voices never pulls another in.

    Parameters
    ----------
    feats : shape (frames, dim), speech frames only
    frame_labels : shape (frames,), cluster of each speech frame
    labels : shape (windows,), cluster of each window; the merged labels are returned
    """
    labels, frame_labels = labels.copy(), frame_labels.copy()
    while labels.max() + 1 > max(keep_at_least, 1):
        ids = [k for k in np.unique(labels) if np.any(frame_labels == k)]
        if len(ids) < 2:
            break
        blocks = {k: cluster_blocks(encoder, feats, np.flatnonzero(frame_labels == k)) for k in ids}
        pairs = [(float((1.0 - blocks[i] @ blocks[j].T).max()), i, j)
                 for n, i in enumerate(ids) for j in ids[n + 1 :]]
        distance, i, j = min(pairs)
        log.debug("closest clusters by their longest-apart stretches: %.3f", distance)
        if distance >= threshold:
            break
        labels[labels == j] = i
        frame_labels[frame_labels == j] = i
    _, labels = np.unique(labels, return_inverse=True)
    return labels


def viterbi(scores: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """Best speaker path through frame scores.

    Parameters
    ----------
    scores : shape (frames, speakers), higher is more likely
    penalty : shape (frames,), cost of switching speaker into each frame

    Returns
    -------
    shape (frames,), speaker index per frame
    """
    n, k = scores.shape
    back = np.zeros((n, k), np.int32)
    total = scores[0].copy()
    for t in range(1, n):
        best_prev = int(np.argmax(total))
        switch = total[best_prev] - penalty[t]
        stay = total >= switch
        back[t] = np.where(stay, np.arange(k), best_prev)
        total = np.where(stay, total, switch) + scores[t]
    path = np.empty(n, np.int32)
    path[-1] = int(np.argmax(total))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def frame_scores(
    embeddings: np.ndarray, labels: np.ndarray, starts: np.ndarray, window: int, n_frames: int,
    breaks: np.ndarray | None = None,
) -> np.ndarray:
    """Similarity to each cluster centroid per frame: the mean cosine similarity of the windows covering
    the frame, each weighted by the share of it that lies in the frame's own stretch of speech.

    Windows run over speech frames only, so one can span a pause and hold the next speaker's first
    words; weighted this way, a frame just before a pause is judged by the speech it belongs to.

    Parameters
    ----------
    breaks : sorted frame indices where a new stretch of speech begins (after a pause); none: one stretch
    """
    k = int(labels.max()) + 1
    sims = embeddings @ centroids_of(embeddings, labels).T  # (windows, k)
    edges = np.unique(np.concatenate([[0, n_frames], breaks if breaks is not None else []]).astype(int))
    acc, count = np.zeros((n_frames + 1, k)), np.zeros(n_frames + 1)
    for s, sim in zip(starts.tolist(), sims, strict=True):
        e = min(s + window, n_frames)
        cuts = np.concatenate([[s], edges[(edges > s) & (edges < e)], [e]])
        for lo, hi in pairwise(cuts.tolist()):
            share = (hi - lo) / (e - s)
            acc[lo] += share * sim
            acc[hi] -= share * sim
            count[lo] += share
            count[hi] -= share
    return np.cumsum(acc, 0)[:n_frames] / np.maximum(np.cumsum(count)[:n_frames, None], 1e-9)


def solo_runs(active: np.ndarray) -> list[tuple[int, int, int]]:
    """``(speaker, first frame, end frame)`` of every run of frames where one speaker alone talks.

    Parameters
    ----------
    active : shape (speakers, frames), bool
    """
    solo = np.where(active.sum(0) == 1, np.argmax(active, axis=0), -1)
    edges = np.flatnonzero(np.diff(solo, prepend=-2, append=-2))
    return [(int(solo[a]), int(a), int(b)) for a, b in pairwise(edges) if solo[a] >= 0]


def reassign_turns(encoder: SpeakerEncoder, feats: np.ndarray, speech: np.ndarray, active: np.ndarray,
                   min_frames: int) -> np.ndarray:
    """Give each stretch of one speaker alone to the speaker its whole-stretch embedding is closest to.

    A 1 s window says little about a voice on a narrowband line: whole stretches of speech do, and
    the stretches of one party resemble each other far more than any window does. Every stretch of
    at least ``min_frames`` is embedded at once; the stretches, call-centred and weighted by their
    length, then go through spherical k-means from the current speakers until none moves. A
    speaker with no such stretch keeps what it has, and none is emptied.

    Parameters
    ----------
    feats : shape (speech frames, dim), the encoder features of the speech frames only
    speech : shape (speech frames,), sorted call frame index of each; every active frame is one
    active : shape (speakers, call frames), bool; a corrected copy is returned
    """
    runs = [r for r in solo_runs(active) if r[2] - r[1] >= min_frames]
    if len(runs) < 2:
        return active
    # a run is contiguous speech, so it is contiguous in the speech frames too: one pass of the encoder
    lengths = np.array([b - a for _, a, b in runs])
    raw = encoder.embed(feats, np.searchsorted(speech, [a for _, a, _ in runs]), lengths)
    raw /= np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-9)
    weight = lengths.astype(float)[:, None]
    unit = raw - (weight * raw).sum(0) / weight.sum()
    unit /= np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-9)
    labels = np.array([g for g, _, _ in runs])
    speakers = np.unique(labels)
    for _ in range(10):
        sums = np.stack([(weight * unit)[labels == g].sum(0) for g in speakers])  # (speakers, dim)
        own = labels[:, None] == speakers[None]  # (stretches, speakers)
        # leave-one-out: a stretch is compared with its speaker's other stretches, not with itself
        others = sums[None] - own[:, :, None] * (weight * unit)[:, None]  # (stretches, speakers, dim)
        similarity = np.einsum("ud,usd->us", unit, others) / np.maximum(np.linalg.norm(others, axis=2), 1e-9)
        new = speakers[np.argmax(similarity, axis=1)]
        if np.array_equal(new, labels) or len(np.unique(new)) < len(speakers):
            break
        labels = new
    out = active.copy()
    for (old, a, b), g in zip(runs, labels, strict=True):
        out[old, a:b], out[g, a:b] = False, True
    log.debug("turn reassignment moved %d of %d stretches", sum(g != r[0] for r, g in zip(runs, labels, strict=True)),
              len(runs))
    return out


def follow_turns(active: np.ndarray, local: LocalActivity, min_frames: int) -> np.ndarray:
    """Give each stretch of one speaker alone shorter than ``min_frames`` to the speaker the segmentation
    model hears in it, where most of the chunks that hold it agree.

    Under a second of speech, an embedding says little about the voice ("okay" before the agent's
    closing), while the segmentation model tells voices apart within its 10 s chunk. Its local speakers
    are mapped to call speakers (``mapped_chunks``) by the corrected turns, so that a short stretch
    follows the long stretches the model hears in the same voice. A stretch moves where at least
    ``FOLLOW_MIN_CHUNKS`` chunks hold it whole, more than half of them give another speaker
    ``FOLLOW_MARGIN`` more activity over it than its own (one chunk alone, at the edge of a recording,
    can be wrong), and that speaker talks within ``FOLLOW_GAP_S`` before or after it: the same turn. The
    model too can hear a short reply in the voice of the question before it.

    Parameters
    ----------
    active : shape (speakers, call frames), bool; a corrected copy is returned
    """
    solo = np.where(active.sum(0) == 1, np.argmax(active, axis=0), -1)
    runs = [run for run in solo_runs(active) if run[2] - run[1] < min_frames]
    firsts, ends = np.array([a for _, a, _ in runs], int), np.array([b for _, _, b in runs], int)
    heard: list[list[np.ndarray]] = [[] for _ in runs]  # per run, each chunk's mean activity per speaker
    for lo, mapped in overlaps.mapped_chunks(solo, local, active.shape[0]):
        for i in np.flatnonzero((firsts >= lo) & (ends <= lo + mapped.shape[1])):
            heard[i].append(mapped[:, firsts[i] - lo : ends[i] - lo].mean(1))
    out = active.copy()
    gap = round(FOLLOW_GAP_S / FRAME_S)
    for (g, a, b), means in zip(runs, map(np.array, heard), strict=True):
        if len(means) < FOLLOW_MIN_CHUNKS:
            continue
        best = int(np.argmax(means.mean(0)))
        near = active[best, max(0, a - gap) : a].any() or active[best, b : b + gap].any()
        if best != g and near and 2 * np.sum(means[:, best] - means[:, g] > FOLLOW_MARGIN) > len(means):
            out[g, a:b], out[best, a:b] = False, True
            log.debug("short stretch %.2f-%.2f s follows its chunks' voice: %d -> %d", a * FRAME_S, b * FRAME_S,
                      g, best)
    return out


def speaker_segments(active: np.ndarray, min_frames: int) -> tuple[SpeakerSegment, ...]:
    """Each speaker's runs of activity as segments ``spk<index>``, sorted by start; a run shorter than
    ``min_frames`` is dropped (a flicker of the path inside someone's speech) unless silence bounds it
    on both sides and it lasts ``MIN_REPLY_S``: a short reply ("thank you") alone is someone's speech,
    and dropped its words would go to whoever spoke nearest.

    Parameters
    ----------
    active : shape (speakers, frames), bool
    """
    anyone = np.concatenate([[False], active.any(0), [False]])
    reply = round(MIN_REPLY_S / FRAME_S)
    segments = []
    for g, row in enumerate(active):
        for span in mask_to_spans(row, FRAME_S):
            a, b = round(span.start / FRAME_S), round(span.end / FRAME_S)
            if b - a >= min_frames or (b - a >= reply and not (anyone[a] or anyone[b + 1])):
                segments.append(SpeakerSegment(f"spk{g}", span.start, span.end))
    return tuple(sorted(segments, key=lambda s: (s.start, s.end)))


def diarize_embedding(
    samples: np.ndarray, spans: tuple[Span, ...], config: DiarizationConfig, threads: int = 0
) -> Diarization:
    """Cluster speaker embeddings of the speech, then re-segment frame by frame; the models run on ``threads``
    threads (0: the process's, ``models.cpu_threads``), which do not change the result.

    1. encoder features of the whole call once, speech frames kept (from ``spans``);
    2. speaker embeddings of sliding windows over the speech;
    3. agglomerative clustering and k-means of the call-centred embeddings, speaker count from
       the distance between cluster means, at least the segmentation model's local speaker count
       (``local_speaker_count``);
    4. clusters that are one voice in longer stretches merged, never below that count;
    5. Viterbi re-segmentation over frame-level similarities, cheaper to switch at pauses;
    6. overlapped speech from the local speakers of pyannote's segmentation model (``overlap_aware``);
    7. every stretch of one speaker alone of ``MIN_TURN_S`` or more given to the speaker its whole
       embedding is closest to (``reassign_turns``), and every shorter one to the speaker the segmentation
       model hears in it (``follow_turns``).
    """
    if not spans:
        return Diarization("embedding", ())
    encoder = load_encoder(config.encoder, threads)
    n_total = encoder.frame_count(samples.size)  # at 100 frames/s
    speech_mask = spans_to_mask(spans, n_total, FRAME_S)
    speech = np.flatnonzero(speech_mask)
    if speech.size < config.min_segment_s / FRAME_S:
        return Diarization("embedding", ())
    feats = encoder.features(samples, speech_mask)  # (speech frames, dim): speech frames only from here on
    breaks = np.flatnonzero(np.diff(speech) > 1) + 1  # where a stretch of speech starts after a pause

    # windows over speech-only frames: (windows, embedding size)
    window = max(1, round(config.window_s / FRAME_S))
    hop = max(1, round(config.hop_s / FRAME_S))
    raw, starts = embed_windows(encoder, feats, window, hop)
    window = min(window, speech.size)

    coarse, keep = None, config.num_speakers or config.min_speakers
    if config.overlap_detection:
        coarse = coarse_chunks(samples, config.segmentation_step_s, threads)
        if not config.num_speakers:
            keep = min(max(keep, local_speaker_count(coarse, speech_mask)), config.max_speakers)
    labels = cluster(raw, replace(config, min_speakers=keep))
    embeddings = center(raw) if len(raw) > 1 else raw
    min_windows = max(1, int(config.min_speaker_s / config.hop_s))
    labels = merge_small_clusters(embeddings, labels, min_windows, keep)
    if not config.num_speakers and labels.max() > 0:
        frame_labels = np.argmax(frame_scores(embeddings, labels, starts, window, speech.size, breaks), axis=1)
        labels = merge_same_speaker(encoder, feats, frame_labels, labels,
                                    config.merge_threshold, keep)

    # frame-level re-segmentation: (speech_frames, k)
    scores = frame_scores(embeddings, labels, starts, window, speech.size, breaks)
    penalty = np.full(speech.size, config.switch_penalty)
    penalty[breaks] *= GAP_SWITCH_DISCOUNT
    path = viterbi(scores, penalty)

    labels_full = np.full(n_total, -1)
    labels_full[speech] = path
    k = int(labels.max()) + 1
    if config.overlap_detection:
        local = local_speakers(samples, coarse, labels_full, k, config.segmentation_step_s, threads)
        active = overlap_aware(labels_full, local, k, config.overlap_context_s)
    else:
        active = labels_full[None] == np.arange(k)[:, None]
    if k > 1:
        active = reassign_turns(encoder, feats, speech, active, round(MIN_TURN_S / FRAME_S))
        if config.overlap_detection:
            active = follow_turns(active, local, round(MIN_TURN_S / FRAME_S))
    return Diarization("embedding", speaker_segments(active, round(config.min_segment_s / FRAME_S)))
