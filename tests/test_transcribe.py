import difflib

import numpy as np
import pytest

from pipeline import vad
from pipeline.audio import load_audio
from pipeline.config import AsrConfig
from pipeline.errors import ModelError
from pipeline.transcribe import load_whisper, model_for, resolve_model, transcribe

from .conftest import SAMPLES


def test_bundled_model_is_a_ctranslate2_directory():
    path = resolve_model("bundled")
    assert resolve_model(path) == path  # a local directory is taken as it is


def test_bad_model_names_say_how_to_fix(tmp_path, monkeypatch):
    with pytest.raises(ModelError, match=r"no model\.bin"):
        resolve_model(str(tmp_path))
    with pytest.raises(ModelError, match="no such directory"):
        resolve_model(str(tmp_path / "missing"))
    (tmp_path / "model.bin").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="damaged"):
        load_whisper(str(tmp_path), "cpu", "int8", 1)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match=r"set asr\.model to 'bundled'"):
        load_whisper("not-a-real-model-name", "cpu", "int8", 1)


def test_model_loaded_once_per_process():
    assert model_for(AsrConfig()) is model_for(AsrConfig())


def test_silence_gives_no_words():
    out = transcribe(model_for(AsrConfig()), np.zeros((2, 16000 * 2), np.float32), AsrConfig(),
                     per_channel=True)
    assert out.words == () and out.model == "bundled"


def test_a_call_longer_than_a_block_is_transcribed_in_blocks_on_one_timeline(monkeypatch):
    """Blocks of ~20 s over the 53 s billing agent: the same words, at the same times, as one pass."""
    agent = load_audio(SAMPLES / "billing_stereo.flac").samples[:1]
    model, config = model_for(AsrConfig()), AsrConfig()
    whole = transcribe(model, agent, config, per_channel=True).words
    monkeypatch.setattr(vad, "BLOCK_S", 20.0)
    monkeypatch.setattr(vad, "SEARCH_S", 5.0)
    assert len(vad.block_bounds(vad.frame_db(agent[0]), agent.shape[1])) >= 2
    blocked = transcribe(model, agent, config, per_channel=True).words
    text = [w.text.lower().strip(".,?!") for w in whole], [w.text.lower().strip(".,?!") for w in blocked]
    match = difflib.SequenceMatcher(None, *text, autojunk=False)
    pairs = [(whole[b.a + k], blocked[b.b + k]) for b in match.get_matching_blocks() for k in range(b.size)]
    assert len(pairs) >= 0.85 * len(whole)
    assert np.median([abs(a.start - b.start) for a, b in pairs]) < 0.1
    assert max(abs(a.start - b.start) for a, b in pairs) < 1.0
