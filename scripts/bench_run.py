"""Benchmark the nightly run: first run vs unchanged rerun, and throughput by ``--workers``.

Builds an archive with ``scripts/make_archive.py`` (good calls plus three broken ones), then times
``callscope run`` end to end in fresh processes (start-up, model loading and the catalog included):
a first run and a second run over the unchanged archive into the same DIR, for each workers setting.
Writes a table to docs/benchmarks.md.

    python scripts/bench_run.py [--calls 20] [--seconds 6] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench import _cores, write_report  # noqa: E402
from scripts.make_archive import make_archive  # noqa: E402


def timed_run(archive: Path, out: Path, workers: int) -> tuple[float, dict]:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(archive), "--out", str(out),
                    "--workers", str(workers)], cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    summary = max((out / "_runs").glob("*.json"), key=lambda p: p.stat().st_mtime)
    return seconds, json.loads(summary.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    lines = ["| workers x threads | calls analyzed / failed | audio | first run | audio h / h | "
             "second run (unchanged) | second / first |", "| --- | --- | --- | --- | --- | --- | --- |"]
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "archive"
        make_archive(archive, args.calls, args.seconds)
        time.sleep(2.5)  # past archive.settle_s: no run waits on fresh files
        for workers in args.workers:
            out = Path(tmp) / f"out{workers}"
            loads.append(os.getloadavg()[0])
            first_s, first = timed_run(archive, out, workers)
            second_s, second = timed_run(archive, out, workers)
            assert second["analyzed"] == 0, second
            hours = first["audio_s"] / 3600
            lines.append(f"| {workers} x {first['threads_per_worker']} | {first['analyzed']} / {first['failed']} | "
                         f"{first['audio_s']:.0f} s | {first_s:.1f} s | {hours / (first_s / 3600):.1f} | "
                         f"{second_s:.2f} s | {second_s / first_s:.3f} |")
            print(lines[-1], flush=True)
    header = (f"Measured {time.strftime('%Y-%m-%d')} on {_cores()} cores (shared: 1-min load average "
              f"{', '.join(f'{x:.1f}' for x in loads)} at the start of each pair), bundled tiny.en int8, default "
              f"config; archive of {args.calls} stereo calls of {args.seconds:.0f} s ({args.calls - 3} good, "
              "3 broken) from `scripts/make_archive.py`; `callscope run` timed end to end in a fresh process "
              "(start-up, worker spawn, model loading, catalog), the second run over the unchanged archive.")
    write_report(args.out, header, "\n".join(lines), key="run", title="nightly run (`scripts/bench_run.py`)")


if __name__ == "__main__":
    main()
