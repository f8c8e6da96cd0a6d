"""Words of a transcript: the tokenizer, the phrase matcher, the question detector and the syllable
counter on hand-made text, and the tokenizer shared by cues and dynamics (a curly apostrophe)."""

import pytest

from pipeline.config import Config, CuesConfig, DynamicsConfig
from pipeline.conversation import cues, dynamics
from pipeline.conversation.text import (
    PhraseMatch,
    asks,
    count_phrases,
    find_phrases,
    is_listener_token,
    is_open,
    is_question,
    questions,
    tokens,
)
from pipeline.lexicons import syllables
from pipeline.types import Alignment, AttributedWord, SpeakerSegment, Turn

QUESTION_WORDS = DynamicsConfig().question_words
OPEN_STARTS = CuesConfig().open_question_starts

# ---------------------------------------------------------------- tokens


@pytest.mark.parametrize(("text", "expected"), [
    ("Don\u2019t you have my account?", ["don't", "you", "have", "my", "account"]),
    ("I\u2019d be GLAD to help! Mm-hmm.", ["i'd", "be", "glad", "to", "help", "mm", "hmm"]),
    ("It's $49.99, 'really' -- call 555-0100", ["it's", "49", "99", "really", "call", "555", "0100"]),
    ("... ?!", []),
])
def test_tokens(text, expected):
    assert tokens(text) == expected


# ---------------------------------------------------------------- phrases


def test_phrases_match_on_normalized_words():
    said = tokens("I\u2019d be GLAD to help! I'm so sorry -- I'm sorry. Mm-hmm.")
    assert count_phrases(said, ["i'd be glad to", "glad to help"]) == 1  # no overlapping matches
    assert count_phrases(said, CuesConfig().apology) == 2
    assert count_phrases(tokens("the sorrymaker"), ["sorry"]) == 0  # words, not substrings
    assert count_phrases(tokens("There is nothing I can do."), CuesConfig().negative) == 1


def test_find_phrases_over_several_lexicons():
    said = tokens("I am so sorry, I understand how frustrating that is. Sorry!")
    lexicons = {"apology": ["sorry", "so sorry"], "empathy": ["I understand", "i understand how", "frustrating"]}
    assert find_phrases(said, lexicons) == (
        PhraseMatch(2, 2, "apology"), PhraseMatch(4, 3, "empathy"), PhraseMatch(7, 1, "empathy"),
        PhraseMatch(10, 1, "apology"))


def test_longest_phrase_first_then_left_to_right():
    said = tokens("thank you so much for waiting")
    assert find_phrases(said, {"a": ["thank you"], "b": ["thank you so much"]}) == (PhraseMatch(0, 4, "b"),)
    # left to right: "you so" starts before "so much" and wins although both have two tokens
    assert find_phrases(said, {"a": ["so much"], "b": ["you so"]}) == (PhraseMatch(1, 2, "b"),)
    assert find_phrases(said, {"a": ["much for"], "b": ["much"]}) == (PhraseMatch(3, 2, "a"),)


def test_phrases_are_normalized_like_the_words():
    said = tokens("Uh-huh, I don't know")
    assert find_phrases(said, {"x": ["UH HUH", "I don\u2019t", "--", ""]}) == (
        PhraseMatch(0, 2, "x"), PhraseMatch(2, 2, "x"))
    assert find_phrases(tokens("sorry"), {"first": ["sorry"], "second": ["Sorry!"]}) == (PhraseMatch(0, 1, "first"),)
    assert find_phrases([], {"x": ["sorry"]}) == ()


@pytest.mark.parametrize(("words", "token"), [
    (["Mm-hmm."], True), (["Mm", "-mm"], True), (["yeah", "right"], True), (["Uh-huh."], True),
    (["I", "see."], True), (["okay", "okay"], True), ([], True),
    (["yeah", "but", "I"], False), (["I"], False), (["see"], False), (["No."], False), (["2."], False),
])
def test_listener_tokens(words, token):
    assert is_listener_token(words, DynamicsConfig().backchannel_phrases) is token


def test_listener_token_is_wholly_phrases_not_greedy_matches():
    # greedy longest-first matching takes "a b" and leaves "c"; "a" + "b c" covers the spurt
    assert is_listener_token(["a", "b", "c"], ["a b", "b c", "a"])
    assert is_listener_token(["Uh-Huh"], ["uh-huh"]) and not is_listener_token(["uh"], ["uh huh"])


# ---------------------------------------------------------------- questions


@pytest.mark.parametrize(("sentence", "asked"), [
    ("How long will it take", True),
    ("So, okay, how long will it take.", True),  # lead-ins skipped
    ("You got it?", True), ("You got it? ", True),  # a trailing question mark
    ("Don\u2019t you have my account", True),  # the straightened apostrophe is a question word
    ("So.", False), ("I checked the account.", False), ("Well, that is what I wanted.", False),
])
def test_question_detector(sentence, asked):
    assert is_question(sentence, QUESTION_WORDS) is asked


@pytest.mark.parametrize(("question", "opened"), [
    ("How can I help you today?", True), ("So could you tell me what happened", True),
    ("Okay, and tell me more?", True), ("Is it the bill or how it is charged?", False),
    ("What is your account number?", False),
])
def test_open_questions(question, opened):
    assert is_open(question, OPEN_STARTS) is opened


@pytest.mark.parametrize(("text", "asked", "opened"), [
    ("How can I help you today?", 1, 1),
    ("What is your account number?", 1, 0),
    ("Okay. So could you tell me what happened", 1, 1),
    ("Is there anything else? Thank you for calling.", 1, 0),
    ("I see. Let me check that for you.", 0, 0),
])
def test_questions_open_and_closed(text, asked, opened):
    assert questions(text, Config().dynamics.question_words, CuesConfig().open_question_starts) == (asked, opened)


@pytest.mark.parametrize(("turn", "asked"), [
    ("So how long will it take. I waited two weeks.", True),  # opens as a question
    ("I waited two weeks. Anything else?", True),  # closes as one
    ("I waited. Is it fixed? I hope so.", False),  # a question inside a turn is not what the reply answers
    ("Okay? Well, have a great day.", False), ("", False),
])
def test_a_turn_asks_when_it_opens_or_closes_as_a_question(turn, asked):
    assert asks(turn, QUESTION_WORDS) is asked


def test_curly_apostrophe_question_for_cues_and_dynamics():
    """A curly apostrophe (some ASR models and all word processors write one) changes nothing."""
    for text in ("Don\u2019t you have my account?", "Don\u2019t you have my account"):
        said = [AttributedWord("A", 0.5 * i, 0.5 * i + 0.4, w, 1.0) for i, w in enumerate(text.split())]
        assert tokens(said[0].text) == ["don't"]
        alignment = Alignment((SpeakerSegment("A", 0.0, 2.5), SpeakerSegment("B", 3.0, 4.0)),
                              (*said, AttributedWord("B", 3.0, 4.0, "Yes.", 1.0)),
                              (Turn("A", 0.0, 2.4, text), Turn("B", 3.0, 4.0, "Yes.")))
        asked = cues.analyze(alignment, 4.0, CuesConfig(), QUESTION_WORDS).speakers["A"].questions
        replies = dynamics.analyze(alignment, DynamicsConfig(), overlaps_observable=True).speakers["B"]
        assert (asked, replies.replies_counted, replies.reply_gap_p50_s) == (1, 1, 0.5)


# ---------------------------------------------------------------- syllables


@pytest.mark.parametrize(("word", "count"), [
    ("conversation", 4), ("table", 2), ("people", 2), ("while", 1), ("charged", 1), ("wanted", 2),
    ("the", 1), ("okay", 2), ("you're", 1), ("agree", 2), ("Northwind", 2), ("7", 2), ("$49", 2), ("...", 0),
])
def test_syllable_counter(word, count):
    assert syllables(word) == count
