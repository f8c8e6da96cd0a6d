"""Who said what: words joined with the acoustic speaker timeline in one sorted sweep."""

from __future__ import annotations

import bisect
from collections import defaultdict

import numpy as np

from pipeline.config import AlignConfig
from pipeline.lexicons import word_key
from pipeline.types import (
    Alignment,
    AttributedWord,
    Diarization,
    SpeakerSegment,
    Transcript,
    Turn,
    Word,
)

TURN_SNAP_S = 1.0  # a turn edge moves to its speaker's acoustic edge within this distance
SENTENCE_END = (".", "?", "!")
HANDOVER_PAUSE_S = 0.3  # mending: words closer than this are spoken in one breath
WORD_TIME_SLACK_S = 0.5  # mending: ASR word times are this far off the speech at most
EDGE_SLACK_S = 0.25  # trimming: a segment of another speaker holds a stretch but this much at either end
TWIN_S = 0.3  # bleed: the same word on both channels this close is one said once and heard twice


def assign_speakers(
    words: tuple[Word, ...], segments: tuple[SpeakerSegment, ...],
    channel_speaker: dict[int, str] | None = None,
) -> list[str]:
    """The speaker of each word, in one sweep over both lists sorted by start time.

    A word from a channel that belongs to one party goes to that party. Otherwise the speaker
    whose segments overlap the word most wins (a word of no length: the segment it lies deepest in); ties go
    to the previous word's speaker, or after the end of a sentence to the speaker whose segment began last
    (in an overlap, the one who finishes a sentence gives way to the one who came in); a word in a gap goes
    to the nearest segment. Every word gets a speaker when any segment exists.
    O((words + segments) * overlapping segments).
    """
    channel_speaker = channel_speaker or {}
    if not segments:
        return [channel_speaker.get(w.channel, "") for w in words]
    order = sorted(range(len(words)), key=lambda i: (words[i].start, words[i].end))
    segs = sorted(segments, key=lambda s: (s.start, s.end))
    result = [""] * len(words)
    active: list[SpeakerSegment] = []
    last_ended: SpeakerSegment | None = None
    j = 0
    previous, ended = "", False
    for i in order:
        word = words[i]
        if word.channel in channel_speaker:
            result[i] = previous = channel_speaker[word.channel]
            continue
        while j < len(segs) and segs[j].start < word.end:
            active.append(segs[j])
            j += 1
        still = []
        for seg in active:
            if seg.end <= word.start:
                if last_ended is None or seg.end > last_ended.end:
                    last_ended = seg
            else:
                still.append(seg)
        active = still
        overlap: dict[str, float] = defaultdict(float)
        point = word.end <= word.start  # the recognizer gives a word crammed between two others no length
        for seg in active:  # an earlier, longer word may have taken in segments that start after this one
            if point and seg.start <= word.start <= seg.end:  # held: the deeper inside, the likelier
                overlap[seg.speaker] = max(overlap[seg.speaker], min(word.start - seg.start, seg.end - word.start))
            elif (shared := min(seg.end, word.end) - max(seg.start, word.start)) > 0:
                overlap[seg.speaker] += shared
        if overlap:
            best = max(overlap.values())
            tied = [s for s, v in overlap.items() if v >= best - 1e-9]
            if previous in tied and not ended:
                speaker = previous
            else:  # after a sentence's end, the one who came in last takes the floor
                speaker = max(tied, key=lambda spk: max((seg.start for seg in active
                                                         if seg.speaker == spk and seg.start <= word.end),
                                                        default=-np.inf))
        else:
            ahead = min([s for s in active if s.start >= word.end] + segs[j : j + 1], key=lambda s: s.start,
                        default=None)
            before = word.start - last_ended.end if last_ended else float("inf")
            after = ahead.start - word.end if ahead else float("inf")
            speaker = last_ended.speaker if before <= after or ahead is None else ahead.speaker
        result[i] = previous = speaker
        ended = word.text.rstrip().endswith(SENTENCE_END)
    return result


def sentences(words: tuple[Word, ...]) -> list[list[int]]:
    """Indices of the words, in time order, cut after a word that ends a sentence (. ? !) or at a pause
    longer than ``HANDOVER_PAUSE_S``."""
    order = sorted(range(len(words)), key=lambda i: (words[i].start, words[i].end))
    out: list[list[int]] = []
    for i in order:
        if out and not words[out[-1][-1]].text.rstrip().endswith(SENTENCE_END) \
                and words[i].start - words[out[-1][-1]].end <= HANDOVER_PAUSE_S:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def mend_sentence_splits(
    words: tuple[Word, ...], speakers: list[str], segments: tuple[SpeakerSegment, ...],
) -> tuple[list[str], tuple[SpeakerSegment, ...]]:
    """Give back the words, and the speech under them, that a speaker change cut off a sentence.

    People hand the floor over at the end of a sentence or after a pause, not in the middle of a
    breath. On a mono call the embedding diarizer sometimes switches speakers within one stretch of
    speech ("Is there anything else I can | help you with today?"): short pieces are hard to tell
    apart by voice. The first or last words of a sentence (no pause inside it) said by one speaker go
    to the speaker who says most of the sentence (of a sentence split evenly, who began it: "Have a |
    good day."), unless that speaker is talking during most of them, or their speech stands apart from
    the majority's by a pause (``_paused``). Words in the middle of the sentence are left alone: there
    another speaker is interjecting (a backchannel), not taking over. The other speaker's segments lying
    wholly under the words that move (with ``WORD_TIME_SLACK_S``) go with them.

    Returns
    -------
    the words' speakers and the segments, mended
    """
    speakers = list(speakers)
    moved: list[tuple[str, str, float, float]] = []  # (from, to, start, end)
    for sentence in sentences(words):
        said = [speakers[i] for i in sentence]
        counts = {s: said.count(s) for s in set(said)}
        if len(counts) < 2:
            continue
        majority = max(counts, key=counts.get)
        if sorted(counts.values())[-2] == counts[majority]:  # split evenly: it is the sentence of who began it
            majority = said[0]
            if counts[majority] < max(counts.values()):
                continue
        k = 0
        while k < len(sentence):
            end = k
            while end + 1 < len(sentence) and said[end + 1] == said[k]:
                end += 1
            if said[k] != majority and (k == 0 or end == len(sentence) - 1):
                first, last = words[sentence[k]], words[sentence[end]]
                start, stop = first.start, last.end
                talking = sum(max(0.0, min(s.end, stop) - max(s.start, start)) for s in segments
                              if s.speaker == majority)
                if talking <= 0.5 * (stop - start) and not _paused(segments, said[k], majority, start, stop):
                    for i in sentence[k : end + 1]:
                        speakers[i] = majority
                    moved.append((said[k], majority, start - WORD_TIME_SLACK_S, stop + WORD_TIME_SLACK_S))
            k = end + 1
    if not moved:
        return speakers, segments
    mended = []
    for seg in segments:
        to = next((t for f, t, a, b in moved if seg.speaker == f and seg.start >= a and seg.end <= b), None)
        mended.append(SpeakerSegment(to, seg.start, seg.end) if to else seg)
    return speakers, merge_touching(mended)


def heard_through(words: tuple[Word, ...], segments: tuple[SpeakerSegment, ...],
                  channel_speaker: dict[int, str]) -> list[bool]:
    """Per word of a stereo call, whether it is the other party heard through this channel (bleed): its
    channel is no party's (all it carried was bleed), or another party's segment holds its middle while it lies
    farther than ``WORD_TIME_SLACK_S`` from every segment of its channel's party, or outside them all with the
    same word on that party's channel, in its speech, within ``TWIN_S``. The channel diarizer leaves bleed out
    of a party's speech, but the channel's recognizer transcribes it, and the other channel holds the same
    words; a party's own word, mistimed next to its speech, has no such twin."""
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for seg in sorted(segments, key=lambda s: s.start):
        spans[seg.speaker].append((seg.start, seg.end))
    ends = {spk: np.maximum.accumulate([b for _, b in v]) for spk, v in spans.items()}
    starts = {spk: [a for a, _ in v] for spk, v in spans.items()}

    def near(spk: str, t0: float, t1: float) -> bool:  # a segment of spk within [t0, t1]
        k = bisect.bisect_right(starts.get(spk, []), t1)
        return k > 0 and ends[spk][k - 1] >= t0

    middles: dict[tuple[int, str], list[float]] = defaultdict(list)  # (channel, word) -> its middles, sorted
    for w in words:
        middles[w.channel, word_key(w.text)].append((w.start + w.end) / 2)
    for found in middles.values():
        found.sort()
    channel_of = {spk: ch for ch, spk in channel_speaker.items()}

    def twin(w: Word, spk: str) -> bool:  # the same word on spk's channel, in spk's speech, about as said
        found = middles.get((channel_of.get(spk, -2), word_key(w.text)), [])
        return any(near(spk, t, t) for t in _within(found, (w.start + w.end) / 2, TWIN_S))

    out = []
    for w in words:
        own = channel_speaker.get(w.channel)
        mid = (w.start + w.end) / 2
        others = [spk for spk in spans if spk != own and near(spk, mid, mid)]
        far = not near(own, w.start - WORD_TIME_SLACK_S, w.end + WORD_TIME_SLACK_S)
        out.append(own is None or (bool(others) and far)
                   or (not near(own, w.start, w.end) and any(twin(w, spk) for spk in others)))
    return out


def _paused(segments: tuple[SpeakerSegment, ...], minority: str, majority: str, start: float, stop: float) -> bool:
    """Whether the minority's speech under the words from ``start`` to ``stop`` stands apart from all of the
    majority's speech by ``HANDOVER_PAUSE_S`` or more: a silence between them, so a handover the recognizer did
    not punctuate ("... tracking number? 2 9 4 4 1 thank you"), not a voice change within one breath."""
    under = [s for s in segments if s.speaker == minority
             and s.start >= start - WORD_TIME_SLACK_S and s.end <= stop + WORD_TIME_SLACK_S]
    theirs = [s for s in segments if s.speaker == majority]
    return bool(under) and all(max(a.start, b.start) - min(a.end, b.end) >= HANDOVER_PAUSE_S
                               for a in under for b in theirs)


def trim_to_words(words: tuple[Word, ...], speakers: list[str],
                  segments: tuple[SpeakerSegment, ...]) -> tuple[SpeakerSegment, ...]:
    """Mono: a segment's head before its speaker's first word in it, or tail after the last, by more than
    ``WORD_TIME_SLACK_S``, is cut where another speaker's segment holds it whole (but ``EDGE_SLACK_S`` at either
    end: two voices' edges seldom meet exactly).

    The segmentation model can hear a voice go on under the other party's reply (on a real call, the caller
    for 1.1 s after "that was all for today" while the agent said "okay, thank you, have a good day"); the
    words say who spoke there. A segment with no word of its speaker (a backchannel the recognizer left out)
    is left whole, and so is an edge where nobody else talks (a pause, a breath)."""
    mids: dict[str, list[tuple[float, float, float]]] = defaultdict(list)  # speaker -> (middle, start, end)
    for w, spk in zip(words, speakers, strict=True):
        mids[spk].append(((w.start + w.end) / 2, w.start, w.end))
    for found in mids.values():
        found.sort()
    starts: dict[str, list[float]] = defaultdict(list)
    reach: dict[str, list[float]] = defaultdict(list)  # the latest end of the segments starting so far
    for seg in sorted(segments, key=lambda s: s.start):
        starts[seg.speaker].append(seg.start)
        reach[seg.speaker].append(max(seg.end, reach[seg.speaker][-1] if reach[seg.speaker] else seg.end))

    def held(spk: str, a: float, b: float) -> bool:  # a segment of another speaker holds [a, b], edges aside
        a, b = a + EDGE_SLACK_S, b - EDGE_SLACK_S
        return any((k := bisect.bisect_right(starts[o], a)) > 0 and reach[o][k - 1] >= b for o in starts if o != spk)

    out = []
    for seg in segments:
        own = mids.get(seg.speaker, [])
        said = own[bisect.bisect_left(own, (seg.start,)) : bisect.bisect_right(own, (seg.end, np.inf, np.inf))]
        start, end = seg.start, seg.end
        if said:
            head = min(w[1] for w in said) - WORD_TIME_SLACK_S
            tail = max(w[2] for w in said) + WORD_TIME_SLACK_S
            start = head if head > start and held(seg.speaker, start, head) else start
            end = tail if tail < end and held(seg.speaker, tail, end) else end
        out.append(SpeakerSegment(seg.speaker, start, end))
    return tuple(out)


def merge_touching(segments: list[SpeakerSegment]) -> tuple[SpeakerSegment, ...]:
    """One speaker's overlapping or touching segments joined, sorted by start."""
    out: list[SpeakerSegment] = []
    last: dict[str, int] = {}
    for seg in sorted(segments, key=lambda s: (s.start, s.end)):
        j = last.get(seg.speaker)
        if j is not None and seg.start <= out[j].end + 1e-6:
            out[j] = SpeakerSegment(seg.speaker, out[j].start, max(out[j].end, seg.end))
        else:
            last[seg.speaker] = len(out)
            out.append(seg)
    return tuple(out)


def build_turns(words: tuple[AttributedWord, ...], segments: tuple[SpeakerSegment, ...],
                max_gap_s: float) -> tuple[Turn, ...]:
    """Each speaker's words grouped into turns, sorted by start.

    A speaker's turn goes on through the other party's overlapping words (a backchannel or an
    interruption does not cut it) and ends at a silence over ``max_gap_s`` or when another
    speaker's word falls wholly inside the speaker's silence. Turn edges snap to the speaker's
    acoustic segment edges, which are more exact than ASR word times.
    """
    mids = np.array([(w.start + w.end) / 2 for w in words])
    order = np.argsort(mids, kind="stable")
    mids_sorted = mids[order]
    owners = [words[i].speaker for i in order]

    def other_speaks_between(speaker: str, t0: float, t1: float) -> bool:
        lo, hi = bisect.bisect_right(mids_sorted, t0), bisect.bisect_left(mids_sorted, t1)
        return any(owners[k] != speaker for k in range(lo, hi))

    runs: list[list[AttributedWord]] = []
    open_run: dict[str, list[AttributedWord]] = {}
    for word in words:
        run = open_run.get(word.speaker)
        last = run[-1] if run else None
        if (last and word.start - last.end <= max_gap_s
                and not other_speaks_between(word.speaker, last.end, word.start)):
            run.append(word)
        else:
            open_run[word.speaker] = [word]
            runs.append(open_run[word.speaker])

    edges: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))  # sorted starts, ends
    for seg in segments:
        edges[seg.speaker][0].append(seg.start)
        edges[seg.speaker][1].append(seg.end)
    for starts, ends in edges.values():
        starts.sort()
        ends.sort()
    turns = []
    for run in runs:
        start, end = run[0].start, run[-1].end
        own_starts, own_ends = edges[run[0].speaker]
        near_start = _within(own_starts, start, TURN_SNAP_S)
        near_end = _within(own_ends, end, TURN_SNAP_S)
        if near_start:
            start = min(near_start, key=lambda t: abs(t - start))
        if near_end:
            end = min(near_end, key=lambda t: abs(t - end))
        turns.append(Turn(run[0].speaker, start, max(end, start),
                          " ".join(w.text for w in run)))
    turns.sort(key=lambda t: (t.start, t.end))
    return tuple(turns)


def _within(values: list[float], x: float, reach: float) -> list[float]:
    """The values of sorted ``values`` within ``reach`` of ``x``."""
    lo, hi = bisect.bisect_left(values, x - reach - 1e-9), bisect.bisect_right(values, x + reach + 1e-9)
    return [v for v in values[lo:hi] if abs(v - x) <= reach]


def align(transcript: Transcript, diarization: Diarization, config: AlignConfig) -> Alignment:
    """Attribute words, build turns and rename speakers S1..Sn in order of first speech; on a stereo call the
    other party's words heard through a channel are dropped (``heard_through``)."""
    channel_speaker = {ch: spk for spk, ch in diarization.channel_of.items()}
    said = transcript.words
    if channel_speaker:
        said = tuple(w for w, bleed in zip(said, heard_through(said, diarization.segments, channel_speaker),
                                          strict=True) if not bleed)
    speakers = assign_speakers(said, diarization.segments, channel_speaker)
    found = diarization.segments
    if not channel_speaker:
        speakers, found = mend_sentence_splits(said, speakers, found)
        found = trim_to_words(said, speakers, found)
    first: dict[str, float] = {}
    for seg in found:
        first[seg.speaker] = min(first.get(seg.speaker, seg.start), seg.start)
    for spk, word in zip(speakers, said, strict=True):
        if spk and spk not in first:
            first[spk] = word.start
    names = {old: f"S{i + 1}" for i, old in enumerate(sorted(first, key=first.__getitem__))}
    segments = tuple(SpeakerSegment(names[s.speaker], s.start, s.end) for s in found)
    words = tuple(
        AttributedWord(names.get(spk, "S1"), w.start, w.end, w.text, w.probability)
        for spk, w in zip(speakers, said, strict=True)
    )
    turns = build_turns(words, segments, config.max_turn_gap_s)
    channel_of = {names[s]: ch for s, ch in diarization.channel_of.items() if s in names}
    return Alignment(segments, words, turns, channel_of)
