"""Who spoke when: one party per stereo channel, or speaker embeddings clustered over mono speech."""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.ndimage import binary_dilation
from scipy.optimize import linear_sum_assignment

from pipeline import segmentation
from pipeline.config import DiarizationConfig
from pipeline.speaker_encoder import SpeakerEncoder, load_encoder
from pipeline.types import Diarization, Echo, Span, SpeakerSegment
from pipeline.vad import frame_db, mask_to_spans, spans_to_mask

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
FRAME_S = 0.01  # encoder feature hop: every frame-level array below is at 100 frames/s
GAP_SWITCH_DISCOUNT = 0.25  # a speaker change across a pause costs this share of the penalty
MAX_LINKAGE_WINDOWS = 2000  # average linkage is O(n^2) in memory: cluster a subsample
BLOCK_FRAMES = 500  # merge check: a cluster's speech embedded in stretches of up to 5 s...
MERGE_BLOCKS = 3  # ...at most this many, spread over the call
ECHO_OVER_BLEED = 0.25  # speech correlates with itself up to ~0.1 at lags of 20 ms and more: a late peak below
# this share of the bleed's peak (under the minimum delay) is that bleed's own periodicity, not an echo
MIN_VOTE_FRAMES = 10  # a local speaker is mapped to a call speaker on at least this many solo frames
BLOCK = 1 << 20  # samples per step of the whole-call sums and the echo canceller
MAYBE_OVERLAP = 0.25  # coarse pass: two speakers this likely at once call for the chunks between


# ---------------------------------------------------------------- stereo: one party per channel


def remove_bleed(
    spans: list[tuple[Span, ...]], samples: np.ndarray, config: DiarizationConfig
) -> list[tuple[Span, ...]]:
    """Drop the speech segments of a channel that are only the other party leaking across.

    A segment is bleed when the other channel speaks during most of it and is, on average over
    those frames, ``bleed_db`` louder. Whole segments are judged, so the level dips inside
    genuine overlapping speech never cut it into pieces.
    """
    power = 10 ** (np.stack([frame_db(ch) for ch in samples]) / 10)  # (2, frames)
    n = power.shape[1]
    masks = [spans_to_mask(s, n, FRAME_S) for s in spans]
    cleaned = []
    for ch in (0, 1):
        other = 1 - ch
        kept = []
        for span in spans[ch]:
            lo, hi = int(span.start / FRAME_S), min(n, int(np.ceil(span.end / FRAME_S)))
            both = masks[other][lo:hi]
            if hi <= lo or both.mean() < 0.5:
                kept.append(span)
                continue
            own = power[ch, lo:hi][both].mean()
            theirs = power[other, lo:hi][both].mean()
            if 10 * np.log10(theirs / max(own, 1e-12)) < config.bleed_db:
                kept.append(span)
        cleaned.append(tuple(kept))
    return cleaned


def channel_correlation(samples: np.ndarray) -> float:
    """Pearson correlation of the two channels (1.0: a duplicated mono signal), summed in blocks."""
    n = samples.shape[1]
    sa = sb = saa = sbb = sab = 0.0
    for s in range(0, n, BLOCK):
        a, b = samples[0, s:s + BLOCK].astype(np.float64), samples[1, s:s + BLOCK].astype(np.float64)
        sa, sb, saa, sbb, sab = sa + a.sum(), sb + b.sum(), saa + a @ a, sbb + b @ b, sab + a @ b
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
    return out


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
    """Subtract the echo from its channel in place (a one-tap canceller, block by block); returns ``samples``."""
    delay = round(echo.delay_s * SAMPLE_RATE)
    gain = np.float32(np.sign(echo.correlation) * 10 ** (echo.gain_db / 20))
    target, source = samples[echo.channel, delay:], samples[1 - echo.channel]
    for s in range(0, target.size, BLOCK):
        target[s:s + BLOCK] -= gain * source[s:s + BLOCK][:target.size - s]
    return samples


def echo_note(echo: Echo) -> str:
    """The diarization note of a found echo."""
    return (f"stereo: channel {echo.channel} repeats channel {1 - echo.channel} {echo.delay_s * 1000:.0f} ms later "
            f"at {echo.gain_db:.1f} dB (echo): subtracted before analysis")


def choose_method(
    samples: np.ndarray, channel_spans: list[tuple[Span, ...]], config: DiarizationConfig
) -> tuple[Literal["channels", "embedding", "pyannote"], tuple[str, ...]]:
    """The diarization method for a call, and the stereo checks that decided it.

    ``auto``: channels for a true two-party stereo call; a stereo file whose channels are one
    signal, or one of whose channels carries (almost) no speech, is diarized as mono over the
    mix, with a note saying why.
    """
    if config.method != "auto":
        return config.method, ()
    if samples.shape[0] != 2:
        return "embedding", ()
    corr = channel_correlation(samples)
    if corr >= config.duplicate_channel_corr:
        return "embedding", (f"stereo: the channels are one signal (correlation {corr:.3f}): analyzed as mono",)
    talk = [sum(s.duration for s in spans) for spans in channel_spans]
    quiet = [ch for ch, t in enumerate(talk) if t < config.min_channel_speech_s]
    if quiet:
        return "embedding", tuple(f"stereo: channel {ch} carries {talk[ch]:.1f} s of speech (dead or silent "
                                  f"party): analyzed as mono" for ch in quiet)
    return "channels", ()


def diarize_channels(
    channel_spans: list[tuple[Span, ...]], samples: np.ndarray, config: DiarizationConfig
) -> Diarization:
    """One speaker per channel with speech; bleed from the other channel removed."""
    spans = remove_bleed(channel_spans, samples, config) if samples.shape[0] == 2 else channel_spans
    segments, channel_of = [], {}
    for ch, ch_spans in enumerate(spans):
        if sum(s.duration for s in ch_spans) < config.min_channel_speech_s:
            continue
        speaker = f"ch{ch}"
        channel_of[speaker] = ch
        segments += [SpeakerSegment(speaker, s.start, s.end) for s in ch_spans]
    segments.sort(key=lambda s: (s.start, s.end))
    return Diarization("channels", tuple(segments), channel_of)


# ---------------------------------------------------------------- mono: speaker embeddings


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
    embeddings: np.ndarray, labels: np.ndarray, starts: np.ndarray, window: int, n_frames: int
) -> np.ndarray:
    """Mean cosine similarity to each cluster centroid over the windows covering each frame."""
    k = int(labels.max()) + 1
    sims = embeddings @ centroids_of(embeddings, labels).T  # (windows, k)
    acc = np.zeros((n_frames + 1, k))
    for s, sim in zip(starts, sims, strict=True):
        acc[s] += sim
        acc[min(s + window, n_frames)] -= sim
    count = np.zeros(n_frames + 1)
    np.add.at(count, starts, 1)
    np.add.at(count, np.minimum(starts + window, n_frames), -1)
    return np.cumsum(acc, 0)[:n_frames] / np.maximum(np.cumsum(count)[:n_frames, None], 1)


def diarize_embedding(
    samples: np.ndarray, spans: tuple[Span, ...], config: DiarizationConfig
) -> Diarization:
    """Cluster speaker embeddings of the speech, then re-segment frame by frame.

    1. encoder features of the whole call once, speech frames kept (from ``spans``);
    2. speaker embeddings of sliding windows over the speech;
    3. agglomerative clustering and k-means of the call-centred embeddings, speaker count from
       the distance between cluster means;
    4. clusters that are one voice in longer stretches merged;
    5. Viterbi re-segmentation over frame-level similarities, cheaper to switch at pauses;
    6. overlapped speech from the local speakers of pyannote's segmentation model (``overlap_aware``).
    """
    if not spans:
        return Diarization("embedding", ())
    encoder = load_encoder(config.encoder)
    feats = encoder.features(samples)  # (frames, dim) at 100 frames/s
    n_total = feats.shape[0]
    speech = np.flatnonzero(spans_to_mask(spans, n_total, FRAME_S))
    if speech.size < config.min_segment_s / FRAME_S:
        return Diarization("embedding", ())
    feats = feats[speech]  # speech frames only from here on

    # windows over speech-only frames: (windows, embedding size)
    window = max(1, round(config.window_s / FRAME_S))
    hop = max(1, round(config.hop_s / FRAME_S))
    raw, starts = embed_windows(encoder, feats, window, hop)
    window = min(window, speech.size)

    labels = cluster(raw, config)
    embeddings = center(raw) if len(raw) > 1 else raw
    min_windows = max(1, int(config.min_speaker_s / config.hop_s))
    keep = config.num_speakers or config.min_speakers
    labels = merge_small_clusters(embeddings, labels, min_windows, keep)
    if not config.num_speakers and labels.max() > 0:
        frame_labels = np.argmax(frame_scores(embeddings, labels, starts, window, speech.size), axis=1)
        labels = merge_same_speaker(encoder, feats, frame_labels, labels,
                                    config.merge_threshold, keep)

    # frame-level re-segmentation: (speech_frames, k)
    scores = frame_scores(embeddings, labels, starts, window, speech.size)
    penalty = np.full(speech.size, config.switch_penalty)
    penalty[1:][np.diff(speech) > 1] *= GAP_SWITCH_DISCOUNT
    path = viterbi(scores, penalty)

    labels_full = np.full(n_total, -1)
    labels_full[speech] = path
    k = int(labels.max()) + 1
    if config.overlap_detection:
        local = local_speakers(samples, labels_full, k, config.segmentation_step_s)
        active = overlap_aware(labels_full, local, k, config.overlap_context_s)
    else:
        active = labels_full[None] == np.arange(k)[:, None]
    segments = [SpeakerSegment(f"spk{g}", s.start, s.end)
                for g in range(k) for s in mask_to_spans(active[g], FRAME_S, config.min_segment_s)]
    segments.sort(key=lambda s: (s.start, s.end))
    return Diarization("embedding", tuple(segments))


def local_speakers(samples: np.ndarray, labels: np.ndarray, k: int, step_s: float) -> segmentation.LocalActivity:
    """The segmentation model's chunks: every ``2 * step_s`` over the call, then the chunks between
    (every ``step_s``) only where that coarse pass sees a possible overlap.

    An overlap can sit where one chunk is unsure of it (near its edge, say) and the next one is
    sure, so overlaps need the fine hop; most of a call is one voice at a time, and there the
    coarse pass is enough. The fine chunks go where two speakers' mapped activity both exceed
    ``MAYBE_OVERLAP``.

    Parameters
    ----------
    labels : shape (frames,), call speaker of each 10 ms frame, -1 outside speech
    """
    coarse = segmentation.local_activity(samples, segmentation.chunk_starts(samples.shape[0], 2 * step_s))
    maybe = np.flatnonzero((mapped_activity(labels, coarse, k) > MAYBE_OVERLAP).sum(0) >= 2) * FRAME_S
    between = segmentation.chunk_starts(samples.shape[0], 2 * step_s, offset_s=step_s)
    near = [s for s in between if np.any((maybe >= s) & (maybe < s + segmentation.CHUNK_S))]
    return segmentation.merged(coarse, segmentation.local_activity(samples, np.array(near)))


def mapped_activity(labels: np.ndarray, local: segmentation.LocalActivity, k: int) -> np.ndarray:
    """Call speakers' activity probability per 10 ms frame, from the local speakers of every chunk.

    In every chunk each local speaker is mapped to the call speaker that the Viterbi labels give
    most of its solo frames (one-to-one, Hungarian; at least ``MIN_VOTE_FRAMES``); the mapped
    activity probabilities are averaged over the chunks covering a frame.

    Parameters
    ----------
    labels : shape (frames,), call speaker of each 10 ms frame, -1 outside speech
    k : number of call speakers

    Returns
    -------
    shape (k, frames)
    """
    n = labels.shape[0]
    total, cover = np.zeros((k, n)), np.zeros(n)
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
        for j, g in zip(*linear_sum_assignment(-votes), strict=True):
            if votes[j, g] >= MIN_VOTE_FRAMES:
                total[g, grid] += act[:, j]
        cover[grid] += 1
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
