"""Transcription with faster-whisper, word timestamps on, one pass per channel for stereo calls."""

from __future__ import annotations

import numpy as np

from pipeline.audio.signal import block_bounds, frame_db
from pipeline.config import AsrConfig
from pipeline.types import SAMPLE_RATE, Transcript, Word


def _decode(model, samples: np.ndarray, config: AsrConfig, **guard: int) -> list:
    """faster-whisper's segments of one signal, decoded now."""
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
        **guard,
    )
    return list(segments)


def _words(segment, channel: int, offset_s: float, duration_s: float) -> list[Word]:
    return [Word(offset_s + min(w.start, duration_s), offset_s + min(max(w.end, w.start), duration_s), w.word.strip(),
                 float(w.probability), channel)
            for w in segment.words or () if w.word.strip()]


def transcribe_channel(model, samples: np.ndarray, config: AsrConfig, channel: int,
                       offset_s: float = 0.0) -> list[Word]:
    """Words of one signal, shape (n,) float32 at 16 kHz, tagged with ``channel``, times shifted by ``offset_s``.

    A segment whose text compresses more than ``max_compression_ratio`` (gzip) is a repetition loop: Whisper
    stuck on one phrase ("I'm sorry. I'm sorry. ...") at temperature 0, where no fallback temperature may
    replace it, and the words it stands for are lost. Its audio is decoded once more, alone, with no
    ``loop_retry_ngram``-token sequence allowed twice (a decoding that starts elsewhere, and cannot loop);
    what still compresses like a loop is dropped.
    """
    words = []
    for segment in _decode(model, samples, config):
        if segment.compression_ratio <= config.max_compression_ratio:
            words += _words(segment, channel, offset_s, samples.shape[-1] / SAMPLE_RATE)
        elif config.loop_retry_ngram:
            lo, hi = int(segment.start * SAMPLE_RATE), int(np.ceil(segment.end * SAMPLE_RATE))
            for again in _decode(model, np.ascontiguousarray(samples[lo:hi]), config,
                                 no_repeat_ngram_size=config.loop_retry_ngram):
                if again.compression_ratio <= config.max_compression_ratio:
                    words += _words(again, channel, offset_s + lo / SAMPLE_RATE, (hi - lo) / SAMPLE_RATE)
    return words


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
