"""Configuration: YAML into nested frozen dataclasses. Defaults live here; unknown keys raise."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from pipeline.errors import ConfigError

DiarizationMethod = Literal["auto", "channels", "embedding", "pyannote"]


@dataclass(frozen=True)
class VadConfig:
    """Silero speech activity, the single source of timing."""

    threshold: float = 0.3
    min_speech_duration_ms: int = 200
    min_silence_duration_ms: int = 200
    speech_pad_ms: int = 30
    edge_search_ms: int = 150
    edge_floor_margin_db: float = 12.0
    edge_peak_drop_db: float = 40.0


@dataclass(frozen=True)
class AsrConfig:
    """faster-whisper transcription."""

    model: str = "bundled"
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = "int8"
    beam_size: int = 5
    cpu_threads: int = 0
    language: str | None = "en"
    vad_filter: bool = True
    condition_on_previous_text: bool = False
    temperatures: tuple[float, ...] = (0.0,)
    max_compression_ratio: float = 2.4


@dataclass(frozen=True)
class DiarizationConfig:
    """Who spoke when: per channel, speaker embeddings over mono speech, or a pyannote pipeline."""

    method: DiarizationMethod = "auto"
    encoder: Literal["campplus", "resemblyzer"] = "campplus"
    num_speakers: int | None = None
    min_speakers: int = 1
    max_speakers: int = 6
    window_s: float = 1.0
    hop_s: float = 0.5
    count_threshold: float = 0.37
    merge_threshold: float = 0.35
    min_speaker_s: float = 1.0
    switch_penalty: float = 30.0
    min_segment_s: float = 0.3
    overlap_detection: bool = True
    segmentation_step_s: float = 2.5
    overlap_context_s: float = 1.0
    bleed_db: float = 15.0
    duplicate_channel_corr: float = 0.98
    min_channel_speech_s: float = 1.0
    echo_min_delay_ms: float = 20.0
    echo_max_delay_ms: float = 500.0
    echo_min_z: float = 15.0
    pyannote_pipeline: str = "pyannote/speaker-diarization-community-1"


@dataclass(frozen=True)
class AlignConfig:
    """Joining words with the speaker timeline."""

    max_turn_gap_s: float = 2.0


@dataclass(frozen=True)
class DynamicsConfig:
    """Turn-taking: pauses, dead air, and how an overlap is told an interruption or a backchannel."""

    min_pause_s: float = 0.25
    dead_air_s: float = 2.0
    interruption_min_overlap_s: float = 0.5
    backchannel_max_s: float = 1.0
    backchannel_phrases: tuple[str, ...] = (
        "mm", "mhm", "hmm", "hm", "mm hmm", "uh huh", "um hum", "yeah", "yes", "yep", "yup",
        "right", "okay", "ok", "sure", "alright", "all right", "i see", "got it", "oh", "ah",
        "aha", "wow", "really", "exactly", "true",
    )
    long_monologue_s: float = 60.0
    quick_reply_s: float = 0.2
    question_words: tuple[str, ...] = (
        "what", "when", "where", "who", "whom", "whose", "why", "which", "how", "is", "are", "am", "was",
        "were", "do", "does", "did", "can", "could", "will", "would", "shall", "should", "may", "might",
        "have", "has", "had", "isn't", "aren't", "don't", "doesn't", "didn't", "can't", "won't", "wouldn't",
    )
    complaint_cues: tuple[str, ...] = (
        "not working", "doesn't work", "still", "again", "waiting", "charged twice", "frustrated",
        "unacceptable", "ridiculous", "cancel", "complaint", "problem", "issue", "wrong",
    )
    repeat_words: int = 3
    repeat_window_words: int = 12


@dataclass(frozen=True)
class AcousticsConfig:
    """Non-talk classes and the reliability figures beside the metrics."""

    block_s: float = 0.5
    silence_dbfs: float = -50.0
    tonal_max_flatness: float = 0.2
    grade_snr_db: tuple[float, ...] = (20.0, 10.0)
    grade_word_probability: tuple[float, ...] = (0.8, 0.6)
    grade_overlap_ratio: tuple[float, ...] = (0.1, 0.25)
    grade_bleed_db: tuple[float, ...] = (-20.0, -10.0)


@dataclass(frozen=True)
class ProsodyConfig:
    """Pitch (two-pass YIN) and loudness over each speaker's solo speech; per-turn pitch contours."""

    fmin_hz: float = 60.0
    fmax_hz: float = 600.0
    hop_ms: float = 10.0
    voicing_threshold: float = 0.25
    level_range_db: float = 30.0
    min_voiced_s: float = 0.5
    contour_rate_hz: float = 10.0
    final_window_s: float = 0.5


@dataclass(frozen=True)
class RolesConfig:
    """Who is the agent: a channel map for stereo, else evidence from the words (docs/metrics.md)."""

    channel_roles: tuple[Literal["agent", "customer", "unknown"], ...] = ()
    min_confidence: float = 0.8
    opens_call_weight: float = 0.5
    question_share_weight: float = 0.5
    phrase_weight: float = 1.0
    max_phrases: int = 3
    agent_phrases: tuple[str, ...] = (
        "thank you for calling", "thanks for calling", "welcome to", "my name is", "how can i help",
        "how may i help", "how can i assist", "anything else i can help", "let me check", "let me pull up",
        "your account", "one moment", "i can see", "i have processed", "support",
    )
    customer_phrases: tuple[str, ...] = (
        "i was charged", "my bill", "my account", "my order", "my package", "i want to cancel", "i need help with",
        "i'm calling about", "i am calling about", "supervisor", "manager", "refund me", "my money",
    )


@dataclass(frozen=True)
class CuesConfig:
    """Phrase lexicons matched on normalized words (lower case, no punctuation, hyphens split)."""

    empathy: tuple[str, ...] = (
        "i understand how", "i understand that", "i understand your", "i can imagine", "that must be",
        "i know how", "i hear you", "i'd feel the same", "i would feel the same", "that sounds frustrating",
    )
    apology: tuple[str, ...] = ("sorry", "i apologize", "i apologise", "my apologies", "apologies for")
    positive: tuple[str, ...] = (
        "certainly", "absolutely", "of course", "i'd be glad to", "i would be glad to", "i'd be happy to",
        "i would be happy to", "happy to help", "glad to help", "definitely", "great news", "i can do that",
        "my pleasure", "no problem",
    )
    negative: tuple[str, ...] = (
        "not possible", "there is nothing i can do", "there's nothing i can do", "nothing i can do",
        "you need to", "you have to", "you must", "i can't", "i cannot", "we can't", "we cannot", "not my job",
        "that's our policy", "that is our policy", "you should have", "calm down",
    )
    acknowledgement: tuple[str, ...] = (
        "i see", "i understand", "that makes sense", "got it", "i hear you", "thanks for explaining",
    )
    paraphrase: tuple[str, ...] = (
        "so if i understand correctly", "if i understand correctly", "so what you're saying",
        "so what you are saying", "let me make sure i understand", "just to confirm", "so you're saying",
        "so you are saying", "in other words", "to make sure i have this right",
    )
    greeting: tuple[str, ...] = (
        "thank you for calling", "thanks for calling", "welcome to", "good morning", "good afternoon",
        "good evening", "my name is",
    )
    closing: tuple[str, ...] = (
        "anything else i can help", "anything else i can do", "thank you for calling", "thanks for calling",
        "have a great day", "have a nice day", "have a wonderful day", "you're welcome", "you are welcome",
    )
    escalation: tuple[str, ...] = ("supervisor", "manager", "escalate", "complaint", "speak to someone else")
    open_question_starts: tuple[str, ...] = (
        "how", "why", "what happened", "what seems", "what can i", "what would", "what else", "tell me",
        "could you tell", "can you tell", "could you describe", "can you describe", "could you explain",
        "can you explain", "describe", "explain", "walk me through", "help me understand",
    )


@dataclass(frozen=True)
class ComponentConfig:
    """One score component: ``weight`` (relative) and ``points`` [[value, 0-1], ...] with increasing
    values, the reference range the measure is mapped through (linear between, flat beyond)."""

    weight: float
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class ToneConfig:
    """Tone: how the speaker sounds and which words they choose."""

    pace_wpm: ComponentConfig = ComponentConfig(1.0, ((110, 0), (140, 1), (170, 1), (210, 0)))
    pitch_variability_st: ComponentConfig = ComponentConfig(1.0, ((1.0, 0), (2.0, 1), (5.0, 1), (8.0, 0)))
    loudness_steadiness_db: ComponentConfig = ComponentConfig(0.5, ((8.0, 1), (12.0, 0)))
    positive_per_min: ComponentConfig = ComponentConfig(1.0, ((0, 0), (2, 1)))
    negative_per_min: ComponentConfig = ComponentConfig(1.5, ((0, 1), (3, 0)))
    empathy_per_min: ComponentConfig = ComponentConfig(1.5, ((0, 0), (2, 1)))
    sentiment: ComponentConfig = ComponentConfig(1.0, ((-0.5, 0), (0.5, 1)))
    pace_vs_baseline: ComponentConfig = ComponentConfig(0.5, ((0.75, 0), (0.9, 1), (1.1, 1), (1.3, 0)))
    pitch_variability_vs_baseline: ComponentConfig = ComponentConfig(0.5, ((0.5, 0), (0.8, 1), (1.3, 1), (1.8, 0)))
    loudness_vs_baseline_db: ComponentConfig = ComponentConfig(0.5, ((-6, 0), (-3, 1), (3, 1), (6, 0)))


@dataclass(frozen=True)
class PatienceConfig:
    """Patience: room given to the other party."""

    interruptions_per_min: ComponentConfig = ComponentConfig(2.0, ((0, 1), (2, 0)))
    response_latency_s: ComponentConfig = ComponentConfig(1.0, ((-0.5, 0), (0.3, 1), (1.5, 1), (4.0, 0)))
    quick_reply_share: ComponentConfig = ComponentConfig(1.0, ((0, 1), (0.5, 0)))
    articulation_rate_sps: ComponentConfig = ComponentConfig(1.0, ((2.5, 0), (3.0, 1), (4.8, 1), (6.0, 0)))


@dataclass(frozen=True)
class ListeningConfig:
    """Active listening: signs of having heard the other party."""

    backchannels_per_min: ComponentConfig = ComponentConfig(1.5, ((0, 0), (3, 1)))
    open_question_share: ComponentConfig = ComponentConfig(1.0, ((0, 0), (0.5, 1)))
    acknowledgements_per_min: ComponentConfig = ComponentConfig(1.5, ((0, 0), (1.5, 1)))
    empathy_per_min: ComponentConfig = ComponentConfig(1.0, ((0, 0), (2, 1)))
    positive_closing: ComponentConfig = ComponentConfig(0.5, ((0, 0), (1, 1)))
    pace_mirroring_wpm: ComponentConfig = ComponentConfig(0.5, ((-20, 0), (0, 0.5), (20, 1)))
    pitch_mirroring_st: ComponentConfig = ComponentConfig(0.5, ((-2, 0), (0, 0.5), (2, 1)))


@dataclass(frozen=True)
class ScoringConfig:
    """Scores from the evidence (configs/scoring.yaml); call-relative figures and de-escalation."""

    tone: ToneConfig = field(default_factory=ToneConfig)
    patience: PatienceConfig = field(default_factory=PatienceConfig)
    active_listening: ListeningConfig = field(default_factory=ListeningConfig)
    baseline_s: float = 60.0
    min_rest_s: float = 20.0
    deescalation_sentiment: float = 0.5
    deescalation_pitch_st: float = 2.0
    deescalation_loudness_db: float = 3.0
    deescalation_min_index: float = 0.5


@dataclass(frozen=True)
class ArchiveConfig:
    """The nightly run over an archive and analysts' exports; nothing here changes a call's results."""

    audio_extensions: tuple[str, ...] = (
        ".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".wma", ".amr", ".au", ".aiff", ".caf", ".webm",
    )
    partial_suffixes: tuple[str, ...] = (".part", ".tmp", ".partial", ".crdownload", ".filepart", ".download")
    settle_s: float = 2.0
    excerpt_chars: int = 200
    redact_min_digits: int = 6


@dataclass(frozen=True)
class Config:
    """Every tunable of one analysis."""

    vad: VadConfig = field(default_factory=VadConfig)
    asr: AsrConfig = field(default_factory=AsrConfig)
    diarization: DiarizationConfig = field(default_factory=DiarizationConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    dynamics: DynamicsConfig = field(default_factory=DynamicsConfig)
    prosody: ProsodyConfig = field(default_factory=ProsodyConfig)
    acoustics: AcousticsConfig = field(default_factory=AcousticsConfig)
    roles: RolesConfig = field(default_factory=RolesConfig)
    cues: CuesConfig = field(default_factory=CuesConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)


def _check_value(name: str, hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{name}: {value!r} is not one of {', '.join(map(str, args))}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check_value(name, inner[0], value)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{name}: expected a list, got {value!r}")
        return tuple(_check_value(f"{name}[{i}]", args[0], v) for i, v in enumerate(value))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and not (
        isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{name}: expected {hint.__name__}, got {value!r}")
    return value


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return None if f.default_factory is dataclasses.MISSING else f.default_factory()


def _build(cls: type, data: dict[str, Any], prefix: str, base: Any = None) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(valid))
    if unknown:
        where = f"in {prefix} " if prefix else ""
        raise ConfigError(
            f"unknown key {', '.join(map(repr, unknown))} {where}(valid: {', '.join(valid)})"
        )
    values = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else key
        hint = hints[key]
        if dataclasses.is_dataclass(hint):  # missing keys of a section keep the field's default
            default = _default(next(f for f in dataclasses.fields(cls) if f.name == key))
            values[key] = _build(hint, {} if value is None else value, name, default)
        else:
            values[key] = _check_value(name, hint, value)
    return dataclasses.replace(base, **values) if base is not None else cls(**values)


def config_from_dict(data: dict[str, Any]) -> Config:
    """Build a ``Config`` from nested dicts; missing keys take the defaults."""
    return _build(Config, data, "")


def load_config(path: str | Path | None = None) -> Config:
    """Read a YAML config file; ``None`` gives the defaults."""
    if path is None:
        return Config()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}".replace("\n", " ")) from exc
    return config_from_dict(data)


def with_overrides(config: Config, section: str, **changes: Any) -> Config:
    """A copy of ``config`` with fields of one section replaced (validated like the file)."""
    current = dataclasses.asdict(getattr(config, section))
    merged = {**dataclasses.asdict(config), section: {**current, **changes}}
    return config_from_dict(merged)
