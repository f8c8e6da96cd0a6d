"""The nightly run end to end with the real models, on a generated archive of 17 good and 3 broken calls."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import duckdb
import numpy as np
import pandas as pd
import pytest

from scripts.make_archive import make_archive

from .test_cli import callscope

LEVELS = ("call", "speaker", "agent")


def call_dirs(out):
    return sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))) \
        if out.exists() else []


def export_all(db, dest):
    """Every level as CSV and Parquet; returns {file name: bytes}."""
    dest.mkdir(parents=True, exist_ok=True)
    files = {}
    for level in LEVELS:
        for fmt in ("csv", "parquet"):
            target = dest / f"{level}.{fmt}"
            proc = callscope("export", "--db", db, "--level", level, "--format", fmt, "--out", target)
            assert proc.returncode == 0, proc.stderr
            files[target.name] = target.read_bytes()
    return files


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("nightly") / "archive"
    expected = make_archive(root, calls=20, seconds=6.0)
    return root, expected


@pytest.fixture(scope="module")
def first_run(archive, tmp_path_factory):
    """An uninterrupted run, then a second run over the unchanged archive."""
    root, _ = archive
    out = tmp_path_factory.mktemp("nightly") / "out"
    runs = []
    for _ in range(2):
        t0 = time.perf_counter()
        proc = callscope("run", root, "--out", out)
        runs.append((proc, time.perf_counter() - t0))
    return out, runs


def summaries(out):
    return sorted((json.loads(p.read_text()) for p in (out / "_runs").glob("*.json")), key=lambda r: r["run_id"])


def test_first_run_records_failures_and_second_run_skips_everything(first_run, archive):
    out, ((first, _), (second, _)) = first_run
    _, expected = archive
    assert first.returncode == 1, first.stderr
    assert "17 analyzed, 0 unchanged, 3 failed" in first.stdout
    assert call_dirs(out) == expected["good"]
    one, two = summaries(out)
    assert one["status"] == "done" and (one["found"], one["analyzed"], one["failed"]) == (20, 17, 3)
    assert sorted(e["call_id"] for e in one["errors"]) == expected["broken"]
    assert {e["stage"] for e in one["errors"]} == {"decode"}
    assert all(e["cause"] and "\n" not in e["cause"] for e in one["errors"])
    assert any("hidden" in x for x in one["left"]) and any("partial" in x for x in one["left"])
    # the second run analyzes nothing: unchanged calls skipped, known failures not retried
    assert second.returncode == 1
    assert (two["analyzed"], two["skipped"], two["failed"]) == (0, 17, 3)
    with duckdb.connect(str(out / "_catalog.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT call_id) FROM calls").fetchone() == (17, 17)
        assert con.execute("SELECT count(*) FROM errors WHERE run_id = ?", [one["run_id"]]).fetchone() == (3,)
        roles = con.execute("SELECT DISTINCT role, channel FROM speakers ORDER BY channel").fetchall()
    assert roles == [("agent", 0), ("customer", 1)]
    doc = json.loads((out / "call_001" / "call.json").read_text())
    assert doc["metadata"]["agent_id"] == "A02" and doc["fingerprint"] == one["fingerprint"]
    # a known failure is listed with the cause first recorded, marked unchanged once however many runs repeat it
    third = callscope("run", archive[0], "--out", out)
    causes = {e["file"]: e["cause"] for e in one["errors"]}
    assert third.returncode == 1
    assert {e["file"]: e["cause"] for e in summaries(out)[-1]["errors"]} == {f: f"{c} (unchanged)"
                                                                            for f, c in causes.items()}


def test_killed_run_resumes_to_identical_exports_and_a_second_run_is_locked_out(first_run, archive, tmp_path):
    root, expected = archive
    reference = export_all(first_run[0], tmp_path / "reference")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", str(root), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300

    def wait_for(condition):
        while not condition():
            assert time.time() < deadline and proc.poll() is None
            time.sleep(0.1)

    try:
        wait_for(lambda: (out / "_runs").is_dir() and any((out / "_runs").glob("*.json")))  # holds the lock
        rival = callscope("run", root, "--out", out)
        assert rival.returncode == 2
        assert "in use by another callscope run" in rival.stderr and "Traceback" not in rival.stderr
        wait_for(lambda: len(call_dirs(out)) >= 6)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    landed = call_dirs(out)
    assert 6 <= len(landed) < len(expected["good"])
    time.sleep(3)
    assert call_dirs(out) == landed  # the worker died with the run: nothing lands afterwards
    resumed = callscope("run", root, "--out", out)
    assert resumed.returncode == 1, resumed.stderr
    last = summaries(out)[-1]
    assert last["analyzed"] == len(expected["good"]) - len(landed)
    assert summaries(out)[0]["status"] == "interrupted"
    assert call_dirs(out) == expected["good"]
    assert not [p for p in out.iterdir() if p.name.endswith((".callscope-tmp", ".callscope-old"))]
    assert export_all(out, tmp_path / "resumed") == reference


def test_catalog_rebuild_formula_safety_and_redaction(first_run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(first_run[0], out)
    before = export_all(out, tmp_path / "before")
    proc = callscope("catalog", "rebuild", "--db", out)
    assert proc.returncode == 0, proc.stderr
    assert export_all(out, tmp_path / "after") == before
    # a transcript that starts like a formula and carries a card and a phone number
    path = out / "call_000" / "call.json"
    doc = json.loads(path.read_text())
    doc["turns"][0]["text"] = '=HYPERLINK("http://evil") card 4111 1111 1111 1111, call me on 555-123-4567 at 3'
    path.write_text(json.dumps(doc))
    assert callscope("catalog", "rebuild", "--db", out).returncode == 0
    report = tmp_path / "calls.csv"
    proc = callscope("export", "--db", out, "--level", "call", "--out", report, "--redact")
    assert proc.returncode == 0, proc.stderr
    with report.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    excerpt = next(r for r in rows if r["call_id"] == "call_000")["excerpt"]
    assert excerpt.startswith("'=HYPERLINK")  # text, not a formula
    assert "#### #### #### ####" in excerpt and "###-###-####" in excerpt and "at 3" in excerpt
    assert all(r["bleed_db"].startswith("-") for r in rows)  # negative numbers stay numbers
    frame = pd.read_csv(report)
    assert len(frame) == 17 and frame["bleed_db"].dtype == float and frame["speech_ratio"].between(0, 1).all()
    dictionary = (tmp_path / "calls.csv.dictionary.md").read_text()
    assert "| dead_air_ratio | number | 0-1 |" in dictionary and "dynamics.dead_air_s = 2.0" in dictionary
    assert "redacted: True" in dictionary and "settings in force" in dictionary


def test_agent_level_is_the_aggregation_of_speaker_rows(first_run, tmp_path):
    files = export_all(first_run[0], tmp_path)
    assert files
    speakers = pd.read_csv(tmp_path / "speaker.csv")
    agents = pd.read_csv(tmp_path / "agent.csv").set_index("agent_id")
    rows = speakers[speakers["role"] == "agent"]
    assert sorted(agents.index) == ["A01", "A02", "A03"]
    for agent_id, group in rows.groupby("agent_id"):
        got = agents.loc[agent_id]
        assert got["calls"] == group["call_id"].nunique()
        assert got["hours"] == pytest.approx(group.drop_duplicates("call_id")["call_duration_s"].sum() / 3600,
                                             abs=1e-4)
        for m in ("talk_ratio", "words_per_minute", "pitch_median_hz", "response_latency_median_s"):
            values = group[m].dropna()
            for stat, want in (("mean", values.mean()), ("p10", values.quantile(0.1)),
                               ("p90", values.quantile(0.9))):
                assert got[f"{m}_{stat}"] == pytest.approx(want, abs=1e-4), (agent_id, m, stat)
    parquet = pd.read_parquet(tmp_path / "agent.parquet").set_index("agent_id")
    assert np.allclose(parquet["talk_ratio_mean"], agents["talk_ratio_mean"], atol=1e-4)


def test_changed_settings_or_metadata_reprocess_a_call(archive, tmp_path):
    root, _ = archive
    small = tmp_path / "archive"
    small.mkdir()
    src = next(root.glob("2026/11/21/call_001.wav"))
    shutil.copy(src, small / src.name)
    sidecar = small / (src.name + ".json")
    shutil.copy(src.with_name(src.name + ".json"), sidecar)
    out = tmp_path / "out"
    config = tmp_path / "night.yaml"
    config.write_text("dynamics:\n  dead_air_s: 3.0\narchive:\n  settle_s: 0.1\n")
    steps = [((), 1), ((), 0), (("--config", config), 1)]
    for extra, analyzed in steps:
        proc = callscope("run", small, "--out", out, *extra)
        assert proc.returncode == 0, proc.stderr
        assert f"{analyzed} analyzed" in proc.stdout
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "agent_id": "A09"}))
    proc = callscope("run", small, "--out", out, "--config", config)
    assert "1 analyzed" in proc.stdout
    assert json.loads((out / "call_001" / "call.json").read_text())["metadata"]["agent_id"] == "A09"


def test_the_results_do_not_depend_on_workers_or_threads(tmp_path):
    """A real call (HarperValleyBank ``a7ccc3379af44b9f`` as stereo and mono, the bank's name as hotwords from
    calls.csv) run by one worker of two threads and by two workers of one thread each: the same words,
    speakers, roles, events and scores. Before numpy's BLAS was capped inside a call, the thread count
    changed the Whisper features in their last bits, and the agent's greeting came out or not."""
    from scripts.eval_calls import CALLS, build_versions

    archive = tmp_path / "archive"
    archive.mkdir()
    paths = build_versions(CALLS, "a7ccc3379af44b9f", archive)
    (paths.pop("mulaw")).unlink()
    with open(archive / "calls.csv", "w", newline="") as handle:
        rows = csv.writer(handle)
        rows.writerow(["file", "hotwords"])
        rows.writerows([path.name, "Harper Valley National Bank"] for path in paths.values())
    past = time.time() - 3600
    for path in paths.values():
        os.utime(path, (past, past))
    results = []
    for workers, threads in ((1, 2), (2, 1)):
        out = tmp_path / f"out-{workers}x{threads}"
        proc = callscope("run", archive, "--out", out, "--workers", workers, "--threads", threads)
        assert proc.returncode == 0, proc.stderr
        docs = {path.stem: json.loads((out / path.stem / "call.json").read_text()) for path in paths.values()}
        results.append({call: {k: v for k, v in doc.items() if k != "timings_s"} for call, doc in docs.items()})
    assert results[0] == results[1]
    greeting = " ".join(w["text"] for w in results[0]["a7ccc3379af44b9f_stereo"]["words"][:7])
    assert greeting.replace(",", "").lower() == "hello this is harper valley national bank."
