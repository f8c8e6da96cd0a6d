"""Speech activity under line noise: the VAD's missed speech, false alarms and pauses, clean and noisy.

The synthetic sample calls (exact timelines) and the four HarperValleyBank calls as mono (their word
spans, gaps under 0.2 s bridged, as ``scripts/eval_calls.py`` takes them), each clean and with white or
pink noise added at 30, 20 and 10 dB under the speech (its mean power over the reference speech).
Writes a table to docs/benchmarks.md.

    python scripts/eval_vad.py [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.audio.decode import load_audio  # noqa: E402
from pipeline.audio.signal import mix  # noqa: E402
from pipeline.audio.vad import speech_spans  # noqa: E402
from pipeline.config import Config  # noqa: E402
from pipeline.types import SAMPLE_RATE  # noqa: E402
from scripts.bench import write_report  # noqa: E402
from scripts.eval_calls import CALLS, Spans, build_versions, intersection, load_reference, span_length, union  # noqa: E402
from tests.conftest import SAMPLES  # noqa: E402

SYNTHETIC = ("delivery_mono.wav", "billing_stereo.flac", "billing_8k_mulaw.wav")
CONDITIONS = [("clean", None, None)] + [(f"{kind} {snr} dB", kind, snr) for kind in ("white", "pink")
                                        for snr in (30, 20, 10)]


def inputs(tmp: Path) -> Iterator[tuple[str, np.ndarray, Spans]]:
    """``(group, mono samples at 16 kHz, reference speech)`` of every call."""
    for name in SYNTHETIC:
        truth = json.loads((SAMPLES / f"{name.split('.')[0]}.truth.json").read_text())
        ref = union((start, end) for u in truth["utterances"] for start, end in u["speech"])
        yield "synthetic", mix(load_audio(SAMPLES / name).samples), ref
    for sid in sorted(p.stem for p in (CALLS / "audio" / "agent").glob("*.wav")):
        ref = load_reference(CALLS / "transcript" / f"{sid}.json")
        mono = build_versions(CALLS, sid, tmp)["mono"]
        yield "HarperValleyBank", mix(load_audio(mono).samples), union(s for spans in ref.words.values() for s in spans)


def noisy(x: np.ndarray, ref: Spans, kind: str, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``x`` plus white or pink (1/f power) noise ``snr_db`` under its mean power over ``ref``."""
    speech = np.zeros(x.size, bool)
    for start, end in ref:
        speech[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)] = True
    noise = rng.standard_normal(x.size)
    if kind == "pink":
        spectrum = np.fft.rfft(noise)
        noise = np.fft.irfft(spectrum / np.sqrt(np.maximum(np.arange(spectrum.size), 1)), x.size)
    power = np.mean(x[speech].astype(np.float64) ** 2)
    noise *= np.sqrt(power / 10 ** (snr_db / 10) / np.mean(noise**2))
    return (x + noise).astype(np.float32)


def scores(found: Spans, ref: Spans) -> tuple[float, float, float]:
    """Missed speech and false alarm (shares of the reference speech), and found / reference spans."""
    shared = intersection(found, ref)
    total = span_length(ref)
    return 1 - shared / total, (span_length(found) - shared) / total, len(found) / len(ref)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    config = Config().vad
    rng = np.random.default_rng(0)
    figures: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for group, x, ref in inputs(Path(tmp)):
            for name, kind, snr in CONDITIONS:
                y = x if kind is None else noisy(x, ref, kind, snr, rng)
                found = union((s.start, s.end) for s in speech_spans(y, config))
                figures.setdefault((group, name), []).append(scores(found, ref))
    lines = ["| calls | line | missed speech | false alarm | spans / reference spans |",
             "| --- | --- | --- | --- | --- |"]
    for (group, name), rows in figures.items():
        missed, false, ratio = np.mean(rows, axis=0)
        lines.append(f"| {group} ({len(rows)}) | {name} | {missed:.1%} | {false:.1%} | {ratio:.2f} |")
        print(lines[-1], flush=True)
    header = ("`scripts/eval_vad.py`, default config: `audio/vad.py` (Silero, then the level's edges and pauses) "
              "on the synthetic sample calls, against their exact timelines, and on the four HarperValleyBank "
              "calls as mono, against their word spans with gaps under 0.2 s bridged (the word timings are the "
              "corpus's own alignment: edges within some 50 ms). Noise added at the given level under the mean "
              "power of the reference speech; pink: power falling as 1/f. Missed speech and false alarm are "
              "shares of the reference speech; spans / reference spans above 1 means pauses found inside "
              "speech, below 1 pauses bridged. Means over the calls.")
    write_report(args.out, header, "\n".join(lines), key="vad", title="Speech activity under line noise")


if __name__ == "__main__":
    main()
