"""Analysts' reports from the catalog: one row per call, per call and speaker, or per agent.

Rows are sorted and numbers formatted the same way every time, so two catalogs holding the same
results export the same bytes; what a night's export was made from (filters, settings in force,
time) goes into the data dictionary written beside it, never into the data file. CSV is RFC 4180,
UTF-8, with text cells made safe from spreadsheet formulas.
"""

from __future__ import annotations

import csv
import json
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pipeline import __version__
from pipeline.config import Config, PrivacyConfig
from pipeline.conversation.redaction import redact_text
from pipeline.fsutil import atomic_file
from pipeline.nightly.catalog import connect
from pipeline.types import SCORES

Level = Literal["call", "speaker", "agent"]
Format = Literal["csv", "parquet"]
ROLES = ("agent", "customer")
AGENT_METRICS = ("talk_ratio", "words_per_minute", "articulation_rate_sps", "pauses_per_min",
                 "response_latency_median_s", "interruptions_made", "backchannels", "pitch_median_hz",
                 "loudness_db_mean")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# definition and the config keys (thresholds) behind a column; units follow from the name's suffix
DEFINITIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "call_id": ("call id (sidecar or file stem)", ()),
    "date": ("day the call started (metadata started_at, else the file time)", ()),
    "started_at": ("start of the call, ISO 8601 (metadata, else the file's modification time in UTC)", ()),
    "agent_id": ("agent of the call, from its sidecar or the archive manifest", ()),
    "queue": ("queue the call came through (metadata)", ()),
    "direction": ("inbound or outbound (metadata)", ()),
    "duration_s": ("length of the recording", ()),
    "call_duration_s": ("length of the recording", ()),
    "channels": ("channels in the file", ()),
    "diarization_method": ("how speakers were told apart: channels, embedding or pyannote", ("diarization.method",)),
    "num_speakers": ("speakers found", ("diarization.max_speakers",)),
    "speaker": ("speaker id, S1..Sn in order of first speech", ()),
    "role": ("agent, customer or unknown (stereo channel roles from the metadata)", ()),
    "channel": ("audio channel of the speaker (empty: the mix)", ()),
    "excerpt": ("start of the transcript, turns joined by ' / '", ("archive.excerpt_chars",
                                                                   "privacy.min_digits")),
    "calls": ("calls with a speaker of role agent for this agent", ()),
    "hours": ("audio hours of those calls", ()),
    "speech_ratio": ("share of the call with someone speaking", ("vad.threshold",)),
    "silence_ratio": ("share of the call with nobody speaking", ("vad.threshold",)),
    "overlap_ratio": ("share of speech with two voices at once (empty: not observable)", ()),
    "dead_air_count": ("stretches with both parties silent", ("dynamics.dead_air_s",)),
    "dead_air_s": ("time with both parties silent", ("dynamics.dead_air_s",)),
    "dead_air_ratio": ("dead air over the call length", ("dynamics.dead_air_s",)),
    "interruptions": ("overlaps where the newcomer took over", ("dynamics.interruption_min_overlap_s",)),
    "interruptions_made": ("started while the other was speaking, and the other kept talking",
                           ("dynamics.interruption_min_overlap_s",)),
    "interrupted_count": ("interrupted by the other party", ("dynamics.interruption_min_overlap_s",)),
    "backchannels": ("short listener tokens that do not take the floor", ("dynamics.backchannel_max_s",)),
    "talk_time_s": ("speech activity of the speaker", ("vad.threshold",)),
    "talk_ratio": ("speaker's share of all speech", ()),
    "turns": ("turns taken", ("align.max_turn_gap_s",)),
    "longest_monologue_s": ("longest uninterrupted turn", ()),
    "words": ("ASR words", ()),
    "words_per_minute": ("ASR words over the speaker's talk time", ()),
    "articulation_rate_sps": ("syllables over phonation time, pauses excluded", ("dynamics.min_pause_s",)),
    "pause_count": ("silences inside the speaker's turns", ("dynamics.min_pause_s",)),
    "pauses_per_min": ("pauses per minute of talk", ("dynamics.min_pause_s",)),
    "response_latency_median_s": ("gap from the other's end of turn to this speaker's start (<0: overlap)", ()),
    "pitch_median_hz": ("median F0 over voiced frames", ("prosody.voicing_threshold", "prosody.min_voiced_s")),
    "pitch_range_st": ("F0 p95 - p5", ("prosody.voicing_threshold",)),
    "loudness_db_mean": ("mean RMS level over speech", ("prosody.level_range_db",)),
    "reliability": ("worst grade of SNR, word probability, overlap and bleed", (
        "acoustics.grade_snr_db", "acoustics.grade_word_probability", "acoustics.grade_overlap_ratio",
        "acoustics.grade_bleed_db")),
    "tone": ("tone score 0-100 (configs/scoring.yaml)", ()),
    "patience": ("patience score 0-100 (configs/scoring.yaml)", ()),
    "active_listening": ("active-listening score 0-100 (configs/scoring.yaml)", ()),
    "tone_not_applicable": ("components of tone the call gave no occasion for, left out of it", ()),
    "patience_not_applicable": ("components of patience the call gave no occasion for, left out of it", ()),
    "active_listening_not_applicable": ("components of active listening the call gave no occasion for, left out "
                                        "of it", ()),
    "turn_end_overlaps": ("overlaps in the last moments of the other's turn, not interruptions",
                          ("dynamics.turn_end_overlap_s",)),
    "longest_wait_s": ("longest dead air the speaker kept the others waiting through, unannounced",
                       ("dynamics.dead_air_s", "dynamics.hold_phrases")),
    "announced_holds": ("dead air the speaker announced first (one moment, let me check)", ("dynamics.hold_phrases",)),
}
UNITS = (("_ratio", "0-1"), ("words_per_minute", "words/min"), ("_per_min", "per min"), ("_ms", "ms"),
         ("_hz", "Hz"), ("_st", "semitones"), ("_sps", "syllables/s"), ("_db_mean", "dBFS"), ("_db", "dB"),
         ("_db_std", "dB"), ("_s", "s"), ("hours", "h"))
COUNTS = {"turns", "words", "pause_count", "interruptions_made", "interrupted_count", "backchannels", "quick_replies",
          "turn_end_overlaps", "announced_holds", "responses",
          "replies_counted", "dead_air_count", "interruptions", "calls", "num_speakers", "channels"}


@dataclass(frozen=True)
class Column:
    """One exported column; ``source``: the metric an aggregate is made from (agent level)."""

    name: str
    kind: Literal["text", "float", "date"]
    source: str = ""

    @property
    def unit(self) -> str:
        base = self.source or self.name
        return "count" if base in COUNTS else next((u for suffix, u in UNITS if base.endswith(suffix)), "")

    @property
    def definition(self) -> str:
        base = self.source or self.name
        text = DEFINITIONS.get(base, ("see docs/metrics.md", ()))[0]
        stat = self.name[len(base) + 1:] if self.name.startswith(f"{base}_") else ""
        role = next((r for r in ROLES if self.name == f"{r}_{base}"), "")
        prefix = {"mean": "mean over the agent's rows of: ", "p10": "10th percentile (linear) over the agent's "
                  "rows of: ", "p90": "90th percentile (linear) over the agent's rows of: "}.get(stat, "")
        return prefix + (f"{role} (first speaker of that role): " if role else "") + text

    @property
    def config_keys(self) -> tuple[str, ...]:
        return DEFINITIONS.get(self.source or self.name, ("", ()))[1]


@dataclass(frozen=True)
class Table:
    """An export: columns, rows in a fixed order, and the settings fingerprints of the calls behind it."""

    level: Level
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    fingerprints: dict[str, int]


@dataclass(frozen=True)
class _Selection:
    calls: list[tuple]  # call_id, date, started_at, agent_id, queue, direction, duration_s, channels,
    #                     diarization_method, num_speakers, transcript, fingerprint
    speakers: list[tuple]  # call_id, speaker, role, channel
    values: dict[tuple[str, str | None, str], dict[str, Any]]  # (call_id, speaker, kind) -> {name: value}
    names: dict[str, list[str]]  # kind -> names in document order


def safe_text(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula: one that starts with =, +, -, @, tab or CR is
    quoted, also after spaces and invisible characters, and in full-width form (U+FF1D for =), which
    spreadsheets read the same way."""
    shown = unicodedata.normalize("NFKC", text).lstrip(" \u00a0\u200b\u200c\u200d\u2060\ufeff")
    return "'" + text if text.startswith(FORMULA_START) or shown.startswith(FORMULA_START) else text


def number(value: float | None) -> str:
    """A number as written: rounded to 4 decimals, whole numbers without a decimal point."""
    if value is None:
        return ""
    x = round(float(value), 4) + 0.0
    return str(int(x)) if x.is_integer() else repr(x)


def _select(con, date_from: date | None, date_to: date | None, agent: str | None) -> _Selection:
    where, args = ["TRUE"], []
    for clause, value in (("substr(started_at, 1, 10) >= ?", date_from), ("substr(started_at, 1, 10) <= ?", date_to)):
        if value:
            where.append(clause)
            args.append(value.isoformat())
    if agent:
        where.append("agent_id = ?")
        args.append(agent)
    con.execute("CREATE OR REPLACE TEMP TABLE picked AS SELECT call_id, substr(started_at, 1, 10) AS date, "
                "started_at, agent_id, queue, direction, duration_s, channels, diarization_method, num_speakers, "
                "transcript, fingerprint FROM calls WHERE " + " AND ".join(where), args)
    calls = con.execute("SELECT * FROM picked ORDER BY call_id").fetchall()
    speakers = con.execute("SELECT s.call_id, speaker, role, channel FROM speakers s JOIN picked USING (call_id) "
                           "ORDER BY s.call_id, speaker").fetchall()
    metrics = con.execute("SELECT m.call_id, speaker, kind, name, pos, value, text FROM metrics m "
                          "JOIN picked USING (call_id)").fetchall()
    values: dict[tuple[str, str | None, str], dict[str, Any]] = {}
    first: dict[str, dict[str, int]] = {}
    for call_id, speaker, kind, name, pos, value, text in metrics:
        values.setdefault((call_id, speaker, kind), {})[name] = text if text is not None else value
        first.setdefault(kind, {})[name] = min(pos, first.get(kind, {}).get(name, pos))
    names = {kind: sorted(order, key=lambda n, o=order: (o[n], n)) for kind, order in first.items()}
    return _Selection(calls, speakers, values, names)


def _kind(values: list[Any]) -> Literal["text", "float"]:
    return "text" if any(isinstance(v, str) for v in values) else "float"


HEAD = (Column("call_id", "text"), Column("date", "date"), Column("started_at", "text"), Column("agent_id", "text"),
        Column("queue", "text"), Column("direction", "text"))


def _call_table(sel: _Selection, redact: PrivacyConfig | None, excerpt_chars: int) -> Table:
    names = sel.names.get("call", [])
    per_role = [(r, "metric", "talk_ratio") for r in ROLES] + [(r, "score", s) for r in ROLES for s in SCORES]
    first: dict[tuple[str, str], str] = {}
    for call_id, speaker, role, _ in sel.speakers:
        first.setdefault((call_id, role), speaker)
    rows = []
    for c in sel.calls:
        figures = sel.values.get((c[0], None, "call"), {})
        text = c[10] or ""
        text = redact_text(text, redact) if redact else text
        rows.append((*c[:10], *(figures.get(n) for n in names),
                     *(sel.values.get((c[0], first.get((c[0], r)), kind), {}).get(n) for r, kind, n in per_role),
                     " / ".join(text.splitlines())[:excerpt_chars]))
    cols = (*HEAD, Column("duration_s", "float"), Column("channels", "float"), Column("diarization_method", "text"),
            Column("num_speakers", "float"),
            *(Column(n, _kind([r[10 + i] for r in rows])) for i, n in enumerate(names)),
            *(Column(f"{r}_{n}", "float", n) for r, _, n in per_role), Column("excerpt", "text"))
    return Table("call", cols, tuple(rows), _fingerprints(sel))


def _speaker_table(sel: _Selection) -> Table:
    names = sel.names.get("metric", [])
    scores = [*SCORES, *sorted(set(sel.names.get("score", [])) - set(SCORES))]
    calls = {c[0]: c for c in sel.calls}
    rows = []
    for call_id, speaker, role, channel in sel.speakers:
        m, s = sel.values.get((call_id, speaker, "metric"), {}), sel.values.get((call_id, speaker, "score"), {})
        idle = sel.values.get((call_id, speaker, "not_applicable"), {})
        rows.append((*calls[call_id][:7], speaker, role, channel, *(m.get(n) for n in names),
                     *(s.get(n) for n in scores), *(idle.get(n) for n in SCORES)))
    cols = (*HEAD, Column("call_duration_s", "float"), Column("speaker", "text"), Column("role", "text"),
            Column("channel", "float"), *(Column(n, _kind([r[10 + i] for r in rows])) for i, n in enumerate(names)),
            *(Column(n, "float") for n in scores), *(Column(f"{n}_not_applicable", "text") for n in SCORES))
    return Table("speaker", cols, tuple(rows), _fingerprints(sel))


def _fingerprints(sel: _Selection) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in sel.calls:
        counts[c[11]] = counts.get(c[11], 0) + 1
    return dict(sorted(counts.items()))


def aggregate_agents(speakers: Table) -> Table:
    """One row per agent from the speaker-level rows of role ``agent``: calls, audio hours, and mean, p10
    and p90 (linear interpolation) of each key metric and score over the agent's rows, empty values left out."""
    index = {c.name: i for i, c in enumerate(speakers.columns)}
    measures = [n for n in (*AGENT_METRICS, *SCORES) if n in index]
    groups: dict[str, list[tuple]] = {}
    for row in speakers.rows:
        if row[index["role"]] == "agent" and row[index["agent_id"]]:
            groups.setdefault(row[index["agent_id"]], []).append(row)
    cols = (Column("agent_id", "text"), Column("calls", "float"), Column("hours", "float"),
            *(Column(f"{n}_{stat}", "float", n) for n in measures for stat in ("mean", "p10", "p90")))
    rows = []
    for agent_id in sorted(groups):
        group = groups[agent_id]
        durations = {r[index["call_id"]]: r[index["call_duration_s"]] for r in group}
        row: list[Any] = [agent_id, len(durations), sum(durations.values()) / 3600]
        for n in measures:
            x = np.array([r[index[n]] for r in group if r[index[n]] is not None], dtype=float)
            row += [x.mean(), np.percentile(x, 10), np.percentile(x, 90)] if x.size else [None] * 3
        rows.append(tuple(None if v is None else v if isinstance(v, str) else float(v) for v in row))
    return Table("agent", cols, tuple(rows), speakers.fingerprints)


def build(con, level: Level, *, date_from: date | None = None, date_to: date | None = None, agent: str | None = None,
          redact: PrivacyConfig | None = None, excerpt_chars: int = 200) -> Table:
    """The rows of one level over the calls that started from ``date_from`` to ``date_to`` (inclusive) of
    ``agent``; ``redact``: mask numbers and e-mail addresses in transcript text (``redaction.redact_text``)."""
    sel = _select(con, date_from, date_to, agent)
    if level == "call":
        return _call_table(sel, redact, excerpt_chars)
    speakers = _speaker_table(sel)
    return speakers if level == "speaker" else aggregate_agents(speakers)


def _cell(column: Column, value: Any) -> str:
    if column.kind == "float" and not isinstance(value, str):
        return number(value)
    return "" if value is None else safe_text(str(value))


def write_csv(table: Table, path: Path) -> None:
    """RFC 4180 CSV (CRLF, minimal quoting), UTF-8, header row; written atomically."""
    with atomic_file(path, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow([c.name for c in table.columns])
        writer.writerows([_cell(c, v) for c, v in zip(table.columns, row, strict=True)] for row in table.rows)


def write_parquet(table: Table, path: Path) -> None:
    """Parquet with typed columns (text as strings, dates as dates, numbers as doubles); written atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"text": pa.string(), "float": pa.float64(), "date": pa.date32()}
    arrays = []
    for i, c in enumerate(table.columns):
        values = [r[i] for r in table.rows]
        if c.kind == "date":
            values = [None if v is None else date.fromisoformat(v) for v in values]
        arrays.append(pa.array(values, type=types[c.kind]))
    with atomic_file(path, "wb") as handle:
        pq.write_table(pa.Table.from_arrays(arrays, names=[c.name for c in table.columns]), handle)


def dictionary(table: Table, settings: dict[str, dict[str, Any]], about: dict[str, Any]) -> str:
    """The data dictionary (Markdown): what the export was made from, then each column's type, unit,
    definition and the thresholds in force (per settings fingerprint when calls differ)."""
    lines = [f"# Data dictionary: {about['file']}", ""]
    lines += [f"- {k}: {'-' if v is None else v}" for k, v in about.items() if k != "file"]
    lines += [f"- rows: {len(table.rows)}", "- settings in force (fingerprint: calls): "
              + (", ".join(f"`{f}`: {n}" for f, n in table.fingerprints.items()) or "none")]
    if len(table.fingerprints) > 1:
        lines.append("- **calls analyzed under different settings: compare their figures with care**")
    lines += ["", "| column | type | unit | definition | thresholds |", "| --- | --- | --- | --- | --- |"]
    for c in table.columns:
        keys = []
        for key in c.config_keys:
            found = {f: _lookup(settings.get(f), key) for f in table.fingerprints}
            shown = sorted({json.dumps(v) for v in found.values()})
            keys.append(f"{key} = {' / '.join(shown) if shown else '?'}")
        lines.append(f"| {c.name} | {'number' if c.kind == 'float' else c.kind} | {c.unit} | {c.definition} | "
                     f"{'; '.join(keys)} |")
    return "\n".join(lines) + "\n"


def _lookup(doc: dict[str, Any] | None, key: str) -> Any:
    node: Any = (doc or {}).get("config", {})
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def export(db_dir: str | Path, level: Level, fmt: Format, out: str | Path, *, date_from: date | None = None,
           date_to: date | None = None, agent: str | None = None, redact_digits: bool = False,
           config: Config | None = None) -> tuple[Table, Path]:
    """Write one report and its data dictionary (``OUT.dictionary.md``), each atomically; return the table and
    the dictionary path. ``redact_digits``: mask numbers and e-mail addresses in the transcript excerpt as
    ``config.privacy`` says (calls analyzed with ``privacy.redact`` are masked everywhere already)."""
    config = config or Config()
    out = Path(out)
    con = connect(db_dir, read_only=True)
    try:
        table = build(con, level, date_from=date_from, date_to=date_to, agent=agent,
                      redact=config.privacy if redact_digits else None, excerpt_chars=config.archive.excerpt_chars)
        settings = {f: json.loads(s) for f, s in con.execute(
            "SELECT fingerprint, any_value(settings) FROM runs GROUP BY fingerprint").fetchall()}
    finally:
        con.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    (write_csv if fmt == "csv" else write_parquet)(table, out)
    about = {"file": out.name, "level": level, "format": fmt, "catalog": str(Path(db_dir).resolve()),
             "from": date_from, "to": date_to, "agent": agent, "redacted": redact_digits,
             "exported_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(), "callscope": __version__}
    target = out.with_name(out.name + ".dictionary.md")
    with atomic_file(target) as handle:
        handle.write(dictionary(table, settings, about))
    return table, target
