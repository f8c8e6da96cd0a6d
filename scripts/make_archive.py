"""Build a call archive for the nightly run from the synthetic stereo call in sample_audio/.

Good calls are distinct stretches of ``billing_stereo.flac`` in which both parties speak, written as
16 kHz FLAC, 16 kHz WAV, 8 kHz mu-law WAV and extension-less WAV (found by content), spread over
dated folders, with metadata in sidecars or in ``calls.csv``. Broken calls: an empty file, text
named .wav and a truncated WAV. Files the run must leave alone: a hidden copy, a ``.part`` file, a
README.

    python scripts/make_archive.py ARCHIVE [--calls 20] [--seconds 6]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "sample_audio" / "billing_stereo.flac"
BROKEN = ("empty", "text", "truncated")


def _speech(rttm: Path) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {}
    for line in rttm.read_text().splitlines():
        f = line.split()
        out.setdefault(f[7], []).append((float(f[3]), float(f[3]) + float(f[4])))
    return out


def offsets(n: int, seconds: float, min_speech_s: float = 1.5) -> list[float]:
    """``n`` distinct window starts (0.25 s apart at least) where each party speaks ``min_speech_s``."""
    speech = _speech(SOURCE.with_suffix(".rttm"))
    length = sf.info(SOURCE).duration

    def both_speak(t: float) -> bool:
        return all(sum(max(0.0, min(e, t + seconds) - max(s, t)) for s, e in spans) >= min_speech_s
                   for spans in speech.values())

    good = [t for t in np.arange(0.0, length - seconds, 0.25) if both_speak(t)]
    if len(good) < n:
        raise SystemExit(f"only {len(good)} windows of {seconds} s with both parties speaking")
    return [float(good[i]) for i in np.linspace(0, len(good) - 1, n).round().astype(int)]


def make_archive(archive: Path, calls: int = 20, seconds: float = 6.0) -> dict[str, list[str]]:
    """Write the archive; return the call ids expected to succeed and to fail, and files to be left alone."""
    x, rate = sf.read(SOURCE, dtype="float32", always_2d=True)
    archive.mkdir(parents=True, exist_ok=True)
    good_n = calls - len(BROKEN)
    manifest: list[dict[str, str]] = []
    good: list[str] = []
    for i, t in enumerate(offsets(good_n, seconds)):
        day = 20 + i % 3
        folder = archive / "2026" / "11" / f"{day:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        call_id = f"call_{i:03d}"
        piece = x[int(t * rate): int((t + seconds) * rate)]
        kind = i % 4
        if kind == 0:
            path = folder / f"{call_id}.flac"
            sf.write(path, piece, rate, subtype="PCM_16")
        elif kind == 1:
            path = folder / f"{call_id}.wav"
            sf.write(path, piece, rate, subtype="PCM_16")
        elif kind == 2:
            import soxr

            path = folder / f"{call_id}.wav"
            sf.write(path, soxr.resample(piece, rate, 8000), 8000, subtype="ULAW")
        else:
            path = folder / call_id  # no extension: found by its RIFF header
            sf.write(path, piece, rate, subtype="PCM_16", format="WAV")
        meta = {"call_id": call_id, "agent_id": f"A{i % 3 + 1:02d}", "started_at": f"2026-11-{day:02d}T{9 + i % 8:02d}:"
                f"{(7 * i) % 60:02d}:00", "queue": ("billing", "support")[i % 2],
                "direction": ("inbound", "outbound")[int(i % 5 == 4)], "channel_roles": ["agent", "customer"]}
        if i % 2:  # odd calls: a sidecar; even calls: a manifest row
            path.with_name(path.name + ".json").write_text(json.dumps(meta, indent=1))
        else:
            manifest.append({"file": str(path.relative_to(archive)), **meta,
                             "channel_roles": ";".join(meta["channel_roles"])})
        good.append(call_id)
    with (archive / "calls.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(manifest[0]))
        writer.writeheader()
        writer.writerows(manifest)
    bad_dir = archive / "2026" / "11" / "22"
    bad_dir.mkdir(parents=True, exist_ok=True)
    for name in BROKEN:
        path = bad_dir / f"broken_{name}.wav"
        if name == "empty":
            path.write_bytes(b"")
        elif name == "text":
            path.write_text("this is not audio\n" * 40)
        else:
            sf.write(path, x[: 3 * rate], rate, subtype="PCM_16")
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        path.with_name(path.name + ".json").write_text(json.dumps(
            {"agent_id": "A01", "started_at": "2026-11-22T12:00:00", "channel_roles": ["agent", "customer"]}))
    first = next((archive / "2026" / "11" / "20").glob("call_000.*"))
    shutil.copy(first, first.with_name(".hidden_copy.flac"))
    shutil.copy(first, archive / "incoming.wav.part")
    (archive / "README.txt").write_text("Recordings land here at night.\n")
    return {"good": good, "broken": [f"broken_{n}" for n in BROKEN],
            "left": [".hidden_copy.flac", "incoming.wav.part"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", type=Path)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    print(json.dumps(make_archive(args.archive, args.calls, args.seconds), indent=1))


if __name__ == "__main__":
    main()
