"""Benchmark ``analyze`` against faster-whisper alone on calls of 5 minutes or more.

Builds the calls from real and synthetic recordings (nothing is committed), then runs each
measurement in a fresh subprocess with models loaded before the clock starts (and a short call of the
same kind analyzed, so that a stereo process loads only what stereo calls need), and records wall
time, per-stage time and peak RSS. Each figure is the median of ``--repeats`` runs (faster-whisper alone
and analyze taking turns), with the spread of the ratio; the timings move by 20 % or more between runs on a
shared machine, so run it on a quiet one. Writes a table to docs/benchmarks.md with issue 18's checks (the median
ratio at most 1.0, peak RSS at most 1.0 GB mono and 0.8 GB stereo, no torch) and issue 4's prosody budget, one
PASS / FAIL line each; exits 1 on a FAIL.

    python scripts/bench.py [--minutes 6] [--repeats 3] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval-audio"
PROSODY_BUDGET = 0.10  # the prosody stage may cost at most this fraction of the ASR stage (issue 4)
MAX_RATIO = 1.0  # analyze / faster-whisper alone, median (issue 18)
MAX_RSS_MB = {"mono": 1000, "stereo": 800}  # peak RSS of analyze, the highest run (issue 18)


def build_calls(minutes: float, tmp: Path) -> dict[str, Path]:
    """A mono call from real recordings and a stereo one from the synthetic stereo call."""
    from pipeline.audio.decode import load_audio
    from pipeline.audio.signal import mix
    from tests.conftest import PYANNOTE_SAMPLE

    sources = [PYANNOTE_SAMPLE / "sample.wav", EVAL / "ami" / "dev00.wav",
               EVAL / "ami" / "dev01.wav", ROOT / "sample_audio" / "delivery_mono.wav"]
    target = int(minutes * 60 * 16000)
    pieces = [mix(load_audio(p).samples) for p in sources]
    mono = np.concatenate([pieces[i % len(pieces)] for i in range(target // 480000 + 8)])[:target]
    stereo_src = load_audio(ROOT / "sample_audio" / "billing_stereo.flac").samples
    reps = target // stereo_src.shape[1] + 1
    stereo = np.tile(stereo_src, (1, reps))[:, :target]
    calls = {"mono": tmp / "bench_mono.wav", "stereo": tmp / "bench_stereo.wav"}
    sf.write(calls["mono"], mono, 16000, subtype="PCM_16")
    sf.write(calls["stereo"], stereo.T, 16000, subtype="PCM_16")
    return calls


def run_phase(phase: str, path: Path, kind: str, settings: Path | None) -> dict:
    """One measurement in this process: models loaded first, then the timed run."""
    from pipeline.config import Config, load_config
    from pipeline.models.asr import resolve_model

    config = load_config(settings) if settings and phase == "analyze" else Config()
    if phase == "whisper":  # as its users run it: one decoding at a time, on the threads CTranslate2 chooses
        from faster_whisper import WhisperModel, decode_audio

        model = WhisperModel(resolve_model(config.asr.model), device=config.asr.device,
                             compute_type=config.asr.compute_type, cpu_threads=config.asr.cpu_threads)
        t0 = time.perf_counter()
        audio = decode_audio(str(path))
        segments, _ = model.transcribe(audio, language=config.asr.language,
                                       beam_size=config.asr.beam_size, word_timestamps=True,
                                       vad_filter=config.asr.vad_filter,
                                       condition_on_previous_text=False)
        words = sum(len(s.words or ()) for s in segments)
        result = {"seconds": time.perf_counter() - t0, "words": words}
    else:
        from pipeline.outputs.store import write_call
        from pipeline.runner import analyze_call

        warm = "billing_stereo.flac" if kind == "stereo" else "delivery_mono.wav"
        analyze_call(ROOT / "sample_audio" / warm, config)  # the models this kind of call needs, and imports
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            res = analyze_call(path, config)
            write_call(res, out)
            seconds = time.perf_counter() - t0
        result = {"seconds": seconds, "words": len(res.alignment.words),
                  "stages": {k: round(v, 2) for k, v in res.timings_s.items()},
                  "method": res.diarization.method,
                  "speakers": len({s.speaker for s in res.alignment.segments}), "torch": "torch" in sys.modules}
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def measure(phase: str, path: Path, kind: str, settings: Path | None) -> dict:
    extra = ["--config", str(settings)] if settings else []
    proc = subprocess.run([sys.executable, __file__, "--phase", phase, "--kind", kind, *extra, str(path)],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median_run(runs: list[dict]) -> dict:
    """The run of median wall time (its stages and memory with it)."""
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (their median is reported)")
    parser.add_argument("--phase", choices=["whisper", "analyze"])
    parser.add_argument("--kind", choices=["mono", "stereo"])
    parser.add_argument("--config", type=Path, help="settings for analyze; faster-whisper alone keeps the defaults")
    parser.add_argument("--only", choices=["mono", "stereo"], help="measure one kind of call")
    parser.add_argument("path", nargs="?", type=Path)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(run_phase(args.phase, args.path, args.kind, args.config)))
        return
    sys.path.insert(0, str(ROOT))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, path in build_calls(args.minutes, Path(tmp)).items():
            if args.only and kind != args.only:
                continue
            runs: list[tuple[dict, dict]] = []
            for _ in range(args.repeats):
                runs.append((measure("whisper", path, kind, args.config), measure("analyze", path, kind, args.config)))
                print(kind, json.dumps({"whisper": runs[-1][0], "analyze": runs[-1][1]}), flush=True)
            rows.append((kind, [w for w, _ in runs], [a for _, a in runs]))
    lines = [
        "| call | audio | faster-whisper alone | analyze | ratio (median, range) | diarize / asr "
        "| prosody / asr | stages (s) | peak RSS whisper / analyze | torch imported | speakers |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind, whispers, analyses in rows:
        w, a = median_run(whispers), median_run(analyses)
        ratios = sorted(x["seconds"] / y["seconds"] for x, y in zip(analyses, whispers, strict=True))
        stages = ", ".join(f"{k} {v}" for k, v in a["stages"].items() if k != "total")
        lines.append(
            f"| {kind} ({a['method']}) | {args.minutes:.0f} min | {w['seconds']:.1f} s | {a['seconds']:.1f} s | "
            f"{a['seconds'] / w['seconds']:.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f}) | "
            f"{a['stages']['diarize'] / a['stages']['asr']:.2f} | {a['stages']['prosody'] / a['stages']['asr']:.3f} | "
            f"{stages} | {w['peak_rss_mb']:.0f} / {max(x['peak_rss_mb'] for x in analyses):.0f} MB | "
            f"{'yes' if a['torch'] else 'no'} | {a['speakers']} |")
    table = "\n".join(lines)
    header = (f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} ({cpu_name()}), "
              f"{_cores()} cores, Python {platform.python_version()}, bundled tiny.en int8, "
              f"{'settings ' + args.config.name if args.config else 'default config'}, models loaded before the "
              "clock starts, one fresh process each; "
              f"times are the medians of {args.repeats} runs (each analyze / faster-whisper ratio's range beside "
              "it), stages those of the median run, peak RSS the highest of the runs.")
    checks = [line for kind, whispers, analyses in rows for line in checked(kind, whispers, analyses)]
    write_report(args.out, header, table + "\n\n" + "\n".join(checks), key="analyze",
                 title="analyze vs faster-whisper alone (`scripts/bench.py`)")
    print(table, *checks, sep="\n")
    sys.exit(1 if any(line.startswith("- FAIL") for line in checks) else 0)


def checked(kind: str, whispers: list[dict], analyses: list[dict]) -> list[str]:
    """Issue 18's checks of one kind of call, one PASS / FAIL line each: the median ratio, the peak RSS, no torch;
    and the prosody budget of issue 4."""
    ratio = median_run(analyses)["seconds"] / median_run(whispers)["seconds"]
    rss = max(a["peak_rss_mb"] for a in analyses)
    torch = any(a["torch"] for a in analyses)
    stages = median_run(analyses)["stages"]
    budget = stages["prosody"] / stages["asr"]
    return [f"- {'PASS' if ok else 'FAIL'}: {kind}: {text}" for ok, text in (
        (ratio <= MAX_RATIO, f"analyze / faster-whisper alone {ratio:.2f} (wanted <= {MAX_RATIO:.1f})"),
        (rss <= MAX_RSS_MB[kind], f"peak RSS {rss:.0f} MB (wanted <= {MAX_RSS_MB[kind]} MB)"),
        (not torch, f"torch {'imported' if torch else 'not imported'} (wanted not)"),
        (budget <= PROSODY_BUDGET, f"prosody {stages['prosody']:.2f} s / asr {stages['asr']:.2f} s = {budget:.3f} "
                                   f"(wanted <= {PROSODY_BUDGET:.2f})"),
    )]


def cpu_name() -> str:
    """The CPU's model name: tiny.en's words differ between CPU models (their float kernels do)."""
    info = Path("/proc/cpuinfo")
    for line in info.read_text().splitlines() if info.exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


def write_report(path: Path, header: str, table: str, *, key: str, title: str) -> None:
    """Replace one marked section of the benchmark report, keeping the others."""
    start, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{start}\n## {title}\n\n{header}\n\n{table}\n{end}"
    if start in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


if __name__ == "__main__":
    main()
