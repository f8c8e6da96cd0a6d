"""Scripted calls for the score tests: one customer, a good and a poor agent, stereo and mono.

The good agent greets, backchannels ("okay", "I see") while the customer talks, apologises,
empathises, asks an open question, paraphrases and closes positively at a calm pace; the poor agent
speaks fast (espeak -s 220), starts while the customer talks, blocks ("there is nothing I can
do", "you need to") and never empathises. The customer calms down with the good agent (softer,
lower, kinder words) and escalates with the poor one (louder, higher, asks for a manager).
Rendered with espeak-ng (``scripts/make_samples.speak``) on a timeline of known truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from scripts.make_samples import SR, active_parts, render, speak


@dataclass(frozen=True)
class Say:
    """One utterance ``offset_s`` after the ``anchor`` (start or end) of utterance ``ref`` (-1: the call
    start); ``speed`` (wpm), ``pitch`` (espeak 0-99) and ``gain`` change the party's voice for it."""

    who: str
    text: str
    ref: int
    anchor: str = "end"
    offset_s: float = 0.6
    speed: int | None = None
    pitch: int | None = None
    gain: float = 1.0


AGENT_VOICE = ("en-us+f3", 120, 55)
CUSTOMER_VOICE = ("en-us", 125, 40)

GOOD = [
    Say("agent", "Thank you for calling Northwind, how can I help you today?", -1, "start", 0.5),
    Say("customer", "Hi. I was charged twice for my internet bill this month and I am really annoyed about it.", 0,
        pitch=60),
    Say("agent", "okay", 1, "start", 2.5),
    Say("agent", "I am so sorry. I understand how frustrating that must be. Could you tell me what you see on "
        "your statement?", 1),
    Say("customer", "Two payments of forty nine dollars in March.", 3, pitch=50, gain=0.8),
    Say("agent", "I see", 4, "start", 1.2),
    Say("agent", "So if I understand correctly, you were billed twice. I would be glad to refund one payment.", 4),
    Say("customer", "Oh great, thank you so much. That is a relief.", 6, pitch=30, gain=0.5),
    Say("agent", "You are welcome. Is there anything else I can help you with? Thank you for calling.", 7),
]

POOR = [
    Say("agent", "Northwind support. What is your account number?", -1, "start", 0.5, speed=220),
    Say("customer", "Hi. I was charged twice for my internet bill this month and I am really annoyed about it.", 0,
        offset_s=0.3, pitch=60),
    Say("agent", "Yes yes, what is the account number?", 1, "start", 2.5, speed=220),
    Say("customer", "It is five five five one two three four.", 1, offset_s=0.3, pitch=65),
    Say("agent", "Your account shows two payments. That is not possible to change today.", 3, offset_s=0.1,
        speed=220),
    Say("customer", "What do you mean? I want my money back, this is ridiculous and unacceptable.", 4,
        offset_s=0.3, pitch=75, gain=1.6, speed=160),
    Say("agent", "No. There is nothing I can do. You need to call billing.", 5, "start", 2.0, speed=220),
    Say("customer", "This is terrible service. I want to speak to a manager right now!", 6, offset_s=0.3,
        pitch=85, gain=1.9, speed=170),
    Say("agent", "You need to call back tomorrow.", 7, offset_s=0.1, speed=220),
]

CALLS = {  # name: (script, channels: None for mono, else the agent's channel)
    "good_stereo": (GOOD, 0),
    "poor_stereo": (POOR, 0),
    "good_mono": (GOOD, None),
    "poor_mono": (POOR, None),
    "good_stereo_swapped": (GOOD, 1),
    "poor_stereo_swapped": (POOR, 1),
}


def place(script: list[Say]) -> tuple[list[dict], list[np.ndarray]]:
    """Absolute times of each utterance and its audio (float32, 16 kHz)."""
    utterances, clips = [], []
    for say in script:
        name, speed, pitch = AGENT_VOICE if say.who == "agent" else CUSTOMER_VOICE
        clip = say.gain * speak(say.text, (name, say.speed or speed, pitch if say.pitch is None else say.pitch))
        base = 0.0 if say.ref < 0 else utterances[say.ref][say.anchor]
        start = round(base + say.offset_s, 3)
        utterances.append({"speaker": say.who, "start": start, "end": round(start + len(clip) / SR, 3),
                           "text": say.text,
                           "speech": [[round(start + a, 3), round(start + b, 3)] for a, b in active_parts(clip)]})
        clips.append(clip)
    return utterances, clips


def write(name: str, out: Path) -> Path:
    """Render one call of ``CALLS`` into ``out`` (FLAC stereo or WAV mono) with ``<name>.truth.json``."""
    script, agent_channel = CALLS[name]
    utterances, clips = place(script)
    parties = np.clip(render(utterances, clips, seed=len(name)), -1, 1)  # agent on channel 0, noise at -60 dBFS
    if agent_channel is None:
        path = out / f"{name}.wav"
        sf.write(path, np.clip(parties.sum(axis=0), -1, 1), SR, subtype="PCM_16")
    else:
        path = out / f"{name}.flac"
        sf.write(path, (parties if agent_channel == 0 else parties[::-1]).T, SR, subtype="PCM_16")
    channels = None if agent_channel is None else {"agent": agent_channel, "customer": 1 - agent_channel}
    (out / f"{name}.truth.json").write_text(json.dumps({"call": name, "channels": channels,
                                                        "utterances": utterances}, indent=1))
    return path
