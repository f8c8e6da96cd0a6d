"""Accuracy on real two-party calls: the HarperValleyBank calls as stereo, mono and mono mu-law.

Builds the three versions of each call (nothing is committed), runs ``analyze_call`` on each with the
default config and no sidecar, and scores words (WER), speaker turns (DER), speaker count, roles, talk
time and the three scores against the corpus's transcripts. Writes a table to docs/benchmarks.md.

    python scripts/eval_calls.py [--calls DIR] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.optimize import linear_sum_assignment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import evaluate  # noqa: E402
from pipeline.config import Config, load_config  # noqa: E402
from pipeline.conversation.timeline import speaker_turns, subtract  # noqa: E402
from pipeline.models.asr import BUNDLED  # noqa: E402
from pipeline.runner import analyze_call  # noqa: E402
from pipeline.types import SCORES, CallResult, Span, SpeakerSegment  # noqa: E402
from scripts.bench import cpu_name, write_report  # noqa: E402

CALLS = ROOT.parent / "shared" / "eval-audio" / "harper-valley"
RATE = 8000
VERSIONS = ("stereo", "mono", "mulaw")
ROLES = ("agent", "caller")  # the corpus's names
EXPECTED = {"agent": "agent", "caller": "customer"}  # the pipeline's role for each reference role
COLLARS = (0.0, 0.25)
TAG = re.compile(r"\[[^\]]*\]|<[^>]*>")  # [noise], [laughter], [unintelligible], <unk>
NOISE_ONLY = re.compile(r"^(\s*\[noise\])*\s*$")
UNWRITTEN = re.compile(r"\[unintelligible\]|<unk>")  # speech the transcriber heard but could not write
WORD_GAP_S = 0.2  # reference talk time: a gap between a role's words shorter than this is no pause (see Reference)

Spans = list[tuple[float, float]]


# --- the calls and their references -------------------------------------------------------------------

def build_versions(calls: Path, sid: str, tmp: Path) -> dict[str, Path]:
    """``<sid>_stereo.wav`` (agent left, caller right), ``_mono.wav`` (the sum, clipped) and
    ``_mulaw.wav`` (the sum as 8 kHz mu-law), the shorter party padded with silence."""
    parties = [sf.read(calls / "audio" / role / f"{sid}.wav", dtype="float64")[0] for role in ROLES]
    n = max(len(x) for x in parties)
    both = np.stack([np.pad(x, (0, n - len(x))) for x in parties], axis=1)  # (samples, 2)
    mix = np.clip(both.sum(axis=1), -1.0, 32767 / 32768)
    paths = {v: tmp / f"{sid}_{v}.wav" for v in VERSIONS}
    sf.write(paths["stereo"], both, RATE, subtype="PCM_16")
    sf.write(paths["mono"], mix, RATE, subtype="PCM_16")
    sf.write(paths["mulaw"], mix, RATE, subtype="ULAW")
    return paths


@dataclass(frozen=True)
class Reference:
    """A call's ground truth: speech segments ``(role, start s, end s)`` in time order, the words of the
    call and of each role, each role's speech and talk time, and the stretches left out of the WER: speech
    the transcriber heard but wrote no word of (only ``[unintelligible]`` or ``<unk>``), less any segment
    with words.

    A role's speech is its word spans with the gaps under ``WORD_GAP_S`` between them bridged, its talk
    time their length: the speech activity ``talk_time_s`` measures, where a silence under 0.2 s
    (``vad.min_silence_duration_ms``) is no pause. The word timings (the corpus's own alignment) leave
    50-150 ms between the words of a phrase that no speech-activity measure counts as silence (NIST's
    references bridge 0.3 s); the corpus's segments are looser still (endpointer edges, pauses of seconds
    inside)."""

    turns: tuple[tuple[str, float, float], ...]
    text: str
    text_of: dict[str, str]
    words: dict[str, Spans]  # each role's word spans, the gaps under WORD_GAP_S bridged
    unscored: Spans = ()

    @property
    def talk_s(self) -> dict[str, float]:
        return {role: span_length(spans) for role, spans in self.words.items()}

    def scored(self, t: float) -> bool:
        """Whether a hypothesis word at time ``t`` counts in the WER."""
        return not any(start <= t <= end for start, end in self.unscored)

    def speech_of(self, role: str) -> Spans:
        return [(start, end) for r, start, end in self.turns if r == role]


def load_reference(path: Path) -> Reference:
    """Parse ``transcript/<sid>.json``; segments whose transcript is only ``[noise]`` are not speech,
    and the bracketed tags (``[noise]``, ``<unk>``...) are no words."""
    segments = sorted((s for s in json.loads(path.read_text()) if not NOISE_ONLY.match(s["human_transcript"])),
                      key=lambda s: s["start_ms"])
    turns = tuple((s["speaker_role"], s["start_ms"] / 1000, (s["start_ms"] + s["duration_ms"]) / 1000)
                  for s in segments)
    words = [(s["speaker_role"], " ".join(TAG.sub(" ", s["human_transcript"]).split())) for s in segments]
    spans: dict[str, Spans] = {role: [] for role in ROLES}
    for s in segments:
        spans[s["speaker_role"]] += [((s["start_ms"] + o) / 1000, (s["start_ms"] + o + d) / 1000)
                                     for o, d in zip(s["word_offsets_ms"], s["word_durations_ms"], strict=True)]
    said = union((start, end) for (_, start, end), (_, t) in zip(turns, words, strict=True) if t)
    unwritten = [(start, end) for (_, start, end), (_, t), s in zip(turns, words, segments, strict=True)
                 if not t and UNWRITTEN.search(s["human_transcript"])]
    return Reference(turns, " ".join(t for _, t in words if t),
                     {role: " ".join(t for r, t in words if r == role and t) for role in ROLES},
                     {role: union(spans[role], WORD_GAP_S) for role in ROLES},
                     tuple((s.start, s.end) for s in subtract([Span(*x) for x in union(unwritten)],
                                                              [Span(*x) for x in said])))


def caller_rating(path: Path) -> int | None:
    """The caller's rating of the agent (1-10) in ``metadata/<sid>.json``."""
    data = json.loads(path.read_text()) if path.exists() else {}
    rating = data.get("caller", {}).get("survey_response", {}).get("data", {}).get("partner_rating")
    return int(rating) if rating else None


# --- timelines and the speaker-to-role map ------------------------------------------------------------

def union(spans: Iterable[tuple[float, float]], bridge_s: float = 0.0) -> Spans:
    """Sorted, merged, non-empty intervals; those at most ``bridge_s`` apart are joined."""
    out: Spans = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start - out[-1][1] <= bridge_s:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def span_length(spans: Spans) -> float:
    return float(sum(end - start for start, end in spans))


def intersection(a: Spans, b: Spans) -> float:
    """Seconds shared by two merged interval lists."""
    i = j = 0
    total = 0.0
    while i < len(a) and j < len(b):
        total += max(0.0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        i, j = (i + 1, j) if a[i][1] < b[j][1] else (i, j + 1)
    return total


@dataclass(frozen=True)
class SpeakerMap:
    """The hypothesis speaker of each reference role (None: none overlaps it) and the speakers left over."""

    speaker_of: dict[str, str | None]
    unmapped: tuple[str, ...]


def map_speakers(segments: Iterable[SpeakerSegment], speech: Mapping[str, Spans],
                 speakers: Iterable[str] = ()) -> SpeakerMap:
    """One-to-one map of hypothesis speakers to reference roles maximising the seconds their segments
    share (Hungarian); a pair that shares nothing is no match. ``speakers``: any without segments."""
    segments = list(segments)
    names = sorted({s.speaker for s in segments} | set(speakers))
    roles = list(speech)
    own = {n: union((s.start, s.end) for s in segments if s.speaker == n) for n in names}
    shared = np.array([[intersection(own[n], union(speech[r])) for r in roles] for n in names]).reshape(
        len(names), len(roles))  # (speakers, roles), seconds
    rows, cols = linear_sum_assignment(shared, maximize=True)
    pairs = {roles[c]: names[r] for r, c in zip(rows, cols, strict=True) if shared[r, c] > 0}
    return SpeakerMap({r: pairs.get(r) for r in roles}, tuple(n for n in names if n not in pairs.values()))


# --- the figures of one analysis ----------------------------------------------------------------------

@dataclass(frozen=True)
class CallFigures:
    """What one analysis got right; per-role fields are keyed by the reference role (agent / caller)."""

    sid: str
    version: str
    method: str
    speakers: int
    wer: float
    wer_of: dict[str, float | None]
    der: dict[float, float]  # collar (s) -> DER of the speaker turns (the RTTM)
    der_segments: float  # DER collar 0.25 of the acoustic segments
    mapping: SpeakerMap
    roles: dict[str, tuple[str, float | None]]  # every hypothesis speaker: (role, confidence)
    words_of: dict[str, int]  # hypothesis words of every speaker
    strayed: dict[str, int]  # words in a role's speech given to another speaker
    talk_error: dict[str, float]
    scores: dict[str, dict[str, float | None]]
    rating: int | None
    agent_points: dict[str, float]  # the agent's score components: "score.component" -> contribution (points)

    @property
    def speakers_right(self) -> bool:
        return self.speakers == 2

    @property
    def roles_right(self) -> bool:
        return all(self.role_of(r)[0] == EXPECTED[r] for r in ROLES)

    def role_of(self, role: str) -> tuple[str | None, float | None]:
        """The pipeline's role and confidence for the speaker mapped to a reference role."""
        spk = self.mapping.speaker_of[role]
        return self.roles.get(spk, (None, None)) if spk else (None, None)


def words_of(result: CallResult, ref: Reference, speaker: str | None = None) -> str:
    """The hypothesis words the WER scores (``Reference.scored``) in time order, of one speaker or all."""
    words = sorted(result.alignment.words, key=lambda w: (w.start, w.end))
    return " ".join(w.text for w in words
                    if (speaker is None or w.speaker == speaker) and ref.scored((w.start + w.end) / 2))


def role_wer(ref: Reference, role: str, result: CallResult, speaker: str | None) -> float | None:
    """A role's WER against its mapped speaker's words (1.0 where no speaker maps; None: no reference)."""
    if not evaluate.normalize_text(ref.text_of[role]):
        return None
    return evaluate.wer(ref.text_of[role], words_of(result, ref, speaker) if speaker else "")


def strayed_words(result: CallResult, ref: Reference, speaker_of: Mapping[str, str | None]) -> dict[str, int]:
    """Per role, the hypothesis words whose midpoint lies in that role's reference speech alone but which
    went to a speaker other than the one mapped to the role."""
    out = dict.fromkeys(ROLES, 0)
    for w in result.alignment.words:
        mid = (w.start + w.end) / 2
        inside = [r for r in ROLES if any(start <= mid <= end for start, end in ref.speech_of(r))]
        if len(inside) == 1 and w.speaker != speaker_of[inside[0]]:
            out[inside[0]] += 1
    return out


def scores_of(result: CallResult, speaker: str | None) -> dict[str, float | None]:
    given = result.assessment.scores.get(speaker, {}) if speaker and result.assessment else {}
    return {name: given[name].value if name in given else None for name in SCORES}


def points_of(result: CallResult, speaker: str | None) -> dict[str, float]:
    """The contribution of every component of a speaker's scores, keyed "score.component"."""
    given = result.assessment.scores.get(speaker, {}) if speaker and result.assessment else {}
    return {f"{name}.{k}": c.contribution for name, score in given.items() for k, c in score.components.items()}


def measure(sid: str, version: str, result: CallResult, ref: Reference, rating: int | None) -> CallFigures:
    """Score one ``CallResult`` against its reference."""
    hyp = result.alignment.segments
    mapping = map_speakers(hyp, {r: ref.speech_of(r) for r in ROLES}, result.dynamics.speakers)
    spk = mapping.speaker_of
    talk = {r: result.dynamics.speakers[s].talk_time_s if s in result.dynamics.speakers else 0.0
            for r, s in spk.items()}
    assigned = result.assessment.roles if result.assessment else {}
    return CallFigures(
        sid=sid, version=version, method=result.diarization.method, speakers=len(result.dynamics.speakers),
        wer=evaluate.wer(ref.text, words_of(result, ref)),
        wer_of={r: role_wer(ref, r, result, spk[r]) for r in ROLES},
        der={c: evaluate.der(ref.turns, speaker_turns(hyp), collar=c, uem=(0.0, result.audio.duration_s))
             for c in COLLARS},
        der_segments=evaluate.der(ref.turns, hyp, collar=0.25, uem=(0.0, result.audio.duration_s)),
        mapping=mapping,
        roles={s: (a.role, a.confidence) for s, a in sorted(assigned.items())},
        words_of={s: sum(w.speaker == s for w in result.alignment.words) for s in result.dynamics.speakers},
        strayed=strayed_words(result, ref, spk),
        talk_error={r: abs(talk[r] - ref.talk_s[r]) / ref.talk_s[r] for r in ROLES},
        scores={r: scores_of(result, spk[r]) for r in ROLES},
        rating=rating,
        agent_points=points_of(result, spk["agent"]))


def evaluate_calls(calls: Path, tmp: Path, config: Config) -> list[CallFigures]:
    """Every version of every call under ``calls``, analysed in this process (models load once)."""
    figures = []
    for sid in sorted(p.stem for p in (calls / "audio" / "agent").glob("*.wav")):
        ref = load_reference(calls / "transcript" / f"{sid}.json")
        rating = caller_rating(calls / "metadata" / f"{sid}.json")
        for version, path in build_versions(calls, sid, tmp).items():
            t0 = time.perf_counter()
            fig = measure(sid, version, analyze_call(path, config), ref, rating)
            figures.append(fig)
            print(f"{call_row(fig)} {time.perf_counter() - t0:.0f} s", flush=True)
    return figures


# --- the report ---------------------------------------------------------------------------------------

CALL_HEADER = ("| call | version | method | speakers | WER call | WER agent / caller | DER 0 / 0.25 (segments) "
               "| roles (speaker role confidence) | talk-time error agent / caller | words agent / caller "
               "| words strayed agent / caller | unmapped | agent scores T / P / L | customer scores T / P / L "
               "| caller's rating |\n" + "| --- " * 15 + "|")


def _num(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _role_cell(f: CallFigures) -> str:
    parts = []
    for r in ROLES:
        role, conf = f.role_of(r)
        parts.append(f"{r}: {f.mapping.speaker_of[r] or '-'} {role or '-'} {_num(conf, 2)}")
    return ", ".join(parts) + ("" if f.roles_right else " **wrong**")


def call_row(f: CallFigures) -> str:
    """One line of the per-call table."""
    spk = f.mapping.speaker_of
    unmapped = ", ".join(f"{s} ({f.roles.get(s, ('-', None))[0]}, {f.words_of.get(s, 0)} words)"
                         for s in f.mapping.unmapped)
    scores = [" / ".join(_num(f.scores[r][n], 0) for n in SCORES) for r in ROLES]
    return (f"| {f.sid} | {f.version} | {f.method} | {f.speakers}{'' if f.speakers_right else ' **wrong**'} "
            f"| {f.wer:.3f} | {_num(f.wer_of['agent'])} / {_num(f.wer_of['caller'])} "
            f"| {f.der[0.0]:.3f} / {f.der[0.25]:.3f} ({f.der_segments:.3f}) | {_role_cell(f)} "
            f"| {f.talk_error['agent']:.0%} / {f.talk_error['caller']:.0%} "
            f"| {f.words_of.get(spk['agent'], 0)} / {f.words_of.get(spk['caller'], 0)} "
            f"| {f.strayed['agent']} / {f.strayed['caller']} | {unmapped or '-'} "
            f"| {scores[0]} | {scores[1]} | {f.rating or '-'} |")


def median(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.median(kept)) if kept else None


def _wanted(values: Iterable[float | None]) -> float:
    """A median for a check: NaN (which fails every check) when there is nothing to take it of."""
    found = median(values)
    return float("nan") if found is None else found


MEDIANS = {
    "WER call": lambda f: f.wer,
    "WER agent": lambda f: f.wer_of["agent"],
    "WER caller": lambda f: f.wer_of["caller"],
    "DER collar 0": lambda f: f.der[0.0],
    "DER collar 0.25": lambda f: f.der[0.25],
    "DER collar 0.25, acoustic segments": lambda f: f.der_segments,
    "talk-time error agent": lambda f: f.talk_error["agent"],
    "talk-time error caller": lambda f: f.talk_error["caller"],
}


def summary_table(figures: Sequence[CallFigures]) -> str:
    """Medians and counts per version and over all analyses."""
    groups = {v: [f for f in figures if f.version == v] for v in VERSIONS} | {"all": list(figures)}
    lines = ["| measure | " + " | ".join(groups) + " |", "| --- |" + " --- |" * len(groups)]
    for name, get in MEDIANS.items():
        lines.append(f"| {name} (median) | " + " | ".join(_num(median(map(get, g))) for g in groups.values()) + " |")
    for name, test in (("speaker count right", "speakers_right"), ("roles right", "roles_right")):
        counts = [f"{sum(getattr(f, test) for f in g)}/{len(g)}" for g in groups.values()]
        lines.append(f"| {name} | " + " | ".join(counts) + " |")
    return "\n".join(lines)


def spreads(figures: Sequence[CallFigures]) -> tuple[dict[tuple[str, str], float], dict[str, list[float]]]:
    """Across the versions of each call: the spread (max - min) of each agent score, {(call, score): points},
    and of each component's contribution, {"score.component": [points per call]}."""
    by_call: dict[str, list[CallFigures]] = {}
    for f in figures:
        by_call.setdefault(f.sid, []).append(f)
    scores, parts = {}, {}
    for sid, group in by_call.items():
        for name in SCORES:
            values = [f.scores["agent"][name] for f in group]
            scores[sid, name] = (max(values) - min(values)) if None not in values else float("nan")
        for key in sorted({k for f in group for k in f.agent_points}):
            values = [f.agent_points.get(key, 0.0) for f in group]
            parts.setdefault(key, []).append(max(values) - min(values))
    return scores, parts


def spread_tables(figures: Sequence[CallFigures]) -> str:
    """The agent's scores per call across the versions and their spread, and each component's spread."""
    scores, parts = spreads(figures)
    lines = ["| call | agent score | " + " | ".join(VERSIONS) + " | spread |",
             "| --- | --- |" + " --- |" * (len(VERSIONS) + 1)]
    for (sid, name), spread in scores.items():
        values = {f.version: f.scores["agent"][name] for f in figures if f.sid == sid}
        lines.append(f"| {sid} | {name} | " + " | ".join(_num(values.get(v), 1) for v in VERSIONS)
                     + f" | {spread:.1f} |")
    lines += ["", "| component (agent) | median spread | worst spread |", "| --- | --- | --- |"]
    for key, values in sorted(parts.items(), key=lambda kv: -max(kv[1])):
        if max(values) > 0:
            lines.append(f"| {key} | {np.median(values):.1f} | {max(values):.1f} |")
    return "\n".join(lines)


def _check(ok: bool, text: str) -> str:
    return f"- {'PASS' if ok else 'FAIL'}: {text}"


def acceptance(figures: Sequence[CallFigures]) -> list[str]:
    """The issue's acceptance checks, one PASS / FAIL line each."""
    n = len(figures)
    mono = [f for f in figures if f.version == "mono"]
    stereo = [f for f in figures if f.version == "stereo"]
    right = sum(f.speakers_right for f in figures), sum(f.roles_right for f in figures)
    der = _wanted(f.der[0.25] for f in mono)
    talk = {r: _wanted(f.talk_error[r] for f in mono) for r in ROLES}
    caller = [_wanted(f.wer_of["caller"] for f in g) for g in (mono, stereo)]
    spread = list(spreads(figures)[0].values())
    agent = {name: _wanted(f.scores["agent"][name] for f in stereo) for name in SCORES}
    return [
        _check(right[0] == n, f"speaker count right {right[0]}/{n} (wanted {n}/{n})"),
        _check(right[1] == n, f"roles right, no sidecar {right[1]}/{n} (wanted {n}/{n})"),
        _check(der <= 0.09, f"mono DER collar 0.25 of the speaker turns, median {der:.3f} (wanted <= 0.09)"),
        _check(all(t <= 0.10 for t in talk.values()), f"mono talk-time error, median agent {talk['agent']:.0%}, "
               f"caller {talk['caller']:.0%} (wanted <= 10 % each)"),
        _check(caller[0] - caller[1] <= 0.08, f"caller WER, median mono {caller[0]:.3f} - stereo "
               f"{caller[1]:.3f} = {caller[0] - caller[1]:.3f} (wanted <= 0.08)"),
        _check(all(v >= 55 for v in agent.values()), "agent scores on stereo, median " + ", ".join(
            f"{name} {v:.1f}" for name, v in agent.items()) + " (issue 19: wanted >= 55 each)"),
        _check(float(np.median(spread)) <= 5 and max(spread) <= 10, f"agent scores across stereo / mono / mu-law, "
               f"spread median {np.median(spread):.1f}, worst {np.max(spread):.1f} (issue 19: wanted <= 5 and <= 10; "
               "a score missing on a version is nan and fails)"),
    ]


def header(figures: Sequence[CallFigures], model: str, calls: Path, settings: str) -> str:
    """Date, machine, model and the definitions, one paragraph."""
    return (
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} ({cpu_name()}), "
        f"{len(os.sched_getaffinity(0))} cores, "
        f"Python {platform.python_version()}, ASR {model}, {settings}, no sidecar; "
        f"`scripts/eval_calls.py --calls {calls.name}`: {len({f.sid for f in figures})} calls, each as stereo "
        "(agent left, caller right), mono (the sum) and mono mu-law (8 kHz). Hypothesis speakers map one-to-one "
        "to the reference roles by the seconds their acoustic segments share with the role's segments "
        "(Hungarian); an unmapped speaker counts against nobody's WER. WER after `evaluate.normalize_text`, "
        "the corpus's tags (`[noise]`, `<unk>`...) removed, segments of only [noise] dropped, hypothesis words "
        "in speech the transcriber wrote no word of (only `[unintelligible]` or `<unk>`) not scored; a role's "
        "WER is 1.0 where no speaker maps to it. DER from pyannote.metrics, overlap scored, against the corpus's "
        "segments, whose endpointer edges are loose (collar 0.25 is the fairer figure), of the speaker turns of "
        "the RTTM (`timeline.speaker_turns`: a speaker's own silences under 0.5 s held in the turn, as the "
        "corpus's segments hold them); in brackets, of the acoustic segments of call.json, which end at every "
        "0.2 s silence. Talk-time error: "
        "|the speaker's `talk_time_s` - the role's| / the role's, the reference being the role's word spans "
        "with the gaps under 0.2 s between words bridged (no pause in `talk_time_s`; the word timings belong "
        "to the corpus's own ASR transcript, not the human one), tighter than its segments. Roles right: the "
        "speakers mapped to agent and caller are assigned "
        "agent and customer. Words strayed: hypothesis words whose midpoint lies in one role's reference "
        "segments alone but which went to another speaker than that role's. Scores T / P / L: tone, "
        "patience, active listening (0-100); the caller's rating is of the agent (1-10). **wrong** marks "
        "a speaker count other than 2 or a role missed. Spread: the largest minus the smallest of an agent "
        "score (or of a component's contribution, in points) over a call's three versions.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=Path, default=CALLS,
                        help="folder with audio/{agent,caller}/, transcript/ and metadata/")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--config", type=Path, help="YAML settings to evaluate instead of the defaults")
    parser.add_argument("--key", default="calls", help="the report section to write (bench:KEY)")
    args = parser.parse_args()
    config = load_config(args.config)
    with tempfile.TemporaryDirectory() as tmp:
        figures = evaluate_calls(args.calls, Path(tmp), config)
    asr = config.asr
    model = f"{'bundled tiny.en' if asr.model == BUNDLED else asr.model} {asr.compute_type}"
    table = "\n\n".join([CALL_HEADER + "\n" + "\n".join(call_row(f) for f in figures),
                         summary_table(figures), spread_tables(figures), "\n".join(acceptance(figures))])
    settings = f"settings `{args.config.name}`" if args.config else "default config"
    write_report(args.out, header(figures, model, args.calls, settings), table, key=args.key,
                 title="Real calls: HarperValleyBank, stereo / mono / mu-law (`scripts/eval_calls.py`)")
    print(summary_table(figures), *acceptance(figures), sep="\n")


if __name__ == "__main__":
    main()
