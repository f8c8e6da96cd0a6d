"""Who spoke when with a pyannote.audio 4 pipeline over the channel mix, overlapping speakers kept.

Audio goes in as an in-memory tensor, so pyannote never decodes a file (torchcodec cannot load here).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from pipeline.config import DiarizationConfig
from pipeline.models.pyannote import pipeline_for
from pipeline.types import SAMPLE_RATE, Diarization, SpeakerSegment

log = logging.getLogger(__name__)

METHOD = "pyannote"


def _speakers_bounds(config: DiarizationConfig) -> dict[str, int]:
    """num_speakers when known, else the bounds of the estimated count."""
    if config.num_speakers:
        return {"num_speakers": config.num_speakers}
    return {"min_speakers": config.min_speakers, "max_speakers": config.max_speakers}


def _summed_talk_s(annotation) -> float:
    """Talk time of all speakers of a pyannote ``Annotation`` added up (overlaps count twice)."""
    return float(sum(segment.duration for segment, _ in annotation.itertracks()))


def _run(pipeline, waveform, config: DiarizationConfig) -> tuple[object, list[str]]:
    """The pipeline's output on a (1, n) waveform tensor, and notes on the speaker count it could not keep."""
    bounds, notes = _speakers_bounds(config), []
    audio = {"waveform": waveform, "sample_rate": SAMPLE_RATE, "uri": "call"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            output = pipeline(audio, **bounds)
        except ValueError as exc:  # k-means asked for more speakers than there are speech chunks
            if "n_clusters" not in str(exc):
                raise
            log.info("pyannote could not find %s (%s); estimating the count freely", bounds, exc)
            notes.append(f"pyannote: too little speech for {bounds}; speaker count estimated freely")
            output = pipeline(audio, min_speakers=1, max_speakers=config.num_speakers or config.max_speakers)
    for w in caught:
        message = " ".join(str(w.message).split())
        log.debug("pyannote.audio warned: %s", message)
        if "outside the given bounds" in message:  # too little speech for min_speakers
            notes.append(f"pyannote: {message}")
    return output, notes


def _segments(annotation, duration_s: float) -> list[SpeakerSegment]:
    """A pyannote ``Annotation`` as segments of speakers ``spk0``.. (pyannote's label order) inside the call,
    sorted by start."""
    names = {label: f"spk{k}" for k, label in enumerate(annotation.labels())}
    segments = []
    for turn, _, label in annotation.itertracks(yield_label=True):
        start, end = max(0.0, float(turn.start)), min(duration_s, float(turn.end))
        if end > start:
            segments.append(SpeakerSegment(names[label], start, end))
    return sorted(segments, key=lambda s: (s.start, s.end))


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
    if mono.shape[0] < SAMPLE_RATE // 10:  # too short for a segmentation frame
        return Diarization(METHOD, ())
    pipeline = pipeline if pipeline is not None else pipeline_for(config)

    # waveform: (1, n) float32 tensor; pyannote reads audio from memory, never from a file
    waveform = torch.from_numpy(np.array(mono, dtype=np.float32))[None]  # a writable copy: torch wants one
    output, notes = _run(pipeline, waveform, config)

    # DiarizeOutput (pyannote.audio 4); a pipeline configured with legacy=True gives an Annotation
    annotation = getattr(output, "speaker_diarization", output)
    exclusive = getattr(output, "exclusive_speaker_diarization", None)
    segments = _segments(annotation, mono.shape[0] / SAMPLE_RATE)
    if exclusive is not None and segments:
        overlap = max(0.0, _summed_talk_s(annotation) - _summed_talk_s(exclusive))
        notes.append(f"pyannote: {overlap:.2f} s of overlapped speech "
                     "(overlap-aware talk time minus that of the exclusive timeline)")
    log.debug("pyannote diarization: %d segments, %d speakers", len(segments), len(annotation.labels()))
    return Diarization(METHOD, tuple(segments), notes=tuple(notes))
