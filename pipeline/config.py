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


def _build(cls: type, data: dict[str, Any], prefix: str) -> Any:
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
        if dataclasses.is_dataclass(hint):
            values[key] = _build(hint, {} if value is None else value, name)
        else:
            values[key] = _check_value(name, hint, value)
    return cls(**values)


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
