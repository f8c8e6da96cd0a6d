"""Words of a transcript: normalized tokens, phrase matching, questions, sentences and syllables."""

from __future__ import annotations

import re
from collections.abc import Sequence

DIGIT_SYLLABLES = {"0": 2, "1": 1, "2": 1, "3": 1, "4": 1, "5": 1, "6": 1, "7": 2, "8": 1, "9": 1}

FUNCTION_WORDS = frozenset({
    "a", "an", "the", "and", "or", "but", "so", "to", "of", "in", "on", "at", "for", "with", "from", "by", "as",
    "is", "are", "was", "were", "be", "been", "am", "i", "you", "he", "she", "it", "we", "they", "me", "my", "your",
    "our", "their", "this", "that", "there", "um", "uh", "er", "like", "just", "well", "oh",
})


def syllables(word: str) -> int:
    """Syllables of an English word by vowel groups (0 for a word without letters or digits).

    Count runs of a, e, i, o, u, y; a final silent ``e`` does not count (but ``-le`` after a
    consonant does: "ta-ble"), nor ``-ed`` after a letter other than t or d ("charged"); at least
    one per word. Digits count as their spoken names ("7" = 2). About 90 % exact on English
    running text; the errors (``-ia``, ``-eo``, hiatus) partly cancel over a call.
    """
    w = word.lower()
    digits = sum(DIGIT_SYLLABLES[c] for c in w if c.isdigit())
    w = re.sub(r"[^a-z]", "", w)
    if not w:
        return digits
    n = len(re.findall(r"[aeiouy]+", w))
    syllabic_le = w.endswith("le") and len(w) > 2 and w[-3] not in "aeiouy"
    if n > 1 and w.endswith("e") and not w.endswith(("ee", "ye")) and not syllabic_le:
        n -= 1
    if n > 1 and w.endswith("ed") and len(w) > 3 and w[-3] not in "td":
        n -= 1
    return max(n, 1) + digits


def normal_words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower().replace("-", " ")).split()


def is_listener_token(words: Sequence[str], phrases: Sequence[str]) -> bool:
    """True when the words, lower-cased and without punctuation, are wholly a sequence of ``phrases``.

    "Mm-hmm.", "yeah right", "okay okay" and no words at all are listener tokens; "yeah but I" is
    not. Phrases may have several words ("i see", "uh huh").
    """
    tokens = [t for w in words for t in normal_words(w)]
    known = {tuple(p.split()) for p in phrases}
    reach = [True] + [False] * len(tokens)  # reach[i]: tokens[:i] splits into phrases
    for i in range(len(tokens)):
        if reach[i]:
            for p in known:
                if tuple(tokens[i:i + len(p)]) == p:
                    reach[i + len(p)] = True
    return reach[-1]


def is_question(tokens: Sequence[str], text: str, question_words: Sequence[str]) -> bool:
    """A turn asks when its text ends with "?" or its first word is a question word (wh- or auxiliary)."""
    return text.rstrip().endswith("?") or (bool(tokens) and tokens[0] in question_words)


def is_complaint(tokens: Sequence[str], cues: Sequence[str]) -> bool:
    """A turn complains when its normalized words contain one of the cue phrases."""
    joined = f" {' '.join(tokens)} "
    return any(f" {' '.join(normal_words(c))} " in joined for c in cues)

OPEN_WITHIN_WORDS = 3  # an open-question start may begin this many words into the question

LEAD_INS = frozenset({"so", "and", "but", "okay", "ok", "well", "now", "then", "um", "uh", "alright"})


def tokens(text: str) -> list[str]:
    """Normalized words of a text."""
    text = text.lower().replace("\u2019", "'").replace("-", " ")
    return [t.strip("'") for t in re.sub(r"[^a-z0-9' ]", " ", text).split() if t.strip("'")]


def count_phrases(words: Sequence[str], phrases: Sequence[str]) -> int:
    """Non-overlapping matches of any of ``phrases`` in the normalized ``words``, longest first."""
    known = sorted({tuple(tokens(p)) for p in phrases if tokens(p)}, key=len, reverse=True)
    i, n = 0, 0
    while i < len(words):
        hit = next((p for p in known if tuple(words[i:i + len(p)]) == p), None)
        n, i = (n + 1, i + len(hit)) if hit else (n, i + 1)
    return n


def sentences(text: str) -> list[str]:
    """A turn's sentences, split after ".", "?" and "!"."""
    return [s for s in re.split(r"(?<=[.?!])\s+", text.strip()) if tokens(s)]


def questions(text: str, question_words: Sequence[str], open_starts: Sequence[str]) -> tuple[int, int]:
    """(questions, open questions) among the sentences of ``text``."""
    asked = opened = 0
    starts = [tuple(tokens(p)) for p in open_starts]
    for sentence in sentences(text):
        words = tokens(sentence)
        while len(words) > 1 and words[0] in LEAD_INS:
            words = words[1:]
        if sentence.rstrip().endswith("?") or words[0] in question_words:
            asked += 1
            opened += any(tuple(words[i:i + len(p)]) == p for p in starts for i in range(OPEN_WITHIN_WORDS))
    return asked, opened
