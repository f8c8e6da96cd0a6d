"""Timeline primitives over spans and speaker segments: unions, each speaker's activity, solo speech,
silences, talk spurts and overlaps. Pure functions; times are float seconds."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import TypeVar

import numpy as np

from pipeline.audio.signal import merge
from pipeline.types import AttributedWord, Span, SpeakerSegment

T = TypeVar("T", SpeakerSegment, AttributedWord)
TURN_BRIDGE_S = 0.5  # a speaker's own silence shorter than this stays inside a speaker turn of the RTTM: the
# default min_duration_off of sherpa-onnx's diarization and of NVIDIA Riva (pyannote 2.1's, tuned: 0.58 s)


def clock(seconds: float) -> str:
    """A time in the call as mm:ss, or h:mm:ss from an hour on."""
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m:02d}:{s:02d}"


def by_speaker(items: Iterable[T]) -> dict[str, list[T]]:
    """Items grouped by ``speaker``, each group sorted by start."""
    out: dict[str, list[T]] = defaultdict(list)
    for x in sorted(items, key=lambda x: x.start):
        out[x.speaker].append(x)
    return out


def activity(segments: Iterable[SpeakerSegment]) -> dict[str, tuple[Span, ...]]:
    """Each speaker's speech as a sorted union of disjoint spans."""
    spans: dict[str, list[Span]] = defaultdict(list)
    for s in segments:
        spans[s.speaker].append(Span(s.start, s.end))
    return {spk: merge(v) for spk, v in spans.items()}


def speech_seconds(segments: Iterable[SpeakerSegment]) -> float:
    """Time during which anyone speaks."""
    return sum(s.duration for s in merge(Span(s.start, s.end) for s in segments))


def overlaps(segments: Iterable[SpeakerSegment]) -> tuple[Span, ...]:
    """Stretches during which two or more different speakers speak, sorted and disjoint (touching ones joined)."""
    edges = sorted((t, step) for spans in activity(segments).values()
                   for s in spans for t, step in ((s.start, 1), (s.end, -1)))
    out, active, since = [], 0, 0.0
    for t, step in edges:
        if active < 2 <= active + step:
            since = t
        elif active + step < 2 <= active:
            out.append(Span(since, t))
        active += step
    return merge(out)


def overlap_seconds(segments: Iterable[SpeakerSegment]) -> float:
    """Time during which two or more different speakers speak (the total of ``overlaps``)."""
    return sum((s.duration for s in overlaps(segments)), 0.0)


def silences(spans: Sequence[Span], min_s: float) -> tuple[Span, ...]:
    """Gaps of at least ``min_s`` between the union of ``spans`` (before the first and after the last excluded)."""
    joined = merge(spans)
    return tuple(Span(a.end, b.start) for a, b in pairwise(joined)
                 if b.start - a.end >= min_s)


def spurts(segments: Iterable[SpeakerSegment], bridge_s: float = 0.0) -> tuple[SpeakerSegment, ...]:
    """Talk spurts of every speaker, sorted by start: own silences shorter than ``bridge_s`` bridged."""
    out = [SpeakerSegment(spk, sp.start, sp.end) for spk, spans in activity(segments).items()
           for sp in merge(spans, bridge_s)]
    return tuple(sorted(out, key=lambda s: (s.start, s.end, s.speaker)))


def speaker_turns(segments: Iterable[SpeakerSegment]) -> tuple[SpeakerSegment, ...]:
    """Speaker turns as a diarization's RTTM gives them: each speaker's acoustic segments with own silences
    shorter than ``TURN_BRIDGE_S`` bridged, sorted by start.

    The acoustic segments end at every 0.2 s silence (``vad.min_silence_duration_ms``), which is what talk time
    and pauses are measured on; references annotated by people, and the diarizations scored against them, hold
    a speaker's turn across such short silences."""
    return spurts(segments, TURN_BRIDGE_S)


def solo_spans(segments: Iterable[SpeakerSegment]) -> dict[str, tuple[Span, ...]]:
    """Each speaker's speech minus everybody else's, as sorted disjoint spans."""
    own = activity(segments)
    out = {}
    for spk, spans in own.items():
        others = merge(s for other, theirs in own.items() if other != spk for s in theirs)
        out[spk] = tuple(subtract(spans, others))
    return out


def subtract(spans: Sequence[Span], holes: Sequence[Span]) -> list[Span]:
    """Sorted disjoint ``spans`` minus sorted disjoint ``holes``."""
    ends = [h.end for h in holes]
    out = []
    for s in spans:
        start = s.start
        for h in holes[bisect.bisect_left(ends, s.start):]:
            if h.start >= s.end:
                break
            if h.start > start:
                out.append(Span(start, h.start))
            start = max(start, h.end)
        if s.end > start:
            out.append(Span(start, s.end))
    return out


def inside(times: np.ndarray, spans: Sequence[Span]) -> np.ndarray:
    """Mask of the ``times`` (s, shape (n,)) that fall inside sorted disjoint ``spans``."""
    starts = np.array([s.start for s in spans])
    ends = np.array([s.end for s in spans])
    i = np.searchsorted(starts, times, side="right") - 1
    return (i >= 0) & (times < ends[np.maximum(i, 0)]) if len(spans) else np.zeros(len(times), bool)
