"""Frozen records that flow between stages. Times are float seconds from the call start."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

SAMPLE_RATE = 16000  # Hz: every recording is analyzed at this rate, whatever its own
SCORES = ("tone", "patience", "active_listening")  # the scores of each speaker, in the order reported

EventType = Literal["interruption", "turn_end_overlap", "backchannel", "pause", "dead_air", "long_monologue"]
Grade = Literal["high", "medium", "low"]
Role = Literal["agent", "customer", "unknown"]


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
    """A decoded recording: ``samples`` is float32, shape (channels, samples), at ``SAMPLE_RATE``, read-only."""

    info: AudioInfo
    samples: np.ndarray = field(repr=False)
    sample_rate: int = SAMPLE_RATE

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])


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
    """All words of a call in time order, and what produced them (the vocabulary hints included)."""

    words: tuple[Word, ...]
    model: str
    compute_type: str
    language: str
    hotwords: str | None = None
    initial_prompt: str | None = None
    redacted: bool = False


@dataclass(frozen=True)
class Echo:
    """A delayed, attenuated copy of one stereo channel in the other: ``channel`` holds the copy;
    ``correlation``: the normalized cross-correlation of the channels at ``delay_s`` (its sign, the copy's)."""

    channel: int
    delay_s: float
    gain_db: float
    correlation: float


@dataclass(frozen=True)
class Diarization:
    """Who spoke when. ``channel_of`` maps a speaker to its audio channel for channel diarization."""

    method: str
    segments: tuple[SpeakerSegment, ...]
    channel_of: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    echo: Echo | None = None

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
class Event:
    """A timed conversation event: ``by`` did it (to ``of``); None where that does not apply.

    A ``turn_end_overlap`` is an overlap that starts in the last moments of the other's turn: not an
    interruption. Interruptions (and turn-end overlaps) also tell their outcome: who ``gave_way`` first
    (None: both talked on to the end of their speech together), ``yield_s`` from the onset to that stop,
    and whether the interrupted party ``repeated`` their last words afterwards (None: too few words to tell).
    """

    type: EventType
    start: float
    end: float
    by: str | None
    of: str | None
    gave_way: str | None = None
    yield_s: float | None = None
    repeated: bool | None = None


@dataclass(frozen=True)
class SpeakerDynamics:
    """Per-speaker figures of the contract, named as in call.json; None: undefined or unobservable."""

    talk_time_s: float
    talk_ratio: float
    turns: int
    longest_monologue_s: float
    words: int
    words_per_minute: float
    articulation_rate_sps: float | None
    phonation_wpm: float | None
    pause_count: int
    pauses_per_min: float
    pause_mean_s: float | None
    pause_p90_s: float | None
    longest_pause_s: float | None
    response_latency_median_s: float | None
    response_latency_p90_s: float | None
    interruptions_made: int | None
    interrupted_count: int | None
    turn_end_overlaps: int | None
    backchannels: int | None
    responses: int
    reply_gap_p10_s: float | None
    reply_gap_p50_s: float | None
    reply_gap_p90_s: float | None
    quick_replies: int
    replies_counted: int
    dead_air_share: float | None
    longest_wait_s: float
    longest_wait_at_s: float | None
    announced_holds: int
    longest_story_s: float | None
    story_talkover_s: float | None


@dataclass(frozen=True)
class Wait:
    """A dead air and the speaker who broke it (the one the others waited on); ``announced``: they said a
    hold phrase first ("one moment", "let me check")."""

    speaker: str
    start: float
    end: float
    announced: bool


@dataclass(frozen=True)
class CallDynamics:
    """Turn-taking of a whole call: figures per speaker (S1, S2, ... in order), events in time order.

    ``overlap_s``, ``interruptions`` and ``backchannels`` are None when the timeline cannot show
    two voices at once (one speaker per frame), and so are the matching per-speaker counts.
    """

    speakers: dict[str, SpeakerDynamics]
    events: tuple[Event, ...]
    speech_s: float
    overlap_s: float | None
    dead_air_count: int
    dead_air_s: float
    interruptions: int | None
    turn_end_overlaps: int | None
    backchannels: int | None
    waits: tuple[Wait, ...] = ()


@dataclass(frozen=True)
class SpeakerProsody:
    """Per-speaker pitch and loudness of the contract, named as in call.json; None: too little voice.

    Pitch over voiced frames: median in Hz, p95 - p5 and std in semitones re the median. Loudness:
    mean and std of the frame RMS levels in dBFS over speech frames. ``voiced_s``: voiced frames x hop.
    """

    pitch_median_hz: float | None
    pitch_range_st: float | None
    pitch_std_st: float | None
    loudness_db_mean: float | None
    loudness_db_std: float | None
    voiced_s: float


@dataclass(frozen=True)
class TurnContour:
    """Pitch of one turn: semitones re the speaker's median per contour bin (None: unvoiced), and the
    movement over its last voiced stretch (semitones, > 0 a rise; None: too little voice); the mean
    level of the speaker's speech frames per bin (dBFS; None: no speech frame)."""

    speaker: str
    start: float
    end: float
    pitch_st: tuple[float | None, ...]
    final_st: float | None
    loudness_db: tuple[float | None, ...] = ()


@dataclass(frozen=True)
class CallProsody:
    """Prosody of a call: figures per speaker, one contour per turn (in ``Alignment.turns`` order).

    A contour value covers 1 / ``contour_rate_hz`` s from the turn start; a final movement spans up
    to the last ``final_window_s`` of the turn's voiced frames.
    """

    speakers: dict[str, SpeakerProsody]
    turns: tuple[TurnContour, ...]
    contour_rate_hz: float
    final_window_s: float


@dataclass(frozen=True)
class CallAcoustics:
    """Non-talk time by class (s) and the figures that say how far to trust the metrics.

    ``snr_db``: speech level over the non-talk noise floor; ``bleed_db``: the other channel's level
    relative to the speaker's own during solo speech (stereo channels only); ``reliability``: the
    worst grade of the available figures (None: none available).
    """

    nontalk_silence_s: float
    nontalk_music_s: float
    nontalk_noise_s: float
    snr_db: float | None
    bleed_db: float | None
    asr_word_probability_mean: float | None
    reliability: Grade | None


@dataclass(frozen=True)
class RoleAssignment:
    """A speaker's role; ``confidence`` (0.5-1): probability of the evidence-based assignment (1 from a
    channel map; None: nothing to compare); ``agent_evidence``: the speaker's agent-likeness points."""

    role: Role
    confidence: float | None
    source: Literal["metadata", "config", "evidence"]
    agent_evidence: float


@dataclass(frozen=True)
class SpeakerCues:
    """Language cues of one speaker (counts) and sentiment (VADER compound, -1..1; None: no words).

    Start and end: the first and last third of the speaker's words; q1-q4: the call's quarters.
    """

    questions: int
    open_questions: int
    empathy_phrases: int
    apologies: int
    positive_phrases: int
    negative_phrases: int
    acknowledgements: int
    paraphrases: int
    greetings: int
    closings: int
    escalation_requests: int
    problem_phrases: int
    sentiment_mean: float | None
    sentiment_start: float | None
    sentiment_end: float | None
    sentiment_q1: float | None
    sentiment_q2: float | None
    sentiment_q3: float | None
    sentiment_q4: float | None


@dataclass(frozen=True)
class Problem:
    """A turn in which its speaker voiced a problem, a loss or frustration: ``why`` names the phrase or the
    turn's sentiment."""

    speaker: str
    start: float
    text: str
    why: str


@dataclass(frozen=True)
class Behaviour:
    """A service behaviour found in a speaker's words (``conversation.behaviours``): its ``kind``, who said it,
    when, and the words."""

    kind: str
    speaker: str
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class CallCues:
    """Cues per speaker, the sentiment of each turn (``Alignment.turns`` order) and the turns that voice a
    problem (the occasion for empathy and apology)."""

    speakers: dict[str, SpeakerCues]
    turn_sentiment: tuple[float, ...]
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class SpeakerTrends:
    """How a speaker changed over the call (None: too little evidence).

    Against their own baseline (first ``baseline_s`` of their speech vs the rest): pace and pitch std
    ratios, loudness difference (dB). Mirroring: how far their pace (wpm) and pitch (semitones) moved
    from the call's first to its last third, positive toward the other party's first-third level. First to last
    third of their words: pitch (st re their median), loudness (dB), sentiment changes; ``de_escalated``
    from those three.
    """

    pace_vs_baseline: float | None
    pitch_variability_vs_baseline: float | None
    loudness_vs_baseline_db: float | None
    pace_mirroring_wpm: float | None
    pitch_mirroring_st: float | None
    mirroring_evidence_min: float | None
    pitch_change_st: float | None
    loudness_change_db: float | None
    sentiment_change: float | None
    deescalation_index: float | None
    de_escalated: bool | None


@dataclass(frozen=True)
class Component:
    """One part of a score: the measured ``value`` (None: no evidence, dropped), the ``rated_value`` its
    ``evidence`` shrank toward neutral, its 0-1 ``rating`` on the reference range, its normalized ``weight``
    (0 when dropped or not applicable) and ``contribution`` (points). ``applicable`` False: the call gave
    no occasion for it (``note`` says why); else ``note`` may name the occasion (words and time)."""

    value: float | None
    rating: float | None
    weight: float
    contribution: float
    rated_value: float | None = None
    evidence: float | None = None
    evidence_unit: str | None = None
    applicable: bool = True
    note: str | None = None


@dataclass(frozen=True)
class Score:
    """A 0-100 score, the sum of its components' contributions (None: no component had evidence)."""

    value: float | None
    components: dict[str, Component]


@dataclass(frozen=True)
class Assessment:
    """Roles, cues, trends and the three scores (tone, patience, active_listening) per speaker."""

    roles: dict[str, RoleAssignment]
    cues: CallCues
    trends: dict[str, SpeakerTrends]
    scores: dict[str, dict[str, Score]]
    behaviours: tuple[Behaviour, ...] = ()


@dataclass(frozen=True)
class CallResult:
    """Everything one analysis produced; ``store.call_document`` turns it into call.json."""

    call_id: str
    audio: AudioInfo
    transcript: Transcript
    diarization: Diarization
    alignment: Alignment
    dynamics: CallDynamics
    prosody: CallProsody
    acoustics: CallAcoustics
    timings_s: dict[str, float]
    assessment: Assessment | None = None
