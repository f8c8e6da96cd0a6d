"""Benchmark the call report page on a 60-minute call: page size and load time in headless Chromium.

The 60-minute call.json is built from a real analysis (the stereo sample) repeated and time-shifted,
so no hour of ASR is needed. Writes a marked section of docs/benchmarks.md.

    python scripts/bench_report.py [--minutes 60] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BLINK_RESOURCE = "101845102"  # traffic annotation of the page's own resource requests in a Chromium net log


def long_document(doc: dict[str, Any], minutes: float) -> dict[str, Any]:
    """``doc`` repeated back to back (segments, turns, words, events shifted) up to ``minutes`` long."""
    period, target = doc["duration_s"], minutes * 60.0
    out = copy.deepcopy(doc) | {"segments": [], "turns": [], "words": [], "events": []}
    for k in range(int(target // period) + 1):
        shift = k * period
        for key in ("segments", "turns", "words", "events"):
            out[key] += [item | {"start": round(item["start"] + shift, 3), "end": round(item["end"] + shift, 3)}
                         for item in doc[key] if item["end"] + shift <= target]
    out["duration_s"] = target
    return out


def chromium(page: Path, work: Path, *extra: str) -> subprocess.CompletedProcess:
    """Headless Chromium on ``page`` with name resolution off and a net log in ``work/net.json``."""
    exe = shutil.which("chromium")
    if exe is None:
        raise RuntimeError("no chromium on PATH: install Debian's chromium package (.ci/run does)")
    flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={work / 'profile'}",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
             f"--log-net-log={work / 'net.json'}", "--hide-scrollbars", "--window-size=1280,2000"]
    return subprocess.run([*flags, *extra, page.resolve().as_uri()], capture_output=True, text=True, timeout=120,
                          check=True)


def page_requests(work: Path) -> list[str]:
    """URLs the page itself asked for (not the browser's own services), from the net log."""
    log = json.loads((work / "net.json").read_text())
    return sorted({e["params"]["url"] for e in log["events"]
                   if str(e.get("params", {}).get("traffic_annotation")) == BLINK_RESOURCE and "url" in e["params"]})


def load(page: Path, work: Path) -> tuple[float, float, str]:
    """(load event in ms as the page reports it, Chromium wall seconds, stderr) of one --dump-dom run."""
    t0 = time.perf_counter()
    proc = chromium(page, work, "--dump-dom")
    wall = time.perf_counter() - t0
    ready = re.search(r'data-ready="(\d+)"', proc.stdout)
    if ready is None:
        raise RuntimeError(f"{page}: the page script never ran")
    return float(ready.group(1)), wall, proc.stderr


def main() -> None:
    from pipeline.config import Config
    from pipeline.outputs import store
    from pipeline.reporting import report
    from pipeline.runner import analyze_call
    from scripts.bench import write_report

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = ap.parse_args()
    config = Config()
    base = store.call_document(analyze_call(ROOT / "sample_audio" / "billing_stereo.flac", config))
    doc = long_document(base, args.minutes)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        page = report.write_page(report.call_page(doc, config), work / "call.html")
        render_s = time.perf_counter() - t0
        runs = [load(page, work) for _ in range(3)]
        requests = page_requests(work)
        size_mb = page.stat().st_size / 1e6
    load_ms = sorted(r[0] for r in runs)[1]
    wall_s = sorted(r[1] for r in runs)[1]
    header = (f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, 2 cores, "
              f"{subprocess.run(['chromium', '--version'], capture_output=True, text=True).stdout.strip()}; "
              f"call.json of billing_stereo repeated to {args.minutes:.0f} min ({len(doc['turns'])} turns, "
              f"{len(doc['words'])} words, {len(doc['events'])} events); median of 3 loads. Budget: under 3 MB, "
              "load under 5 s.")
    table = ("| call | page size | render (Python) | load event (page's performance.now) "
             "| chromium wall, start to exit | page requests |\n| --- | --- | --- | --- | --- | --- |\n"
             f"| {args.minutes:.0f} min | {size_mb:.2f} MB | {render_s:.1f} s | {load_ms / 1000:.2f} s "
             f"| {wall_s:.1f} s | {len(requests)} |")
    write_report(args.out, header, table, key="report", title="call report page (`scripts/bench_report.py`)")


if __name__ == "__main__":
    main()
