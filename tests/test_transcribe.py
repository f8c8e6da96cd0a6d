import numpy as np
import pytest

from pipeline.config import AsrConfig
from pipeline.errors import ModelError
from pipeline.transcribe import load_whisper, model_for, resolve_model, transcribe


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
