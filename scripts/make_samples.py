"""Synthesize the sample calls in sample_audio/ with exact ground truth.

Two espeak-ng voices speak a scripted customer-service call on a timeline with pauses, a
backchannel overlap, an interruption and a stretch of dead air. Each call is written with its
truth beside it: ``<name>.truth.json`` (utterances with speaker, start, end, text) and
``<name>.rttm`` (audible speech of each utterance, inner silences >= 0.2 s cut out). ``calls.csv``
gives the archive metadata of the calls (agent ids, start times, the stereo channel roles).
Requires espeak-ng on PATH. Deterministic for a given espeak-ng version.

    python scripts/make_samples.py [--out sample_audio]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import butter, sosfilt

SR = 16000


@dataclass(frozen=True)
class Line:
    """One utterance placed relative to an earlier one: ``ref`` index, anchor, offset seconds."""

    speaker: str
    text: str
    ref: int
    anchor: str
    offset_s: float


VOICES = {
    "stereo": {"agent": ("en-us+f3", 165, 60), "customer": ("en-gb+m3", 150, 35)},
    "mono": {"agent": ("en-us+m1", 160, 45), "customer": ("en-us+f4", 170, 70)},
    "mulaw": {"agent": ("en-us+f4", 165, 70), "customer": ("en-gb+m1", 150, 40)},
}

BILLING = [
    Line("agent", "Thank you for calling Northwind support.", -1, "start", 0.5),
    Line("agent", "My name is Sarah and I will be helping you today.", 0, "end", 0.4),
    Line("customer", "Hi Sarah. I was charged twice for my internet bill this month.", 1, "end", 0.7),
    Line("customer", "I noticed it on my bank statement this morning.", 2, "end", 0.6),
    Line("agent", "I am so sorry to hear that.", 3, "end", 0.6),
    Line("agent", "Let me pull up your account so we can look at the charges together.", 4, "end", 0.3),
    Line("customer", "mm hmm", 5, "start", 1.6),
    Line("agent", "Could you confirm the phone number on the account please?", 5, "end", 0.9),
    Line("customer", "Sure. It is five five five one two three four.", 7, "end", 0.5),
    Line("agent", "Thank you. I can see two payments of forty nine dollars on the third of March.", 8, "end", 0.6),
    Line("customer", "So can you refund one of them today?", 9, "start", 2.0),
    Line("agent", "Yes I can. Let me check the refund options for you.", 9, "end", 0.5),
    Line("agent", "Okay. I have processed a refund of forty nine dollars.", 11, "end", 2.5),
    Line("customer", "Great. Thank you so much for your help.", 12, "end", 0.4),
    Line("agent", "You are welcome. Is there anything else I can help you with?", 13, "end", 0.5),
    Line("customer", "No that is all. Have a nice day.", 14, "end", 0.6),
]

DELIVERY = [
    Line("agent", "Good morning and welcome to Contoso deliveries.", -1, "start", 0.4),
    Line("agent", "How can I help you today?", 0, "end", 0.3),
    Line("customer", "My package was supposed to arrive on Monday and it is still not here.", 1, "end", 0.8),
    Line("agent", "I understand how frustrating that must be.", 2, "end", 0.5),
    Line("agent", "Can you give me the tracking number?", 3, "end", 0.4),
    Line("customer", "It is seven two nine four four one.", 4, "end", 0.7),
    Line("agent", "Thank you. One moment while I look that up.", 5, "end", 0.5),
    Line("agent", "I see the package is at your local depot and will be delivered tomorrow morning.", 6, "end", 2.2),
    Line("customer", "Tomorrow morning? I need it today.", 7, "start", 2.4),
    Line("agent", "I can ask the depot to send it out this afternoon if that works for you.", 7, "end", 0.4),
    Line("customer", "okay", 9, "start", 1.8),
    Line("customer", "Yes please do that. Thank you.", 9, "end", 0.6),
    Line("agent", "You are welcome. Thank you for calling Contoso.", 11, "end", 0.5),
]

CALLS = {
    "billing_stereo": ("stereo", BILLING),
    "delivery_mono": ("mono", DELIVERY),
    "billing_8k_mulaw": ("mulaw", BILLING),
}

# the archive's metadata of the samples (sample_audio/calls.csv), as a recording system would export it:
# Sarah (A-1001) took both billing calls, another agent (A-1002) the delivery call
MANIFEST = [
    {"file": "billing_stereo.flac", "agent_id": "A-1001", "started_at": "2026-11-02T09:14:00", "queue": "billing",
     "direction": "inbound", "channel_roles": "agent;customer"},
    {"file": "billing_8k_mulaw.wav", "agent_id": "A-1001", "started_at": "2026-11-03T15:40:00", "queue": "billing",
     "direction": "inbound", "channel_roles": ""},
    {"file": "delivery_mono.wav", "agent_id": "A-1002", "started_at": "2026-11-03T11:05:00", "queue": "deliveries",
     "direction": "inbound", "channel_roles": ""},
]


def speak(text: str, voice: tuple[str, int, int]) -> np.ndarray:
    """Render text with espeak-ng and trim it to its audible extent, float32 at 16 kHz."""
    name, speed, pitch = voice
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not on PATH: apt-get install espeak-ng (.ci/run installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "u.wav"
        subprocess.run(
            ["espeak-ng", "-v", name, "-s", str(speed), "-p", str(pitch), "-w", str(wav), text],
            check=True,
        )
        audio, rate = sf.read(wav, dtype="float32")
    audio = soxr.resample(audio, rate, SR)
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    audio = audio[loud[0] : loud[-1] + 1]
    return 0.5 * audio / np.abs(audio).max()


def active_parts(clip: np.ndarray, min_gap_s: float = 0.2) -> list[tuple[float, float]]:
    """Audible stretches of a clip in seconds: 10 ms frames above -46 dBFS, gaps < min_gap_s bridged."""
    hop = SR // 100
    n = len(clip) // hop
    rms = np.sqrt(np.mean(clip[: n * hop].reshape(n, hop) ** 2, axis=1))
    on = np.flatnonzero(rms > 0.005)
    parts = [[on[0], on[0] + 1]]
    for i in on[1:]:
        if (i - parts[-1][1]) * hop / SR < min_gap_s:
            parts[-1][1] = i + 1
        else:
            parts.append([i, i + 1])
    return [(a * hop / SR, min(b * hop, len(clip)) / SR) for a, b in parts]


def place(lines: list[Line], voices: dict) -> tuple[list[dict], list[np.ndarray]]:
    """Resolve the script into absolute times; returns utterances and their audio."""
    utterances, clips = [], []
    for line in lines:
        clip = speak(line.text, voices[line.speaker])
        base = 0.0 if line.ref < 0 else utterances[line.ref][line.anchor]
        start = round(base + line.offset_s, 3)
        utterances.append(
            {"speaker": line.speaker, "start": start, "end": round(start + len(clip) / SR, 3),
             "text": line.text,
             "speech": [[round(start + a, 3), round(start + b, 3)] for a, b in active_parts(clip)]}
        )
        clips.append(clip)
    return utterances, clips


def render(utterances: list[dict], clips: list[np.ndarray], seed: int) -> np.ndarray:
    """Mix each party onto its own channel: shape (2, n), channel 0 agent, 1 customer."""
    total = int((max(u["end"] for u in utterances) + 0.8) * SR)
    out = np.zeros((2, total), np.float32)
    for utt, clip in zip(utterances, clips, strict=True):
        ch = 0 if utt["speaker"] == "agent" else 1
        i = round(utt["start"] * SR)
        out[ch, i : i + len(clip)] += clip
    rng = np.random.default_rng(seed)
    return out + rng.normal(0.0, 10 ** (-60 / 20), out.shape).astype(np.float32)


def telephone(x: np.ndarray) -> np.ndarray:
    """Band-limit to the 300-3400 Hz telephone band."""
    sos = butter(4, [300, 3400], btype="band", fs=SR, output="sos")
    return sosfilt(sos, x).astype(np.float32)


def write_call(name: str, kind: str, lines: list[Line], out: Path, seed: int) -> None:
    utterances, clips = place(lines, VOICES[kind])
    stereo = render(utterances, clips, seed)
    labels = {"agent": "A", "customer": "C"}
    if kind == "stereo":
        sf.write(out / f"{name}.flac", stereo.T, SR, subtype="PCM_16")
    elif kind == "mono":
        sf.write(out / f"{name}.wav", stereo.sum(axis=0), SR, subtype="PCM_16")
    else:
        mono = telephone(stereo.sum(axis=0))
        sf.write(out / f"{name}.wav", soxr.resample(mono, SR, 8000), 8000, subtype="ULAW")
    truth = {"call": name, "channels": {"agent": 0, "customer": 1} if kind == "stereo" else None,
             "utterances": utterances}
    (out / f"{name}.truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    rttm = [
        f"SPEAKER {name} 1 {a:.3f} {b - a:.3f} <NA> <NA> {labels[u['speaker']]} <NA> <NA>"
        for u in utterances
        for a, b in u["speech"]
    ]
    (out / f"{name}.rttm").write_text("\n".join(rttm) + "\n")


def write_manifest(out: Path) -> None:
    """``calls.csv``: the metadata of every sample call (``callscope run`` reads it)."""
    with (out / "calls.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(MANIFEST[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(MANIFEST)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "sample_audio")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for seed, (name, (kind, lines)) in enumerate(CALLS.items()):
        write_call(name, kind, lines, args.out, seed)
        print(f"wrote {args.out / name}")
    write_manifest(args.out)


if __name__ == "__main__":
    main()
