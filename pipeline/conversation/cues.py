"""Language cues and sentiment from the transcript.

Phrases match on normalized words: lower case, curly apostrophes straightened, hyphens split,
other punctuation dropped ("I'd be glad to!" reads ``i'd be glad to``). Each lexicon counts
non-overlapping matches, longest phrase first. Questions are counted per sentence (split after
".", "?", "!"): a sentence ending in "?" or starting with a question word (after lead-ins such as
"so", "okay") is one; it is open when one of ``open_question_starts`` begins within its first three
words after the lead-ins. Sentiment is VADER's compound
score (Hutto & Gilbert 2014; -1..1), a lexicon model that ships offline, per sentence and averaged.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from pipeline.config import CuesConfig
from pipeline.conversation.text import count_phrases, find_phrases, opens_with, questions, sentences, tokens
from pipeline.types import Alignment, AttributedWord, CallCues, Problem, SpeakerCues, Turn

MAX_SENTENCE_WORDS = 40  # sentiment: longer runs without sentence punctuation are scored in pieces this long



@lru_cache(maxsize=1)
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def sentiment(text: str) -> float | None:
    """VADER compound score of a text (-1..1): the mean over its sentences, weighted by their words; None
    without words.

    VADER scores a sentence: over a whole text its compound, a squashed sum of the word valences, tends
    to +-1 as the text grows (a speaker's 300 words of a six-minute call already read 0.9 and more),
    and its cost grows with the square of the text's length: an unpunctuated run is cut every
    ``MAX_SENTENCE_WORDS`` words.
    """
    parts = [" ".join(words[i:i + MAX_SENTENCE_WORDS]) for sentence in sentences(text)
             for words in [sentence.split()] for i in range(0, len(words), MAX_SENTENCE_WORDS)]
    parts = [p for p in parts if tokens(p)]
    if not parts:
        return None
    scores = [_vader().polarity_scores(s)["compound"] for s in parts]
    return float(np.average(scores, weights=[len(tokens(s)) for s in parts]))


def _text(words: Sequence[AttributedWord]) -> str:
    return " ".join(w.text.strip() for w in words)


def speaker_cues(words: Sequence[AttributedWord], duration_s: float, config: CuesConfig,
                 question_words: Sequence[str], turn_texts: Sequence[str]) -> SpeakerCues:
    """Cues of one speaker from their words (time order) and turn texts; quarters of ``duration_s``."""
    said = tokens(_text(words))
    asked = [questions(t, question_words, config.open_question_starts) for t in turn_texts]
    third = len(words) // 3
    quarter = duration_s / 4

    def part(ws: Sequence[AttributedWord]) -> float | None:
        return sentiment(_text(ws)) if ws else None

    return SpeakerCues(
        questions=sum(a for a, _ in asked),
        open_questions=sum(o for _, o in asked),
        empathy_phrases=count_phrases(said, config.empathy),
        apologies=count_phrases(said, config.apology),
        positive_phrases=count_phrases(said, config.positive),
        negative_phrases=count_phrases(said, config.negative),
        acknowledgements=sum(opens_with(tokens(t), config.acknowledgement) for t in turn_texts),
        paraphrases=count_phrases(said, config.paraphrase),
        greetings=count_phrases(said, config.greeting),
        closings=count_phrases(said, config.closing),
        escalation_requests=count_phrases(said, config.escalation),
        problem_phrases=count_phrases(said, config.problem),
        sentiment_mean=part(words),
        sentiment_start=part(words[:third]) if third else None,
        sentiment_end=part(words[len(words) - third:]) if third else None,
        **{f"sentiment_q{q + 1}": part([w for w in words if q * quarter <= w.start < (q + 1) * quarter
                                        or (q == 3 and w.start >= duration_s)]) for q in range(4)},
    )


def problems(turns: Sequence[Turn], turn_sentiment: Sequence[float], config: CuesConfig) -> tuple[Problem, ...]:
    """The turns that voice a problem: a ``problem`` phrase in them, or a sentiment at ``upset_sentiment``
    or below."""
    out = []
    for turn, mood in zip(turns, turn_sentiment, strict=True):
        said = tokens(turn.text)
        hits = find_phrases(said, {"": config.problem})
        found = " ".join(said[hits[0].start:hits[0].start + hits[0].length]) if hits else None
        if found or mood <= config.upset_sentiment:
            out.append(Problem(turn.speaker, turn.start, turn.text.strip(),
                               f'"{found}"' if found else f"sentiment {mood:.2f}"))
    return tuple(out)


def analyze(alignment: Alignment, duration_s: float, config: CuesConfig,
            question_words: Sequence[str]) -> CallCues:
    """Cues per speaker (S1, S2, ... with speech or words), the sentiment of every turn and the turns that
    voice a problem."""
    speakers = sorted({s.speaker for s in alignment.segments} | {w.speaker for w in alignment.words},
                      key=lambda s: (len(s), s))
    out = {spk: speaker_cues([w for w in alignment.words if w.speaker == spk], duration_s, config, question_words,
                             [t.text for t in alignment.turns if t.speaker == spk]) for spk in speakers}
    moods = tuple(sentiment(t.text) or 0.0 for t in alignment.turns)
    return CallCues(out, moods, problems(alignment.turns, moods, config))
