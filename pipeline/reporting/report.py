"""Self-contained HTML reports: one page per call (timeline, prosody, score cards, transcript) and one per
agent (score and metric trends over a period).

Pure functions from a call.json document, or from the speaker rows of an export, to an HTML string. Plots
are drawn with matplotlib into inline SVG (text as paths, so no font is needed); the page loads no script,
style, font or image from anywhere. Colors: the Okabe-Ito palette, safe for color-blind readers.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import MultipleLocator

from pipeline.config import Config
from pipeline.conversation.text import SENTENCE_BREAK, find_phrases, is_question, tokens
from pipeline.conversation.timeline import clock, overlaps
from pipeline.fsutil import atomic_file
from pipeline.reporting.export import AGENT_METRICS, Table
from pipeline.types import SCORES, SpeakerSegment

OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73", "yellow": "#F0E442",
             "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7"}
SPEAKER_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
SCORE_COLORS = {"tone": "#0072B2", "patience": "#E69F00", "active_listening": "#009E73"}
MARKED_EVENTS = ("interruption", "turn_end_overlap", "backchannel", "dead_air", "long_monologue")
# CuesConfig fields highlighted in the transcript (and the hold phrases of DynamicsConfig, the names given)
CUE_LEXICONS = ("empathy", "apology", "positive", "negative", "ownership", "deflection", "resolution_check",
                "hold_thanks")
CUE_LEGEND = (*CUE_LEXICONS, "hold_ask", "personalization")
TIMELINE_ROW_S = 600.0  # one timeline row per 10 minutes
MAX_PLOT_POINTS = 1500  # contour points per speaker and plot; longer calls are averaged into bins
TREND_METRICS = ("talk_ratio", "words_per_minute", "interruptions_made", "response_latency_median_s")

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:16px;color:#222;background:#fff}
h1{font-size:22px;margin:4px 0}h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid #ddd}
.facts{color:#555}.plot svg{width:100%;height:auto}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #ccc;border-radius:6px;padding:8px 12px;flex:1 1 340px}
.card h3{margin:2px 0 6px;font-size:15px}tr.na td{color:#888;font-style:italic}.value{font-size:22px;font-weight:600}
table{border-collapse:collapse;font-size:13px}td,th{padding:2px 8px;text-align:right;border-bottom:1px solid #eee}
td:first-child,th:first-child{text-align:left}.why{margin:6px 0 0;color:#333}
.turn{display:flex;gap:10px;padding:3px 6px;border-left:5px solid var(--c);cursor:pointer;margin:2px 0}
.turn:hover{background:#f4f4f4}.ts{font-variant-numeric:tabular-nums;color:#555;min-width:48px}
.who{font-weight:600;color:var(--c);min-width:120px}
mark{border-radius:3px;padding:0 2px}mark.empathy{background:#bfe7da}mark.apology{background:#cfe8f7}
mark.positive{background:#cfe0f0}mark.negative{background:#f6d0bb}mark.ownership{background:#d9ecc4}
mark.deflection{background:#f3c6d6}mark.resolution_check{background:#e4d7f2}mark.hold_ask,mark.hold_thanks{background:#fbe8b0}
mark.personalization{background:#c9eef0;font-weight:600}.question{text-decoration:underline #E69F00 2px}
.legend span{margin-right:12px}.event{cursor:pointer}
"""

SCRIPT = """
(function(){var a=document.getElementById('recording');
document.querySelectorAll('.turn,.event').forEach(function(el){el.addEventListener('click',function(){
if(a){a.currentTime=parseFloat(el.dataset.start);var p=a.play();if(p){p.catch(function(){});}}});});
window.addEventListener('load',function(){document.body.dataset.ready=String(Math.round(performance.now()));});
})();
"""


@dataclass(frozen=True)
class Lane:
    """One party of a call as drawn: speaker id, what to call them and their color."""

    speaker: str
    label: str
    color: str


def _lanes(doc: dict[str, Any]) -> list[Lane]:
    return [Lane(s["id"], f"{s['role']} ({s['id']})" if s["role"] != "unknown" else s["id"],
                 SPEAKER_COLORS[i % len(SPEAKER_COLORS)]) for i, s in enumerate(doc["speakers"])]


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _svg(fig: Figure, salt: str) -> str:
    """A figure as inline SVG markup: no XML prolog, metadata or namespace URLs (HTML5 supplies them)."""
    buf = io.StringIO()
    with rc_context({"svg.hashsalt": salt, "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", text)


def _json_script(element_id: str, data: Any) -> str:
    """``data`` as a JSON block the page's HTML parser cannot leave early: every ``<``, ``>`` and ``&`` is a
    JSON escape (``</script>`` ends a script, and ``<!--<script>`` makes the parser swallow the page)."""
    text = json.dumps(data, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _page(title: str, body: str, data: Any) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
            f"<style>{CSS}</style></head><body>\n{body}\n{_json_script('callscope-data', data)}\n"
            f"<script>{SCRIPT}</script></body></html>\n")


# ---------------------------------------------------------------- call page: plots


def timeline_svg(doc: dict[str, Any]) -> str:
    """Both parties as lanes, one row per 10 minutes: speech segments, overlaps shaded, interruptions (down
    triangles), turn-end overlaps (up triangles) and backchannels (dots) on the lane of who made them, dead air
    and long monologues as bars."""
    lanes, duration = _lanes(doc), max(doc["duration_s"], 1.0)
    rows = max(1, math.ceil(duration / TIMELINE_ROW_S))
    fig = Figure(figsize=(12, 0.6 + 1.5 * rows), layout="constrained")
    axes = fig.subplots(rows, 1, squeeze=False)[:, 0]
    y = {lane.speaker: len(lanes) - i for i, lane in enumerate(lanes)}
    overlapped = overlaps(SpeakerSegment(s["speaker"], s["start"], s["end"]) for s in doc["segments"])
    events = [e for e in doc["events"] if e["type"] in MARKED_EVENTS]
    color = {ln.speaker: ln.color for ln in lanes}
    for r, ax in enumerate(axes):
        t0, t1 = r * TIMELINE_ROW_S, min(duration, (r + 1) * TIMELINE_ROW_S) if rows > 1 else duration
        seen = [x for x in doc["segments"] + events if x["end"] >= t0 and x["start"] <= t1]  # only this row's
        ax.broken_barh([(o.start, o.duration) for o in overlapped if o.end >= t0 and o.start <= t1],
                       (0.4, len(lanes) + 0.2), color="#999999", alpha=0.35, label="overlap")
        for lane in lanes:
            spans = [(x["start"], x["end"] - x["start"]) for x in seen if x.get("speaker") == lane.speaker]
            ax.broken_barh(spans, (y[lane.speaker] - 0.3, 0.6), color=lane.color, label=lane.label)
        dead = [(x["start"], x["end"] - x["start"]) for x in seen if x.get("type") == "dead_air"]
        ax.broken_barh(dead, (0.05, 0.25), color=OKABE_ITO["black"], label="dead air")
        for x in seen:
            if x.get("type") == "long_monologue" and x["by"] in y:
                ax.plot([x["start"], x["end"]], [y[x["by"]] + 0.42] * 2, color=OKABE_ITO["vermillion"], lw=3,
                        solid_capstyle="butt", label="long monologue")
        for kind, marker, size in (("interruption", "v", 70), ("turn_end_overlap", "^", 40), ("backchannel", "o", 22)):
            marks = [x for x in seen if x.get("type") == kind and x["by"] in y]
            if marks:
                ax.scatter([x["start"] for x in marks], [y[x["by"]] + 0.3 for x in marks],
                           c=[color[x["by"]] for x in marks], marker=marker, s=size, edgecolors="black",
                           linewidths=0.8, zorder=3, label=_name(kind))
        ax.set_xlim(t0, t0 + TIMELINE_ROW_S if rows > 1 else t1)
        ax.set_ylim(0, len(lanes) + 0.8)
        ax.set_yticks([y[ln.speaker] for ln in lanes], [ln.label for ln in lanes])
        if rows > 1:
            ax.xaxis.set_major_locator(MultipleLocator(60))
        ax.xaxis.set_major_formatter(lambda v, _: clock(v))
        ax.spines[["top", "right"]].set_visible(False)
    unique = {label: h for ax in axes for h, label in zip(*ax.get_legend_handles_labels(), strict=True)}
    fig.legend(unique.values(), unique.keys(), loc="outside upper center", ncols=len(unique), frameon=False)
    return _svg(fig, f"{doc['call_id']}-timeline")


def _binned(times: np.ndarray, values: np.ndarray, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """At most MAX_PLOT_POINTS (time, mean value) pairs; gaps (no value in a bin) become NaN."""
    ok = ~np.isnan(values)
    if times.size <= MAX_PLOT_POINTS:
        return times, values
    edges = np.linspace(0.0, duration, MAX_PLOT_POINTS + 1)
    idx = np.clip(np.searchsorted(edges, times[ok], side="right") - 1, 0, MAX_PLOT_POINTS - 1)
    sums, counts = np.bincount(idx, values[ok], MAX_PLOT_POINTS), np.bincount(idx, minlength=MAX_PLOT_POINTS)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (edges[:-1] + edges[1:]) / 2, sums / counts


def _contour(doc: dict[str, Any], speaker: str, key: str) -> tuple[np.ndarray, np.ndarray]:
    """A speaker's contour over the call from the per-turn contours, NaN between turns and where unvoiced."""
    step = 1.0 / doc["prosody"]["contour_rate_hz"]
    times, values = [], []
    for t in doc["turns"]:
        if t["speaker"] == speaker and t.get(key):
            times += [t["start"] + i * step for i in range(len(t[key]))] + [t["end"]]
            values += [np.nan if v is None else v for v in t[key]] + [np.nan]
    return _binned(np.array(times, float), np.array(values, float), doc["duration_s"])


def _pace(doc: dict[str, Any], speaker: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minute bins of the call (start s, length s; the last one may be shorter) and the speaker's words per
    minute in each (words counted at their start)."""
    duration = max(doc["duration_s"], 1.0)
    starts = np.append(np.arange(0.0, duration, 60.0), duration)
    words = [w["start"] for w in doc["words"] if w["speaker"] == speaker]
    counts, _ = np.histogram(words, bins=starts)
    lengths = np.diff(starts)
    return starts[:-1], lengths, counts / (lengths / 60.0)


def prosody_svg(doc: dict[str, Any]) -> str:
    """Pitch (semitones re each speaker's median) and loudness (dBFS) over time, and pace per minute."""
    lanes, duration = _lanes(doc), max(doc["duration_s"], 1.0)
    fig = Figure(figsize=(12, 6.2))
    pitch, loud, pace = fig.subplots(3, 1, sharex=True)
    for i, lane in enumerate(lanes):
        pitch.plot(*_contour(doc, lane.speaker, "pitch_contour_st"), color=lane.color, lw=1, label=lane.label)
        loud.plot(*_contour(doc, lane.speaker, "loudness_contour_db"), color=lane.color, lw=1)
        x, length, wpm = _pace(doc, lane.speaker)
        share = length / len(lanes)
        pace.bar(x + share * (i + 0.5), wpm, width=0.9 * share, color=lane.color)
    for ax, label in ((pitch, "pitch (st re median)"), (loud, "loudness (dBFS)"), (pace, "pace (words/min)")):
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    pitch.axhline(0, color="#555555", lw=0.6)
    if lanes:
        pitch.legend(frameon=False, ncols=len(lanes), loc="lower right", bbox_to_anchor=(1, 1))
    pace.set_xlim(0, duration)
    pace.xaxis.set_major_formatter(lambda v, _: clock(v))
    return _svg(fig, f"{doc['call_id']}-prosody")


# ---------------------------------------------------------------- call page: cards and transcript


def _name(key: str) -> str:
    return key.replace("_", " ")


def score_sentence(score: dict[str, Any]) -> str:
    """Plain sentences on what moved a score: its largest contribution and its largest loss (with the moment
    that bears it out, where the component names one), and the components the call gave no occasion for."""
    comps = score["components"]
    used = {k: c for k, c in comps.items() if c["weight"] > 0 and c["rating"] is not None}
    idle = [_name(k) for k, c in comps.items() if not c.get("applicable", True)]
    tail = f" Not applicable in this call: {', '.join(idle)}." if idle else ""
    if score["value"] is None or not used:
        return "Not scored: none of its components had evidence in this call." + tail
    best = max(used, key=lambda k: used[k]["contribution"])
    lost = {k: 100 * c["weight"] * (1 - c["rating"]) for k, c in used.items()}
    worst = max(lost, key=lambda k: lost[k])
    head = f"Carried most by {_name(best)} (+{used[best]['contribution']:.1f})"
    if lost[worst] < 0.05:
        return head + "; every component at full marks." + tail
    note = used[worst].get("note")
    where = f" ({note})" if note else ""
    return (head + f"; {_name(worst)} cost it the most ({lost[worst]:.1f} of {100 * used[worst]['weight']:.1f} "
            f"points){where}." + tail)


def _value(c: dict[str, Any]) -> str:
    """A component's measured value, and the value its evidence shrank it to where that differs."""
    shrunk = c.get("rated_value")
    if shrunk is None or c["value"] is None or abs(shrunk - c["value"]) < 0.005:
        return _num(c["value"])
    return f"{_num(c['value'])} → {_num(shrunk)}"


def _component_row(name: str, c: dict[str, Any]) -> str:
    """A component as a table row: value (→ as shrunk by its evidence), evidence, rating, weight ("n/a": not
    applicable), points; its note as the row's tooltip."""
    applicable = c.get("applicable", True)
    evidence = "-" if c.get("evidence") is None else f"{c['evidence']:.2f} {_esc(c.get('evidence_unit') or '')}"
    return (f'<tr{"" if applicable else " class=na"} title="{_esc(c.get("note") or "")}"><td>{_esc(_name(name))}</td>'
            f"<td>{_value(c)}</td><td>{evidence}</td><td>{_num(c['rating'])}</td>"
            f"<td>{_num(c['weight']) if applicable else 'n/a'}</td><td>{_num(c['contribution'])}</td></tr>")


def _num(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else _esc(value)


def score_cards(doc: dict[str, Any]) -> str:
    """One card per party and score: the value, each component's value, weight and contribution, and why."""
    out = []
    for lane, spk in zip(_lanes(doc), doc["speakers"], strict=True):
        for name, score in spk["scores"].items():
            rows = "".join(_component_row(k, c) for k, c in score["components"].items())
            out.append(f'<div class="card score" data-speaker="{_esc(spk["id"])}" data-score="{_esc(name)}" '
                       f'style="border-top:4px solid {lane.color}"><h3>{_esc(lane.label)}: {_esc(_name(name))} '
                       f'<span class="value">{_num(score["value"], 0)}</span></h3><table><tr><th>component</th>'
                       f"<th>value</th><th>evidence</th><th>rating</th><th>weight</th><th>points</th></tr>{rows}</table>"
                       f'<p class="why">{_esc(score_sentence(score))}</p></div>')
    return f'<div class="cards">{"".join(out)}</div>' if out else "<p>No scores: roles were not assessed.</p>"


def highlight(text: str, config: Config, names: Sequence[str] = ()) -> str:
    """A turn's text as HTML: questions underlined; empathy, apology, positive, negative, ownership, deflection,
    resolution-check and hold phrases marked, and the ``names`` the other parties gave (personalization)."""
    lexicons = {**{lex: getattr(config.cues, lex) for lex in CUE_LEXICONS}, "hold_ask": config.dynamics.hold_phrases,
                "personalization": names}
    out = []
    for sentence in SENTENCE_BREAK.split(text.strip()):
        raw = sentence.split()
        norm = [tokens(w) for w in raw]
        flat = [t for ts in norm for t in ts]
        owner = [i for i, ts in enumerate(norm) for _ in ts]  # flat token -> raw word
        marks = {owner[m.start]: (m.lexicon, owner[m.start + m.length - 1]) for m in find_phrases(flat, lexicons)}
        parts, i = [], 0
        while i < len(raw):
            if i in marks:
                lex, last = marks[i]
                parts.append(f'<mark class="cue {lex}" data-cue="{lex}">{_esc(" ".join(raw[i:last + 1]))}</mark>')
                i = last + 1
            else:
                parts.append(_esc(raw[i]))
                i += 1
        html_text = " ".join(parts)
        asked = flat and is_question(sentence, config.dynamics.question_words)
        out.append(f'<span class="cue question" data-cue="question">{html_text}</span>' if asked else html_text)
    return " ".join(out)


def transcript_html(doc: dict[str, Any], config: Config) -> str:
    """Turns with timestamps, roles and colors, cues marked; clicking a line seeks the recording."""
    lanes = {ln.speaker: ln for ln in _lanes(doc)}
    used = [b for b in doc.get("behaviours", []) if b["type"] == "personalization"]

    def names(turn: dict[str, Any]) -> list[str]:  # the names the scorer found this speaker using in the turn
        return sorted({t for b in used if b["speaker"] == turn["speaker"] and turn["start"] <= b["start"] <= turn["end"]
                       for t in tokens(b["text"])})

    return "".join(f'<div class="turn" data-start="{t["start"]}" data-speaker="{_esc(t["speaker"])}" '
                   f'style="--c:{lanes[t["speaker"]].color}"><span class="ts">{clock(t["start"])}</span>'
                   f'<span class="who">{_esc(lanes[t["speaker"]].label)}</span>'
                   f'<span class="text">{highlight(t["text"], config, names(t))}</span></div>'
                   for t in doc["turns"])


def _events_html(doc: dict[str, Any], lanes: dict[str, Lane]) -> str:
    label = {s: ln.label for s, ln in lanes.items()}
    rows = "".join(f'<tr class="event" data-type="{e["type"]}" data-start="{e["start"]}" data-end="{e["end"]}" '
                   f'data-by="{_esc(e["by"] or "")}" data-of="{_esc(e["of"] or "")}"><td>{clock(e["start"])}</td>'
                   f'<td>{_esc(_name(e["type"]))}</td><td>{_esc(label.get(e["by"], "-"))}</td>'
                   f'<td>{_esc(label.get(e["of"], "-"))}</td><td>{e["end"] - e["start"]:.1f} s</td></tr>'
                   for e in doc["events"] if e["type"] in MARKED_EVENTS)
    return (f'<table class="events"><tr><th>at</th><th>event</th><th>by</th><th>of</th><th>lasting</th></tr>'
            f"{rows}</table>")


def call_page(doc: dict[str, Any], config: Config, recording: str | None = None) -> str:
    """The report page of one call.json document; ``recording``: the audio file's path relative to the page
    (None: no player, lines do not seek)."""
    lanes = {ln.speaker: ln for ln in _lanes(doc)}
    m = doc["call_metrics"]
    facts = (f"{clock(doc['duration_s'])} · {doc['channels']} channel(s) · diarization {doc['diarization']['method']}"
             f" · speech {100 * m['speech_ratio']:.0f}% · dead air {m['dead_air_s']:.1f} s · "
             f"interruptions {_num(m['interruptions'])} · backchannels {_num(m['backchannels'])}"
             f" · reliability {_num(m.get('reliability'))}")
    player = (f'<audio id="recording" controls preload="none" src="{_esc(quote(recording))}"></audio>'
              if recording else "")  # a URL: "call #2.wav" is not a fragment
    body = (f"<h1>Call {_esc(doc['call_id'])}</h1><p class=\"facts\">{_esc(facts)}</p>{player}"
            f'<h2>Timeline</h2><div class="plot" id="timeline">{timeline_svg(doc)}</div>{_events_html(doc, lanes)}'
            f'<h2>Prosody</h2><div class="plot" id="prosody">{prosody_svg(doc)}</div>'
            f"<h2>Scores</h2>{score_cards(doc)}"
            '<h2>Transcript</h2><p class="legend">'
            + " ".join(f'<mark class="{c}">{_name(c)}</mark>' for c in CUE_LEGEND)
            + ' <span class="question">question</span></p>'
            f'<div id="transcript">{transcript_html(doc, config)}</div>')
    data = {"call_id": doc["call_id"], "duration_s": doc["duration_s"],
            "speakers": [{"id": s["id"], "role": s["role"]} for s in doc["speakers"]],
            "events": [e for e in doc["events"] if e["type"] in MARKED_EVENTS]}
    return _page(f"callscope: call {doc['call_id']}", body, data)


# ---------------------------------------------------------------- agent page


@dataclass(frozen=True)
class TrendPoint:
    """One day of an agent's calls: the mean of each score and key metric, and the calls behind it."""

    date: str
    calls: tuple[dict[str, Any], ...]
    means: dict[str, float | None]


def agent_points(speakers: Table, agent_id: str) -> list[TrendPoint]:
    """Per-day points of one agent from the speaker-level export rows (role ``agent``), in date order."""
    index = {c.name: i for i, c in enumerate(speakers.columns)}
    measures = [n for n in (*SCORES, *AGENT_METRICS) if n in index]
    days: dict[str, list[tuple]] = {}
    for row in speakers.rows:
        if row[index["role"]] == "agent" and row[index["agent_id"]] == agent_id:
            days.setdefault(row[index["date"]] or "undated", []).append(row)
    points = []
    for day in sorted(days):
        calls = tuple({"call_id": r[index["call_id"]], **{n: r[index[n]] for n in measures}} for r in days[day])
        means = {n: (float(np.mean(v)) if (v := [c[n] for c in calls if c[n] is not None]) else None)
                 for n in measures}
        points.append(TrendPoint(day, calls, means))
    return points


def trend_svg(points: Sequence[TrendPoint], agent_id: str) -> str:
    """The three scores and the key metrics per day (daily means, dots sized by the day's calls)."""
    fig = Figure(figsize=(12, 7))
    grid = fig.add_gridspec(3, 2)
    axes = [fig.add_subplot(grid[0, :])] + [fig.add_subplot(grid[1 + i // 2, i % 2]) for i in range(4)]
    x = np.arange(len(points))
    sizes = [12 + 8 * len(p.calls) for p in points]
    for name, color in SCORE_COLORS.items():
        ys = np.array([np.nan if p.means.get(name) is None else p.means[name] for p in points], float)
        axes[0].plot(x, ys, color=color, lw=1.5, label=_name(name))
        axes[0].scatter(x, ys, s=sizes, color=color, edgecolors="black", linewidths=0.6, zorder=3)
    axes[0].set_ylim(0, 105)
    axes[0].set_ylabel("score (daily mean)")
    axes[0].legend(frameon=False, ncols=3, loc="lower right")
    for ax, name in zip(axes[1:], TREND_METRICS, strict=True):
        ys = np.array([np.nan if p.means.get(name) is None else p.means[name] for p in points], float)
        ax.plot(x, ys, color=OKABE_ITO["blue"], marker="o", lw=1.2)
        ax.set_title(_name(name), fontsize=10)
    for ax in axes:
        ax.set_xticks(x, [p.date for p in points], rotation=30 if len(points) > 6 else 0, fontsize=8)
        ax.grid(alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return _svg(fig, f"{agent_id}-trend")


def agent_page(speakers: Table, agent_id: str, period: str) -> str:
    """One agent's page: trends of the three scores and key metrics per day over ``period`` (a label), with
    the calls behind each point."""
    points = agent_points(speakers, agent_id)
    n_calls = sum(len(p.calls) for p in points)
    cols = [*SCORES, *TREND_METRICS]
    head = "".join(f"<th>{_esc(_name(c))}</th>" for c in cols)
    rows = "".join(
        f'<tr class="point" data-date="{_esc(p.date)}" data-calls="{len(p.calls)}"><td><b>{_esc(p.date)}</b></td>'
        + "".join(f"<td><b>{_num(p.means.get(c))}</b></td>" for c in cols) + "</tr>"
        + "".join(f'<tr class="call" data-call="{_esc(c["call_id"])}" data-date="{_esc(p.date)}">'
                  f'<td>&nbsp;&nbsp;{_esc(c["call_id"])}</td>' + "".join(f"<td>{_num(c.get(n))}</td>" for n in cols)
                  + "</tr>" for c in p.calls)
        for p in points)
    body = (f"<h1>Agent {_esc(agent_id)}</h1><p class=\"facts\">{_esc(period)} · {n_calls} call(s) on "
            f"{len(points)} day(s)</p>"
            + (f'<h2>Trend</h2><div class="plot" id="trend">{trend_svg(points, agent_id)}</div>' if points else
               "<p>No calls of this agent in the period.</p>")
            + f'<h2>Calls behind each point</h2><table class="points"><tr><th>day / call</th>{head}</tr>{rows}</table>')
    data = {"agent_id": agent_id, "period": period,
            "points": [{"date": p.date, "means": p.means, "calls": [c["call_id"] for c in p.calls]} for p in points]}
    return _page(f"callscope: agent {agent_id}", body, data)


def write_page(text: str, out: str | Path) -> Path:
    """Write a page whole or not at all (``fsutil.atomic_file``)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as handle:
        handle.write(text)
    return out
