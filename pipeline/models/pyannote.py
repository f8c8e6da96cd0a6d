"""A pyannote.audio 4 diarization pipeline (speaker-diarization-community-1 or a local copy), loaded once.

The pipeline comes from ``diarization.pyannote_pipeline``: a Hugging Face hub name (downloaded once
into the hub cache; ``HF_TOKEN`` is passed when set) or a local directory holding ``config.yaml``
and the model folders it names, for sites without network.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.config import DiarizationConfig
from pipeline.errors import ModelError
from pipeline.models import versions

log = logging.getLogger(__name__)

TORCHCODEC_WARNING = r"\s*torchcodec is not installed correctly"
OFFLINE_FIX = ("download it once where the hub is reachable, or set diarization.pyannote_pipeline to a "
               "local directory holding config.yaml")


def import_pyannote():
    """``pyannote.audio.Pipeline``, imported without its torchcodec warning and, unless the user
    set ``PYANNOTE_METRICS_ENABLED``, without its usage telemetry (calls are private data)."""
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=TORCHCODEC_WARNING, category=UserWarning)
            from pyannote.audio import Pipeline
    except ImportError as exc:
        raise ModelError(f"pyannote diarization: cannot import pyannote.audio ({exc}); "
                         "install it (pip install 'pyannote.audio>=4')") from exc
    return Pipeline


def _looks_like_path(name: str) -> bool:
    """A hub name is ``owner/repo``; anything else with a separator is meant as a path."""
    return name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1


def _hub_error(name: str, exc: Exception) -> str | None:
    """Why a hub pipeline could not be fetched and the fix, in one line; None when not a hub error."""
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    if isinstance(exc, GatedRepoError):  # before its base class RepositoryNotFoundError
        return (f"gated on the hub and no token with access: accept its conditions at https://hf.co/{name} "
                "and set HF_TOKEN to a token of that account (hf_...)")
    if isinstance(exc, RepositoryNotFoundError):
        return ("no such repository on the hub, or a private one: check the name, or set HF_TOKEN to a "
                "token (hf_...) that may read it")
    if isinstance(exc, LocalEntryNotFoundError | OfflineModeIsEnabled | ConnectionError):
        return f"the hub is unreachable (no network or HF_HUB_OFFLINE=1) and it is not cached: {OFFLINE_FIX}"
    return None


def _load_failure(name: str, local: Path | None, exc: Exception) -> str:
    """``cannot load (cause); fix`` for a failed ``Pipeline.from_pretrained``."""
    hub = None if local else _hub_error(name, exc)
    if hub:
        return f"cannot load ({type(exc).__name__}); {hub}"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    cause = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    fix = (f"the files in {local} are damaged or from another pyannote.audio version: copy the pipeline "
           "again from the hub" if local else f"cannot fetch it from the hub: {OFFLINE_FIX}")
    return f"cannot load ({cause}); {fix}"


@lru_cache(maxsize=2)
def load_pipeline(name: str):
    """Load a pyannote.audio diarization pipeline once per process, on the CPU.

    ``name`` is a directory with ``config.yaml`` or a hub name. Raises ``ModelError`` whose
    one-line message says how to fix a missing directory, an unreachable hub or a missing token.
    """
    path = Path(name).expanduser()
    local = path.is_dir()
    if local and not (path / "config.yaml").is_file():
        raise ModelError(f"pyannote pipeline {path}: no config.yaml; point diarization.pyannote_pipeline "
                         "at a pipeline directory (config.yaml with its segmentation/, embedding/ and plda/)")
    if not local and (path.exists() or _looks_like_path(name)):
        problem = "not a directory" if path.exists() else "no such directory"
        raise ModelError(f"pyannote pipeline {name}: {problem}; point diarization.pyannote_pipeline "
                         "at a directory holding config.yaml, or at a hub name")
    Pipeline = import_pyannote()
    token = os.environ.get("HF_TOKEN") or None
    printed = io.StringIO()  # pyannote prints download advice to stdout; library code must not
    try:
        with contextlib.redirect_stdout(printed), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=TORCHCODEC_WARNING, category=UserWarning)
            pipeline = Pipeline.from_pretrained(str(path) if local else name, token=token)
    except Exception as exc:
        raise ModelError(f"pyannote pipeline {name}: {_load_failure(name, path if local else None, exc)}") from exc
    finally:
        if printed.getvalue().strip():
            log.debug("pyannote.audio said: %s", printed.getvalue().strip())
    if pipeline is None:
        raise ModelError(f"pyannote pipeline {name}: the hub returned nothing; {OFFLINE_FIX}")
    log.info("loaded pyannote pipeline %s (%s)", name, type(pipeline).__name__)
    return pipeline


def identity(config: DiarizationConfig) -> dict[str, Any]:
    """What identifies the pipeline: its name (hub name or directory) and the packages that run it."""
    return {"pipeline": config.pyannote_pipeline, **versions("pyannote.audio", "torch")}


def pipeline_for(config: DiarizationConfig):
    return load_pipeline(config.pyannote_pipeline)



