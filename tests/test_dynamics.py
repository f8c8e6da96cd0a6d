"""Conversation dynamics: exact answers on hand-built timelines, properties of the timeline
functions, and the scripted events of the synthetic calls and of a real call found by the pipeline."""

import dataclasses
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import evaluate
from pipeline.config import DynamicsConfig
from pipeline.conversation import dynamics
from pipeline.conversation import timeline as tl
from pipeline.outputs import store
from pipeline.types import Alignment, AttributedWord, SpeakerSegment

from .conftest import PYANNOTE_SAMPLE, SAMPLES, truth

CONFIG = DynamicsConfig()


def timeline(*spurts, words=()):
    """An alignment from (speaker, start, end[, text]) tuples; a text is spread evenly as words."""
    segments, spoken = [], list(words)
    for spk, start, end, *text in spurts:
        segments.append(SpeakerSegment(spk, start, end))
        if text:
            tokens = text[0].split()
            step = (end - start) / len(tokens)
            spoken += [AttributedWord(spk, start + i * step, start + (i + 1) * step, t, 1.0)
                       for i, t in enumerate(tokens)]
    return Alignment(tuple(sorted(segments, key=lambda s: s.start)),
                     tuple(sorted(spoken, key=lambda w: w.start)), ())


def run(*spurts, observable=True, **changes):
    config = dataclasses.replace(CONFIG, **changes)
    return dynamics.analyze(timeline(*spurts), config, overlaps_observable=observable)


def events(result, kind):
    return [(round(e.start, 3), round(e.end, 3), e.by, e.of) for e in result.events if e.type == kind]


# ---------------------------------------------------------------- exact answers


def test_pauses_are_own_silences_inside_a_turn():
    result = run(("A", 0, 2, "so the bill"), ("A", 2.5, 4, "came twice"), ("A", 4.1, 5, "today"),
                 ("B", 6, 8, "let me see"))
    assert events(result, "pause") == [(2.0, 2.5, "A", None)]  # 0.1 s is no pause; 4 -> 6 is B's gap
    a = result.speakers["A"]
    assert (a.pause_count, a.longest_pause_s, a.turns) == (1, 0.5, 1)
    assert a.pauses_per_min == pytest.approx(60 / 4.4)
    assert result.speakers["B"].pause_count == 0 and result.speakers["B"].pause_mean_s is None


def test_response_latency_positive_and_negative():
    result = run(("A", 0, 3, "can I help"), ("B", 2.8, 6, "yes my bill"), ("A", 6.5, 8, "I see it"),
                 ("B", 8.2, 9, "thanks"))
    assert result.speakers["B"].response_latency_median_s == pytest.approx((-0.2 + 0.2) / 2)
    assert result.speakers["A"].response_latency_median_s == pytest.approx(0.5)
    assert events(result, "interruption") == []  # a 0.2 s early start is not an interruption


def test_backchannel_and_interruption_inside_a_long_turn():
    result = run(("A", 0, 10, "let me explain how the refund works it takes five days"),
                 ("B", 3, 3.5, "mm-hmm"), ("B", 6, 8, "but I need it today"))
    assert events(result, "backchannel") == [(3.0, 3.5, "B", "A")]
    assert events(result, "interruption") == [(6.0, 8.0, "B", "A")]
    a, b = result.speakers["A"], result.speakers["B"]
    assert (a.turns, b.turns) == (1, 0)  # B never spoke alone: the floor stayed with A
    assert (b.backchannels, b.interruptions_made, a.interrupted_count) == (1, 1, 1)
    assert a.longest_monologue_s == 6.0  # 0-6, cut by the interruption; the backchannel does not cut


def test_interruption_that_takes_the_floor():
    result = run(("A", 0, 5, "the charge was on the third"), ("B", 4, 9, "no that is not what I said"))
    assert events(result, "interruption") == [(4.0, 5.0, "B", "A")]
    assert result.speakers["B"].turns == 1
    assert result.speakers["B"].response_latency_median_s == -1.0


def outcome(result):
    return [(e.start, e.by, e.of, e.gave_way, e.yield_s, e.repeated) for e in result.events if e.type == "interruption"]


def test_interrupted_party_gives_way_and_repeats_themselves():
    result = run(("A", 0, 6, "I was charged twice for the internet bill this month"),  # 0.6 s a word
                 ("B", 4, 8, "let me stop you there"), ("A", 8.5, 11, "charged twice on the internet bill"))
    assert outcome(result) == [(4.0, "B", "A", "A", 2.0, True)]  # "charged twice internet" said again


def test_interrupter_backs_off_and_nobody_gives_way():
    backs_off = run(("A", 0, 10, "let me explain the whole refund process to you now"), ("B", 3, 4, "but wait i need"))
    assert outcome(backs_off) == [(3.0, "B", "A", "B", 1.0, None)]  # two content words before the onset: untold
    together = run(("A", 0, 6, "the modem light is red and blinking"), ("B", 4, 6, "that means a line fault"),
                   ("A", 7, 9, "the light is red"))
    assert outcome(together) == [(4.0, "B", "A", None, None, False)]  # "modem light red" is not said again


def test_overlap_over_the_last_words_of_a_sentence_is_a_turn_end_overlap():
    """A closing "thank you" over the other's last words is not a cut: they stop within
    ``turn_end_overlap_s`` of its start, on a word that ends their sentence."""
    closing = run(("A", 0, 3, "no thank you that was all for today."), ("B", 2.3, 4.5, "okay thanks have a nice day"))
    assert events(closing, "interruption") == [] and events(closing, "turn_end_overlap") == [(2.3, 3.0, "B", "A")]
    b = closing.speakers["B"]
    assert (b.interruptions_made, b.turn_end_overlaps, closing.interruptions, closing.turn_end_overlaps) == (0, 1, 0, 1)
    mid_sentence = run(("A", 0, 3, "no thank you that was all for"), ("B", 2.3, 4.5, "okay thank you have a good day"))
    assert events(mid_sentence, "interruption") == [(2.3, 3.0, "B", "A")]  # no sentence end: a cut
    talks_on = run(("A", 0, 5, "no thank you that was all for today."), ("B", 2.3, 4.5, "okay thank you have a day"))
    assert events(talks_on, "interruption") == [(2.3, 4.5, "B", "A")]  # A went on 2.7 s after the onset
    assert events(run(("A", 0, 3, "no thank you that was all for today."), ("B", 2.3, 4.5, "okay thank you"),
                      turn_end_overlap_s=0.5), "interruption") == [(2.3, 3.0, "B", "A")]


def test_dead_air_belongs_to_who_breaks_it_unless_they_announced_a_hold():
    result = run(("A", 0, 3, "can you move my appointment?"), ("B", 3.5, 5, "okay"), ("B", 20, 22, "done it is moved"),
                 ("B", 22.5, 25, "let me check one more thing."), ("B", 37, 39, "all set"), ("A", 39.5, 41, "thanks"))
    b = result.speakers["B"]
    assert (b.longest_wait_s, b.longest_wait_at_s, b.announced_holds) == (15.0, 5.0, 1)  # 25 -> 37 was announced
    assert result.speakers["A"].longest_wait_s == 0.0
    assert (b.dead_air_share, result.speakers["A"].dead_air_share) == (1.0, 0.0)
    assert [(w.speaker, w.start, w.end, w.announced) for w in result.waits] == [
        ("B", 5, 20, False), ("B", 25, 37, True)]


def test_reply_gaps_after_questions_and_complaints():
    result = run(("A", 0, 2, "can you check my bill?"), ("B", 2.1, 4, "yes one moment"),
                 ("A", 4.5, 6, "it is still wrong"), ("B", 5.8, 8, "I am sorry about that"),
                 ("A", 9, 10, "thanks for that"), ("B", 10.5, 11, "sure thing"),
                 ("A", 12, 13, "how long will it take"), ("B", 14, 15, "three days"))
    b = result.speakers["B"]  # replies 0.1 (question mark), -0.2 (complaint), 1.0 (wh- word); 0.5 after thanks
    assert (b.replies_counted, b.quick_replies) == (3, 2)
    assert (b.reply_gap_p10_s, b.reply_gap_p50_s, b.reply_gap_p90_s) == pytest.approx((-0.14, 0.1, 0.82))
    a = result.speakers["A"]
    assert (a.replies_counted, a.quick_replies, a.reply_gap_p50_s) == (0, 0, None)
    lead_in = run(("A", 0, 2, "so how long will it take"), ("B", 2.5, 4, "three days"))
    assert lead_in.speakers["B"].replies_counted == 1


def test_longest_story_is_a_whole_uninterrupted_turn():
    result = run(("A", 0, 10), ("B", 3, 3.5), ("B", 8, 12, "wait that is wrong"), ("A", 12.5, 15.5))
    a, b = result.speakers["A"], result.speakers["B"]
    assert a.longest_monologue_s == 8.0  # 0-8, cut by B at 8
    assert (a.longest_story_s, a.story_talkover_s) == (3.0, 0.0)  # 0-10 was interrupted
    assert (b.longest_story_s, b.story_talkover_s) == (4.0, 2.0)  # A talks on 8-10 inside B's turn
    told = run(("A", 0, 10), ("B", 3, 3.5), ("B", 10.5, 12, "I see the charge"))
    assert (told.speakers["A"].longest_story_s, told.speakers["A"].story_talkover_s) == (10.0, 0.5)  # a backchannel
    mono = run(("A", 0, 10), ("B", 10.5, 12), observable=False)
    assert (mono.speakers["A"].longest_story_s, mono.speakers["A"].story_talkover_s) == (10.0, None)


def test_listener_token_without_words_and_too_long_to_be_one():
    quiet = run(("A", 0, 10), ("B", 3, 3.6))
    assert events(quiet, "backchannel") == [(3.0, 3.6, "B", "A")]
    long = run(("A", 0, 10), ("B", 3, 4.5))
    assert events(long, "backchannel") == [] and events(long, "interruption") == [(3.0, 4.5, "B", "A")]


def test_token_after_a_question_is_an_answer():
    result = run(("A", 0, 2, "is that right?"), ("B", 2.5, 2.8, "yes"), ("A", 3.2, 5, "great thanks"))
    assert events(result, "backchannel") == []
    assert [result.speakers[s].turns for s in "AB"] == [2, 1]
    assert result.speakers["B"].response_latency_median_s == 0.5


def test_token_in_a_pause_after_a_statement_is_a_backchannel():
    result = run(("A", 0, 2, "I checked the account."), ("B", 2.4, 2.8, "okay"), ("A", 3.2, 5, "and found it"))
    assert events(result, "backchannel") == [(2.4, 2.8, "B", "A")]
    assert events(result, "pause") == [(2.0, 3.2, "A", None)]


def test_dead_air_between_all_speech_and_its_turn_split():
    result = run(("A", 0.5, 2), ("B", 4.5, 6), ("B", 9, 10))
    assert events(result, "dead_air") == [(2.0, 4.5, None, None), (6.0, 9.0, None, None)]
    assert (result.dead_air_count, result.dead_air_s) == (2, 5.5)
    b = result.speakers["B"]
    assert (b.turns, b.pause_count, b.response_latency_median_s) == (2, 0, 2.5)  # no latency after own turn
    assert events(run(("A", 0, 2), ("B", 3, 4)), "dead_air") == []


def test_long_monologue_event():
    result = run(("A", 0, 6), ("B", 6.5, 7), long_monologue_s=5.0)
    assert events(result, "long_monologue") == [(0.0, 6.0, "A", None)]


def test_pace_over_talk_time_and_phonation():
    result = run(("A", 0, 2, "conversation table"), ("A", 3, 4))
    a = result.speakers["A"]
    assert a.words_per_minute == pytest.approx(60 * 2 / 3)
    assert a.articulation_rate_sps == pytest.approx(6 / 2)  # 4 + 2 syllables over the spurt with words
    assert a.talk_ratio == 1.0


def test_single_label_timeline_reports_no_overlap_figures():
    result = run(("A", 0, 10), ("B", 3, 3.6), ("B", 6, 8, "but wait"), observable=False)
    assert result.overlap_s is None and result.interruptions is None and result.backchannels is None
    assert {e.type for e in result.events} <= {"pause", "dead_air", "long_monologue"}
    assert result.speakers["B"].interruptions_made is None


def test_no_speech():
    result = dynamics.analyze(Alignment((), (), ()), CONFIG, overlaps_observable=True)
    assert result.speakers == {} and result.events == () and result.speech_s == 0.0


# ---------------------------------------------------------------- properties

times = st.integers(0, 6000).map(lambda x: x / 100)
lengths = st.integers(5, 500).map(lambda x: x / 100)
segment_lists = st.lists(
    st.builds(lambda spk, a, d: SpeakerSegment(spk, a, a + d), st.sampled_from("AB"), times, lengths),
    max_size=25)


def covered(segments, speaker, t0, t1, bridge_s=0.0):
    return sum(max(0.0, min(s.end, t1) - max(s.start, t0)) for s in tl.spurts(segments, bridge_s)
               if s.speaker == speaker)


@settings(max_examples=300, deadline=None)
@given(segment_lists)
def test_timeline_invariants(segments):
    segments = tuple(segments)
    result = dynamics.analyze(Alignment(segments, (), ()), CONFIG, overlaps_observable=True)
    end = max((s.end for s in segments), default=0.0)
    talk = {spk: m.talk_time_s for spk, m in result.speakers.items()}
    assert all(0 < t <= end + 1e-9 for t in talk.values())
    assert sum(talk.values()) - result.overlap_s == pytest.approx(result.speech_s)
    if talk:
        assert sum(m.talk_ratio for m in result.speakers.values()) == pytest.approx(1.0)
    assert [e.start for e in result.events] == sorted(e.start for e in result.events)
    backs = {(e.by, e.start) for e in result.events if e.type == "backchannel"}
    claims = [s for s in tl.spurts(segments) if (s.speaker, s.start) not in backs]
    turns = dynamics.floor_turns(claims, CONFIG.dead_air_s)
    for e in result.events:
        assert 0 <= e.start < e.end <= end + 1e-9
        if e.type == "pause":  # inside a turn of its speaker, who is silent throughout
            assert CONFIG.min_pause_s - 1e-9 <= e.end - e.start < CONFIG.dead_air_s
            assert covered(segments, e.by, e.start, e.end) == 0
            assert any(t.speaker == e.by and t.start <= e.start and e.end <= t.end for t in turns)
        if e.type == "interruption":  # the other was speaking (or breathing) at the onset, the newcomer starts there
            assert covered(segments, e.of, e.start - 1e-6, e.start + 1e-6, CONFIG.min_pause_s) > 0
            assert any(s.speaker == e.by and s.start == e.start for s in tl.spurts(segments))
        if e.type == "backchannel":
            assert e.end - e.start <= CONFIG.backchannel_max_s + 1e-9 and e.by != e.of
        if e.type == "dead_air":
            assert e.end - e.start >= CONFIG.dead_air_s and covered(segments, "A", e.start, e.end) == 0
    for spk in talk:
        mine = [t for t in result.events if t.type == "pause" and t.by == spk]
        assert result.speakers[spk].pause_count == len(mine)


@settings(max_examples=200, deadline=None)
@given(segment_lists)
def test_speaker_names_do_not_matter(segments):
    """Swapping the two labels swaps the figures and the by/of of every event, nothing else."""
    swap = {"A": "B", "B": "A"}
    mirrored = tuple(SpeakerSegment(swap[s.speaker], s.start, s.end) for s in segments)
    one = dynamics.analyze(Alignment(tuple(segments), (), ()), CONFIG, overlaps_observable=True)
    two = dynamics.analyze(Alignment(mirrored, (), ()), CONFIG, overlaps_observable=True)
    assert tl.overlap_seconds(segments) == pytest.approx(tl.overlap_seconds(mirrored))
    assert {swap[k]: v for k, v in one.speakers.items()} == two.speakers
    flip = sorted((e.type, e.start, e.end, swap.get(e.by), swap.get(e.of)) for e in one.events)
    assert flip == sorted((e.type, e.start, e.end, e.by, e.of) for e in two.events)


def overlapped_frames(segments, frames):
    """Mask of the 10 ms frames (centres) during which two or more different speakers speak."""
    centres = (np.arange(frames) + 0.5) / 100
    voices = [np.any([(centres >= s.start) & (centres < s.end) for s in segments if s.speaker == spk], axis=0)
              for spk in {s.speaker for s in segments}]
    return np.sum(voices, axis=0) >= 2 if voices else np.zeros(frames, bool)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.builds(lambda spk, a, d: SpeakerSegment(spk, a, a + d), st.sampled_from("ABC"), times, lengths),
                max_size=25), st.permutations("ABC"))
def test_overlaps_equal_a_frame_count(segments, names):
    """Segment edges fall on the 10 ms grid, so counting frames is exact."""
    found = tl.overlaps(segments)
    assert all(a.start < a.end < b.start for a, b in pairwise(found))  # sorted, disjoint, touching ones joined
    frames = overlapped_frames(segments, 6600)
    assert np.array_equal(tl.inside((np.arange(6600) + 0.5) / 100, found), frames)
    assert tl.overlap_seconds(segments) == pytest.approx(frames.sum() / 100)
    renamed = [SpeakerSegment(names["ABC".index(s.speaker)], s.start, s.end) for s in segments]
    assert tl.overlaps(renamed) == found


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(times, lengths), max_size=20), st.sampled_from([0.0, 0.25, 1.0]))
def test_merge_is_a_disjoint_cover(pairs, bridge):
    from pipeline.types import Span

    spans = [Span(a, a + d) for a, d in pairs]
    merged = tl.merge(spans, bridge)
    assert all(b.start - a.end >= max(bridge, 1e-12) for a, b in pairwise(merged))
    assert all(any(m.start <= s.start and s.end <= m.end for m in merged) for s in spans)
    if bridge == 0:
        assert sum(m.duration for m in merged) <= sum(s.duration for s in spans) + 1e-9


def test_subtract_leaves_what_the_holes_do_not_cover():
    from pipeline.types import Span

    got = tl.subtract([Span(0, 10), Span(20, 30)], [Span(2, 3), Span(9, 21), Span(29, 40)])
    assert got == [Span(0, 2), Span(3, 9), Span(21, 29)] and tl.subtract([Span(0, 1)], []) == [Span(0, 1)]


# ---------------------------------------------------------------- synthetic calls with exact truth


def truth_alignment(name):
    """The scripted timeline: audible speech of each utterance, its words spread over it."""
    spurts = []
    for u in truth(name)["utterances"]:
        spurts += [(u["speaker"], a, b) for a, b in u["speech"]]
        spurts.append((u["speaker"], u["start"], u["start"], u["text"]))  # words only (empty segment)
    al = timeline(*spurts)
    return Alignment(tuple(s for s in al.segments if s.end > s.start), al.words, ())


def scripted_overlaps(name):
    """(kind, start, by, of) of each utterance started at least 1 s before the other party's ends
    (the scripts' early starts at a turn end are shorter)."""
    utts = truth(name)["utterances"]
    out = []
    for u in utts:
        under = [v for v in utts if v["speaker"] != u["speaker"] and v["start"] < u["start"] < v["end"] - 1.0]
        if under:
            kind = "backchannel" if u["text"] in ("mm hmm", "okay") else "interruption"
            out.append((kind, u["start"], u["speaker"], under[0]["speaker"]))
    return out


def majority_roles(hyp, ref):
    """Hypothesis speaker -> reference speaker with which it shares most time."""
    shared = {}
    for h in hyp:
        for r in ref:
            o = min(h.end, r.end) - max(h.start, r.start)
            if o > 0:
                shared[h.speaker, r.speaker] = shared.get((h.speaker, r.speaker), 0) + o
    return {h: max((r for (hh, r) in shared if hh == h), key=lambda r: shared[h, r])
            for h in {h for h, _ in shared}}


def test_scripts_hold_one_backchannel_one_interruption_and_dead_air():
    for name in ("billing_stereo", "delivery_mono"):
        kinds = sorted(k for k, *_ in scripted_overlaps(name))
        assert kinds == ["backchannel", "interruption"]
        assert dynamics.analyze(truth_alignment(name), CONFIG, overlaps_observable=True).dead_air_count == 1


def test_stereo_call_dynamics_match_the_script(analyzed):
    result = analyzed(SAMPLES / "billing_stereo.flac")
    channels = truth("billing_stereo")["channels"]
    role = {spk: next(r for r, ch in channels.items() if ch == c) for spk, c in result.alignment.channel_of.items()}
    ref = dynamics.analyze(truth_alignment("billing_stereo"), CONFIG, overlaps_observable=True)
    hyp = result.dynamics
    for spk, figures in hyp.speakers.items():
        expected = ref.speakers[role[spk]]
        assert figures.talk_time_s == pytest.approx(expected.talk_time_s, rel=0.05)
        assert figures.response_latency_median_s == pytest.approx(expected.response_latency_median_s, abs=0.15)

    found = [e for e in hyp.events if e.type == "pause"]
    for p in (e for e in ref.events if e.type == "pause" and e.end - e.start >= 0.5):
        assert any(role[h.by] == p.by and h.start < p.end and p.start < h.end for h in found), p

    cuts = [e for e in hyp.events if e.type == "interruption"]
    backs = [e for e in hyp.events if e.type == "backchannel"]
    for kind, start, by, of in scripted_overlaps("billing_stereo"):
        pool = cuts if kind == "interruption" else backs
        assert any(abs(e.start - start) < 0.3 and (role[e.by], role[e.of]) == (by, of) for e in pool), kind
    assert len(cuts) <= 2 and len(backs) >= 1
    dead = [e for e in hyp.events if e.type == "dead_air"]
    assert len(dead) == 1 and dead[0].end - dead[0].start == pytest.approx(2.5, abs=0.1)


def test_stereo_call_document_carries_dynamics(analyzed):
    result = analyzed(SAMPLES / "billing_stereo.flac")
    doc = store.call_document(result)
    store.validate(doc)
    assert "dynamics" in doc["timings_s"]
    assert {s["id"]: s["metrics"]["interruptions_made"] for s in doc["speakers"]} == {"S1": 0, "S2": 1}
    assert {"talk_time_s", "articulation_rate_sps", "pause_p90_s", "response_latency_p90_s",
            "backchannels"} <= set(doc["speakers"][0]["metrics"])
    assert any(e["type"] == "dead_air" and e["by"] is None for e in doc["events"])
    assert doc["call_metrics"]["dead_air_count"] == 1 and doc["call_metrics"]["interruptions"] == 1
    (cut,) = [e for e in doc["events"] if e["type"] == "interruption"]
    assert {"gave_way", "yield_s", "repeated"} <= set(cut)
    assert {"reply_gap_p50_s", "quick_replies", "longest_story_s"} <= set(doc["speakers"][0]["metrics"])
    assert doc["call_metrics"]["reliability"] in ("high", "medium", "low") and doc["call_metrics"]["echo_db"] is None


def test_mono_call_latency_pauses_and_dead_air_match_the_script(analyzed):
    result = analyzed(SAMPLES / "delivery_mono.wav")
    ref_al = truth_alignment("delivery_mono")
    role = majority_roles(result.alignment.segments, ref_al.segments)
    assert sorted(role.values()) == ["agent", "customer"]
    ref = dynamics.analyze(ref_al, CONFIG, overlaps_observable=True)
    hyp = result.dynamics
    for spk, figures in hyp.speakers.items():
        expected = ref.speakers[role[spk]]
        assert figures.response_latency_median_s == pytest.approx(expected.response_latency_median_s, abs=0.15)
    found = [e for e in hyp.events if e.type == "pause"]
    for p in (e for e in ref.events if e.type == "pause" and e.end - e.start >= 0.5):
        assert any(role[h.by] == p.by and h.start < p.end and p.start < h.end for h in found), p
    dead = [e for e in hyp.events if e.type == "dead_air"]
    assert len(dead) == 1 and dead[0].end - dead[0].start == pytest.approx(2.2, abs=0.1)
    assert hyp.overlap_s == pytest.approx(ref.overlap_s, abs=0.75)  # overlaps seen by the segmentation model
    store.validate(store.call_document(result))


def test_mono_call_overlaps_match_the_script(analyzed):
    """Mono: the overlaps the segmentation model finds give the scripted interruptions and backchannels."""
    result = analyzed(SAMPLES / "delivery_mono.wav")
    ref_al = truth_alignment("delivery_mono")
    role = majority_roles(result.alignment.segments, ref_al.segments)
    ref = dynamics.analyze(ref_al, CONFIG, overlaps_observable=True)
    for spk, figures in result.dynamics.speakers.items():
        assert figures.talk_time_s == pytest.approx(ref.speakers[role[spk]].talk_time_s, rel=0.05)
    events_found = [(e.type, role[e.by], role[e.of]) for e in result.dynamics.events if e.of]
    for kind, _, by, of in scripted_overlaps("delivery_mono"):
        assert (kind, by, of) in events_found


def reference_sample():
    return tuple(SpeakerSegment(*r) for r in evaluate.read_rttm(PYANNOTE_SAMPLE / "sample.rttm"))


def test_real_call_reference_overlap_is_a_backchannel_of_the_second_speaker():
    """The reference RTTM of pyannote's telephone sample: speaker91 speaks 18.15-18.59 inside
    speaker90's turn (18.05-21.49), right after her own turn ended at 17.92."""
    result = dynamics.analyze(Alignment(reference_sample(), (), ()), CONFIG, overlaps_observable=True)
    assert events(result, "backchannel") == [(18.15, 18.59, "speaker91", "speaker90")]
    assert all(abs(e.start - 18.1) > 1 for e in result.events if e.type == "interruption")


def test_real_call_overlap_found_by_the_pipeline(analyzed):
    """The 0.44 s overlap at 18.15 s of the real mono call, found by the embedding diarizer."""
    result = analyzed(PYANNOTE_SAMPLE / "sample.wav")
    role = majority_roles(result.alignment.segments, reference_sample())
    near = [(role[e.by], role[e.of]) for e in result.dynamics.events
            if e.type in ("backchannel", "interruption") and abs(e.start - 18.1) < 0.5]
    assert near == [("speaker91", "speaker90")]


def test_speaker_turns_hold_a_speakers_short_silences_whoever_answers_in_them():
    seg = SpeakerSegment
    segments = [seg("A", 0.0, 1.0), seg("B", 1.05, 1.2), seg("A", 1.3, 2.0), seg("A", 2.6, 3.0), seg("B", 3.4, 4.0),
                seg("B", 4.45, 5.0)]
    assert tl.speaker_turns(segments) == (seg("A", 0.0, 2.0), seg("B", 1.05, 1.2), seg("A", 2.6, 3.0),
                                          seg("B", 3.4, 5.0))
