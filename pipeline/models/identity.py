"""The identities of the models a configuration will use: what the nightly run's settings fingerprint
holds, so that a call is analyzed again when a model that shapes its results changes."""

from __future__ import annotations

from typing import Any

from pipeline.config import Config
from pipeline.models import asr, pyannote, segmentation, speaker_encoder

EMBEDDING_METHODS = ("auto", "embedding")  # the methods under which a call may be diarized by embeddings


def identities(config: Config) -> dict[str, dict[str, Any]]:
    """Each model ``config`` will use, by role: ``asr`` always; ``speaker_encoder`` where a call may be
    diarized by embeddings (``diarization.method`` auto or embedding), with ``segmentation`` when
    ``diarization.overlap_detection`` is on; ``pyannote`` when the method is pyannote. Forced ``channels``
    uses none of the diarization models."""
    diarization = config.diarization
    models = {"asr": asr.identity(config.asr)}
    if diarization.method in EMBEDDING_METHODS:
        models["speaker_encoder"] = speaker_encoder.identity(diarization.encoder)
        if diarization.overlap_detection:
            models["segmentation"] = segmentation.identity()
    if diarization.method == "pyannote":
        models["pyannote"] = pyannote.identity(diarization)
    return models
