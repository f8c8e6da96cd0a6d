"""Masking what must not be stored: card, account and phone numbers, written or spoken, and e-mail addresses.

Pure functions over words. A *number* is a run of words of one channel in time order, each of them digits
with separators (``4111,``, ``555-1212``) or a spoken digit ("five", "oh"), holding ``min_digits`` digits or
more; fillers and backchannels ("uh", "mhm", "okay") may sit between its words without ending it, so a
card read in two breaths, or split by the other party's "mhm" on a mono call, is one number. Its digits
become ``#``. An e-mail address, written (``ann@example.com``) or spoken ("ann at example dot com"),
becomes one word ``[email]``, as does a word that runs one together as a small ASR writes it
(``donsmithatgmail.com``).
"""

from __future__ import annotations

import dataclasses
import re

from pipeline.config import PrivacyConfig
from pipeline.types import Transcript, Word

SPOKEN_DIGITS = {"zero", "oh", "o", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
FILLERS = {"uh", "um", "er", "ah", "mhm", "mm", "hmm", "uh-huh", "okay", "ok", "yeah", "yes", "right", "dash",
           "space"}  # said inside a number without ending it ("and" is not: "between 2019 and 2021")
NUMBER = re.compile(r"[\d.,\-/()+#]*\d[\d.,\-/()+#]*")  # digits and the separators written between them
DOMAINS = {"com", "net", "org", "edu", "gov", "io", "co", "uk", "de", "fr", "us", "ca", "info", "biz"}
# written, and as a small ASR runs a spoken one together ("donsmithatgmail.com" for "don smith at gmail dot com")
EMAIL = re.compile(rf"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+|[\w.+\-]*at[\w\-]+(?:\.[\w\-]+)*\.(?:{'|'.join(DOMAINS)})\b",
                   re.IGNORECASE)
MASK_EMAIL = "[email]"


def _bare(word: str) -> str:
    return word.strip(".,;:!?\"'").lower()


def _digits(word: str, spoken: bool) -> int:
    """The digits a word holds as part of a number; 0 when it is not one."""
    if NUMBER.fullmatch(word.strip(".,;:!?\"'")):
        return sum(c.isdigit() for c in word)
    return int(spoken and _bare(word) in SPOKEN_DIGITS)


def _mask(word: str) -> str:
    return re.sub(r"\d", "#", word) if any(c.isdigit() for c in word) else re.sub(r"[^\W\d_]+", "#", word)


def number_words(texts: list[str], min_digits: int, spoken: bool) -> set[int]:
    """Indexes of the words of every number of ``min_digits`` digits or more in ``texts``."""
    masked: set[int] = set()
    run: list[int] = []
    for i, text in enumerate([*texts, "."]):
        if _digits(text, spoken):
            run.append(i)
        elif run and _bare(text) in FILLERS and i < len(texts):
            continue
        else:
            if sum(_digits(texts[j], spoken) for j in run) >= min_digits:
                masked.update(run)
            run = []
    return masked


def _dot_part(texts: list[str], j: int) -> int | None:
    """Where a "dot PART" (or a ".part" word) starting at ``j`` ends; None when there is none."""
    if j + 1 < len(texts) and _bare(texts[j]) == "dot":
        return j + 1
    if j < len(texts) and texts[j].startswith(".") and len(_bare(texts[j]).lstrip(".")) > 0:
        return j
    return None


def spoken_emails(texts: list[str]) -> list[tuple[int, int]]:
    """(first, last) word index of every "NAME at HOST dot DOMAIN" (or "HOST .com"), more "dot PART"s allowed
    on both sides."""
    found, i = [], 1
    while i + 2 < len(texts):
        last = _dot_part(texts, i + 2) if _bare(texts[i]) == "at" else None
        while last is not None and (more := _dot_part(texts, last + 1)) is not None:
            last = more
        if last is not None and _bare(texts[last]).lstrip(".") in DOMAINS:
            first = i - 1
            while first >= 2 and _bare(texts[first - 1]) == "dot":  # "john dot smith at ..."
                first -= 2
            found.append((first, last))
            i = last + 2
            continue
        i += 1
    return found


def redact_words(words: list[Word], min_digits: int, spoken_digits: bool = True, emails: bool = True) -> list[Word]:
    """``words`` (one channel's, in time order) with their numbers masked and each e-mail address one word."""
    if emails:
        words = [dataclasses.replace(w, text=EMAIL.sub(MASK_EMAIL, w.text)) for w in words]
        for first, last in reversed(spoken_emails([w.text for w in words])):
            merged = dataclasses.replace(words[first], end=words[last].end, text=MASK_EMAIL,
                                         probability=min(w.probability for w in words[first:last + 1]))
            words[first:last + 1] = [merged]
    hits = number_words([w.text for w in words], min_digits, spoken_digits)
    return [dataclasses.replace(w, text=_mask(w.text)) if i in hits else w for i, w in enumerate(words)]


def redact_transcript(transcript: Transcript, config: PrivacyConfig) -> Transcript:
    """The transcript with ``redact_words`` applied to each channel's words (all of a mono call's)."""
    out: list[Word] = []
    for channel in sorted({w.channel for w in transcript.words}):
        own = [w for w in transcript.words if w.channel == channel]
        out += redact_words(own, config.min_digits, config.spoken_digits, config.emails)
    out.sort(key=lambda w: (w.start, w.end, w.channel))
    return dataclasses.replace(transcript, words=tuple(out), redacted=True)


def redact_text(text: str, config: PrivacyConfig) -> str:
    """``text`` with its numbers and e-mail addresses masked the same way, spacing kept."""
    parts = re.split(r"(\s+)", text)  # words at even indexes, the spaces between them at odd ones
    texts = [EMAIL.sub(MASK_EMAIL, t) for t in parts[::2]] if config.emails else parts[::2]
    hits = number_words(texts, config.min_digits, config.spoken_digits)
    parts[::2] = [_mask(t) if i in hits else t for i, t in enumerate(texts)]
    for first, last in reversed(spoken_emails(parts[::2]) if config.emails else []):
        parts[2 * first:2 * last + 1] = [MASK_EMAIL]
    return "".join(parts)
