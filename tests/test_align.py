from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import AlignConfig
from pipeline.diarization.align import align, assign_speakers, build_turns, heard_through, trim_to_words
from pipeline.types import AttributedWord, Diarization, SpeakerSegment, Transcript, Word


def brute_force(words, segments):
    """The quadratic reference: most overlap, else the nearest segment."""
    out = []
    for w in words:
        overlap = {}
        for s in segments:
            o = min(s.end, w.end) - max(s.start, w.start)
            if o > 0:
                overlap[s.speaker] = overlap.get(s.speaker, 0) + o
        if overlap:
            out.append(max(overlap.values()))
        else:
            out.append(-min(max(s.start - w.end, w.start - s.end) for s in segments))
    return out


def score(word, speaker, segments):
    """What brute_force measures, for the speaker a sweep chose."""
    own = [s for s in segments if s.speaker == speaker]
    overlap = sum(max(0.0, min(s.end, word.end) - max(s.start, word.start)) for s in own)
    if overlap > 0:
        return overlap
    return -min(max(s.start - word.end, word.start - s.end) for s in own)


times = st.floats(0, 100, allow_nan=False).map(lambda x: round(x, 2))
durations = st.floats(0.01, 5, allow_nan=False).map(lambda x: round(x, 2))
segment_lists = st.lists(
    st.builds(lambda spk, a, d: SpeakerSegment(spk, a, a + d), st.sampled_from("AB"), times,
              durations), min_size=1, max_size=30)
word_lists = st.lists(
    st.builds(lambda a, d: Word(a, a + d, "w", 0.9), times, st.one_of(st.just(0.0), durations.map(lambda d: d / 5))),
    max_size=60)


@settings(max_examples=200, deadline=None)
@given(word_lists, segment_lists)
def test_sweep_matches_quadratic_reference(words, segments):
    words = tuple(words)
    got = assign_speakers(words, tuple(segments))
    best = brute_force(words, segments)
    assert all(got)
    for word, speaker, expected in zip(words, got, best, strict=True):
        assert abs(score(word, speaker, segments) - expected) < 1e-6


def test_a_word_of_no_length_goes_to_the_speaker_whose_segment_holds_it():
    """HarperValleyBank ``0091a706bc604188`` mono: tiny.en gives "right," of the agent's "All right, your balance"
    no length (28.56-28.56 s); it overlapped no segment, and went to the caller, whose segment had ended 4.5 s
    before, nearer than the agent's next one."""
    segs = (SpeakerSegment("C", 22.82, 24.02), SpeakerSegment("A", 28.19, 30.85), SpeakerSegment("A", 34.76, 36.47))
    words = (Word(23.27, 23.59, "checking", 0.9), Word(28.3, 28.56, "All", 0.9), Word(28.56, 28.56, "right,", 0.9),
             Word(28.74, 28.78, "your", 0.9))
    assert assign_speakers(words, segs) == ["C", "A", "A", "A"]


def test_in_an_overlap_a_new_sentence_goes_to_the_one_who_came_in():
    """HarperValleyBank ``eb82ec7b5f0944ca`` mono: the caller's segment (44.60-47.74 s) holds the agent's whole
    reply (46.02-47.85 s). "today." ends the caller's sentence; "Okay, thank you." lies in both segments and went
    to whoever spoke the word before it, the caller. A sentence goes on with its speaker; a new one, in an overlap,
    goes to the speaker whose segment began last."""
    segs = (SpeakerSegment("C", 44.60, 47.74), SpeakerSegment("A", 46.02, 47.85))
    words = (Word(45.83, 46.05, "all", 0.9), Word(46.05, 46.07, "for", 0.9), Word(46.07, 46.07, "today.", 0.9),
             Word(46.07, 46.39, "Okay,", 0.9), Word(46.71, 46.75, "thank", 0.9), Word(46.75, 47.23, "you.", 0.9))
    assert assign_speakers(words, segs) == ["C", "C", "C", "A", "A", "A"]
    going_on = (*words[:2], Word(46.07, 46.39, "today,", 0.9), Word(46.39, 46.6, "thanks.", 0.9))
    assert assign_speakers(going_on, segs) == ["C", "C", "C", "C"]


def test_a_voice_heard_going_on_under_the_other_s_words_is_cut_after_its_last_word():
    """``eb82ec7b5f0944ca`` mono: the caller's segment runs 1.7 s past "today." under the agent's reply; it ends
    0.5 s after the caller's last word. The agent's head, the caller's backchannel with no word and a tail
    in silence stay."""
    segs = (SpeakerSegment("C", 44.60, 47.74), SpeakerSegment("A", 46.02, 47.85), SpeakerSegment("C", 47.0, 47.3),
            SpeakerSegment("A", 50.0, 53.0))
    words = (Word(44.79, 45.03, "No,", 0.9), Word(46.05, 46.07, "today.", 0.9), Word(46.07, 46.39, "Okay,", 0.9),
             Word(47.57, 47.67, "a", 0.9), Word(50.2, 50.5, "Bye.", 0.9))
    trimmed = trim_to_words(words, ["C", "C", "A", "A", "A"], segs)
    assert [(s.speaker, s.start, round(s.end, 2)) for s in trimmed] == [
        ("C", 44.60, 46.57), ("A", 46.02, 47.85), ("C", 47.0, 47.3), ("A", 50.0, 53.0)]


def test_a_sentence_split_evenly_in_an_overlap_is_its_beginner_s():
    """``eb82ec7b5f0944ca`` mu-law: the caller's segment outlasts the agent's by 0.09 s, so "good day." of the
    agent's "Have a good day." overlapped the caller's more and went to the caller, who kept a segment to
    47.85 s. The sentence goes back to who began it, and the caller's segment ends 0.5 s after "today."."""
    segs = (SpeakerSegment("C", 44.60, 47.85), SpeakerSegment("A", 46.02, 47.76))
    words = (Word(44.79, 45.03, "No,", 0.9), Word(46.09, 46.09, "today.", 0.9), Word(46.09, 46.39, "Okay,", 0.9),
             Word(46.75, 47.25, "you.", 0.9), Word(47.25, 47.57, "Have", 0.9), Word(47.57, 47.63, "a", 0.9),
             Word(47.63, 47.79, "good", 0.9), Word(47.79, 48.49, "day.", 0.9))
    result = align(Transcript(words, "tiny.en", "int8", "en"), Diarization("embedding", segs), AlignConfig())
    assert [w.speaker for w in result.words] == ["S1", "S1", "S2", "S2", "S2", "S2", "S2", "S2"]
    assert [(s.speaker, s.start, round(s.end, 2)) for s in result.segments] == [("S1", 44.60, 46.59),
                                                                              ("S2", 46.02, 47.76)]


def test_a_word_after_a_longer_one_counts_only_the_segments_it_overlaps():
    """Found by the property test: the longer word takes in B's segment; the short word at A's end, in the gap,
    is nearer A (0 s) than B (0.3 s)."""
    segs = (SpeakerSegment("A", 0.0, 1.0), SpeakerSegment("B", 1.5, 2.5))
    words = (Word(1.0, 1.2, "w", 0.9), Word(0.75, 1.55, "w", 0.9))
    assert assign_speakers(words, segs) == ["A", "A"]


def test_words_in_gaps_and_overlaps_always_get_a_speaker():
    segs = (SpeakerSegment("A", 0, 2), SpeakerSegment("B", 1.5, 4), SpeakerSegment("A", 6, 8))
    words = (Word(0.2, 0.5, "a", 1), Word(1.6, 1.9, "both", 1), Word(4.2, 4.4, "gapB", 1),
             Word(5.5, 5.8, "gapA", 1), Word(9, 9.5, "after", 1))
    assert assign_speakers(words, segs) == ["A", "A", "B", "A", "A"]


def test_channel_words_go_to_their_party():
    segs = (SpeakerSegment("L", 0, 5), SpeakerSegment("R", 0, 5))
    words = (Word(1, 2, "left", 1, channel=0), Word(1, 2, "right", 1, channel=1))
    assert assign_speakers(words, segs, {0: "L", 1: "R"}) == ["L", "R"]


def test_the_other_party_heard_through_a_channel_is_dropped():
    """Channel 1's party speaks 0-2 s; the party of channel 0 speaks 3-6 s, and channel 1's recognizer also
    wrote that (bleed). A word of channel 1 near its party's speech stays (word times are 0.5 s off), one far
    from it while the other party talks goes, one in a silence stays, and a channel that is no party's goes."""
    segs = (SpeakerSegment("R", 0, 2), SpeakerSegment("L", 3, 6))
    words = (Word(0.5, 1.0, "mine", 0.9, 1), Word(2.2, 2.4, "late", 0.9, 1), Word(4.0, 4.4, "echo", 0.9, 1),
             Word(4.0, 4.4, "said", 0.9, 0), Word(7.0, 7.3, "alone", 0.9, 1), Word(4.0, 4.4, "ghost", 0.9, 2))
    assert heard_through(words, segs, {0: "L", 1: "R"}) == [False, False, True, False, False, True]
    result = align(Transcript(words, "tiny.en", "int8", "en"), Diarization("channels", segs, {"L": 0, "R": 1}),
                   AlignConfig())
    assert [w.text for w in result.words] == ["mine", "late", "said", "alone"]


def test_a_word_next_to_its_party_s_speech_that_the_other_channel_also_holds_is_bleed():
    """Channel 1's party speaks from 3 s; channel 0's party says "your account" at 2.4-2.9 s, and channel 1's
    recognizer wrote it too, a few ms off, within the 0.5 s that mistimed words of its own party are allowed.
    The twins go; a word of channel 1 there with no twin on channel 0 stays. Channel 1's "okay" in its own
    speech stays, and channel 0's, outside its party's speech, is that one heard through."""
    segs = (SpeakerSegment("L", 1.0, 2.95), SpeakerSegment("R", 3.0, 5.0))
    words = (Word(2.4, 2.6, "your", 0.9, 0), Word(2.6, 2.9, "account,", 0.9, 0), Word(2.42, 2.6, "Your", 0.6, 1),
             Word(2.62, 2.88, "account", 0.6, 1), Word(2.7, 2.9, "so", 0.6, 1), Word(3.2, 3.5, "okay", 0.9, 1),
             Word(3.2, 3.5, "okay", 0.9, 0))
    assert heard_through(words, segs, {0: "L", 1: "R"}) == [False, False, True, True, False, False, True]


def test_turns_survive_backchannels_and_split_at_floor_changes():
    w = [AttributedWord("A", 0.0, 0.4, "so", 1), AttributedWord("A", 0.5, 0.9, "the", 1),
         AttributedWord("B", 0.6, 0.8, "mm-hmm", 1), AttributedWord("A", 1.0, 1.4, "bill", 1),
         AttributedWord("B", 2.0, 2.5, "right", 1), AttributedWord("A", 3.0, 3.5, "ok", 1)]
    turns = build_turns(tuple(w), (), max_gap_s=2.0)
    assert [(t.speaker, t.text) for t in turns] == [
        ("A", "so the bill"), ("B", "mm-hmm"), ("B", "right"), ("A", "ok")]


def test_speakers_renamed_by_first_speech_and_turns_snap_to_segments():
    diar = Diarization("embedding", (SpeakerSegment("spk1", 0.5, 3.0),
                                     SpeakerSegment("spk0", 3.5, 6.0)))
    words = (Word(0.9, 2.4, "hello", 0.9), Word(4.0, 5.6, "hi", 0.8))
    result = align(Transcript(words, "m", "int8", "en"), diar, AlignConfig())
    assert [s.speaker for s in result.segments] == ["S1", "S2"]
    assert [(t.speaker, t.start, t.end) for t in result.turns] == [
        ("S1", 0.5, 3.0), ("S2", 3.5, 6.0)]


def _said(text, start, step=0.3):
    """Words of ``text`` one after another, ``step`` apart, no pause between them."""
    return [Word(round(start + i * step, 2), round(start + (i + 1) * step, 2), w, 0.9)
            for i, w in enumerate(text.split())]


def test_a_sentence_cut_by_a_speaker_change_goes_back_whole():
    """The agent's question is split 'Is there anything else I can | help you with today?'; the
    caller's reply after a pause stays the caller's."""
    words = _said("Is there anything else I can help you with today?", 10.0) + _said("No, thanks.", 14.0)
    segments = (SpeakerSegment("A", 10.0, 11.8), SpeakerSegment("B", 11.8, 13.0), SpeakerSegment("B", 14.0, 14.6))
    result = align(Transcript(tuple(words), "tiny.en", "int8", "en"), Diarization("embedding", segments), AlignConfig())
    assert [t.text for t in result.turns] == ["Is there anything else I can help you with today?", "No, thanks."]
    assert [(s.speaker, s.start, s.end) for s in result.segments] == [("S1", 10.0, 13.0), ("S2", 14.0, 14.6)]


def test_a_handover_at_a_sentence_end_or_an_interjection_is_kept():
    """A new sentence may start on the other side without a pause; a backchannel in the middle of the
    talker's sentence stays the listener's."""
    words = _said("Can I have your account number? It is four two.", 0.0)
    segments = (SpeakerSegment("A", 0.0, 1.8), SpeakerSegment("B", 1.8, 3.0))
    result = align(Transcript(tuple(words), "tiny.en", "int8", "en"), Diarization("embedding", segments), AlignConfig())
    assert [t.text for t in result.turns] == ["Can I have your account number?", "It is four two."]
    words = _said("so I went to the bank mhm and then they said no", 0.0)
    segments = (SpeakerSegment("A", 0.0, 1.9), SpeakerSegment("B", 1.75, 2.35), SpeakerSegment("A", 2.3, 3.6))
    result = align(Transcript(tuple(words), "tiny.en", "int8", "en"), Diarization("embedding", segments), AlignConfig())
    assert [w.speaker for w in result.words if w.text == "mhm"] == ["S2"]


def test_a_handover_the_recognizer_did_not_punctuate_is_kept_where_the_speech_pauses():
    """The caller reads digits and the agent thanks them, in one unpunctuated "sentence" of the ASR; the
    diarizer's segments stand 0.55 s apart, so the digits stay the caller's (the sample call delivery_mono)."""
    words = (_said("the tracking number?", 13.5) + _said("2 9 4 4 1", 16.0, 0.46)
             + _said("thank you one moment while I look", 18.4))
    segments = (SpeakerSegment("A", 13.2, 15.1), SpeakerSegment("B", 15.79, 17.84), SpeakerSegment("A", 18.39, 20.6))
    result = align(Transcript(tuple(words), "tiny.en", "int8", "en"), Diarization("embedding", segments), AlignConfig())
    assert [w.speaker for w in result.words if w.text.isdigit()] == ["S2"] * 5
    assert [s.speaker for s in result.segments] == ["S1", "S2", "S1"]


def test_stereo_words_are_never_mended():
    words = [Word(0.0, 0.3, "Is", 0.9, 0), Word(0.3, 0.6, "there", 0.9, 0), Word(0.6, 0.9, "more?", 0.9, 1)]
    segments = (SpeakerSegment("ch0", 0.0, 0.6), SpeakerSegment("ch1", 0.6, 0.9))
    result = align(Transcript(tuple(words), "tiny.en", "int8", "en"),
                   Diarization("channels", segments, channel_of={"ch0": 0, "ch1": 1}), AlignConfig())
    assert [w.speaker for w in result.words] == ["S1", "S1", "S2"]
