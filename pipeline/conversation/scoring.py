"""Scores: tone, patience and active listening per speaker, each 0-100 and explained by its components.

1. **trends** (``SpeakerTrends``): the speaker against their own ``baseline`` (their first
   ``baseline_s`` of speech vs the rest), ``mirroring`` of the other party's pace and pitch from the
   call's first to its last third, and the change from the first to the last third of their words
   (``deescalation``). De-escalation index: sentiment change / ``deescalation_sentiment`` minus the
   mean of pitch change / ``deescalation_pitch_st`` and loudness change / ``deescalation_loudness_db``;
   de-escalated when it reaches ``deescalation_min_index`` and the sentiment did not fall;
2. **measures**: one value per component (``configs/scoring.yaml``) with its evidence n (minutes of
   talk, questions, replies), None where the evidence is missing (no pitch, overlaps unobservable, no
   questions asked);
3. **context**: a component counts only where the call gave it an occasion (``applies``: the speaker
   is the agent; another party voiced a problem, or gave their name; the speaker put the others on
   hold); otherwise it is not applicable;
4. **rating**: each value shrunk toward its ``neutral`` by its evidence, (value x n + neutral x prior) /
   (n + prior), then mapped to 0-1 through its reference ``points`` (linear between, flat beyond);
5. **score**: weights renormalized over the applicable components with a value, ``contribution = 100 x
   weight x rating``; the score is the sum of the contributions. A dropped or not applicable component
   keeps weight 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from pipeline.config import ComponentConfig, ScoringConfig
from pipeline.conversation.timeline import activity, clock
from pipeline.types import (
    SCORES,
    Alignment,
    Behaviour,
    CallCues,
    CallDynamics,
    CallProsody,
    Component,
    Problem,
    RoleAssignment,
    Score,
    SpeakerCues,
    SpeakerDynamics,
    SpeakerProsody,
    SpeakerTrends,
    Wait,
)

MIN_WINDOW_TALK_S = 2.0  # pace in a window needs this much of the speaker's speech
MIN_WINDOW_BINS = 5  # pitch or loudness in a window needs this many contour bins
REF_HZ = 100.0  # absolute pitch in semitones re this frequency (mirroring)


# ---------------------------------------------------------------- trends


def _bins(prosody: CallProsody, speaker: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contour bins of a speaker's turns: centre times (s), pitch (st re their median), loudness (dBFS)."""
    t, st, db = [], [], []
    for turn in prosody.turns:
        if turn.speaker == speaker:
            for k, (p, level) in enumerate(zip(turn.pitch_st, turn.loudness_db or (None,) * len(turn.pitch_st),
                                               strict=True)):
                t.append(turn.start + (k + 0.5) / prosody.contour_rate_hz)
                st.append(np.nan if p is None else p)
                db.append(np.nan if level is None else level)
    return np.array(t), np.array(st, float), np.array(db, float)


def _mean(values: np.ndarray, times: np.ndarray, t0: float, t1: float, fn=np.nanmean) -> float | None:
    """``fn`` of the non-NaN values whose times fall in [t0, t1); None with fewer than ``MIN_WINDOW_BINS``."""
    v = values[(times >= t0) & (times < t1)]
    v = v[~np.isnan(v)]
    return float(fn(v)) if len(v) >= MIN_WINDOW_BINS else None


def _talk(alignment: Alignment, speaker: str, t0: float, t1: float) -> float:
    spans = activity(alignment.segments).get(speaker, ())
    return float(sum(max(0.0, min(s.end, t1) - max(s.start, t0)) for s in spans))


def _pace(alignment: Alignment, speaker: str, t0: float, t1: float) -> float | None:
    """Words per minute of the speaker's speech in [t0, t1); None with less than ``MIN_WINDOW_TALK_S``."""
    talk = _talk(alignment, speaker, t0, t1)
    words = sum(1 for w in alignment.words if w.speaker == speaker and t0 <= w.start < t1)
    return 60 * words / talk if talk >= MIN_WINDOW_TALK_S else None


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def _toward(mine: Sequence[float | None], theirs: Sequence[float | None]) -> float | None:
    """How far the speaker moved toward the other from the first to the last third: their own change,
    signed positive in the direction of the other's level at the start (None if a figure is missing)."""
    if None in mine or theirs[0] is None or theirs[0] == mine[0]:
        return None
    return float((mine[1] - mine[0]) * np.sign(theirs[0] - mine[0]))


def baseline(alignment: Alignment, prosody: CallProsody, speaker: str,
             config: ScoringConfig) -> dict[str, float | None]:
    """The speaker's first ``baseline_s`` of speech against the rest, when the rest holds ``min_rest_s``:
    pace and pitch std ratios, loudness difference (dB)."""
    t, st, db = _bins(prosody, speaker)
    own = activity(alignment.segments).get(speaker, ())
    base, rest = {}, {}
    if own and _talk(alignment, speaker, own[0].start + config.baseline_s, np.inf) >= config.min_rest_s:
        cut = own[0].start + config.baseline_s
        for out, (a, b) in ((base, (0.0, cut)), (rest, (cut, np.inf))):
            out.update(pace=_pace(alignment, speaker, a, b), std=_mean(st, t, a, b, np.nanstd),
                       db=_mean(db, t, a, b))
    return {"pace_vs_baseline": _ratio(rest.get("pace"), base.get("pace")),
            "pitch_variability_vs_baseline": _ratio(rest.get("std"), base.get("std")),
            "loudness_vs_baseline_db": _diff(rest.get("db"), base.get("db"))}


def _pitch(prosody: CallProsody, speaker: str, t0: float, t1: float) -> float | None:
    """The speaker's mean absolute pitch in [t0, t1) (semitones re ``REF_HZ``); None with too few bins."""
    median = prosody.speakers[speaker].pitch_median_hz if speaker in prosody.speakers else None
    t, st, _ = _bins(prosody, speaker)
    rel = _mean(st, t, t0, t1)
    return None if median is None or rel is None else 12 * np.log2(median / REF_HZ) + rel


def mirroring(alignment: Alignment, prosody: CallProsody, speaker: str, duration_s: float) -> dict[str, float | None]:
    """How far the speaker's pace (wpm) and absolute pitch (st) moved toward the other party with the
    most speech, from the call's first to its last third (``_toward``), and the evidence behind it: the least
    talk (minutes) of the two in those thirds."""
    others = {s: sum(x.duration for x in spans) for s, spans in activity(alignment.segments).items() if s != speaker}
    if not others:
        return {"pace_mirroring_wpm": None, "pitch_mirroring_st": None, "mirroring_evidence_min": None}
    other = max(others, key=others.get)
    thirds = ((0.0, duration_s / 3), (2 * duration_s / 3, duration_s + 1.0))
    return {"pace_mirroring_wpm": _toward([_pace(alignment, speaker, a, b) for a, b in thirds],
                                          [_pace(alignment, other, a, b) for a, b in thirds]),
            "pitch_mirroring_st": _toward([_pitch(prosody, speaker, a, b) for a, b in thirds],
                                          [_pitch(prosody, other, a, b) for a, b in thirds]),
            "mirroring_evidence_min": min(_talk(alignment, s, a, b) for s in (speaker, other) for a, b in thirds) / 60}


def deescalation(alignment: Alignment, prosody: CallProsody, cues: CallCues, speaker: str,
                 config: ScoringConfig) -> dict[str, float | bool | None]:
    """Pitch, loudness and sentiment changes from the first to the last third of the speaker's words,
    and the de-escalation index from them (module docstring)."""
    t, st, db = _bins(prosody, speaker)
    words = [w for w in alignment.words if w.speaker == speaker]
    c = cues.speakers.get(speaker)
    n = len(words) // 3
    pitch_change = loud_change = None
    if n:
        early, late = (words[0].start, words[n - 1].end), (words[-n].start, words[-1].end + 1e-3)
        pitch_change = _diff(_mean(st, t, *late), _mean(st, t, *early))
        loud_change = _diff(_mean(db, t, *late), _mean(db, t, *early))
    sentiment_change = _diff(c.sentiment_end, c.sentiment_start) if c else None
    arousal = [x / unit for x, unit in ((pitch_change, config.deescalation_pitch_st),
                                        (loud_change, config.deescalation_loudness_db)) if x is not None]
    index = (None if sentiment_change is None
             else sentiment_change / config.deescalation_sentiment - (float(np.mean(arousal)) if arousal else 0.0))
    return {"pitch_change_st": pitch_change, "loudness_change_db": loud_change, "sentiment_change": sentiment_change,
            "deescalation_index": index,
            "de_escalated": None if index is None else bool(index >= config.deescalation_min_index
                                                            and sentiment_change >= 0)}


def trends(alignment: Alignment, prosody: CallProsody, cues: CallCues, speaker: str, duration_s: float,
           config: ScoringConfig) -> SpeakerTrends:
    """The speaker's baseline, mirroring and first-to-last-third figures (see ``SpeakerTrends``)."""
    return SpeakerTrends(**baseline(alignment, prosody, speaker, config),
                         **mirroring(alignment, prosody, speaker, duration_s),
                         **deescalation(alignment, prosody, cues, speaker, config))


# ---------------------------------------------------------------- scores


Measure = tuple[float | None, float | None]  # a component's measured value and its evidence n (None: not shrunk)

# what a component's evidence n counts (``ComponentConfig.prior`` is in the same unit)
EVIDENCE_UNITS = {
    "positive_per_min": "min of own talk", "negative_per_min": "min of own talk", "empathy_per_min": "min of own talk",
    "acknowledgements_per_min": "min of own talk", "interruptions_per_min": "min of the other's talk",
    "backchannels_per_min": "min of the other's talk", "response_latency_s": "replies",
    "quick_reply_share": "replies to questions and complaints", "open_question_share": "questions",
    "ownership_share": "ownership and deflection phrases", "hold_etiquette": "holds",
    "pace_mirroring_wpm": "min of the least talk in a third", "pitch_mirroring_st": "min of the least talk in a third",
}
CONDITIONS = {  # what makes an occasion for the ``applies`` conditions other than ``agent``, when there is none
    "problem": "the other party voiced no problem, frustration or negative sentiment",
    "name": "the other party never gave their name",
    "hold": "this speaker put nobody on hold",
}


def _rate(count: float | None, minutes: float) -> Measure:
    return (None, None) if count is None or minutes <= 0 else (count / minutes, minutes)


def _share(part: int, whole: int) -> Measure:
    return (part / whole, float(whole)) if whole else (None, None)


def measures(d: SpeakerDynamics, p: SpeakerProsody, c: SpeakerCues, tr: SpeakerTrends, other_talk_s: float,
             did: Sequence[Behaviour] = (), holds: Sequence[tuple[Wait, Behaviour | None]] = (),
             ) -> dict[str, dict[str, Measure]]:
    """The value and evidence of every component of the three scores (names as in ``ScoringConfig``);
    value None: no evidence.

    Phrase rates are per minute of the speaker's own talk; interruptions and backchannels per minute
    of the other parties' talk; the evidence of a rate is those minutes, of a share its denominator.
    """
    own, other = d.talk_time_s / 60, other_talk_s / 60
    empathy = _rate(c.empathy_phrases + c.apologies, own)
    kinds = [b.kind for b in did]
    owning, deflecting = kinds.count("ownership"), kinds.count("deflection")
    courtesy = sum(w.announced + (thanks is not None) for w, thanks in holds)
    return {
        "tone": {
            "pace_wpm": (d.phonation_wpm, None),
            "pitch_variability_st": (p.pitch_std_st, None),
            "loudness_steadiness_db": (p.loudness_db_std, None),
            "positive_per_min": _rate(c.positive_phrases, own),
            "negative_per_min": _rate(c.negative_phrases, own),
            "empathy_per_min": empathy,
            "sentiment": (c.sentiment_mean, None),
            "ownership_share": _share(owning, owning + deflecting),
            "pace_vs_baseline": (tr.pace_vs_baseline, None),
            "pitch_variability_vs_baseline": (tr.pitch_variability_vs_baseline, None),
            "loudness_vs_baseline_db": (tr.loudness_vs_baseline_db, None),
        },
        "patience": {
            "interruptions_per_min": _rate(d.interruptions_made, other),
            "response_latency_s": (d.response_latency_median_s,
                                   None if d.response_latency_median_s is None else float(d.responses)),
            "quick_reply_share": _share(d.quick_replies, d.replies_counted),
            "articulation_rate_sps": (d.articulation_rate_sps, None),
            "longest_wait_s": (d.longest_wait_s if d.words else None, None),
            "hold_etiquette": (courtesy / (2 * len(holds)), float(len(holds))) if holds else (None, None),
        },
        "active_listening": {
            "backchannels_per_min": _rate(d.backchannels, other),
            "open_question_share": _share(c.open_questions, c.questions),
            "acknowledgements_per_min": _rate(c.acknowledgements + c.paraphrases, own),
            "empathy_per_min": empathy,
            "positive_closing": (float(c.closings > 0) if d.words else None, None),
            "resolution_check": (float("resolution_check" in kinds) if d.words else None, None),
            "personalization": (float("personalization" in kinds) if d.words else None, None),
            "pace_mirroring_wpm": (tr.pace_mirroring_wpm, tr.mirroring_evidence_min),
            "pitch_mirroring_st": (tr.pitch_mirroring_st, tr.mirroring_evidence_min),
        },
    }


def shrink(value: float, evidence: float | None, cfg: ComponentConfig) -> float:
    """``value`` shrunk toward ``cfg.neutral`` by its evidence: (value x n + neutral x prior) / (n + prior)."""
    if evidence is None or cfg.prior <= 0:
        return value
    return (value * evidence + cfg.neutral * cfg.prior) / (evidence + cfg.prior)


def _quote(text: str, limit: int = 80) -> str:
    return f'"{text if len(text) <= limit else text[:limit - 3] + "..."}"'


def occasions(problems: Sequence[Problem], behaviours: Sequence[Behaviour],
              holds: Sequence[tuple[Wait, Behaviour | None]], speaker: str) -> dict[str, str | None]:
    """The occasions of the ``applies`` conditions for a speaker, each as a note naming its moment (None:
    none): the first problem another party voiced, the first name another party gave, the speaker's holds."""
    problem = next((p for p in problems if p.speaker != speaker), None)
    name = next((b for b in behaviours if b.kind == "name_given" and b.speaker != speaker), None)
    return {
        "problem": None if problem is None else (f"{problem.speaker} at {clock(problem.start)}: "
                                                 f"{_quote(problem.text)} ({problem.why})"),
        "name": None if name is None else f'{name.speaker} gave the name "{name.text}" at {clock(name.start)}',
        "hold": "; ".join(f"hold at {clock(w.start)} ({w.end - w.start:.0f} s): "
                          f"{'announced' if w.announced else 'not announced'}, "
                          f"{'thanked' if thanks else 'not thanked'}" for w, thanks in holds) or None,
    }


def applies(cfg: ComponentConfig, role: str, occasion: dict[str, str | None]) -> tuple[bool, str | None]:
    """Whether a component counts for a speaker of ``role`` given the call's ``occasions``, and the note that
    says why not (or names the occasion)."""
    if "agent" in cfg.applies and role != "agent":
        return False, f"not applicable: an agent's behaviour, and this speaker's role is {role}"
    missing = [c for c in cfg.applies if c != "agent" and occasion.get(c) is None]
    if missing:
        return False, "not applicable: " + "; ".join(CONDITIONS[c] for c in missing)
    found = [occasion[c] for c in cfg.applies if c != "agent"]
    return True, "occasion: " + "; ".join(found) if found else None


def evidence_notes(d: SpeakerDynamics, did: Sequence[Behaviour]) -> dict[str, str]:
    """The moments behind a speaker's behaviour components, as notes: the longest wait, the first deflection
    (else ownership), the first resolution check and use of the other's name."""
    notes = {}
    if d.longest_wait_at_s is not None:
        notes["longest_wait_s"] = (f"the others waited {d.longest_wait_s:.0f} s in silence at "
                                   f"{clock(d.longest_wait_at_s)} before this speaker went on")
    for component, kinds in (("ownership_share", ("deflection", "ownership")), ("resolution_check",
                             ("resolution_check",)), ("personalization", ("personalization",))):
        first = next((b for kind in kinds for b in did if b.kind == kind), None)
        if first is not None:
            notes[component] = f"{first.kind.replace('_', ' ')}: {_quote(first.text)} at {clock(first.start)}"
    return notes


def rating(value: float, points: Sequence[tuple[float, float]]) -> float:
    """``value`` on its reference range: linear between the ``points`` (x increasing), flat beyond."""
    xs, ys = zip(*points, strict=True)
    return float(np.interp(value, xs, ys))


def combine(values: dict[str, Measure], components: dict[str, ComponentConfig], role: str = "unknown",
            occasion: dict[str, str | None] | None = None, notes: dict[str, str] | None = None) -> Score:
    """A score from component values: each shrunk by its evidence, rated, and weighted over the applicable
    components with a value (see module docstring)."""
    out, total = {}, 0.0
    for name, cfg in components.items():
        (value, evidence), (ok, note) = values[name], applies(cfg, role, occasion or {})
        rated_value = None if value is None else shrink(value, evidence, cfg)
        rated = None if rated_value is None else rating(rated_value, cfg.points)
        counts = rated is not None and ok
        total += cfg.weight if counts else 0.0
        out[name] = Component(value, rated, cfg.weight if counts else 0.0, 0.0, rated_value, evidence,
                              None if evidence is None else EVIDENCE_UNITS.get(name), ok,
                              note or (notes or {}).get(name))
    for name, c in out.items():  # weights renormalized over the components that count
        weight = c.weight / total if total > 0 else 0.0
        out[name] = dataclasses.replace(c, weight=weight, contribution=100 * weight * c.rating if weight else 0.0)
    return Score(sum(c.contribution for c in out.values()) if total > 0 else None, out)


def analyze(alignment: Alignment, dynamics: CallDynamics, prosody: CallProsody, cues: CallCues,
            duration_s: float, config: ScoringConfig, roles: dict[str, RoleAssignment] | None = None,
            behaviours: Sequence[Behaviour] = (), holds: Sequence[tuple[Wait, Behaviour | None]] = (),
            ) -> tuple[dict[str, SpeakerTrends], dict[str, dict[str, Score]]]:
    """Trends and the three scores of every speaker of ``dynamics``, whatever their role (``roles``: None,
    or a speaker missing from it, is ``unknown``); ``holds``: the call's holds with their thanks."""
    trend, scores = {}, {}
    no_voice = SpeakerProsody(None, None, None, None, None, 0.0)
    for spk, d in dynamics.speakers.items():
        trend[spk] = trends(alignment, prosody, cues, spk, duration_s, config)
        other = sum(x.talk_time_s for s, x in dynamics.speakers.items() if s != spk)
        did = [b for b in behaviours if b.speaker == spk]
        mine = [(w, thanks) for w, thanks in holds if w.speaker == spk]
        values = measures(d, prosody.speakers.get(spk, no_voice), cues.speakers[spk], trend[spk], other, did, mine)
        role = roles[spk].role if roles and spk in roles else "unknown"
        occasion, notes = occasions(cues.problems, behaviours, mine, spk), evidence_notes(d, did)
        scores[spk] = {name: combine(values[name], {f.name: getattr(getattr(config, name), f.name)
                                                    for f in dataclasses.fields(getattr(config, name))},
                                     role, occasion, notes)
                       for name in SCORES}
    return trend, scores
