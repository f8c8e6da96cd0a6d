"""Words of a transcript: one tokenizer, one phrase matcher, one question detector and sentences.

Tokens are lower case, curly apostrophes straightened, hyphens split, other punctuation dropped,
digits kept: "Don\u2019t re-send $49!" reads ``don't re send 49``. Phrases are tokenized the same way
and match whole tokens.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

LEAD_INS = frozenset({"so", "and", "but", "okay", "ok", "well", "now", "then", "um", "uh", "alright"})
OPEN_WITHIN_WORDS = 3  # an open-question start may begin this many words into the question
SENTENCE_BREAK = re.compile(r"(?<=[.?!])\s+")

FUNCTION_WORDS = frozenset({
    "a", "an", "the", "and", "or", "but", "so", "to", "of", "in", "on", "at", "for", "with", "from", "by", "as",
    "is", "are", "was", "were", "be", "been", "am", "i", "you", "he", "she", "it", "we", "they", "me", "my", "your",
    "our", "their", "this", "that", "there", "um", "uh", "er", "like", "just", "well", "oh",
})


def tokens(text: str) -> list[str]:
    """Normalized words of a text (see the module docstring)."""
    text = text.lower().replace("\u2019", "'").replace("-", " ")
    return [t.strip("'") for t in re.sub(r"[^a-z0-9' ]", " ", text).split() if t.strip("'")]


def sentences(text: str) -> list[str]:
    """A text's sentences with words, split after ".", "?" and "!"."""
    return [s for s in SENTENCE_BREAK.split(text.strip()) if tokens(s)]


# ---------------------------------------------------------------- phrases


@dataclass(frozen=True)
class PhraseMatch:
    """A phrase found in a token list: index of its first token, its length in tokens, its lexicon."""

    start: int
    length: int
    lexicon: str


_Index = dict[str, list[tuple[tuple[str, ...], str]]]  # first token -> (phrase tokens, lexicon), longest first


def _phrases(lexicons: Mapping[str, Sequence[str]]) -> _Index:
    """The phrases of ``lexicons`` tokenized and indexed by their first token; a phrase in two lexicons
    belongs to the first."""
    out: _Index = {}
    for lexicon, phrases in lexicons.items():
        for p in phrases:
            if (words := tuple(tokens(p))) and all(words != known for known, _ in out.get(words[0], ())):
                out.setdefault(words[0], []).append((words, lexicon))
    for found in out.values():
        found.sort(key=lambda pl: -len(pl[0]))
    return out


def _phrases_at(words: Sequence[str], i: int, phrases: _Index) -> list[tuple[tuple[str, ...], str]]:
    """The phrases that ``words[i:]`` starts with, longest first."""
    return [(p, lex) for p, lex in phrases.get(words[i], ()) if tuple(words[i:i + len(p)]) == p]


def find_phrases(words: Sequence[str], lexicons: Mapping[str, Sequence[str]]) -> tuple[PhraseMatch, ...]:
    """Non-overlapping matches of the phrases of several lexicons in the tokens ``words``, in order.

    Scanned left to right; at each token the longest phrase that starts there wins, and the scan
    goes on after it.
    """
    phrases = _phrases(lexicons)
    out, i = [], 0
    while i < len(words):
        hit = _phrases_at(words, i, phrases)
        if hit:
            out.append(PhraseMatch(i, len(hit[0][0]), hit[0][1]))
        i += len(hit[0][0]) if hit else 1
    return tuple(out)


def count_phrases(words: Sequence[str], phrases: Sequence[str]) -> int:
    """Matches of any of ``phrases`` in the tokens ``words`` (``find_phrases``)."""
    return len(find_phrases(words, {"": phrases}))


def opens_with(words: Sequence[str], phrases: Sequence[str], within: int = 2) -> bool:
    """True when one of ``phrases`` starts among the first ``within`` tokens of ``words``."""
    return any(m.start < within for m in find_phrases(words, {"": phrases}))


def is_listener_token(words: Sequence[str], phrases: Sequence[str]) -> bool:
    """True when the tokens of the word texts ``words`` are wholly a sequence of ``phrases``.

    "Mm-hmm.", "yeah right", "okay okay" and no words at all are listener tokens; "yeah but I" is
    not. Phrases may have several words ("i see", "uh huh").
    """
    said = tokens(" ".join(words))
    known = _phrases({"": phrases})
    reach = [True] + [False] * len(said)  # reach[i]: said[:i] splits into phrases
    for i in range(len(said)):
        if reach[i]:
            for p, _ in _phrases_at(said, i, known):
                reach[i + len(p)] = True
    return reach[-1]


# ---------------------------------------------------------------- questions


def _after_lead_ins(words: Sequence[str]) -> Sequence[str]:
    """``words`` without the lead-ins ("so", "okay", ...) they start with; the last word stays."""
    i = 0
    while i < len(words) - 1 and words[i] in LEAD_INS:
        i += 1
    return words[i:]


def _opens_as_question(sentence: str, question_words: Collection[str]) -> bool:
    words = _after_lead_ins(tokens(sentence))
    return bool(words) and words[0] in question_words


def _closes_as_question(sentence: str) -> bool:
    return sentence.rstrip().endswith("?")


def is_question(sentence: str, question_words: Collection[str]) -> bool:
    """A sentence asks when it ends with "?" or its first token after lead-ins is in ``question_words``
    (wh- words and auxiliaries: "so how long will it take")."""
    return _closes_as_question(sentence) or _opens_as_question(sentence, question_words)


def is_open(question: str, open_starts: Sequence[str]) -> bool:
    """A question is open when one of ``open_starts`` begins within its first ``OPEN_WITHIN_WORDS``
    tokens after lead-ins ("how", "could you tell")."""
    words = _after_lead_ins(tokens(question))
    return any(m.start < OPEN_WITHIN_WORDS for m in find_phrases(words, {"open": open_starts}))


def questions(text: str, question_words: Collection[str], open_starts: Sequence[str]) -> tuple[int, int]:
    """(questions, open questions) among the sentences of ``text``."""
    asked = [s for s in sentences(text) if is_question(s, question_words)]
    return len(asked), sum(is_open(s, open_starts) for s in asked)


def asks(turn: str, question_words: Collection[str]) -> bool:
    """A turn asks when it opens or closes as a question (``is_question``): its first sentence starts
    with a question word after lead-ins, or its last sentence ends with "?"."""
    said = sentences(turn)
    return bool(said) and (_opens_as_question(said[0], question_words) or _closes_as_question(said[-1]))
