"""Configuration: YAML into nested frozen dataclasses. Defaults live here; unknown keys raise."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import yaml

from pipeline import lexicons
from pipeline.errors import ConfigError
from pipeline.types import SAMPLE_RATE, SCORES

DiarizationMethod = Literal["auto", "channels", "embedding", "pyannote"]
EngineName = Literal["local", "ray"]


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
    loop_retry_ngram: int = 3
    recover_min_s: float = 1.0
    recover_max_wps: float = 1.0
    batch_size: int = 0
    window_pad_s: float = 0.4
    hotwords: str | None = None
    initial_prompt: str | None = None


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
    backchannel_phrases: tuple[str, ...] = lexicons.BACKCHANNELS
    long_monologue_s: float = 60.0
    quick_reply_s: float = 0.2
    question_words: tuple[str, ...] = lexicons.QUESTION_WORDS
    complaint_cues: tuple[str, ...] = lexicons.COMPLAINTS
    repeat_words: int = 3
    repeat_window_words: int = 12
    turn_end_overlap_s: float = 1.0
    hold_phrases: tuple[str, ...] = lexicons.HOLDS
    hold_min_s: float = 10.0


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
    agent_phrases: tuple[str, ...] = lexicons.AGENT_PHRASES
    customer_phrases: tuple[str, ...] = lexicons.CUSTOMER_PHRASES


@dataclass(frozen=True)
class CuesConfig:
    """Phrase lexicons matched on normalized words (lower case, no punctuation, hyphens split)."""

    empathy: tuple[str, ...] = lexicons.EMPATHY
    apology: tuple[str, ...] = lexicons.APOLOGY
    positive: tuple[str, ...] = lexicons.POSITIVE
    negative: tuple[str, ...] = lexicons.NEGATIVE
    acknowledgement: tuple[str, ...] = lexicons.ACKNOWLEDGEMENT
    paraphrase: tuple[str, ...] = lexicons.PARAPHRASE
    greeting: tuple[str, ...] = lexicons.GREETING
    closing: tuple[str, ...] = lexicons.CLOSING
    escalation: tuple[str, ...] = lexicons.ESCALATION
    problem: tuple[str, ...] = lexicons.PROBLEMS
    ownership: tuple[str, ...] = lexicons.OWNERSHIP
    deflection: tuple[str, ...] = lexicons.DEFLECTION
    resolution_check: tuple[str, ...] = lexicons.RESOLUTION_CHECK
    hold_thanks: tuple[str, ...] = lexicons.HOLD_THANKS
    upset_sentiment: float = -0.4
    open_question_starts: tuple[str, ...] = lexicons.OPEN_QUESTION_STARTS


@dataclass(frozen=True)
class ComponentConfig:
    """One score component: ``weight`` (relative) and ``points`` [[value, 0-1], ...] with increasing
    values, the reference range the measure is mapped through (linear between, flat beyond).

    ``prior`` > 0 shrinks the measured value toward ``neutral`` by its evidence n (minutes of talk,
    questions, replies): (value x n + neutral x prior) / (n + prior). ``applies``: conditions that must
    all hold for the component to count (``agent``: the speaker is the agent; ``problem``: another party
    voiced a problem, frustration or negative sentiment; ``name``: another party gave their name; ``hold``:
    the speaker put the others on hold); otherwise it is not applicable and left out.
    """

    weight: float
    points: tuple[tuple[float, float], ...]
    neutral: float = 0.0
    prior: float = 0.0
    applies: tuple[Literal["agent", "problem", "name", "hold"], ...] = ()


@dataclass(frozen=True)
class ToneConfig:
    """Tone: how the speaker sounds and which words they choose."""

    pace_wpm: ComponentConfig = ComponentConfig(1.0, ((110, 0), (150, 1), (260, 1), (320, 0)))
    pitch_variability_st: ComponentConfig = ComponentConfig(1.0, ((1.0, 0), (2.0, 1), (5.0, 1), (8.0, 0)))
    loudness_steadiness_db: ComponentConfig = ComponentConfig(0.5, ((8.0, 1), (12.0, 0)))
    positive_per_min: ComponentConfig = ComponentConfig(1.0, ((0, 0), (2, 1)), 1.0, 1.0)
    negative_per_min: ComponentConfig = ComponentConfig(1.5, ((0, 1), (3, 0)), 0.0, 1.0)
    empathy_per_min: ComponentConfig = ComponentConfig(1.5, ((0, 0), (2, 1)), 1.0, 1.0, ("agent", "problem"))
    sentiment: ComponentConfig = ComponentConfig(1.0, ((-0.5, 0), (0.5, 1)))
    ownership_share: ComponentConfig = ComponentConfig(1.0, ((0, 0), (1, 1)), 0.75, 2.0)
    pace_vs_baseline: ComponentConfig = ComponentConfig(0.5, ((0.75, 0), (0.9, 1), (1.1, 1), (1.3, 0)))
    pitch_variability_vs_baseline: ComponentConfig = ComponentConfig(0.5, ((0.5, 0), (0.8, 1), (1.3, 1), (1.8, 0)))
    loudness_vs_baseline_db: ComponentConfig = ComponentConfig(0.5, ((-6, 0), (-3, 1), (3, 1), (6, 0)))


@dataclass(frozen=True)
class PatienceConfig:
    """Patience: room given to the other party."""

    interruptions_per_min: ComponentConfig = ComponentConfig(2.0, ((0, 1), (2, 0)), 0.0, 2.0)
    response_latency_s: ComponentConfig = ComponentConfig(1.0, ((-0.5, 0), (0.3, 1), (1.5, 1), (4.0, 0)), 0.8, 2.0)
    quick_reply_share: ComponentConfig = ComponentConfig(1.0, ((0.5, 1), (1.0, 0)), 0.5, 2.0)
    articulation_rate_sps: ComponentConfig = ComponentConfig(1.0, ((2.5, 0), (3.0, 1), (5.5, 1), (7.0, 0)))
    longest_wait_s: ComponentConfig = ComponentConfig(1.5, ((3.0, 1), (10.0, 0.5), (20.0, 0)))
    hold_etiquette: ComponentConfig = ComponentConfig(1.0, ((0, 0), (1, 1)), applies=("agent", "hold"))


@dataclass(frozen=True)
class ListeningConfig:
    """Active listening: signs of having heard the other party."""

    backchannels_per_min: ComponentConfig = ComponentConfig(1.5, ((0, 0), (3, 1)), 1.5, 1.0)
    open_question_share: ComponentConfig = ComponentConfig(1.0, ((0, 0), (0.5, 1)), 0.25, 2.0, ("agent",))
    acknowledgements_per_min: ComponentConfig = ComponentConfig(1.5, ((0, 0), (1.5, 1)), 0.75, 1.0)
    empathy_per_min: ComponentConfig = ComponentConfig(1.0, ((0, 0), (2, 1)), 1.0, 1.0, ("agent", "problem"))
    positive_closing: ComponentConfig = ComponentConfig(0.5, ((0, 0), (1, 1)), applies=("agent",))
    resolution_check: ComponentConfig = ComponentConfig(0.5, ((0, 0), (1, 1)), applies=("agent",))
    personalization: ComponentConfig = ComponentConfig(0.5, ((0, 0), (1, 1)), applies=("agent", "name"))
    pace_mirroring_wpm: ComponentConfig = ComponentConfig(0.5, ((-20, 0), (0, 0.5), (20, 1)), 0.0, 1.0)
    pitch_mirroring_st: ComponentConfig = ComponentConfig(0.5, ((-2, 0), (0, 0.5), (2, 1)), 0.0, 1.0)


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
    follow_outside_links: bool = False
    excerpt_chars: int = 200


@dataclass(frozen=True)
class PrivacyConfig:
    """Card, account and phone numbers and e-mail addresses: masked before anything is stored (``redact``), or
    in exports (``callscope export --redact``)."""

    redact: bool = False
    min_digits: int = 6
    spoken_digits: bool = True
    emails: bool = True


@dataclass(frozen=True)
class RunConfig:
    """How the nightly run executes its calls; nothing here changes a call's results."""

    call_timeout_s: float = 0.0
    engine: EngineName = "local"
    ray_address: str = ""
    workers: int = 0
    threads: int = 0


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
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    run: RunConfig = field(default_factory=RunConfig)


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
    """Build a ``Config`` from nested dicts; missing keys take the defaults. Every range and consistency check
    runs here (``check``), before any audio is read."""
    config = _build(Config, data, "")
    check(config)
    return config


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


# ---------------------------------------------------------------- range and consistency checks


def _need(ok: bool, name: str, rule: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{name}: need {rule}, got {value!r}")


def _positive(section: Any, prefix: str, *names: str) -> None:
    for name in names:
        _need(getattr(section, name) > 0, f"{prefix}.{name}", "a positive value", getattr(section, name))


def _not_negative(section: Any, prefix: str, *names: str) -> None:
    for name in names:
        _need(getattr(section, name) >= 0, f"{prefix}.{name}", "a value >= 0", getattr(section, name))


def _grades(bounds: tuple[float, ...], name: str, *, higher_is_better: bool) -> None:
    ordered = len(bounds) == 2 and (bounds[0] >= bounds[1] if higher_is_better else bounds[0] <= bounds[1])
    _need(ordered, name, f"[high, low] bounds with high {'>=' if higher_is_better else '<='} low", list(bounds))


def _check_speech(c: Config) -> None:
    v, a, d = c.vad, c.asr, c.diarization
    _need(0 < v.threshold <= 1, "vad.threshold", "a speech probability in (0, 1]", v.threshold)
    _not_negative(v, "vad", "min_speech_duration_ms", "min_silence_duration_ms", "speech_pad_ms", "edge_search_ms",
                  "edge_floor_margin_db", "edge_peak_drop_db")
    _positive(a, "asr", "beam_size", "max_compression_ratio")
    _not_negative(a, "asr", "cpu_threads", "loop_retry_ngram", "recover_min_s", "recover_max_wps", "batch_size",
                  "window_pad_s")
    _need(bool(a.temperatures) and all(0 <= t <= 1 for t in a.temperatures), "asr.temperatures",
          "one or more temperatures in [0, 1]", list(a.temperatures))
    _need(1 <= d.min_speakers <= d.max_speakers, "diarization.min_speakers",
          f"1 <= min_speakers <= max_speakers ({d.max_speakers})", d.min_speakers)
    _need(d.num_speakers is None or d.num_speakers >= 1, "diarization.num_speakers", "null or >= 1", d.num_speakers)
    _positive(d, "diarization", "window_s", "hop_s", "segmentation_step_s", "echo_min_delay_ms", "echo_min_z")
    _need(d.hop_s <= d.window_s, "diarization.hop_s", f"hop_s <= window_s ({d.window_s})", d.hop_s)
    _not_negative(d, "diarization", "switch_penalty", "min_segment_s", "min_speaker_s", "overlap_context_s",
                  "min_channel_speech_s")
    for name in ("count_threshold", "merge_threshold"):
        _need(0 < getattr(d, name) < 2, f"diarization.{name}", "a cosine distance in (0, 2)", getattr(d, name))
    _need(0 < d.duplicate_channel_corr <= 1, "diarization.duplicate_channel_corr", "a correlation in (0, 1]",
          d.duplicate_channel_corr)
    _need(d.echo_min_delay_ms < d.echo_max_delay_ms, "diarization.echo_max_delay_ms",
          f"more than echo_min_delay_ms ({d.echo_min_delay_ms:g})", d.echo_max_delay_ms)
    _not_negative(c.align, "align", "max_turn_gap_s")


def _check_conversation(c: Config) -> None:
    dy, p, ac, r = c.dynamics, c.prosody, c.acoustics, c.roles
    _positive(dy, "dynamics", "min_pause_s", "backchannel_max_s", "long_monologue_s", "repeat_words")
    _not_negative(dy, "dynamics", "turn_end_overlap_s")
    _need(dy.hold_min_s >= dy.dead_air_s, "dynamics.hold_min_s", f"at least dead_air_s ({dy.dead_air_s:g})",
          dy.hold_min_s)
    _need(dy.dead_air_s > dy.min_pause_s, "dynamics.dead_air_s", f"more than min_pause_s ({dy.min_pause_s:g})",
          dy.dead_air_s)
    _not_negative(dy, "dynamics", "interruption_min_overlap_s", "quick_reply_s")
    _need(dy.repeat_window_words >= dy.repeat_words, "dynamics.repeat_window_words",
          f"at least repeat_words ({dy.repeat_words})", dy.repeat_window_words)
    _need(0 < p.fmin_hz < p.fmax_hz < SAMPLE_RATE / 4, "prosody.fmax_hz",
          f"0 < fmin_hz < fmax_hz < {SAMPLE_RATE / 4:g} Hz (a quarter of the sample rate), fmin_hz {p.fmin_hz:g}",
          p.fmax_hz)
    _positive(p, "prosody", "hop_ms", "level_range_db", "contour_rate_hz", "final_window_s")
    _need(0 < p.voicing_threshold < 1, "prosody.voicing_threshold", "a value in (0, 1)", p.voicing_threshold)
    _not_negative(p, "prosody", "min_voiced_s")
    _positive(ac, "acoustics", "block_s")
    _grades(ac.grade_snr_db, "acoustics.grade_snr_db", higher_is_better=True)
    _grades(ac.grade_word_probability, "acoustics.grade_word_probability", higher_is_better=True)
    _grades(ac.grade_overlap_ratio, "acoustics.grade_overlap_ratio", higher_is_better=False)
    _grades(ac.grade_bleed_db, "acoustics.grade_bleed_db", higher_is_better=False)
    _need(0.5 <= r.min_confidence <= 1, "roles.min_confidence", "a probability in [0.5, 1]", r.min_confidence)
    _not_negative(r, "roles", "opens_call_weight", "question_share_weight", "phrase_weight", "max_phrases")


def _check_scoring(sc: ScoringConfig) -> None:
    for score in SCORES:
        for f in dataclasses.fields(getattr(sc, score)):
            cfg = getattr(getattr(sc, score), f.name)
            xs = [p[0] for p in cfg.points]
            _need(cfg.weight >= 0 and bool(cfg.points) and all(len(p) == 2 and 0 <= p[1] <= 1 for p in cfg.points)
                  and all(b > a for a, b in pairwise(xs)), f"scoring.{score}.{f.name}",
                  "weight >= 0 and points [[value, 0-1], ...] with increasing values", [cfg.weight, cfg.points])
            _need(cfg.prior >= 0, f"scoring.{score}.{f.name}.prior", "a value >= 0", cfg.prior)
    _positive(sc, "scoring", "baseline_s", "deescalation_sentiment", "deescalation_pitch_st",
              "deescalation_loudness_db")
    _not_negative(sc, "scoring", "min_rest_s")


def check(config: Config) -> None:
    """Raise ``ConfigError`` naming the first setting out of its range or inconsistent with another."""
    _check_speech(config)
    _check_conversation(config)
    _check_scoring(config.scoring)
    _need(-1 <= config.cues.upset_sentiment <= 0, "cues.upset_sentiment", "a value in [-1, 0]",
          config.cues.upset_sentiment)
    a = config.archive
    _not_negative(a, "archive", "settle_s", "excerpt_chars")
    _not_negative(config.run, "run", "call_timeout_s", "workers", "threads")
    _need(config.privacy.min_digits >= 4, "privacy.min_digits", "4 digits or more (fewer would mask times and "
          "amounts)", config.privacy.min_digits)
