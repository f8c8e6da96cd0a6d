"""A corpus of odd and broken recordings for the nightly run, each with the outcome it must have.

Speech comes from a 4 s stretch of ``sample_audio/billing_stereo.flac`` where both parties speak
(agent on channel 0). ``EXPECT`` maps each case to ``"analyzed"``, ``"not a call"`` (the scan never
takes it for one) or ``(stage, cause regex)`` of the one-line failure the run must record.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "sample_audio" / "billing_stereo.flac"
START_S, SECONDS = 12.25, 4.0  # both parties speak in this stretch
RATE = 16000

EXPECT: dict[str, str | tuple[str, str]] = {
    "empty.wav": ("decode", r"empty file \(0 bytes\)"),
    "header_only.wav": ("decode", "truncated WAV"),
    "cut_wav.wav": ("decode", "truncated WAV"),
    "cut_mp3.mp3": "analyzed",
    "cut_flac.flac": ("decode", "flac decoder lost sync"),
    "random_bytes.wav": ("decode", "not a readable audio file"),
    "text.wav": ("decode", "not a readable audio file"),
    "x.wav": "not a call",
    "silence.wav": "analyzed",
    "speech_0_2s.wav": "analyzed",
    "noise.wav": "analyzed",
    "clipping.wav": "analyzed",
    "dc_offset.wav": "analyzed",
    "nan_inf.wav": "analyzed",
    "dead_channel.wav": "analyzed",
    "swapped.wav": "analyzed",
    "rate_8000.wav": "analyzed",
    "rate_11025.wav": "analyzed",
    "rate_22050.wav": "analyzed",
    "rate_44100.wav": "analyzed",
    "rate_48000.wav": "analyzed",
    "mulaw.wav": "analyzed",
    "alaw.wav": "analyzed",
    "pcm24.wav": "analyzed",
    "float32.wav": "analyzed",
    "six_channels.wav": "analyzed",
    "appel d'été 電話.wav": ("metadata", "not a valid call id; give call_id in a sidecar"),
    "réunion 2.flac": "analyzed",
    "bad_json.wav": ("metadata", "not readable JSON"),
    "unknown_keys.wav": ("metadata", r"unknown field 'agent' \(valid:"),
    "loop_a.wav": ("read", "Too many levels of symbolic links"),
    "loop_b.wav": ("read", "Too many levels of symbolic links"),
}
CALL_IDS = {"réunion 2.flac": "reunion_2"}  # given by the sidecar


def speech() -> np.ndarray:
    """The stereo speech stretch, shape (samples, 2), float32 at 16 kHz."""
    x, _ = sf.read(SOURCE, dtype="float32", always_2d=True, start=int(START_S * RATE),
                   frames=int(SECONDS * RATE))
    return x


def _cut(path: Path, fraction: float = 0.55) -> None:
    """Keep an odd number of bytes near ``fraction`` of the file: a write cut off mid-frame."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction) | 1])


def make_corpus(root: Path) -> dict[str, str | tuple[str, str]]:
    """Write every case of ``EXPECT`` under ``root``; return ``EXPECT``."""
    root.mkdir(parents=True, exist_ok=True)
    x = speech()
    rng = np.random.default_rng(7)
    n = len(x)

    def write(name: str, data: np.ndarray, rate: int = RATE, **kw) -> Path:
        sf.write(root / name, data, rate, **kw)
        return root / name

    (root / "empty.wav").write_bytes(b"")
    write("header_only.wav", x, subtype="PCM_16")
    (root / "header_only.wav").write_bytes((root / "header_only.wav").read_bytes()[:44])
    _cut(write("cut_wav.wav", x, subtype="PCM_16"))
    _cut(write("cut_mp3.mp3", x, format="MP3"))
    _cut(write("cut_flac.flac", x, subtype="PCM_16"))
    (root / "random_bytes.wav").write_bytes(rng.integers(0, 256, 20000, dtype=np.uint8).tobytes())
    (root / "text.wav").write_text("agent,customer\nthis is a spreadsheet, not a call\n" * 20)
    (root / "x.wav").mkdir()
    write("silence.wav", np.zeros((n, 2), np.float32), subtype="PCM_16")
    write("speech_0_2s.wav", x[int(1.0 * RATE): int(1.2 * RATE)], subtype="PCM_16")
    write("noise.wav", (0.3 * rng.standard_normal((n, 2))).clip(-1, 1).astype(np.float32), subtype="PCM_16")
    write("clipping.wav", np.clip(x * 12, -1, 1), subtype="PCM_16")
    write("dc_offset.wav", np.clip(x + 0.4, -1, 1), subtype="PCM_16")
    bad = x.copy()
    bad[100:400, 0], bad[5000, 1], bad[6000, 0] = np.nan, np.inf, -np.inf
    write("nan_inf.wav", bad, subtype="FLOAT")
    write("dead_channel.wav", np.stack([x[:, 0], np.zeros(n, np.float32)], axis=1), subtype="PCM_16")
    write("swapped.wav", x[:, ::-1], subtype="PCM_16")  # the customer on channel 0, the sidecar says agent
    for rate in (8000, 11025, 22050, 44100, 48000):
        write(f"rate_{rate}.wav", soxr.resample(x, RATE, rate), rate, subtype="PCM_16")
    narrow = soxr.resample(x, RATE, 8000)
    write("mulaw.wav", narrow, 8000, subtype="ULAW")
    write("alaw.wav", narrow, 8000, subtype="ALAW")
    write("pcm24.wav", x, subtype="PCM_24")
    write("float32.wav", x, subtype="FLOAT")
    six = np.concatenate([x, 0.5 * x, np.zeros((n, 2), np.float32)], axis=1)
    write("six_channels.wav", six, subtype="PCM_16")
    write("appel d'été 電話.wav", x, subtype="PCM_16")
    write("réunion 2.flac", x, subtype="PCM_16")
    write("bad_json.wav", x, subtype="PCM_16")
    write("unknown_keys.wav", x, subtype="PCM_16")
    roles = {"channel_roles": ["agent", "customer"]}
    for name in ("swapped.wav", "dead_channel.wav", "rate_8000.wav"):
        (root / f"{name}.json").write_text(json.dumps(roles))
    (root / "réunion 2.flac.json").write_text(json.dumps({"call_id": "reunion_2", **roles}))
    (root / "bad_json.wav.json").write_text('{"agent_id": "A1",')
    (root / "unknown_keys.wav.json").write_text(json.dumps({"agent": "A1"}))
    os.symlink("loop_b.wav", root / "loop_a.wav")
    os.symlink("loop_a.wav", root / "loop_b.wav")
    os.symlink(".", root / "loop_dir")  # a folder loop: os.walk does not follow it
    return EXPECT
