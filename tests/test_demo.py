"""The README's first command: ``scripts/demo.sh`` runs the main job on the bundled samples (the nightly run
with ``sample_audio/calls.csv``, the agent export, a call page and an agent page) and says where each result is."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

from .conftest import ROOT


def test_the_demo_writes_the_catalog_an_agent_csv_and_two_pages(tmp_path):
    shim = tmp_path / "bin" / "callscope"  # the console script of this checkout, in this environment
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\ncd "{ROOT}" && exec "{sys.executable}" -m pipeline.cli "$@"\n')
    shim.chmod(0o755)
    out = tmp_path / "out"
    env = {**os.environ, "CALLSCOPE_NO_SETUP": "1", "PATH": f"{shim.parent}:{os.environ['PATH']}"}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh"), str(out)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    reports = out / "reports"
    where = proc.stdout[proc.stdout.index("callscope demo: where the results are"):].splitlines()[1:]
    assert [next(word for word in line.split() if "/" in word) for line in where] == [
        str(out / "_catalog.duckdb"), str(reports / "agents.csv"), str(reports / "call_billing_stereo.html"),
        str(reports / "agent_A-1001.html")]
    assert (out / "_catalog.duckdb").is_file()
    assert sorted(p.name for p in out.iterdir() if (p / "call.json").is_file()) == [
        "billing_8k_mulaw", "billing_stereo", "delivery_mono"]
    with (reports / "agents.csv").open(newline="", encoding="utf-8") as handle:
        agents = {row["agent_id"]: row for row in csv.DictReader(handle)}
    assert {agent: row["calls"] for agent, row in agents.items()} == {"A-1001": "2", "A-1002": "1"}
    assert all(float(row["tone_mean"]) > 0 for row in agents.values())
    assert "<h1>Call billing_stereo</h1>" in (reports / "call_billing_stereo.html").read_text(encoding="utf-8")
    assert "<h1>Agent A-1001</h1>" in (reports / "agent_A-1001.html").read_text(encoding="utf-8")
