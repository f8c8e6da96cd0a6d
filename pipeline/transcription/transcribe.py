"""Transcription with faster-whisper, word timestamps on, one pass per channel for stereo calls."""

from __future__ import annotations

import numpy as np

from pipeline.audio.signal import block_bounds, frame_db
from pipeline.config import AsrConfig
from pipeline.types import SAMPLE_RATE, Transcript, Word


def transcribe_channel(model, samples: np.ndarray, config: AsrConfig, channel: int,
                       offset_s: float = 0.0) -> list[Word]:
    """Words of one signal, shape (n,) float32 at 16 kHz, tagged with ``channel``, times shifted by ``offset_s``.

    A segment whose text compresses more than ``max_compression_ratio`` (gzip) is dropped: Whisper looping on
    one phrase ("see you in the next video, see you in the next video, ...") at temperature 0, where no
    fallback temperature may replace it.
    """
    segments, _ = model.transcribe(
        samples,
        language=config.language,
        beam_size=config.beam_size,
        word_timestamps=True,
        vad_filter=config.vad_filter,
        condition_on_previous_text=config.condition_on_previous_text,
        temperature=list(config.temperatures),
        hotwords=config.hotwords,
        initial_prompt=config.initial_prompt,
    )
    duration = samples.shape[-1] / SAMPLE_RATE
    return [
        Word(offset_s + min(w.start, duration), offset_s + min(max(w.end, w.start), duration), w.word.strip(),
             float(w.probability), channel)
        for seg in segments if seg.compression_ratio <= config.max_compression_ratio
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
    return Transcript(tuple(words), config.model, config.compute_type, config.language or "auto", config.hotwords,
                      config.initial_prompt)
