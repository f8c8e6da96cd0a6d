"""Redaction of card, account and phone numbers and e-mail addresses (``conversation.redaction``): a corpus
of strings that must be masked and of innocent ones that must be kept."""

import re

import pytest

from pipeline.config import PrivacyConfig
from pipeline.conversation.redaction import redact_text, redact_transcript
from pipeline.types import Transcript, Word

NUMBERS = [  # every digit of each must go (min_digits 6)
    "4111 1111 1111 1111", "4111-1111-1111-1111", "4111.1111.1111.1111", "4111, 1111, 1111, 1111",
    "4111  1111", "card number 4111111111111111", "my number is 555-123-4567", "(555) 123-4567",
    "+44 20 7946 0958", "020 7946 0958", "account 12345678", "routing number 021000021",
    "five five one two three four", "four one one one one one one one", "oh two oh seven nine four six",
    "zero one two three four five six", "4 5 3 2 7 7 1 8 3 9 0 6 2 2 4 1", "4111 1111 mhm 1111 1111",
    "4111 1111 uh 1111 1111", "it's 123456, okay", "SSN 123-45-6789", "123 45 6789",
    "the card is four five three two, seven seven one eight", "call me back on 07700 900123",
]
ADDRESSES = [  # each must become [email]
    "ann@example.com", "John.Smith+calls@mail.example.co.uk", "ann at example dot com",
    "john dot smith at gmail dot com", "donsmithatgmail.com", "write to me at John Smith at gmail .com",
    "mary_lee@bank-mail.org", "reach me at ann at work dot example dot org",
]
INNOCENT = [  # each must be kept as it is
    "2 minutes", "March 3rd", "$49", "$49.99", "I have 2 kids and 3 dogs", "in 2026", "the 15th of May",
    "room 101", "order 12345", "3 or 4 days", "24/7 support", "at 5 pm", "1 or 2", "about 10 minutes ago",
    "version 2.5", "50%", "a 30-day trial", "top 3", "it's 9 am", "one moment please", "I called two times",
    "five minutes", "one or two days", "that's one thing", "go to harpervalley.com", "meet me at noon",
    "it costs $1,200", "1,200 dollars", "between 9 and 5", "on 12/05", "page 4 of 10", "10 am to 6 pm",
    "between 2019 and 2021", "one two three", "Harper Valley National Bank", "okay, one moment",
]
CONFIG = PrivacyConfig()


def test_the_corpus_is_big_enough():
    assert len(NUMBERS) + len(ADDRESSES) >= 30 and len(INNOCENT) >= 30


@pytest.mark.parametrize("text", NUMBERS)
def test_numbers_are_masked(text):
    out = redact_text(text, CONFIG)
    assert not re.search(r"\d", out) and not re.search(
        r"\b(zero|oh|one|two|three|four|five|six|seven|eight|nine)\b", out, re.I), out


@pytest.mark.parametrize("text", ADDRESSES)
def test_email_addresses_are_masked(text):
    out = redact_text(text, CONFIG)
    assert "[email]" in out and "@" not in out and not re.search(r"\b(com|org|uk)\b", out), out


@pytest.mark.parametrize("text", INNOCENT)
def test_innocent_text_is_kept(text):
    assert redact_text(text, CONFIG) == text


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("card 4111 1111 1111 1111 ok", "card #### #### #### #### ok"),
        ("call 555-123-4567 or 020 7946 0958", "call ###-###-#### or ### #### ####"),
        ("account 12345678.", "account ########."),
        ("order 12345 on 2 May, room 101", "order 12345 on 2 May, room 101"),
        ("it is 4111, 1111, 1111, 1111.", "it is ####, ####, ####, ####."),  # these were missed
        ("4111  1111", "####  ####"),
        ("five five one two three four", "# # # # # #"),
        ("Four one one one, one one one one.", "# # # #, # # # #."),
        ("five five one two", "five five one two"),
        ("4111 1111 mhm 1111 1111 thanks", "#### #### mhm #### #### thanks"),
        ("write to ann.lee@example.com today", "write to [email] today"),
        ("it's ann at example dot com please", "it's [email] please"),
        ("write to me at donsmithatgmail.com.", "write to me at [email]."),
        ("see harpervalley.com", "see harpervalley.com"),
        ("to me at John Smith at gmail .com", "to me at John [email]"),
        ("john dot smith at mail dot example dot co dot uk", "[email]"),
        ("I have 2 kids and 3 dogs", "I have 2 kids and 3 dogs"),
    ],
)
def test_redact_masks_numbers_and_email_addresses(text, want):
    assert redact_text(text, CONFIG) == want


def test_redaction_spans_a_channel_s_turns_and_leaves_the_other_channel():
    """A card read in two breaths around the other party's "mhm": one number on stereo and on mono."""
    said = [(0, "my"), (0, "card"), (0, "4111"), (0, "1111"), (1, "mhm"), (0, "1111"), (0, "1111"), (1, "okay"),
            (0, "mail"), (0, "ann"), (0, "at"), (0, "example"), (0, "dot"), (0, "com")]
    for mono in (False, True):
        words = tuple(Word(i, i + 0.5, text, 0.9, -1 if mono else channel) for i, (channel, text) in enumerate(said))
        out = redact_transcript(Transcript(words, "m", "int8", "en"), CONFIG)
        assert [w.text for w in out.words] == ["my", "card", "####", "####", "mhm", "####", "####", "okay", "mail",
                                               "[email]"]
        assert out.redacted and (out.words[-1].start, out.words[-1].end) == (9, 13.5)
