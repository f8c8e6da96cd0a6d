"""HTML reports: the call page and the agent page, rendered in headless Chromium (Debian's ``chromium``).

Screenshots land in tests/artifacts/ (git-ignored)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.image import imread

from pipeline.cli import main
from pipeline.config import Config
from pipeline.nightly import catalog
from pipeline.outputs import store
from pipeline.reporting import report
from scripts.bench_report import chromium, load, long_document, page_requests

from . import scripted_calls
from .conftest import SAMPLES

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CONSOLE = re.compile(r"CONSOLE|Uncaught|net::ERR")


@pytest.fixture(scope="module")
def browser():
    if shutil.which("chromium") is None:
        pytest.fail("the report tests need Debian's chromium package on PATH (.ci/run installs it)")


@pytest.fixture(scope="module")
def billing(analyzed):
    return store.call_document(analyzed(SAMPLES / "billing_stereo.flac"))


@pytest.fixture(scope="module")
def poor(analyzed, tmp_path_factory):
    """The scripted poor-agent stereo call: its document and the truth it was rendered from."""
    out = tmp_path_factory.mktemp("poor")
    path = scripted_calls.write("poor_stereo", out)
    return store.call_document(analyzed(path)), json.loads((out / "poor_stereo.truth.json").read_text())


def embedded(page: str, element_id: str = "callscope-data") -> dict:
    text = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', page, re.S).group(1)
    return json.loads(text)


def check_in_browser(page: Path, work: Path, name: str) -> str:
    """Load ``page`` in headless Chromium: the script ran, no console error, no request beyond the page, and a
    non-blank screenshot saved as a test artifact. Returns the rendered DOM."""
    work.mkdir(parents=True, exist_ok=True)
    ready_ms, _, stderr = load(page, work)
    assert not CONSOLE.findall(stderr), stderr
    assert [u for u in page_requests(work) if not u.startswith(("file:", "data:"))] == []
    dom = chromium(page, work, "--dump-dom").stdout
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    chromium(page, work, f"--screenshot={shot}")
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (2000, 1280)
    assert pixels.std() > 0.03 and (pixels.mean(axis=2) < 0.95).mean() > 0.01  # drawn on, not a blank page
    assert 0 < ready_ms < 5000
    return dom


def test_cues_highlighted_and_scores_explained():
    text = report.highlight("I am so sorry. I understand how frustrating that is. What happened? You need to wait.",
                            Config())
    assert re.findall(r'data-cue="(\w+)">([^<]*)', text) == [
        ("apology", "sorry."), ("empathy", "I understand how"), ("question", "What happened?"),
        ("negative", "You need to")]
    assert '<span class="cue question" data-cue="question">What happened?</span>' in text
    score = {"value": 60.0, "components": {
        "pace_wpm": {"value": 150.0, "rating": 1.0, "weight": 0.5, "contribution": 50.0},
        "sentiment": {"value": -0.2, "rating": 0.2, "weight": 0.5, "contribution": 10.0},
        "pace_vs_baseline": {"value": None, "rating": None, "weight": 0.0, "contribution": 0.0}}}
    assert report.score_sentence(score) == ("Carried most by pace wpm (+50.0); sentiment cost it the most "
                                            "(40.0 of 50.0 points).")
    assert report.score_sentence({"value": None, "components": {}}).startswith("Not scored")


def test_highlight_shares_the_question_detector_and_the_tokenizer():
    text = report.highlight("So how long will it take. I\u2019m sorry! Don\u2019t you have my account", Config())
    assert re.findall(r'data-cue="(\w+)">([^<]*)', text) == [
        ("question", "So how long will it take."), ("apology", "sorry!"),
        ("question", "Don\u2019t you have my account")]


def test_silent_call_page(billing):
    empty = billing | {"speakers": [], "segments": [], "turns": [], "words": [], "events": []}
    page = report.call_page(empty, Config())
    assert "No scores" in page and embedded(page)["events"] == []


def test_call_page_is_self_contained_and_renders(billing, browser, tmp_path):
    page = report.write_page(report.call_page(billing, Config()), tmp_path / "call.html")
    text = page.read_text()
    assert not re.search(r"https?://", text)
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=", text)  # no player: nothing else is fetched
    assert text.count('<div class="turn"') == len(billing["turns"])
    assert 'data-cue="question"' in text and 'data-cue="apology"' in text
    shown = [e for e in billing["events"] if e["type"] in report.MARKED_EVENTS]
    assert embedded(text)["events"] == shown
    dom = check_in_browser(page, tmp_path / "chromium", "call_page")
    assert len(re.findall(r'<tr class="event"', dom)) == len(shown)
    assert len(re.findall(r'data-score="', dom)) == 6  # three cards per party


def test_cli_call_page_plays_the_recording_beside_it(tmp_path, billing):
    call_dir = tmp_path / "billing_stereo"
    call_dir.mkdir()
    (call_dir / "call.json").write_text(json.dumps(billing))
    out = tmp_path / "pages" / "billing.html"
    result = CliRunner().invoke(main, ["report", str(call_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "<audio" not in out.read_text()
    shutil.copy(SAMPLES / "billing_stereo.flac", out.parent)
    CliRunner().invoke(main, ["report", str(call_dir), "--out", str(out)])
    assert '<audio id="recording" controls preload="none" src="billing_stereo.flac">' in out.read_text()
    assert CliRunner().invoke(main, ["report", "--out", str(out)]).exit_code == 2


def test_hostile_text_stays_inside_the_page_s_data_and_a_recording_name_is_a_url(billing):
    """It was: only ``</`` was escaped, so ``<!--<script>`` in the data made the parser swallow the rest of
    the page; and ``call #2.wav`` was written as is, a link to ``call `` with a fragment."""
    hostile = "<!--<script>&amp;</script>-->"
    speaker = billing["speakers"][0]["id"]
    doc = json.loads(json.dumps(billing).replace(f'"{speaker}"', f'"{speaker}{hostile}"'))  # everywhere it is named
    page = report.call_page(doc, Config(), recording="calls/call #2.wav")
    block = re.search(r'<script type="application/json" id="callscope-data">(.*?)</script>', page, re.S).group(1)
    assert not re.search("[<>&]", block)
    assert embedded(page)["speakers"][0]["id"] == speaker + hostile
    assert page.count("<script") == 2 and page.rstrip().endswith("</html>")
    assert 'src="calls/call%20%232.wav"' in page


def test_every_scripted_interruption_shown_at_its_time(poor, browser, tmp_path):
    doc, truth = poor
    utts = truth["utterances"]
    scripted = [u for u in utts if any(v["speaker"] != u["speaker"] and v["start"] < u["start"] < v["end"] - 1.0
                                       for v in utts)]
    assert len(scripted) == 2  # the poor agent cuts the customer off twice
    agent = next(s["id"] for s in doc["speakers"] if s["role"] == "agent")
    page = report.write_page(report.call_page(doc, Config()), tmp_path / "poor.html")
    dom = check_in_browser(page, tmp_path / "chromium", "poor_call_page")
    shown = [(m.group(1), float(m.group(2)), m.group(3)) for m in re.finditer(
        r'data-type="(\w+)" data-start="([\d.]+)" data-end="[\d.]+" data-by="(\w*)"', dom)]
    for u in scripted:
        assert any(t == "interruption" and by == agent and abs(start - u["speech"][0][0]) < 0.5
                   for t, start, by in shown), (u, shown)
    data = embedded(page.read_text())
    assert all(any(e["type"] == "interruption" and abs(e["start"] - u["speech"][0][0]) < 0.5 for e in data["events"])
               for u in scripted)


def test_agent_page_trends_with_the_calls_behind_each_point(billing, poor, browser, tmp_path):
    db = tmp_path / "db"
    days = [("c1", "A01", "2026-03-02", billing), ("c2", "A01", "2026-03-02", poor[0]),
            ("c3", "A01", "2026-03-03", billing), ("c4", "A02", "2026-03-03", poor[0]),
            ("c5", "A01", "2026-04-01", billing)]
    for call_id, agent, day, doc in days:
        (db / call_id).mkdir(parents=True)
        meta = {"agent_id": agent, "started_at": f"{day}T10:00:00+00:00"}
        (db / call_id / "call.json").write_text(json.dumps(doc | {"call_id": call_id, "metadata": meta}))
    catalog.rebuild(db)
    out = tmp_path / "agent.html"
    result = CliRunner().invoke(main, ["report", "--agent", "A01", "--db", str(db), "--from", "2026-03-01",
                                       "--to", "2026-03-31", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = embedded(out.read_text())
    assert [(p["date"], p["calls"]) for p in data["points"]] == [("2026-03-02", ["c1", "c2"]), ("2026-03-03", ["c3"])]
    tone = [next(s for s in d["speakers"] if s["role"] == "agent")["scores"]["tone"]["value"]
            for d in (billing, poor[0])]
    assert data["points"][0]["means"]["tone"] == pytest.approx(np.mean(tone))
    assert not re.search(r"https?://", out.read_text())
    dom = check_in_browser(out, tmp_path / "chromium", "agent_page")
    assert re.findall(r'<tr class="call" data-call="(\w+)"', dom) == ["c1", "c2", "c3"]


def test_sixty_minute_call_page_is_light_and_quick(billing, browser, tmp_path):
    doc = long_document(billing, 60)
    assert doc["turns"][-1]["end"] <= 3600 and len(doc["turns"]) > 60 * len(billing["turns"])
    page = report.write_page(report.call_page(doc, Config()), tmp_path / "long.html")
    assert page.stat().st_size < 3e6
    dom = check_in_browser(page, tmp_path / "chromium", "call_page_60min")  # load event under 5 s inside
    assert dom.count('<div class="turn"') == len(doc["turns"])
