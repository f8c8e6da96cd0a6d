"""Who spoke when with a pyannote.audio 4 pipeline (speaker-diarization-community-1 or a local copy).

The pipeline comes from ``diarization.pyannote_pipeline``: a Hugging Face hub name (downloaded once
into the hub cache; ``HF_TOKEN`` is passed when set) or a local directory holding ``config.yaml``
and the model folders it names, for sites without network. Audio goes in as an in-memory tensor,
so pyannote never decodes a file (torchcodec cannot load here).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline.config import DiarizationConfig
from pipeline.errors import ModelError
from pipeline.types import Diarization, SpeakerSegment

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
METHOD = "pyannote"
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


def pipeline_for(config: DiarizationConfig):
    return load_pipeline(config.pyannote_pipeline)


def _speakers_bounds(config: DiarizationConfig) -> dict[str, int]:
    """num_speakers when known, else the bounds of the estimated count."""
    if config.num_speakers:
        return {"num_speakers": config.num_speakers}
    return {"min_speakers": config.min_speakers, "max_speakers": config.max_speakers}


def _summed_talk_s(annotation) -> float:
    """Talk time of all speakers of a pyannote ``Annotation`` added up (overlaps count twice)."""
    return float(sum(segment.duration for segment, _ in annotation.itertracks()))


def diarize_pyannote(samples: np.ndarray, config: DiarizationConfig, pipeline=None) -> Diarization:
    """Speaker segments of a call from a pyannote.audio pipeline, overlaps kept.

    Parameters
    ----------
    samples : shape (channels, n) float32 at 16 kHz; the channels are mixed to mono
    config : speaker count (``num_speakers``, else ``min_speakers``..``max_speakers``) and the
        pipeline (``pyannote_pipeline``)
    pipeline : a loaded pyannote pipeline; default ``load_pipeline(config.pyannote_pipeline)``

    Returns
    -------
    ``Diarization`` with method "pyannote", speakers ``spk0``.. in pyannote's label order, segments
    from the overlap-aware ``speaker_diarization`` sorted by start; ``notes`` give the speech
    that overlaps (overlap-aware talk time minus that of ``exclusive_speaker_diarization``).
    """
    import torch

    samples = np.atleast_2d(samples)
    mono = samples.mean(axis=0) if samples.shape[0] > 1 else samples[0]
    duration = mono.shape[0] / SAMPLE_RATE
    if mono.shape[0] < SAMPLE_RATE // 10:  # too short for a segmentation frame
        return Diarization(METHOD, ())
    pipeline = pipeline if pipeline is not None else pipeline_for(config)

    # waveform: (1, n) float32 tensor; pyannote reads audio from memory, never from a file
    waveform = torch.from_numpy(np.ascontiguousarray(mono, dtype=np.float32))[None]
    bounds = _speakers_bounds(config)
    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            output = pipeline({"waveform": waveform, "sample_rate": SAMPLE_RATE, "uri": "call"}, **bounds)
        except ValueError as exc:  # k-means asked for more speakers than there are speech chunks
            if "n_clusters" not in str(exc):
                raise
            log.info("pyannote could not find %s (%s); estimating the count freely", bounds, exc)
            notes.append(f"pyannote: too little speech for {bounds}; speaker count estimated freely")
            output = pipeline({"waveform": waveform, "sample_rate": SAMPLE_RATE, "uri": "call"},
                              min_speakers=1, max_speakers=config.num_speakers or config.max_speakers)
    for w in caught:
        message = " ".join(str(w.message).split())
        log.debug("pyannote.audio warned: %s", message)
        if "outside the given bounds" in message:  # too little speech for min_speakers
            notes.append(f"pyannote: {message}")

    # DiarizeOutput (pyannote.audio 4); a pipeline configured with legacy=True gives an Annotation
    annotation = getattr(output, "speaker_diarization", output)
    exclusive = getattr(output, "exclusive_speaker_diarization", None)
    names = {label: f"spk{k}" for k, label in enumerate(annotation.labels())}
    segments = []
    for turn, _, label in annotation.itertracks(yield_label=True):
        start, end = max(0.0, float(turn.start)), min(duration, float(turn.end))
        if end > start:
            segments.append(SpeakerSegment(names[label], start, end))
    segments.sort(key=lambda s: (s.start, s.end))

    if exclusive is not None and segments:
        overlap = max(0.0, _summed_talk_s(annotation) - _summed_talk_s(exclusive))
        notes.append(f"pyannote: {overlap:.2f} s of overlapped speech "
                     "(overlap-aware talk time minus that of the exclusive timeline)")
    log.debug("pyannote diarization: %d segments, %d speakers", len(segments), len(names))
    return Diarization(METHOD, tuple(segments), notes=tuple(notes))
