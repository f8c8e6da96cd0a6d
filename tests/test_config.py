import dataclasses

import pytest
import yaml

from pipeline.config import Config, config_from_dict, load_config, with_overrides
from pipeline.errors import ConfigError

from .conftest import ROOT


def test_default_yaml_states_every_default():
    data = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    assert config_from_dict(data) == Config()
    assert set(data) == {f.name for f in dataclasses.fields(Config)}
    for field in dataclasses.fields(Config):
        section = getattr(Config(), field.name)
        assert set(data[field.name]) == {f.name for f in dataclasses.fields(section)}


def test_every_default_key_has_a_comment():
    for line in (ROOT / "configs" / "default.yaml").read_text().splitlines():
        if line.startswith("  ") and ":" in line:
            assert "#" in line, line


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"vad": {"treshold": 0.4}}, r"unknown key 'treshold' in vad \(valid: threshold,"),
        ({"colour": 1},
         r"unknown key 'colour' \(valid: vad, asr, diarization, align, dynamics, prosody, acoustics, archive\)"),
        ({"diarization": {"method": "magic"}}, "diarization.method: 'magic' is not one of"),
        ({"asr": {"beam_size": "five"}}, "asr.beam_size: expected int"),
        ({"asr": {"beam_size": True}}, "asr.beam_size: expected int"),
        ({"vad": []}, "vad: expected a mapping"),
        ({"dynamics": {"backchannel_phrases": "yeah"}}, "dynamics.backchannel_phrases: expected a list"),
        ({"dynamics": {"backchannel_phrases": ["yeah", True]}}, r"dynamics.backchannel_phrases\[1\]: expected str"),
    ],
)
def test_bad_config_names_the_problem(data, match):
    with pytest.raises(ConfigError, match=match):
        config_from_dict(data)


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
