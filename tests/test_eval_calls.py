"""The pure parts of scripts/eval_calls.py: the reference of a real call and the speaker-to-role map."""

from __future__ import annotations

import pytest

from pipeline.types import SpeakerSegment
from scripts.eval_calls import (
    CALLS,
    caller_rating,
    intersection,
    load_reference,
    map_speakers,
    union,
)


def test_reference_of_a_real_call():
    ref = load_reference(CALLS / "transcript" / "0091a706bc604188.json")
    # 17 segments, 7 of them only [noise]: 5 speech segments for each role, in time order
    assert [r for r, _, _ in ref.turns].count("agent") == 5
    assert [r for r, _, _ in ref.turns].count("caller") == 5
    assert [s for _, s, _ in ref.turns] == sorted(s for _, s, _ in ref.turns)
    assert ref.turns[0] == ("agent", 2.44, 7.15)
    assert ref.text.startswith("hello this is harper valley national bank my name is jennifer")
    assert ref.text_of["caller"].startswith("hi my name is elizabeth david")
    assert "noise" not in ref.text
    # talk time: the word spans with the gaps under 0.2 s bridged (12.12 s and 6.03 s without), tighter than the
    # segments (13.05 s and 6.66 s)
    assert ref.talk_s["agent"] == pytest.approx(12.36)
    assert ref.talk_s["caller"] == pytest.approx(6.30)
    assert caller_rating(CALLS / "metadata" / "a7ccc3379af44b9f.json") == 3


def test_speech_nobody_could_write_is_left_out_of_the_wer():
    """a7ccc3379af44b9f: the agent's "[unintelligible]" (29.9-31.9 s) and "<unk>" (39.5-40.5 s) hold speech
    but no reference word, so words heard there are not scored; "[unintelligible] for tuesday" still is."""
    ref = load_reference(CALLS / "transcript" / "a7ccc3379af44b9f.json")
    assert ref.unscored == ((29.929, 31.879), (39.489, 40.539))
    assert not ref.scored(30.5) and not ref.scored(40.0) and ref.scored(34.0) and ref.scored(45.0)
    assert load_reference(CALLS / "transcript" / "0091a706bc604188.json").unscored == ()


def test_interval_helpers():
    assert union([(3, 4), (0, 1), (0.5, 2), (5, 5)]) == [(0, 2), (3, 4)]
    assert union([(0, 1), (1.1, 2), (2.5, 3)], bridge_s=0.2) == [(0, 2), (2.5, 3)]  # gaps of 0.1 and 0.5 s
    assert intersection([(0, 2), (3, 4)], [(1, 3.5)]) == pytest.approx(1.5)
    assert intersection([], [(0, 1)]) == 0.0


def _segs(*rows: tuple[str, float, float]) -> list[SpeakerSegment]:
    return [SpeakerSegment(*row) for row in rows]


def test_map_leaves_a_small_extra_speaker_unmapped():
    speech = {"agent": [(0, 10), (20, 30)], "caller": [(10, 20)]}
    hyp = _segs(("S1", 0, 9), ("S2", 10, 19), ("S3", 9.5, 10.5), ("S1", 21, 30))
    found = map_speakers(hyp, speech, speakers=["S4"])  # S4: words but no segment
    assert found.speaker_of == {"agent": "S1", "caller": "S2"}
    assert found.unmapped == ("S3", "S4")


def test_map_is_one_to_one_and_maximises_the_total():
    # greedy would give agent to S1 (10 s) and caller to S2 (1 s): 11 s; the best total is 8 + 9 = 17 s
    speech = {"agent": [(0, 10), (20, 29)], "caller": [(10, 18), (29, 30)]}
    hyp = _segs(("S1", 0, 18), ("S2", 20, 30))
    assert map_speakers(hyp, speech).speaker_of == {"agent": "S2", "caller": "S1"}


def test_a_role_nobody_overlaps_maps_to_none():
    found = map_speakers(_segs(("S1", 0, 5)), {"agent": [(0, 5)], "caller": [(10, 12)]})
    assert found.speaker_of == {"agent": "S1", "caller": None}
    assert found.unmapped == ()
