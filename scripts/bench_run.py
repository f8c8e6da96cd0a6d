"""Benchmark the nightly run: first run vs unchanged rerun, throughput by ``--workers``, and the engines.

Builds an archive with ``scripts/make_archive.py`` (good calls plus three broken ones), then times
``callscope run`` end to end in fresh processes (start-up, model loading and the catalog included):
a first run and a second run over the unchanged archive into the same DIR, for each workers setting.
Then the same (longer) archive on the local engine and on a Ray cluster of this machine's cores (a head
and a second node started beforehand, as a nightly job finds its cluster, in a loopback-only network
namespace: ``tests/ray_cluster.py``), with the same workers x threads. And the skip check of a second night
over ``--skip-calls`` unchanged calls, with and without its hash cache. Writes tables to docs/benchmarks.md.

    python scripts/bench_run.py [--calls 20] [--seconds 6] [--workers 1 2] [--engine-calls 20]
                                [--engine-seconds 40] [--skip-workers] [--skip-engines] [--skip-calls 1000]
                                [--only-skip-check]
    python scripts/bench_run.py --night [--night-calls 20] [--before DIR --before-label COMMIT]
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


def timed_run(archive: Path, out: Path, *options: str, prefix: tuple[str, ...] = (),
              env: dict[str, str] | None = None, repo: Path = ROOT) -> tuple[float, dict]:
    t0 = time.perf_counter()
    subprocess.run([*prefix, sys.executable, "-m", "pipeline.cli", "run", str(archive), "--out", str(out), *options],
                   cwd=repo, capture_output=True, text=True, check=False, env=env)
    seconds = time.perf_counter() - t0
    summary = max((out / "_runs").glob("*.json"), key=lambda p: p.stat().st_mtime)
    return seconds, json.loads(summary.read_text())


def settled_archive(tmp: Path, calls: int, seconds: float) -> Path:
    """``tmp/archive`` from ``make_archive``, once past ``archive.settle_s``: no run waits on fresh files."""
    make_archive(tmp / "archive", calls, seconds)
    time.sleep(2.5)
    return tmp / "archive"


def bench_workers(args: argparse.Namespace) -> None:
    lines = ["| workers x threads | calls analyzed / failed | audio | first run | audio h / h | "
             "second run (unchanged) | second / first |", "| --- | --- | --- | --- | --- | --- | --- |"]
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        archive = settled_archive(Path(tmp), args.calls, args.seconds)
        for workers in args.workers:
            out = Path(tmp) / f"out{workers}"
            loads.append(os.getloadavg()[0])
            first_s, first = timed_run(archive, out, "--workers", str(workers))
            second_s, second = timed_run(archive, out, "--workers", str(workers))
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


def night_archive(root: Path, calls: int) -> float:
    """``calls`` real-length calls (3 to 6 minutes) made of the HarperValleyBank telephone calls played one after
    the other, every other one stereo (agent left, caller right) and the rest mono (the sum), 8 kHz PCM; returns
    the seconds of audio."""
    import numpy as np
    import soundfile as sf

    from scripts.eval_calls import CALLS, ROLES

    sids = sorted(p.stem for p in (CALLS / "audio" / "agent").glob("*.wav"))
    parties = []
    for sid in sids:
        pair = [sf.read(CALLS / "audio" / role / f"{sid}.wav", dtype="float64")[0] for role in ROLES]
        n = max(len(x) for x in pair)
        parties.append(np.stack([np.pad(x, (0, n - len(x))) for x in pair], axis=1))
    root.mkdir(parents=True)
    total = 0.0
    for i in range(calls):
        target, pieces, k = (3 + i % 4) * 60 * 8000, [], i
        while sum(len(x) for x in pieces) < target:
            pieces.append(parties[k % len(parties)])
            k += 1
        both = np.concatenate(pieces)[:target]
        audio = both if i % 2 == 0 else np.clip(both.sum(axis=1), -1.0, 32767 / 32768)
        sf.write(root / f"night_{i:02d}_{'stereo' if i % 2 == 0 else 'mono'}.wav", audio, 8000, subtype="PCM_16")
        total += target / 8000
    past = time.time() - 3600
    for path in root.iterdir():
        os.utime(path, (past, past))
    return total


def bench_night(args: argparse.Namespace) -> None:
    """A night's throughput on real-length calls: each ``--night-workers`` setting (WxT) for this checkout and, with
    ``--before DIR``, the first setting for another checkout (run in the same venv)."""
    settings = [tuple(int(v) for v in setting.split("x")) for setting in args.night_workers]
    runs = [("before", args.before, settings[0])] if args.before else []
    runs += [("after", ROOT, setting) for setting in settings]
    lines = ["| code | workers x threads | calls analyzed / failed | audio | wall time | audio h / h | "
             "peak RSS of the run's processes |", "| --- | --- | --- | --- | --- | --- | --- |"]
    with tempfile.TemporaryDirectory() as tmp:
        audio_s = night_archive(Path(tmp) / "archive", args.night_calls)
        for label, repo, (workers, threads) in runs:
            out = Path(tmp) / f"out-{label}-{workers}x{threads}"
            wall, summary = timed_run(Path(tmp) / "archive", out, "--workers", str(workers), "--threads",
                                      str(threads), prefix=("/usr/bin/time", "-f", "%M", "-o",
                                                            str(out) + ".rss"),
                                      env={**os.environ, "PYTHONPATH": str(repo)}, repo=repo)
            rss = int(Path(str(out) + ".rss").read_text().split()[-1]) / 1024
            lines.append(f"| {label} | {workers} x {threads} | {summary['analyzed']} / {summary['failed']} | "
                         f"{audio_s / 60:.0f} min | {wall:.0f} s | {audio_s / wall:.1f} | {rss:.0f} MB |")
            print(lines[-1], flush=True)
    header = (f"Measured {time.strftime('%Y-%m-%d')} on {_cores()} cores, nothing else running, bundled tiny.en int8, "
              f"default config; archive of {args.night_calls} calls of 3 to 6 minutes made of the four "
              "HarperValleyBank telephone calls played one after the other, half stereo and half mono, 8 kHz; "
              "`callscope run` timed end to end in a fresh process (start-up, worker spawn, model loading, catalog). "
              "Before: " + (f"`{args.before_label}`" if args.before else "-") + "; after: this checkout. Peak RSS: "
              "the largest process of the run (`/usr/bin/time`: the parent, or a worker where it is larger).")
    write_report(args.out, header, "\n".join(lines), key="night", title="a night on real-length calls "
                 "(`scripts/bench_run.py --night`)")


def bench_engines(args: argparse.Namespace) -> None:
    """Local and Ray, same archive, 2 workers x 1 thread each (the Ray cluster: two nodes of 1 CPU)."""
    from tests import ray_cluster

    lines = ["| engine | workers x threads | calls analyzed / failed | audio | wall time | audio h / h | "
             "throughput / local's | engine time per call |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        archive = settled_archive(Path(tmp), args.engine_calls, args.engine_seconds)
        cluster = ray_cluster.start_cluster()
        try:
            loads.append(os.getloadavg()[0])
            local_s, local = timed_run(archive, Path(tmp) / "local", "--workers", "2", "--threads", "1")
            loads.append(os.getloadavg()[0])
            ray_s, ray = timed_run(archive, Path(tmp) / "ray", "--engine", "ray", "--ray-address", cluster.address,
                                   prefix=tuple(cluster.command()), env=cluster.env)
        finally:
            cluster.stop()
    for name, wall, summary in (("local", local_s, local), ("ray", ray_s, ray)):
        assert summary["analyzed"] == args.engine_calls - 3, summary
        rate = summary["audio_s"] / wall
        extra = (wall - local_s) / summary["analyzed"] * 1000
        lines.append(f"| {name} | {summary['workers']} x {summary['threads_per_worker']} | {summary['analyzed']} / "
                     f"{summary['failed']} | {summary['audio_s']:.0f} s | {wall:.1f} s | {rate:.1f} | "
                     f"{rate / (local['audio_s'] / local_s):.3f} | {'—' if name == 'local' else f'{extra:+.0f} ms'} |")
        print(lines[-1], flush=True)
    header = (f"Measured {time.strftime('%Y-%m-%d')} on {_cores()} cores (1-min load average "
              f"{', '.join(f'{x:.1f}' for x in loads)} at the start of each run), bundled tiny.en int8, default "
              f"config; archive of {args.engine_calls} stereo calls of {args.engine_seconds:.0f} s "
              f"({args.engine_calls - 3} good, 3 broken) from `scripts/make_archive.py`. `callscope run` timed end "
              "to end in a fresh process (start-up, worker or actor start, model loading, catalog): `--workers 2 "
              "--threads 1` locally; `--engine ray` on a cluster of this machine started beforehand (a head and a "
              "second node, 1 CPU each, `tests/ray_cluster.py`), so 2 actors x 1 thread. Engine time per call: "
              "(Ray's wall time - local's) / calls analyzed, Ray's connection and actor start included.")
    write_report(args.out, header, "\n".join(lines), key="engines",
                 title="engines: local and Ray (`scripts/bench_run.py`)")


class _Landing:
    """An engine that lands each call as the least call.json the catalog takes: the skip check's first night."""

    workers, threads = 1, 1

    def outcomes(self, calls, config, out_dir, fingerprint):
        from pipeline.audio.decode import file_sha256
        from pipeline.nightly.archive import metadata_sha256
        from pipeline.nightly.engine import CallOutcome

        for call in calls:
            (out_dir / call.call_id).mkdir(parents=True)
            (out_dir / call.call_id / "call.json").write_text(json.dumps({
                "call_id": call.call_id, "source": str(call.path), "sha256": file_sha256(call.path),
                "fingerprint": fingerprint, "metadata_sha256": metadata_sha256(call), "metadata": {}, "turns": [],
                "call_metrics": {}, "speakers": [], "events": [], "duration_s": 30.0, "sample_rate": 16000,
                "channels": 1, "codec": "pcm_s16le", "asr": {"model": "-", "language": "en"},
                "diarization": {"method": "-", "num_speakers": 0}}))
            yield CallOutcome(call.call_id, str(call.path), "analyzed", 30.0, 0.0)

    def close(self) -> None:
        pass


def bench_skip(args: argparse.Namespace) -> None:
    """A second night over ``args.skip_calls`` unchanged 30-second calls, with and without the hash cache."""
    import duckdb
    import numpy as np
    import soundfile as sf

    from pipeline.config import Config, with_overrides
    from pipeline.nightly.batch import run_archive

    rows = ["| second run over unchanged calls | wall time | files read |", "| --- | --- | --- |"]
    with tempfile.TemporaryDirectory() as tmp:
        archive, out = Path(tmp) / "archive", Path(tmp) / "out"
        noise = (np.random.default_rng(0).standard_normal(30 * 16000) * 0.1).astype(np.float32)
        for i in range(args.skip_calls):
            folder = archive / f"{i // 100:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            sf.write(folder / f"call_{i:04d}.wav", np.roll(noise, i), 16000, subtype="PCM_16")
        time.sleep(2.5)
        mb = sum(p.stat().st_size for p in archive.rglob("*.wav")) / 1e6
        run_archive(archive, out, with_overrides(Config(), "archive", settle_s=0.0), engine=_Landing())
        timings = {}
        for name in ("hashes read again (before)", "hash cache (after)"):
            if name.startswith("hashes"):
                with duckdb.connect(str(out / "_catalog.duckdb")) as con:
                    con.execute("DELETE FROM file_hashes")
            seconds, summary = timed_run(archive, out)
            assert summary["skipped"] == args.skip_calls, summary
            timings[name] = seconds
            rows.append(f"| {name} | {seconds:.2f} s | {mb if name.startswith('hashes') else 0:.0f} MB |")
            print(rows[-1], flush=True)
    header = (f"Measured {time.strftime('%Y-%m-%d')} on {_cores()} cores: an archive of {args.skip_calls} unchanged "
              f"30-second 16 kHz WAV calls ({mb:.0f} MB, in the page cache: a network share reads slower), "
              "catalogued by a first night; `callscope run` timed end to end in a fresh process (start-up, scan, "
              "skip check, catalog). Before: every recording read whole to hash it; after: hashed again only "
              "when its size, modification time, change time or inode changed.")
    write_report(args.out, header, "\n".join(rows), key="skip", title="the skip check (`scripts/bench_run.py`)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--engine-calls", type=int, default=20)
    parser.add_argument("--engine-seconds", type=float, default=40.0)
    parser.add_argument("--skip-workers", action="store_true")
    parser.add_argument("--skip-engines", action="store_true")
    parser.add_argument("--skip-calls", type=int, default=1000)
    parser.add_argument("--only-skip-check", action="store_true")
    parser.add_argument("--night", action="store_true", help="only the night on real-length calls")
    parser.add_argument("--night-calls", type=int, default=20)
    parser.add_argument("--night-workers", nargs="+", default=["2x1", "1x2"], help="--night: WORKERSxTHREADS each")
    parser.add_argument("--before", type=Path, help="--night: another checkout to measure first")
    parser.add_argument("--before-label", default="", help="--night: what the other checkout is (a commit)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    if args.night:
        bench_night(args)
        return
    bench_skip(args)
    if args.only_skip_check:
        return
    if not args.skip_workers:
        bench_workers(args)
    if not args.skip_engines:
        bench_engines(args)


if __name__ == "__main__":
    main()
