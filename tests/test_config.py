import dataclasses
import subprocess
import sys

import pytest
import yaml

from pipeline.config import Config, config_from_dict, load_config, with_overrides
from pipeline.errors import ConfigError

from .conftest import ROOT


def test_config_files_state_every_default():
    data = {}
    for name in ("default.yaml", "scoring.yaml"):  # scoring.yaml: roles, cues and scores
        part = yaml.safe_load((ROOT / "configs" / name).read_text())
        assert config_from_dict(part) == Config()
        assert not set(part) & set(data)
        data |= part
    assert set(data) == {f.name for f in dataclasses.fields(Config)}
    for field in dataclasses.fields(Config):
        section = getattr(Config(), field.name)
        assert set(data[field.name]) == {f.name for f in dataclasses.fields(section)}
    for score in ("tone", "patience", "active_listening"):
        assert set(data["scoring"][score]) == {f.name for f in dataclasses.fields(getattr(Config().scoring, score))}


@pytest.mark.parametrize("name", ["default.yaml", "scoring.yaml"])
def test_every_default_key_has_a_comment(name):
    for line in (ROOT / "configs" / name).read_text().splitlines():
        if line.startswith("  ") and ":" in line:
            assert "#" in line, line


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"vad": {"treshold": 0.4}}, r"unknown key 'treshold' in vad \(valid: threshold,"),
        ({"colour": 1}, r"unknown key 'colour' \(valid: vad, asr, diarization, align, dynamics, prosody, acoustics, "),
        ({"diarization": {"method": "magic"}}, "diarization.method: 'magic' is not one of"),
        ({"asr": {"beam_size": "five"}}, "asr.beam_size: expected int"),
        ({"asr": {"beam_size": True}}, "asr.beam_size: expected int"),
        ({"vad": []}, "vad: expected a mapping"),
        ({"scoring": {"tone": {"pace": {"weight": 1}}}}, r"unknown key 'pace' in scoring.tone \(valid: pace_wpm,"),
        ({"roles": {"channel_roles": ["agent", "boss"]}}, r"roles.channel_roles\[1\]: 'boss' is not one of"),
        ({"dynamics": {"backchannel_phrases": "yeah"}}, "dynamics.backchannel_phrases: expected a list"),
        ({"dynamics": {"backchannel_phrases": ["yeah", True]}}, r"dynamics.backchannel_phrases\[1\]: expected str"),
        ({"run": {"engine": "spark"}}, "run.engine: 'spark' is not one of"),
    ],
)
def test_bad_config_names_the_problem(data, match):
    with pytest.raises(ConfigError, match=match):
        config_from_dict(data)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"prosody": {"fmin_hz": 300.0, "fmax_hz": 200.0}}, "fmin_hz < fmax_hz"),
        ({"prosody": {"fmax_hz": 5000.0}}, "fmax_hz < 4000 Hz"),
        ({"prosody": {"hop_ms": 0.0}}, r"prosody\.hop_ms: need a positive value, got 0\.0"),
        ({"prosody": {"contour_rate_hz": -1.0}}, "prosody.contour_rate_hz"),
        ({"diarization": {"min_speakers": 3, "max_speakers": 2}}, r"min_speakers <= max_speakers \(2\), got 3"),
        ({"diarization": {"num_speakers": 0}}, "diarization.num_speakers: need null or >= 1"),
        ({"diarization": {"hop_s": 2.0}}, r"diarization.hop_s: need hop_s <= window_s \(1.0\)"),
        ({"diarization": {"echo_min_delay_ms": 600.0}}, "echo_max_delay_ms: need more than echo_min_delay_ms"),
        ({"vad": {"threshold": 0.0}}, r"vad.threshold: need a speech probability in \(0, 1\]"),
        ({"asr": {"temperatures": []}}, "asr.temperatures: need one or more temperatures"),
        ({"dynamics": {"dead_air_s": 0.1}}, "dynamics.dead_air_s: need more than min_pause_s"),
        ({"acoustics": {"grade_snr_db": [10.0, 20.0]}}, r"acoustics.grade_snr_db: need \[high, low\] bounds"),
        ({"roles": {"min_confidence": 0.2}}, r"roles.min_confidence: need a probability in \[0.5, 1\]"),
        ({"privacy": {"min_digits": 3}}, r"privacy.min_digits: need 4 digits or more"),
        ({"run": {"workers": -1}}, "run.workers"),
        ({"run": {"threads": -2}}, "run.threads"),
        *[({"scoring": {"tone": {"pace_wpm": {"weight": 1.0, "points": points}}}},
           r"scoring\.tone\.pace_wpm: need weight >= 0 and points")
          for points in ([[1, 0], [1, 1]], [[0, 0], [1, 2]], [])],
        ({"scoring": {"patience": {"response_latency_s": {"weight": -1.0}}}}, "scoring.patience.response_latency_s"),
    ],
)
def test_out_of_range_settings_are_refused_when_loaded(data, match):
    with pytest.raises(ConfigError, match=match):
        config_from_dict(data)


def test_a_bad_range_stops_the_command_before_any_audio_is_read(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("diarization:\n  min_speakers: 4\n  max_speakers: 2\n")
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "analyze", str(tmp_path / "missing.wav"), "--out",
                           str(tmp_path / "out"), "--config", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("callscope: config error: diarization.min_speakers: need 1 <= min_speakers")
    assert "missing.wav" not in proc.stderr


def test_load_config_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("diarization:\n  num_speakers: 2\nvad:\n  threshold: 1\n")
    config = load_config(path)
    assert config.diarization.num_speakers == 2
    assert config.vad.threshold == 1.0 and isinstance(config.vad.threshold, float)
    path.write_text("vad: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(path)


def test_overrides_are_validated():
    config = with_overrides(Config(), "diarization", method="channels")
    assert config.diarization.method == "channels"
    assert config.asr == Config().asr
    with pytest.raises(ConfigError):
        with_overrides(Config(), "diarization", method="nope")
