"""Benchmark long calls: peak memory and time of ``analyze_call`` at 30, 60 and 120 minutes.

Each call is ``sample_audio/billing_stereo.flac`` (53 s, two parties, one per channel) repeated to
length, written block by block as an 8 kHz stereo FLAC (a telephone archive's format). Each length
runs in a fresh process with the default config (bundled ASR included) and reports the wall time,
the peak RSS of the process and each stage's time and peak RSS. Writes a table to docs/benchmarks.md, with
issue 18's check that the longest call's peak RSS is at most 15 % over the shortest's; exits 1 where it is not.

    python scripts/bench_long.py [--minutes 30 60 120] [--mono]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench import _cores, write_report  # noqa: E402

SOURCE = ROOT / "sample_audio" / "billing_stereo.flac"
RATE = 8000
BESIDE = ", the diarization running beside the ASR (their seconds overlap, its memory is in the asr row)"
MAX_GROWTH = 0.15  # peak RSS of the longest call over the shortest's (issue 18: flat with call length)


def make_long_call(path: Path, minutes: float, mono: bool = False) -> Path:
    """Write ``SOURCE`` repeated to ``minutes`` as an 8 kHz FLAC (stereo, or the channel mix)."""
    clip, rate = sf.read(SOURCE, dtype="float32", always_2d=True)
    clip = soxr.resample(clip, rate, RATE)
    if mono:
        clip = clip.mean(axis=1, keepdims=True)
    total = round(minutes * 60 * RATE)
    with sf.SoundFile(path, "w", RATE, clip.shape[1], "PCM_16", format="FLAC") as out:
        for start in range(0, total, len(clip)):
            out.write(clip[: min(len(clip), total - start)])
    return path


def rss_mb() -> float:
    """Resident set size of this process now, in MB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def profile(path: Path) -> dict:
    """Analyze one call in this process: wall time, peak RSS, and each stage's time and peak RSS."""
    from pipeline.config import load_config
    from pipeline.runner import analyze_call

    peaks: dict[str, float] = {}
    current = {"stage": "decode", "peak": 0.0}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            current["peak"] = max(current["peak"], rss_mb())

    def hook(stage: str, _seconds: float, *, completed: int | None = None, total: int | None = None) -> None:
        peaks[stage] = max(current["peak"], rss_mb())
        current["peak"] = 0.0

    start_mb = rss_mb()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    result = analyze_call(path, load_config(None), hook=hook)
    wall = time.perf_counter() - t0
    done.set()
    return {"wall_s": wall, "audio_s": result.audio.duration_s, "start_mb": start_mb,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6,
            "stages": {k: [round(v, 2), round(peaks.get(k, 0.0))] for k, v in result.timings_s.items()},
            "words": len(result.transcript.words), "speakers": len({s.speaker for s in result.diarization.segments})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[30, 60, 120])
    parser.add_argument("--mono", action="store_true", help="the channel mix: embedding diarization")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(profile(args.child)))
        return
    kind = "mono" if args.mono else "stereo"
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in args.minutes:
            call = make_long_call(Path(tmp) / f"long_{minutes:g}.flac", minutes, args.mono)
            proc = subprocess.run([sys.executable, __file__, "--child", str(call)], cwd=ROOT,
                                  capture_output=True, text=True, check=True)
            runs[minutes] = json.loads(proc.stdout.splitlines()[-1])
            print(minutes, runs[minutes], flush=True)
    stages = list(next(iter(runs.values()))["stages"])
    header = (f"Call: `billing_stereo.flac` repeated, 8 kHz {kind} FLAC, default config (bundled tiny.en int8), "
              "one fresh process per length. Peak RSS is the process's high-water mark (`ru_maxrss`), models "
              "included; a stage's is the highest RSS sampled every 50 ms while it ran"
              f"{BESIDE if args.mono else ''}. Machine: {_cores()} cores.")
    lines = ["| minutes | wall | x of the 30-min time | peak RSS | words | speakers |",
             "| --- | --- | --- | --- | --- | --- |"]
    base = runs[min(runs)]
    for minutes, run in runs.items():
        ratio = run["wall_s"] / base["wall_s"]
        lines.append(f"| {minutes:g} | {run['wall_s']:.0f} s | {ratio:.2f} | {run['peak_mb'] / 1000:.2f} GB | "
                     f"{run['words']} | {run['speakers']} |")
    lines += ["", "| stage | " + " | ".join(f"{m:g} min: s / MB" for m in runs) + " |",
              "| --- | " + " | ".join("---" for _ in runs) + " |"]
    for stage in stages:
        cells = [f"{run['stages'][stage][0]:.1f} / {run['stages'][stage][1]:.0f}" for run in runs.values()]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    growth = runs[max(runs)]["peak_mb"] / base["peak_mb"] - 1
    checks = [f"- {'PASS' if growth <= MAX_GROWTH else 'FAIL'}: peak RSS at {max(runs):g} min {growth:+.0%} of "
              f"{min(runs):g} min's (wanted <= {MAX_GROWTH:+.0%})"] if len(runs) > 1 else []
    write_report(args.out, header, "\n".join([*lines, "", *checks]).rstrip(), key=f"long-{kind}",
                 title=f"Long calls ({kind})")
    print(*checks, sep="\n")
    sys.exit(1 if growth > MAX_GROWTH else 0)


if __name__ == "__main__":
    main()
