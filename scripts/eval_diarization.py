"""Diarization and transcription accuracy on every clip with a reference.

DER (pyannote.metrics, overlap scored, collar 0 and 0.25 s, UEM where given) for the real clips
in ../shared/eval-audio/, pyannote.audio's telephone sample and the synthetic calls; WER where a
transcript exists. Writes a table to docs/benchmarks.md.

    python scripts/eval_diarization.py [--asr]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import evaluate  # noqa: E402
from pipeline.audio.decode import load_audio  # noqa: E402
from pipeline.audio.signal import mix  # noqa: E402
from pipeline.audio.vad import speech_spans  # noqa: E402
from pipeline.config import Config  # noqa: E402
from pipeline.conversation.timeline import speaker_turns  # noqa: E402
from pipeline.diarization import channels, embedding  # noqa: E402
from pipeline.models import segmentation  # noqa: E402
from pipeline.models.speaker_encoder import load_encoder  # noqa: E402
from scripts.bench import write_report  # noqa: E402
from tests.conftest import EVAL, PYANNOTE_SAMPLE, SAMPLES  # noqa: E402


def three_speaker_reference() -> list[tuple[str, float, float]]:
    data = json.loads((EVAL / "multi" / "three_speakers.segments.json").read_text())
    rows = []
    for test in data["tests"]["diarization_tests"]:
        for seg in test["segments"]:
            rows.append((str(seg["speaker_tag"]), float(seg["start_sec"]), float(seg["end_sec"])))
    return rows


def cases():
    ami = EVAL / "ami" / "debug.development.rttm"
    uem = EVAL / "ami" / "debug.development.uem"
    sample_ref = evaluate.read_rttm(PYANNOTE_SAMPLE / "sample.rttm")
    yield "pyannote sample (telephone)", PYANNOTE_SAMPLE / "sample.wav", sample_ref, None
    for name, path in [("AMI dev00", EVAL / "ami" / "dev00.wav"),
                       ("AMI dev01", EVAL / "ami" / "dev01.wav"),
                       ("dev00 mu-law 8k", EVAL / "codec" / "dev00_8k_mulaw.wav"),
                       ("dev00 A-law 8k", EVAL / "codec" / "dev00_8k_alaw.wav"),
                       ("dev00 GSM 8k", EVAL / "codec" / "dev00_8k_gsm610.wav")]:
        uri = "dev01" if "dev01" in str(path) else "dev00"
        yield name, path, evaluate.read_rttm(ami, uri), evaluate.read_uem(uem, uri)
    yield "three speakers", EVAL / "multi" / "three_speakers.wav", three_speaker_reference(), None
    yield "jfk (one speaker, duplicated channels)", EVAL / "stereo" / "jfk.flac", None, None
    for name in ("billing_stereo", "delivery_mono", "billing_8k_mulaw"):
        path = next(SAMPLES.glob(f"{name}.*[vc]"))
        yield f"synthetic {name}", path, evaluate.read_rttm(SAMPLES / f"{name}.rttm"), None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    config = Config()
    load_encoder(config.diarization.encoder)  # models load before the clock starts
    segmentation.load_segmenter()
    lines = ["| clip | method | speakers found / true | DER collar 0 | DER collar 0.25 | speaker turns: DER 0 / 0.25 "
             "| diarize s |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, path, ref, uem in cases():
        audio = load_audio(path)
        spans = [speech_spans(ch, config.vad) for ch in audio.samples]
        method, _ = channels.choose_method(audio.samples, spans, config.diarization)
        t0 = time.perf_counter()
        if method == "channels":
            result = channels.diarize_channels(spans, audio.samples, config.diarization)
        else:
            result = embedding.diarize_embedding(mix(audio.samples), speech_spans(mix(audio.samples), config.vad),
                                               config.diarization)
        seconds = time.perf_counter() - t0
        turns = speaker_turns(result.segments)  # as the RTTM gives them
        if ref is None:  # speaker count only
            row = f"| {name} | {method} | {len(result.speakers)} / 1 | - | - | - | {seconds:.2f} |"
        else:
            row = (f"| {name} | {method} | {len(result.speakers)} / {len({r[0] for r in ref})} | "
                   f"{evaluate.der(ref, result.segments, 0.0, uem):.3f} | "
                   f"{evaluate.der(ref, result.segments, 0.25, uem):.3f} | "
                   f"{evaluate.der(ref, turns, 0.0, uem):.3f} / {evaluate.der(ref, turns, 0.25, uem):.3f} | "
                   f"{seconds:.2f} |")
        print(row, flush=True)
        lines.append(row)
    header = ("DER from pyannote.metrics (overlap scored; `collar` as pyannote.metrics defines it), "
              "default config, `scripts/eval_diarization.py`; models loaded before the clock starts. DER of the "
              "acoustic segments (call.json), then of the speaker turns of the RTTM (`timeline.speaker_turns`: a "
              "speaker's own silences under 0.5 s bridged). The synthetic calls' references are their exact "
              "acoustic timelines, AMI's and the telephone sample's were annotated by people.")
    write_report(args.out, header, "\n".join(lines), key="diarization",
                 title="Diarization accuracy")


if __name__ == "__main__":
    main()
