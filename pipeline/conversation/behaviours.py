"""Service behaviours with their evidence: the words, who said them and when.

The psychology of service calls names behaviours that a phrase count alone does not place in time:
using the customer's name (personalization), taking ownership ("I'll take care of that", "let me")
against deflecting ("that's not my department"), checking that the issue is resolved and offering more
help, and asking before a hold and thanking after it. Each found instance is a ``Behaviour``
(kind, speaker, start, end, words), matched on the normalized words of each speaker (``text.tokens``)
and timed by the ASR words that carry them:

- ``name_given``: a party saying their own name ("my name is Elizabeth Davis", "this is Michael"), the
  capitalized words after the phrase;
- ``personalization``: another party saying one of those names after it was given;
- ``ownership``, ``deflection``, ``resolution_check``, ``hold_thanks``: the lexicons of ``CuesConfig``;
- ``hold_ask``: a ``dynamics.hold_phrases`` phrase. A **hold** is a dead air that a speaker broke
  (``CallDynamics.waits``) and announced, or one of ``dynamics.hold_min_s`` or more: asked for when
  announced, thanked for when they said a ``hold_thanks`` phrase within ``HOLD_THANKS_S`` after it. A long
  unannounced hold also counts as a wait (``longest_wait_s``): how long the customer was left, and whether
  they were asked and thanked, are two items of a QA form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipeline.config import CuesConfig
from pipeline.conversation.text import find_phrases, tokens
from pipeline.conversation.timeline import by_speaker
from pipeline.types import AttributedWord, Behaviour, Wait

NAME_INTROS = ("my name is", "my name's", "name is", "this is", "i'm", "i am")
MAX_NAME_WORDS = 2  # first and last name
HOLD_THANKS_S = 8.0  # thanks for holding said this soon after the hold ends
NOT_NAMES = frozenset({"i", "the", "a", "an", "and", "your", "our", "my", "calling", "just", "not", "so", "okay", "yes",
                       "no", "sorry", "here", "still", "good", "fine", "great"})  # capitalized, but no name


def _flat(words: Sequence[AttributedWord]) -> tuple[list[str], list[int]]:
    """The tokens of a speaker's words in order, and the index of the word each comes from."""
    flat, owner = [], []
    for i, w in enumerate(words):
        for t in tokens(w.text):
            flat.append(t)
            owner.append(i)
    return flat, owner


def phrases(words: Sequence[AttributedWord], lexicons: Mapping[str, Sequence[str]]) -> tuple[Behaviour, ...]:
    """Every match of the ``lexicons`` (kind: phrases) in one speaker's words (time order), timed by its words."""
    flat, owner = _flat(words)
    out = []
    for m in find_phrases(flat, lexicons):
        first, last = words[owner[m.start]], words[owner[m.start + m.length - 1]]
        said = " ".join(w.text.strip() for w in words[owner[m.start]:owner[m.start + m.length - 1] + 1])
        out.append(Behaviour(m.lexicon, first.speaker, first.start, last.end, said))
    return tuple(out)


def names_given(words: Sequence[AttributedWord]) -> tuple[Behaviour, ...]:
    """A speaker saying their own name: up to ``MAX_NAME_WORDS`` capitalized words (as the ASR writes names)
    right after a ``NAME_INTROS`` phrase ("my name is Elizabeth Davis")."""
    flat, owner = _flat(words)
    out = []
    for m in find_phrases(flat, {"name_given": NAME_INTROS}):
        last = owner[m.start + m.length - 1]
        if m.start + m.length >= len(flat) or words[last].text.strip()[-1:] in ".,?!":  # "Yes, I am. Can you..."
            continue
        first = owner[m.start + m.length]
        name = []
        for w in words[first:first + MAX_NAME_WORDS]:
            raw = w.text.strip().strip(".,?!")
            if not raw[:1].isupper() or not tokens(raw) or tokens(raw)[0] in NOT_NAMES:
                break
            name.append(raw)
            if w.text.strip()[-1:] in ".,?!":  # the name ends with its sentence or clause
                break
        if name:
            out.append(Behaviour("name_given", words[first].speaker, words[owner[m.start]].start,
                                 words[first + len(name) - 1].end, " ".join(name)))
    return tuple(out)


def personalization(mine: Sequence[AttributedWord], given: Sequence[Behaviour]) -> tuple[Behaviour, ...]:
    """A speaker's words (``mine``) that say, capitalized as the ASR writes names, a name another party gave,
    after they gave it; the speaker's own introduction is no use of another's name."""
    speaker = mine[0].speaker if mine else None
    own = [g for g in given if g.speaker == speaker]
    out = set()
    for g in given:
        if g.speaker != speaker:
            names = set(tokens(g.text))
            out |= {Behaviour("personalization", w.speaker, w.start, w.end, w.text.strip()) for w in mine
                    if w.start >= g.end and w.text.strip()[:1].isupper() and names & set(tokens(w.text))
                    and not any(o.start <= w.start < o.end for o in own)}
    return tuple(sorted(out, key=lambda b: b.start))


def holds(waits: Sequence[Wait], found: Sequence[Behaviour], min_s: float) -> tuple[tuple[Wait, Behaviour | None], ...]:
    """The holds: dead air announced by who broke it, or of ``min_s`` or more, each with the first
    ``hold_thanks`` of ``found`` its speaker said within ``HOLD_THANKS_S`` after it (None: not thanked)."""
    def thanks(w: Wait) -> Behaviour | None:
        return next((b for b in found if b.kind == "hold_thanks" and b.speaker == w.speaker
                     and w.end - 1e-6 <= b.start < w.end + HOLD_THANKS_S), None)

    return tuple((w, thanks(w)) for w in waits if w.announced or w.end - w.start >= min_s)


def find(words: Sequence[AttributedWord], config: CuesConfig, hold_phrases: Sequence[str]) -> tuple[Behaviour, ...]:
    """The behaviours of every speaker, in time order (see the module docstring)."""
    spoken = by_speaker(words)
    given = [g for mine in spoken.values() for g in names_given(mine)]
    lexicons = {"ownership": config.ownership, "deflection": config.deflection,
                "resolution_check": config.resolution_check, "hold_thanks": config.hold_thanks,
                "hold_ask": hold_phrases}
    found = [*given]
    for mine in spoken.values():
        found += [*phrases(mine, lexicons), *personalization(mine, given)]
    return tuple(sorted(found, key=lambda b: (b.start, b.kind)))
