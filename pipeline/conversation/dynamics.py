"""Conversation dynamics: talk, turns, pace, pauses, response latency, overlaps and dead air.

Pure functions over the aligned timeline. All timing comes from the acoustic speaker segments;
words only give the pace and tell whether a short contribution is a listener token. The floor
model follows Heldner & Edlund (2010, "Pauses, gaps and overlaps in conversations"):

1. **spurts**: each speaker's speech as a union of disjoint stretches;
2. **backchannels**: short spurts made only of listener tokens, said during another speaker's
   turn, are set aside: they take no floor; the other spurts claim it;
3. **turns**: the floor belongs to whoever speaks alone. A turn is a run of one speaker's solo
   speech, carried through that speaker's pauses and through overlaps with speech that never
   speaks alone (a contained interjection), and ended when another speaker speaks alone or all
   fall silent for ``dead_air_s``. Its edges are those of the speaker's spurts, so turns of two
   speakers overlap where one starts before the other ends;
4. **events and figures** from the turns: pauses inside them, latencies between them,
   interruptions at overlap onsets (with their outcome; an overlap in the last moments of a turn
   that ends a sentence is a turn-end overlap, not an interruption), dead air between all speech, reply
   gaps after the other party's questions and complaints, the longest uninterrupted turn.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise

import numpy as np

from pipeline.config import DynamicsConfig
from pipeline.conversation.text import FUNCTION_WORDS, asks, count_phrases, is_listener_token, tokens
from pipeline.conversation.timeline import (
    activity,
    by_speaker,
    merge,
    overlap_seconds,
    silences,
    speech_seconds,
    spurts,
)
from pipeline.lexicons import syllables
from pipeline.types import (
    Alignment,
    AttributedWord,
    CallDynamics,
    Event,
    Span,
    SpeakerDynamics,
    SpeakerSegment,
    Wait,
)

SAME_END_S = 0.01  # two speakers whose speech ends this close together stopped together
HOLD_LOOKBACK_S = 8.0  # a hold is announced in the words said this long before the silence


# ---------------------------------------------------------------- words


def words_by_spurt(spurt_list: Sequence[SpeakerSegment],
                   words: Iterable[AttributedWord]) -> dict[SpeakerSegment, list[AttributedWord]]:
    """Each word joined to its speaker's spurt that it overlaps most, else the nearest one."""
    own = by_speaker(spurt_list)
    starts = {spk: [s.start for s in mine] for spk, mine in own.items()}
    out: dict[SpeakerSegment, list[AttributedWord]] = {s: [] for s in spurt_list}
    for w in words:
        mine = own.get(w.speaker)
        if not mine:
            continue
        i = bisect.bisect_right(starts[w.speaker], (w.start + w.end) / 2)
        near = mine[max(0, i - 1):i + 1]
        best = max(near, key=lambda s: (min(s.end, w.end) - max(s.start, w.start)))
        out[best].append(w)
    return out


# ---------------------------------------------------------------- floor


def floor_turns(claims: Sequence[SpeakerSegment], dead_air_s: float) -> tuple[SpeakerSegment, ...]:
    """Turns from floor-claiming spurts (backchannels left out), sorted by start.

    The timeline is cut at every spurt edge; a stretch where exactly one speaker talks is that
    speaker's solo speech. Consecutive solo stretches of one speaker form one turn unless all are
    silent for ``dead_air_s`` or more between them; another speaker's solo stretch ends it. A
    turn starts at the start of the speaker's spurt that holds its first solo moment and ends at
    the end of the spurt that holds its last, so a speaker who never talks alone takes no turn.
    """
    events = sorted((t, step, s.speaker) for s in claims for t, step in ((s.start, 1), (s.end, -1)))
    active: dict[str, int] = defaultdict(int)
    runs: list[list] = []  # [speaker, first solo start, last solo end]
    silent_since: float | None = None
    longest_silence = 0.0  # since the last solo stretch
    for k, (t, step, spk) in enumerate(events):
        active[spk] += step
        nxt = events[k + 1][0] if k + 1 < len(events) else t
        if nxt <= t:  # more edges at this instant, or the last one
            continue
        talking = [s for s, n in active.items() if n > 0]
        if not talking:
            silent_since = t if silent_since is None else silent_since
            continue
        if silent_since is not None:
            longest_silence, silent_since = max(longest_silence, t - silent_since), None
        if len(talking) == 1:
            (who,) = talking
            if runs and runs[-1][0] == who and longest_silence < dead_air_s:
                runs[-1][2] = nxt
            else:
                runs.append([who, t, nxt])
            longest_silence = 0.0
    own = by_speaker(claims)
    starts = {spk: [s.start for s in mine] for spk, mine in own.items()}
    ends = {spk: [s.end for s in mine] for spk, mine in own.items()}
    turns = []
    for who, first, last in runs:
        head = own[who][bisect.bisect_right(starts[who], first) - 1]
        tail = own[who][bisect.bisect_left(ends[who], last)]
        turns.append(SpeakerSegment(who, head.start, tail.end))
    return tuple(sorted(turns, key=lambda t: (t.start, t.end)))


def backchannels(listener: Sequence[SpeakerSegment], turns: Sequence[SpeakerSegment], claims: Sequence[SpeakerSegment],
                 words: Sequence[AttributedWord]) -> tuple[tuple[Event, ...], tuple[SpeakerSegment, ...]]:
    """Listener tokens told apart: backchannel events, and the tokens that take the floor.

    A token is a backchannel of the speaker whose turn it falls in: it starts after that turn
    began and ends before it ends, so the speaker talks on through it or resumes after it. Said
    in a silence right after that speaker's question ("...?"), it is an answer and takes the floor.
    """
    own, spoken = by_speaker(claims), by_speaker(words)
    starts = {spk: [c.start for c in mine] for spk, mine in own.items()}
    events, answers = [], []
    for tok in listener:
        holder = next((t for t in reversed(turns) if t.speaker != tok.speaker
                       and t.start < tok.start < tok.end < t.end), None)
        if holder is None:
            answers.append(tok)
            continue
        i = bisect.bisect_left(starts[holder.speaker], tok.end)
        overlapped = i > 0 and own[holder.speaker][i - 1].end > tok.start
        said = [w for w in spoken.get(holder.speaker, []) if holder.start <= w.start and w.end <= tok.start]
        if not overlapped and said and said[-1].text.rstrip().endswith("?"):
            answers.append(tok)
        else:
            events.append(Event("backchannel", tok.start, tok.end, tok.speaker, holder.speaker))
    return tuple(events), tuple(answers)


def interruptions(claims: Sequence[SpeakerSegment], min_overlap_s: float, bridge_s: float) -> tuple[Event, ...]:
    """Interruptions: a spurt that starts while another speaker talks on ``min_overlap_s`` or more.

    Spurts here bridge own silences shorter than ``bridge_s`` (a breath is not a stop). The other
    speaker's spurt holding the onset must go on at least ``min_overlap_s`` after it: they keep
    talking over the newcomer, or they lose the floor only after a real overlap. A shorter
    overlap is an early start at the end of a turn (a negative latency), not an interruption. Several
    spurts of one newcomer over the same spurt of the other are one interruption, from the first
    onset to the end of the overlap. Backchannels are not claims and never interrupt.
    """
    claims = spurts(claims, bridge_s)
    own = by_speaker(claims)
    starts = {spk: [c.start for c in mine] for spk, mine in own.items()}
    out: list[Event] = []
    seen: dict[tuple[str, SpeakerSegment], int] = {}
    for s in sorted(claims, key=lambda c: c.start):
        for spk, mine in own.items():
            i = bisect.bisect_left(starts[spk], s.start) - 1  # their last spurt that began before
            if spk == s.speaker or i < 0 or mine[i].end - s.start < min_overlap_s - 1e-9:
                continue
            other, end = mine[i], min(mine[i].end, s.end)
            if (s.speaker, other) in seen:
                k = seen[s.speaker, other]
                out[k] = Event("interruption", out[k].start, max(out[k].end, end), s.speaker, spk)
            else:
                seen[s.speaker, other] = len(out)
                out.append(Event("interruption", s.start, end, s.speaker, spk))
    return tuple(out)


def latencies(turns: Sequence[SpeakerSegment]) -> dict[str, list[float]]:
    """Response latency per speaker: a turn's start minus the end of the turn before it by another
    speaker (negative when it starts before that turn ends). Turns after the same speaker's own
    turn (after dead air) are not responses."""
    out: dict[str, list[float]] = defaultdict(list)
    for prev, turn in pairwise(turns):
        if prev.speaker != turn.speaker:
            out[turn.speaker].append(turn.start - prev.end)
    return out


def pauses(turns: Sequence[SpeakerSegment], claims: Sequence[SpeakerSegment], min_pause_s: float) -> tuple[Event, ...]:
    """A speaker's own silences inside their turns: gaps of ``min_pause_s`` or more between consecutive
    spurts of a turn. The turn being unbroken, no other speaker talks alone in them (so they are
    shorter than ``dead_air_s``); a listener's backchannel inside does not break one.
    """
    own = by_speaker(claims)
    starts = {spk: [c.start for c in mine] for spk, mine in own.items()}
    out = []
    for turn in turns:
        st = starts[turn.speaker]
        mine = own[turn.speaker][bisect.bisect_left(st, turn.start):bisect.bisect_right(st, turn.end)]
        out += [Event("pause", a.end, b.start, turn.speaker, None) for a, b in pairwise(mine)
                if b.start - a.end >= min_pause_s - 1e-9]
    return tuple(out)


def monologues(turns: Sequence[SpeakerSegment], cuts: Sequence[Event]) -> tuple[SpeakerSegment, ...]:
    """Floor-holding stretches: turns cut by the interruptions of their speaker (from the onset to
    the end of the overlap). Backchannels do not cut them."""
    out = []
    for turn in turns:
        start = turn.start
        for cut in sorted((c for c in cuts if c.of == turn.speaker and turn.start <= c.start < turn.end),
                          key=lambda c: c.start):
            out.append(SpeakerSegment(turn.speaker, start, cut.start))
            start = max(start, cut.end)
        out.append(SpeakerSegment(turn.speaker, start, max(start, turn.end)))
    return tuple(m for m in out if m.end > m.start)


def _spurt_at(mine: Sequence[SpeakerSegment], t: float) -> SpeakerSegment | None:
    """The spurt of a speaker's sorted spurts that started last before ``t`` (None: none did)."""
    i = bisect.bisect_left([s.start for s in mine], t) - 1
    return mine[i] if i >= 0 else None


def _in_order(needle: Sequence[str], hay: Sequence[str]) -> bool:
    it = iter(hay)
    return all(tok in it for tok in needle)


def _content_before(words: Sequence[AttributedWord], i: int, n: int) -> list[str]:
    """The last ``n`` content tokens (function words left out) of ``words[:i]``; fewer when there are not so many."""
    out: list[str] = []
    while i > 0 and len(out) < n:
        i -= 1
        out[:0] = [t for t in tokens(words[i].text) if t not in FUNCTION_WORDS]
    return out[-n:]


def _tokens_from(words: Sequence[AttributedWord], i: int, n: int) -> list[str]:
    """The first ``n`` tokens of ``words[i:]``."""
    out: list[str] = []
    for w in words[i:]:
        if len(out) >= n:
            break
        out += tokens(w.text)
    return out[:n]


def outcomes(cuts: Sequence[Event], claims: Sequence[SpeakerSegment], words: Sequence[AttributedWord],
             bridge_s: float, repeat_words: int, repeat_window_words: int) -> tuple[Event, ...]:
    """Interruptions with their outcome.

    At the onset the interrupter's spurt and the spurt of the interrupted party that holds it
    (own silences shorter than ``bridge_s`` bridged) run together: whoever's ends first ``gave_way``,
    ``yield_s`` after the onset; both ending within 10 ms: nobody gave way. The interrupted party
    ``repeated`` when their last ``repeat_words`` content words (function words left out) said before
    the onset come again, in order, among their first ``repeat_window_words`` words after the
    overlap; None with fewer content words before the onset.
    """
    own, spoken = by_speaker(spurts(claims, bridge_s)), by_speaker(words)
    starts = {spk: [w.start for w in mine] for spk, mine in spoken.items()}
    out = []
    for cut in cuts:
        mine, theirs = _spurt_at(own[cut.by], cut.start + 1e-9), _spurt_at(own[cut.of], cut.start)
        gave_way, yield_s = None, None
        if abs(mine.end - theirs.end) > SAME_END_S:
            gave_way, stop = (cut.of, theirs.end) if theirs.end < mine.end else (cut.by, mine.end)
            yield_s = stop - cut.start
        said, at = spoken.get(cut.of, []), starts.get(cut.of, [])
        before = _content_before(said, bisect.bisect_left(at, cut.start), repeat_words)
        after = _tokens_from(said, bisect.bisect_left(at, cut.end), repeat_window_words)
        repeated = _in_order(before, after) if len(before) >= repeat_words else None
        out.append(dataclasses.replace(cut, gave_way=gave_way, yield_s=yield_s, repeated=repeated))
    return tuple(out)



def turn_ends(cuts: Sequence[Event], claims: Sequence[SpeakerSegment], words: Sequence[AttributedWord],
              bridge_s: float, window_s: float) -> list[bool]:
    """For each overlap, whether it started in the last moments of the other's turn: their speech (own
    silences shorter than ``bridge_s`` bridged) stops within ``window_s`` of the onset, on a word that ends
    a sentence (".", "?", "!" from the ASR), and they do not repeat themselves after it: a reply to a
    finishing sentence, or a closing "thank you" over the other's last words, not a cut."""
    own, spoken = by_speaker(spurts(claims, bridge_s)), by_speaker(words)
    out = []
    for cut in cuts:
        theirs = _spurt_at(own[cut.of], cut.start)
        said = spoken.get(cut.of, [])
        last = bisect.bisect_left([w.start for w in said], theirs.end) - 1 if theirs else -1
        out.append(theirs is not None and theirs.end - cut.start <= window_s and not cut.repeated and last >= 0
                   and said[last].start >= theirs.start and said[last].text.rstrip().endswith((".", "?", "!")))
    return out


def reply_gaps(turns: Sequence[SpeakerSegment], words: Sequence[AttributedWord],
               config: DynamicsConfig) -> dict[str, list[float]]:
    """Per speaker, the response latencies of the turns that answer another speaker's question or
    complaint: the turn's start minus the end of that turn (negative: started before it ended).
    A turn's words are its speaker's words that start inside it; it asks when ``asks`` says so, it
    complains when its tokens hold a ``complaint_cues`` phrase."""
    spoken = by_speaker(words)
    starts = {spk: [w.start for w in mine] for spk, mine in spoken.items()}
    out: dict[str, list[float]] = defaultdict(list)
    for prev, turn in pairwise(turns):
        if prev.speaker == turn.speaker or prev.speaker not in spoken:
            continue
        st = starts[prev.speaker]
        said = spoken[prev.speaker][bisect.bisect_left(st, prev.start):bisect.bisect_left(st, prev.end)]
        text = " ".join(w.text for w in said)
        if asks(text, config.question_words) or count_phrases(tokens(text), config.complaint_cues):
            out[turn.speaker].append(turn.start - prev.end)
    return out


def waits(dead_air: Sequence[Event], segments: Sequence[SpeakerSegment], words: Sequence[AttributedWord],
          config: DynamicsConfig) -> tuple[Wait, ...]:
    """The dead air the others waited through (all of it: dead air lies between speech): each stretch belongs
    to whoever broke it, and is announced when they said a ``hold_phrases`` phrase in the ``HOLD_LOOKBACK_S``
    before it ("one moment", "let me check")."""
    out = []
    by_start = sorted(segments, key=lambda x: x.start)
    starts = [x.start for x in by_start]
    spoken = by_speaker(words)
    for gap in dead_air:
        i = bisect.bisect_left(starts, gap.end - 1e-6)
        if i == len(by_start):
            continue
        owner = by_start[i].speaker
        mine = spoken.get(owner, [])
        before = mine[:bisect.bisect_left([w.start for w in mine], gap.start + SAME_END_S)]
        said = [w.text for w in before if w.end >= gap.start - HOLD_LOOKBACK_S]
        out.append(Wait(owner, gap.start, gap.end, bool(count_phrases(tokens(" ".join(said)), config.hold_phrases))))
    return tuple(out)


def stories(turns: Sequence[SpeakerSegment], cuts: Sequence[Event]) -> tuple[SpeakerSegment, ...]:
    """Whole turns that no other speaker interrupted (backchannels and short early starts allowed)."""
    onsets: dict[str | None, list[float]] = defaultdict(list)  # interruption onsets by whom they cut into
    for c in sorted(cuts, key=lambda c: c.start):
        onsets[c.of].append(c.start)

    def cut_into(t: SpeakerSegment) -> bool:
        at = onsets.get(t.speaker, [])
        i = bisect.bisect_left(at, t.start)
        return i < len(at) and at[i] < t.end

    return tuple(t for t in turns if not cut_into(t))


def talk_inside(span: SpeakerSegment, segments: Iterable[SpeakerSegment]) -> float:
    """Seconds of speech by speakers other than ``span.speaker`` inside ``span``."""
    others = merge(Span(s.start, s.end) for s in segments if s.speaker != span.speaker)
    return float(sum(max(0.0, min(o.end, span.end) - max(o.start, span.start)) for o in others))


# ---------------------------------------------------------------- the call


def _stat(values: Sequence[float], q: float | None = None) -> float | None:
    if not values:
        return None
    return float(np.median(values) if q is None else np.percentile(values, q))


@dataclasses.dataclass(frozen=True)
class Floor:
    """Who holds the floor (steps 1-3 of the module docstring)."""

    spurts: tuple[SpeakerSegment, ...]  # every speaker's spurts, by start
    spurt_words: dict[SpeakerSegment, list[AttributedWord]]  # the words of each spurt
    backchannels: tuple[Event, ...]
    claims: tuple[SpeakerSegment, ...]  # the spurts that claim the floor, by start
    turns: tuple[SpeakerSegment, ...]


@dataclasses.dataclass(frozen=True)
class TurnEvents:
    """What happens in and between the turns (step 4 of the module docstring)."""

    interruptions: tuple[Event, ...]  # with their outcomes
    turn_end_overlaps: tuple[Event, ...]  # overlaps in the last moments of the other's turn
    pauses: tuple[Event, ...]
    dead_air: tuple[Event, ...]
    monologues: tuple[SpeakerSegment, ...]
    latencies: dict[str, list[float]]  # per speaker
    reply_gaps: dict[str, list[float]]  # per speaker
    stories: dict[str, SpeakerSegment]  # each speaker's longest uninterrupted turn
    waits: tuple[Wait, ...]  # the dead air, each with who broke it and whether they announced it


def floor(segments: Sequence[SpeakerSegment], words: Sequence[AttributedWord], config: DynamicsConfig) -> Floor:
    """Spurts, backchannels (short listener tokens inside another speaker's turn, turns built without
    them), the spurts that claim the floor, and the turns they make."""
    all_spurts = spurts(segments)
    joined = words_by_spurt(all_spurts, words)
    listener = {s for s in all_spurts if s.end - s.start <= config.backchannel_max_s
                and is_listener_token([w.text for w in joined[s]], config.backchannel_phrases)}
    claims = [s for s in all_spurts if s not in listener]
    backs, floor_tokens = backchannels(sorted(listener, key=lambda s: s.start), floor_turns(claims, config.dead_air_s),
                                       claims, words)
    claims = sorted([*claims, *floor_tokens], key=lambda s: (s.start, s.end, s.speaker))
    return Floor(all_spurts, joined, backs, tuple(claims), floor_turns(claims, config.dead_air_s))


def turn_events(alignment: Alignment, held: Floor, config: DynamicsConfig) -> TurnEvents:
    """Interruptions with their outcome, pauses, dead air, monologues, latencies, reply gaps and stories."""
    onsets = outcomes(interruptions(held.claims, config.interruption_min_overlap_s, config.min_pause_s), held.claims,
                      alignment.words, config.min_pause_s, config.repeat_words, config.repeat_window_words)
    ends = turn_ends(onsets, held.claims, alignment.words, config.min_pause_s, config.turn_end_overlap_s)
    cuts = tuple(c for c, late in zip(onsets, ends, strict=True) if not late)
    speech = [Span(s.start, s.end) for s in alignment.segments]
    dead_air = tuple(Event("dead_air", g.start, g.end, None, None) for g in silences(speech, config.dead_air_s))
    uninterrupted = sorted(stories(held.turns, cuts), key=lambda t: t.end - t.start)  # each speaker's longest last
    return TurnEvents(
        interruptions=cuts,
        turn_end_overlaps=tuple(dataclasses.replace(c, type="turn_end_overlap")
                                for c, late in zip(onsets, ends, strict=True) if late),
        pauses=pauses(held.turns, held.claims, config.min_pause_s),
        dead_air=dead_air,
        monologues=monologues(held.turns, cuts),
        latencies=latencies(held.turns),
        reply_gaps=reply_gaps(held.turns, alignment.words, config),
        stories={t.speaker: t for t in uninterrupted},
        waits=waits(dead_air, alignment.segments, alignment.words, config),
    )


def speaker_figures(spk: str, alignment: Alignment, talk: Mapping[str, float], held: Floor, found: TurnEvents,
                    config: DynamicsConfig, *, overlaps_observable: bool) -> SpeakerDynamics:
    """The figures of one speaker; ``talk``: every speaker's talk time (s)."""
    t, total_talk = talk.get(spk, 0.0), sum(talk.values())
    mine = [w for w in alignment.words if w.speaker == spk]
    voiced = sum(s.end - s.start for s in held.spurts if s.speaker == spk and held.spurt_words[s])
    syl = sum(syllables(w.text) for w in mine)
    gaps = [p.end - p.start for p in found.pauses if p.by == spk]
    lat, replied = found.latencies.get(spk, []), found.reply_gaps.get(spk, [])
    story = found.stories.get(spk)
    silent = [w for w in found.waits if w.speaker == spk and not w.announced]
    dead = sum(w.end - w.start for w in found.waits)
    longest = max(silent, key=lambda g: g.end - g.start, default=None)
    observable = overlaps_observable
    return SpeakerDynamics(
        talk_time_s=t,
        talk_ratio=t / total_talk if total_talk else 0.0,
        turns=sum(1 for x in held.turns if x.speaker == spk),
        longest_monologue_s=float(max((m.end - m.start for m in found.monologues if m.speaker == spk), default=0.0)),
        words=len(mine),
        words_per_minute=60 * len(mine) / t if t else 0.0,
        articulation_rate_sps=float(syl / voiced) if voiced else None,
        phonation_wpm=60 * len(mine) / voiced if voiced else None,
        pause_count=len(gaps),
        pauses_per_min=60 * len(gaps) / t if t else 0.0,
        pause_mean_s=float(np.mean(gaps)) if gaps else None,
        pause_p90_s=_stat(gaps, 90),
        longest_pause_s=float(max(gaps)) if gaps else None,
        response_latency_median_s=_stat(lat),
        response_latency_p90_s=_stat(lat, 90),
        interruptions_made=sum(1 for c in found.interruptions if c.by == spk) if observable else None,
        interrupted_count=sum(1 for c in found.interruptions if c.of == spk) if observable else None,
        turn_end_overlaps=sum(1 for c in found.turn_end_overlaps if c.by == spk) if observable else None,
        backchannels=sum(1 for b in held.backchannels if b.by == spk) if observable else None,
        responses=len(lat),
        reply_gap_p10_s=_stat(replied, 10),
        reply_gap_p50_s=_stat(replied, 50),
        reply_gap_p90_s=_stat(replied, 90),
        quick_replies=sum(1 for g in replied if g < config.quick_reply_s),
        replies_counted=len(replied),
        dead_air_share=sum(w.end - w.start for w in found.waits if w.speaker == spk) / dead if dead else None,
        longest_wait_s=longest.end - longest.start if longest else 0.0,
        longest_wait_at_s=longest.start if longest else None,
        announced_holds=sum(1 for w in found.waits if w.speaker == spk and w.announced),
        longest_story_s=story.end - story.start if story else None,
        story_talkover_s=talk_inside(story, alignment.segments) if story and observable else None,
    )


def call_figures(segments: Sequence[SpeakerSegment], speakers: dict[str, SpeakerDynamics], held: Floor,
                 found: TurnEvents, config: DynamicsConfig, *, overlaps_observable: bool) -> CallDynamics:
    """The call's figures and its events in time order, around the figures of its ``speakers``."""
    long_talks = [Event("long_monologue", m.start, m.end, m.speaker, None) for m in found.monologues
                  if m.end - m.start >= config.long_monologue_s]
    overlapping = (*found.interruptions, *found.turn_end_overlaps, *held.backchannels) if overlaps_observable else ()
    shown = [*found.pauses, *found.dead_air, *long_talks, *overlapping]
    return CallDynamics(
        speakers=speakers,
        events=tuple(sorted(shown, key=lambda e: (e.start, e.end, e.type))),
        speech_s=float(speech_seconds(segments)),
        overlap_s=float(overlap_seconds(segments)) if overlaps_observable else None,
        dead_air_count=len(found.dead_air),
        dead_air_s=float(sum(e.end - e.start for e in found.dead_air)),
        interruptions=len(found.interruptions) if overlaps_observable else None,
        turn_end_overlaps=len(found.turn_end_overlaps) if overlaps_observable else None,
        backchannels=len(held.backchannels) if overlaps_observable else None,
        waits=found.waits,
    )


def analyze(alignment: Alignment, config: DynamicsConfig, *, overlaps_observable: bool) -> CallDynamics:
    """Turn-taking figures and events of one call (definitions in the module docstring and docs/metrics.md).

    ``overlaps_observable`` is False for a timeline with one speaker per moment (the embedding
    diarizer): there interruption and backchannel counts and the overlap figures are None and
    no interruption or backchannel events are reported, since the timeline cannot show them.
    """
    talk = {spk: float(sum(s.duration for s in spans)) for spk, spans in activity(alignment.segments).items()}
    speakers = sorted(set(talk) | {w.speaker for w in alignment.words}, key=lambda s: (len(s), s))
    held = floor(alignment.segments, alignment.words, config)
    found = turn_events(alignment, held, config)
    figures = {spk: speaker_figures(spk, alignment, talk, held, found, config, overlaps_observable=overlaps_observable)
               for spk in speakers}
    return call_figures(alignment.segments, figures, held, found, config, overlaps_observable=overlaps_observable)
