"""Per-call outputs of the contract: call.json, RTTM and transcript, written atomically."""

from __future__ import annotations

import dataclasses
import json
import math
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from pipeline.conversation.timeline import speaker_turns
from pipeline.errors import StageError
from pipeline.fsutil import REFUSALS, atomic_dir, refused
from pipeline.types import (
    CallAcoustics,
    CallResult,
    Event,
    Score,
    SpeakerCues,
    SpeakerDynamics,
    SpeakerProsody,
    SpeakerSegment,
    SpeakerTrends,
    TurnContour,
)

SCHEMA_VERSION = 1
NO_PROSODY = SpeakerProsody(None, None, None, None, None, 0.0)


@lru_cache(maxsize=1)
def call_schema() -> dict[str, Any]:
    """The JSON Schema of call.json that ships in the package."""
    text = resources.files("pipeline.outputs").joinpath("schemas/call.schema.json").read_text("utf-8")
    return json.loads(text)


def _r(x: float) -> float:
    return round(float(x), 3)


def _metrics(values: SpeakerDynamics | SpeakerProsody | CallAcoustics | SpeakerCues | SpeakerTrends,
             ) -> dict[str, float | int | str | None]:
    """A dataclass of figures as a JSON object, floats rounded to the millisecond."""
    return {k: _r(v) if isinstance(v, float) else v for k, v in dataclasses.asdict(values).items()}


def _speaker(result: CallResult, spk: str) -> dict[str, Any]:
    """A speaker's role (with its confidence and source), metrics, de-escalation flag and scores."""
    metrics = {**_metrics(result.dynamics.speakers[spk]), **_metrics(result.prosody.speakers.get(spk, NO_PROSODY))}
    channel, done = result.alignment.channel_of.get(spk), result.assessment
    if done is None:
        return {"id": spk, "role": "unknown", "channel": channel, "metrics": metrics, "scores": {}}
    role, trends = done.roles.get(spk), _metrics(done.trends[spk])
    de_escalated = trends.pop("de_escalated")
    return {"id": spk, "role": role.role if role else "unknown",
            "role_confidence": None if role is None or role.confidence is None else _r(role.confidence),
            "role_source": role.source if role else None, "channel": channel,
            "metrics": {**metrics, **_metrics(done.cues.speakers[spk]), **trends}, "de_escalated": de_escalated,
            "scores": {name: _score(score) for name, score in done.scores[spk].items()}}


def _cents(parts: dict[str, float], total: float) -> dict[str, float]:
    """Parts rounded to 0.01 that still sum to ``total`` rounded to 0.01 (largest remainders round up)."""
    cents = {k: math.floor(v * 100) for k, v in parts.items()}
    short = round(total * 100) - sum(cents.values())
    for k in sorted(parts, key=lambda k: cents[k] - parts[k] * 100)[:short]:
        cents[k] += 1
    return {k: c / 100 for k, c in cents.items()}


def _score(score: Score) -> dict[str, Any]:
    """A score and its components; contributions to 0.01 points, summing to the value."""
    parts = _cents({k: c.contribution for k, c in score.components.items()}, score.value or 0.0)
    return {"value": None if score.value is None else round(score.value, 2),
            "components": {k: {"value": None if c.value is None else _r(c.value),
                               "rated_value": None if c.rated_value is None else _r(c.rated_value),
                               "evidence": None if c.evidence is None else _r(c.evidence),
                               "evidence_unit": c.evidence_unit,
                               "rating": None if c.rating is None else _r(c.rating),
                               "weight": _r(c.weight), "contribution": parts[k],
                               "applicable": c.applicable, "note": c.note}
                           for k, c in score.components.items()}}


def _contour(turn: TurnContour) -> dict[str, Any]:
    """A turn's pitch contour (semitones to 0.1), final movement and loudness contour (dBFS to 0.1), as
    extra fields of ``turns[]``."""
    return {"pitch_contour_st": [None if v is None else round(v, 1) for v in turn.pitch_st],
            "final_pitch_st": None if turn.final_st is None else round(turn.final_st, 2),
            "loudness_contour_db": [None if v is None else round(v, 1) for v in turn.loudness_db]}


def _event(e: Event) -> dict[str, Any]:
    """An event as a JSON object; interruptions and turn-end overlaps also carry their outcome."""
    out = {"type": e.type, "start": _r(e.start), "end": _r(e.end), "by": e.by, "of": e.of}
    if e.type in ("interruption", "turn_end_overlap"):
        out |= {"gave_way": e.gave_way, "yield_s": None if e.yield_s is None else _r(e.yield_s),
                "repeated": e.repeated}
    return out


def call_metrics(result: CallResult) -> dict[str, float | int | str | None]:
    """Call-level figures: speech, overlap, dead air and event counts (None: not observable), non-talk
    by class, the reliability figures and grade, and the stereo echo (None: none found)."""
    dyn, duration, echo = result.dynamics, result.audio.duration_s, result.diarization.echo
    speech, overlap = dyn.speech_s, dyn.overlap_s
    return {
        "speech_s": _r(speech),
        "speech_ratio": _r(speech / duration) if duration else 0.0,
        "silence_ratio": _r(1 - speech / duration) if duration else 0.0,
        "overlap_s": None if overlap is None else _r(overlap),
        "overlap_ratio": None if overlap is None else _r(overlap / speech) if speech else 0.0,
        "dead_air_count": dyn.dead_air_count,
        "dead_air_s": _r(dyn.dead_air_s),
        "dead_air_ratio": _r(dyn.dead_air_s / duration) if duration else 0.0,
        "interruptions": dyn.interruptions,
        "turn_end_overlaps": dyn.turn_end_overlaps,
        "backchannels": dyn.backchannels,
        **_metrics(result.acoustics),
        "echo_delay_ms": None if echo is None else _r(1000 * echo.delay_s),
        "echo_db": None if echo is None else _r(echo.gain_db),
    }


def call_document(result: CallResult) -> dict[str, Any]:
    """The call.json document of the contract."""
    al, dyn, voices = result.alignment, result.dynamics, result.prosody
    duration = result.audio.duration_s
    return {
        "schema_version": SCHEMA_VERSION,
        "call_id": result.call_id,
        "source": result.audio.path,
        "sha256": result.audio.sha256,
        "duration_s": _r(duration),
        "sample_rate": result.audio.sample_rate,
        "channels": result.audio.channels,
        "codec": result.audio.codec,
        "asr": {
            "model": result.transcript.model,
            "compute_type": result.transcript.compute_type,
            "language": result.transcript.language,
            "hotwords": result.transcript.hotwords,
            "initial_prompt": result.transcript.initial_prompt,
            "redacted": result.transcript.redacted,
        },
        "diarization": {
            "method": result.diarization.method,
            "num_speakers": len(dyn.speakers),
            "notes": list(result.diarization.notes),
        },
        "speakers": [_speaker(result, spk) for spk in dyn.speakers],
        "segments": [{"speaker": s.speaker, "start": _r(s.start), "end": _r(s.end)}
                     for s in al.segments],
        "turns": [{"speaker": t.speaker, "start": _r(t.start), "end": _r(t.end), "text": t.text, **_contour(c),
                   **({"sentiment": _r(result.assessment.cues.turn_sentiment[i])} if result.assessment else {})}
                  for i, (t, c) in enumerate(zip(al.turns, voices.turns, strict=True))],
        "words": [{"speaker": w.speaker, "start": _r(w.start), "end": _r(w.end), "text": w.text,
                   "probability": _r(w.probability)} for w in al.words],
        "events": [_event(e) for e in dyn.events],
        "behaviours": [{"type": b.kind, "speaker": b.speaker, "start": _r(b.start), "end": _r(b.end), "text": b.text}
                       for b in (result.assessment.behaviours if result.assessment else ())],
        "call_metrics": call_metrics(result),
        "prosody": {"contour_rate_hz": voices.contour_rate_hz, "final_window_s": voices.final_window_s},
        "timings_s": {k: _r(v) for k, v in result.timings_s.items()},
    }


def validate(document: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` when the document breaks the contract."""
    jsonschema.validate(document, call_schema())


def rttm_lines(call_id: str, segments: tuple[SpeakerSegment, ...]) -> str:
    """Standard RTTM, one SPEAKER line per speaker turn of the acoustic ``segments`` (``timeline.speaker_turns``)."""
    return "".join(
        f"SPEAKER {call_id} 1 {s.start:.3f} {s.end - s.start:.3f} <NA> <NA> {s.speaker} <NA> <NA>\n"
        for s in sorted(speaker_turns(segments), key=lambda s: (s.start, s.speaker))
    )


def transcript_text(document: dict[str, Any]) -> str:
    """Readable transcript: ``[mm:ss] ROLE/SPEAKER: text`` per turn."""
    roles = {s["id"]: s["role"].upper() for s in document["speakers"]}
    return "".join(
        f"[{int(t['start']) // 60:02d}:{int(t['start']) % 60:02d}] "
        f"{roles[t['speaker']]}/{t['speaker']}: {t['text']}\n"
        for t in document["turns"]
    )


def render_call(result: CallResult, document: dict[str, Any] | None = None) -> dict[str, str]:
    """The files of ``<call_id>/`` by name: call.json (``document``, validated; by default
    ``call_document(result)``), the RTTM and the transcript. Made where the call is analyzed, written
    where the results live (``write_files``)."""
    document = document or call_document(result)
    validate(document)
    return {"call.json": json.dumps(document, indent=1) + "\n",
            f"{result.call_id}.rttm": rttm_lines(result.call_id, result.alignment.segments),
            f"{result.call_id}.txt": transcript_text(document)}


def write_call(result: CallResult, out_dir: str | Path, document: dict[str, Any] | None = None) -> Path:
    """Write ``out_dir/<call_id>/`` whole or not at all (``render_call``, ``write_files``)."""
    return write_files(result.call_id, render_call(result, document), out_dir)


def write_files(call_id: str, files: dict[str, str], out_dir: str | Path) -> Path:
    """Write ``out_dir/<call_id>/`` with ``files`` (name: text) whole or not at all; an older result is
    replaced, anything else of that name (an analyst's ``exports/`` folder, a file) is left alone and the
    call fails at stage ``write``.

    The files go to a hidden temporary directory beside the target, which is then renamed
    (``fsutil.atomic_dir``), so a reader (or a rerun) never sees a partial result. Raises ``OutputError``
    when the output is full or read-only, ``StageError`` (stage ``write``) when it refuses this call only.
    """
    out_dir = Path(out_dir)
    target = out_dir / call_id
    if (target.exists() or target.is_symlink()) and not (target.is_dir() and not target.is_symlink()
                                                         and (target / "call.json").is_file()):
        raise StageError(call_id, "write", f"{target} exists and is not a call's results (no call.json): "
                         "left alone; give this call another call_id")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with atomic_dir(target) as tmp:
            for name, text in files.items():
                (tmp / name).write_text(text, encoding="utf-8")
        return target
    except OSError as exc:
        if exc.errno in REFUSALS:
            raise refused(out_dir, exc.errno) from exc
        raise StageError(call_id, "write", f"{exc.strerror or exc} ({out_dir})") from exc
