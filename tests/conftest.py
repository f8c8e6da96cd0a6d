"""Shared fixtures: paths to real and synthetic calls, and analyses run once per session."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import Config
from pipeline.runner import analyze_call

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_audio"
EVAL = ROOT.parent / "shared" / "eval-audio"


def pyannote_sample_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("pyannote.audio")
    return Path(spec.origin).parent / "sample"


PYANNOTE_SAMPLE = pyannote_sample_dir()


def truth(name: str) -> dict:
    return json.loads((SAMPLES / f"{name}.truth.json").read_text())


def stm_text(path: Path) -> str:
    """Reference transcript of an STM file, in time order."""
    rows = [line.split(maxsplit=5) for line in path.read_text().splitlines() if line.strip()]
    return " ".join(r[5] for r in sorted(rows, key=lambda r: float(r[3])) if len(r) > 5)


def tone(freq: float, seconds: float, rate: int = 16000, channels: int = 1) -> np.ndarray:
    """A sine of known frequency, shape (samples, channels), amplitude 0.3."""
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.stack([x] * channels, axis=1)


@pytest.fixture(scope="session")
def config() -> Config:
    return Config()


_CACHE: dict[str, object] = {}


@pytest.fixture(scope="session")
def analyzed(config):
    """analyze_call with the default config, memoised per path for the whole session."""

    def run(path: Path | str, **kwargs):
        key = f"{path}|{sorted(kwargs.items())}"
        if key not in _CACHE:
            _CACHE[key] = analyze_call(path, kwargs.get("config", config))
        return _CACHE[key]

    return run
