"""Frozen records that flow between stages. Times are float seconds from the call start."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class AudioInfo:
    """What the file is, as read from it: source rate and channel count, codec, duration."""

    path: str
    sha256: str
    codec: str
    sample_rate: int
    channels: int
    duration_s: float


@dataclass(frozen=True)
class Audio:
    """A decoded recording: ``samples`` is float32, shape (channels, samples), at 16 kHz."""

    info: AudioInfo
    samples: np.ndarray = field(repr=False)
    sample_rate: int = 16000

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    def mono(self) -> np.ndarray:
        """The channel mean, shape (samples,)."""
        return self.samples.mean(axis=0) if self.channels > 1 else self.samples[0]


@dataclass(frozen=True)
class Span:
    """A stretch of time."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class SpeakerSegment:
    """Acoustic speech activity of one speaker; segments of different speakers may overlap."""

    speaker: str
    start: float
    end: float


@dataclass(frozen=True)
class Word:
    """An ASR word; ``channel`` is the audio channel it was transcribed from (-1: the mix)."""

    start: float
    end: float
    text: str
    probability: float
    channel: int = -1


@dataclass(frozen=True)
class Transcript:
    """All words of a call in time order, and what produced them."""

    words: tuple[Word, ...]
    model: str
    compute_type: str
    language: str


@dataclass(frozen=True)
class Diarization:
    """Who spoke when. ``channel_of`` maps a speaker to its audio channel for channel diarization."""

    method: str
    segments: tuple[SpeakerSegment, ...]
    channel_of: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def speakers(self) -> tuple[str, ...]:
        return tuple(sorted({s.speaker for s in self.segments}))


@dataclass(frozen=True)
class AttributedWord:
    """A word with the speaker who said it."""

    speaker: str
    start: float
    end: float
    text: str
    probability: float


@dataclass(frozen=True)
class Turn:
    """Consecutive words of one speaker."""

    speaker: str
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Alignment:
    """The speaker timeline joined with the words, speakers renamed S1..Sn by first speech."""

    segments: tuple[SpeakerSegment, ...]
    words: tuple[AttributedWord, ...]
    turns: tuple[Turn, ...]
    channel_of: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CallResult:
    """Everything one analysis produced; ``store.call_document`` turns it into call.json."""

    call_id: str
    audio: AudioInfo
    transcript: Transcript
    diarization: Diarization
    alignment: Alignment
    timings_s: dict[str, float]
