"""Transcription with faster-whisper, word timestamps on, one pass per channel for stereo calls."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from pipeline.audio.signal import frame_db, map_blocks, merge, release, release_freed_memory
from pipeline.config import AsrConfig
from pipeline.lexicons import syllables, word_key
from pipeline.models.asr import FRONT_END, decoders
from pipeline.types import SAMPLE_RATE, Span, Transcript, Word

WINDOW_S = 30.0  # Whisper's input window
ASR_BLOCK_S = 120.0  # a signal is decoded in blocks of about this long, cut at quiet points, as many at once as
# there are decoders, each holding its block's features; 9 min of real calls: no more word errors than in 300-s blocks
RECOVER_JOIN_S = 0.5  # speech spans closer than this make one stretch when looking for speech left without words
RECOVER_PAD_S = 0.2  # audio kept either side of such a stretch when it is decoded again
RECOVER_MAX_SHARE = 0.5  # above this share of the speech without words, the audio is not one the decoder skipped
MAX_SYLLABLES_PER_S = 8.0  # one word said again and again faster than this is the decoder looping, not a person...
REPEAT_SLACK_S = 0.2  # ...over the run's span widened by this much (a word's time is coarse)
CRAMMED_SYLLABLES_PER_S = 12.0  # four or more words in a row this dense were not all said...
CRAMMED_WORDS = (4, 16)  # ...judged over windows of this many consecutive words...
NO_LENGTH_S = 0.05  # ...and those of them the aligner found no time for were not said at all


def _decode(model, samples: np.ndarray, config: AsrConfig, **guard: int) -> list:
    """faster-whisper's segments of one signal, decoded now.

    With ``asr.vad_filter``, faster-whisper's own steps (its Silero pass, the speech joined, the times taken back),
    the Silero pass under ``models.asr.FRONT_END``: it runs over the whole block at once, 80 MB for 2 minutes."""
    from faster_whisper.transcribe import restore_speech_timestamps
    from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

    chunks = []
    if config.vad_filter:
        with FRONT_END:
            chunks = get_speech_timestamps(samples, VadOptions())
        samples = np.concatenate(collect_chunks(samples, chunks)[0])
    segments, _ = model.transcribe(
        samples,
        language=config.language,
        beam_size=config.beam_size,
        word_timestamps=True,
        vad_filter=False,
        condition_on_previous_text=config.condition_on_previous_text,
        temperature=list(config.temperatures),
        hotwords=config.hotwords,
        initial_prompt=config.initial_prompt,
        **guard,
    )
    return list(restore_speech_timestamps(segments, chunks, SAMPLE_RATE) if chunks else segments)


def _words(segment, channel: int, offset_s: float, duration_s: float) -> list[Word]:
    return [Word(offset_s + min(w.start, duration_s), offset_s + min(max(w.end, w.start), duration_s), w.word.strip(),
                 float(w.probability), channel)
            for w in segment.words or () if w.word.strip()]


def _pace(said: int, first: Word, last: Word) -> float:
    """Syllables per second over the words from ``first`` to ``last``, the span widened by ``REPEAT_SLACK_S``."""
    return said / (last.end - first.start + REPEAT_SLACK_S)


def collapse_repeats(words: Sequence[Word]) -> list[Word]:
    """``words`` (in time order) with each run of one word said again faster than anyone speaks kept once.

    Whisper can loop on a short word ("Okay. Okay. Okay. Okay. Okay." in 0.8 s where an agent said "okay" once,
    on a real mono call): a segment too short for the compression guard of ``_kept``, and five acknowledgements
    in the agent's scores. A run of the same word (letters, digits and apostrophes, case aside), each less than
    ``REPEAT_SLACK_S`` after the last, whose syllables over its span, plus ``REPEAT_SLACK_S``, exceed
    ``MAX_SYLLABLES_PER_S`` becomes its first word, ending where the run ends; "bye bye" or "no, no, no" at a
    speaking pace stay."""
    out: list[Word] = []
    i = 0
    while i < len(words):
        j = i + 1
        key = word_key(words[i].text)
        while (j < len(words) and key and word_key(words[j].text) == key
               and words[j].start - words[j - 1].end < REPEAT_SLACK_S):
            j += 1
        run = words[i:j]
        looped = len(run) > 1 and _pace(sum(syllables(w.text) for w in run), run[0], run[-1]) > MAX_SYLLABLES_PER_S
        out += [dataclasses.replace(run[0], end=run[-1].end)] if looped else run
        i = j
    return out


def drop_crammed(words: Sequence[Word]) -> list[Word]:
    """``words`` (in time order) less those written where there was no time to say them.

    Whisper can go on writing past the speech it heard: "All right. Thank you very much." in 0.28 s where an
    agent said "alright" and a word nobody could write (a real mono call), or, with the bank's name as hotwords,
    "is going to be the first time I've been working on this." in 0.12 s after an agent's goodbye. In a window
    of ``CRAMMED_WORDS`` consecutive words, each less than ``REPEAT_SLACK_S`` after the last, whose syllables
    over its span, plus ``REPEAT_SLACK_S``, exceed ``CRAMMED_SYLLABLES_PER_S``, the words the aligner gave less
    than ``NO_LENGTH_S`` are dropped; the others there kept time with the audio. Words squeezed at a turn's end
    ("all for today." in 0.26 s) are too few, at too slow a rate, to count."""
    least, most = CRAMMED_WORDS
    said = [syllables(w.text) for w in words]
    crammed: set[int] = set()
    for i in range(len(words)):
        total = 0
        for j in range(i, min(len(words), i + most)):
            if j > i and words[j].start - words[j - 1].end >= REPEAT_SLACK_S:
                break
            total += said[j]
            if j + 1 - i >= least and _pace(total, words[i], words[j]) > CRAMMED_SYLLABLES_PER_S:
                crammed.update(k for k in range(i, j + 1) if words[k].end - words[k].start < NO_LENGTH_S)
    return [w for k, w in enumerate(words) if k not in crammed]


def _kept(model, audio: np.ndarray, segments: list, config: AsrConfig,
          words_of: Callable[[object, float], list[Word]]) -> list[Word]:
    """The words of ``segments`` decoded from ``audio`` (``words_of(segment, offset_s)``, the offset in ``audio``).

    A segment whose text compresses more than ``max_compression_ratio`` (gzip) is a repetition loop: Whisper
    stuck on one phrase ("I'm sorry. I'm sorry. ...") at temperature 0, where no fallback temperature may
    replace it, and the words it stands for are lost. Its audio is decoded once more, alone, with no
    ``loop_retry_ngram``-token sequence allowed twice (a decoding that starts elsewhere, and cannot loop);
    what still compresses like a loop is dropped. A short loop on one word is kept once (``collapse_repeats``),
    and words written with no time to say them are dropped (``drop_crammed``).
    """
    words = []
    for segment in segments:
        if segment.compression_ratio <= config.max_compression_ratio:
            words += words_of(segment, 0.0)
        elif config.loop_retry_ngram:
            lo, hi = int(segment.start * SAMPLE_RATE), int(np.ceil(segment.end * SAMPLE_RATE))
            for again in _decode(model, np.ascontiguousarray(audio[lo:hi]), config,
                                 no_repeat_ngram_size=config.loop_retry_ngram):
                if again.compression_ratio <= config.max_compression_ratio:
                    words += words_of(again, lo / SAMPLE_RATE)
    return drop_crammed(collapse_repeats(words))


def transcribe_channel(model, samples: np.ndarray, config: AsrConfig, channel: int,
                       offset_s: float = 0.0) -> list[Word]:
    """Words of one signal, shape (n,) float32 at 16 kHz, tagged with ``channel``, times shifted by ``offset_s``;
    a segment that loops is decoded again (``_kept``)."""
    duration = samples.shape[-1] / SAMPLE_RATE
    return _kept(model, samples, _decode(model, samples, config), config,
                 lambda segment, at: _words(segment, channel, offset_s + at, duration - at))


def unheard(spans: Sequence[Span], words: Sequence[Word], min_s: float, max_wps: float) -> list[tuple[float, float]]:
    """Stretches of speech the decoder left (almost) without words: the speech ``spans`` joined where less than
    ``RECOVER_JOIN_S`` apart, kept where at least ``min_s`` long and holding fewer than ``max_wps`` words per
    second (a word counts where its midpoint lies). (start, end) in seconds; none when ``min_s`` is 0."""
    joined = merge(spans, RECOVER_JOIN_S)
    if min_s <= 0 or not joined:
        return []
    bounds = np.array([(span.start, span.end) for span in joined])
    mids = np.sort([(w.start + w.end) / 2 for w in words])
    said = np.searchsorted(mids, bounds[:, 1]) - np.searchsorted(mids, bounds[:, 0])
    length = bounds[:, 1] - bounds[:, 0]
    keep = (length >= min_s) & (said < max_wps * length)
    return [(float(a), float(b)) for a, b in bounds[keep]]


def recover(model, x: np.ndarray, spans: Sequence[Span], words: list[Word], config: AsrConfig,
            channel: int) -> list[Word]:
    """``words`` of one signal (shape (n,), or (channels, n) to be mixed), with the speech the decoder skipped
    decoded again, in time order. Whisper's decoder may jump its timestamps past seconds of speech, more often over a
    channel mix where two voices take short turns (on a real mono call, 25 s of five turns came back as
    "Okay."). Each ``unheard`` stretch (``asr.recover_min_s``, ``asr.recover_max_wps``) is decoded alone,
    ``RECOVER_PAD_S`` either side, without hotwords or prompt (on a clip of a second or two they leak: "I'm
    Tuesday National"), and its words replace those it held where there are more of them. Where the
    stretches hold more than ``RECOVER_MAX_SHARE`` of the speech (another language, music taken for speech),
    decoding them again would cost a window each and bring nothing: they are left."""
    n = x.shape[-1]
    plain = dataclasses.replace(config, hotwords=None, initial_prompt=None)
    stretches = unheard(spans, words, config.recover_min_s, config.recover_max_wps)
    if sum(b - a for a, b in stretches) > RECOVER_MAX_SHARE * sum(span.duration for span in spans):
        stretches = []
    for a, b in stretches:
        lo, hi = max(0, int((a - RECOVER_PAD_S) * SAMPLE_RATE)), min(n, int(np.ceil((b + RECOVER_PAD_S) * SAMPLE_RATE)))
        clip = np.ascontiguousarray(x[lo:hi] if x.ndim == 1 else x[:, lo:hi].mean(axis=0), np.float32)
        again = transcribe_channel(model, clip, plain, channel, lo / SAMPLE_RATE)
        held = [w for w in words if a <= (w.start + w.end) / 2 < b]
        if len(again) > len(held):
            words = [w for w in words if not a <= (w.start + w.end) / 2 < b] + again
    return sorted(words, key=lambda w: (w.start, w.end))


def windows(spans: Sequence[Span], duration_s: float, pad_s: float,
            limit_s: float = WINDOW_S) -> list[list[tuple[float, float]]]:
    """What the batched recognizer decodes: the speech spans, each padded by ``pad_s`` and joined where they then
    meet, cut into pieces of at most ``limit_s`` (Whisper's 30 s), grouped in order into windows whose pieces
    last at most ``limit_s`` together. Each window is a list of (start, end) in seconds; the silence between its
    pieces is left out, as faster-whisper's own VAD filter does."""
    pieces: list[list[float]] = []
    for span in spans:
        a, b = max(0.0, span.start - pad_s), min(duration_s, span.end + pad_s)
        if pieces and a <= pieces[-1][1]:
            a = pieces.pop()[0]
        while b - a > limit_s:
            pieces.append([a, a + limit_s])
            a += limit_s
        if b > a:
            pieces.append([a, b])
    out: list[list[tuple[float, float]]] = []
    length = limit_s
    for a, b in pieces:
        if length + b - a > limit_s:
            out.append([])
            length = 0.0
        out[-1].append((a, b))
        length += b - a
    return out


class _Joined:
    """Pieces of a signal joined end to end, and the way back from a time in the joined signal to the source."""

    def __init__(self, x: np.ndarray, pieces: list[tuple[int, int]]) -> None:
        parts = [x[a:b] if x.ndim == 1 else x[:, a:b].mean(axis=0) for a, b in pieces]
        self.audio = np.ascontiguousarray(np.concatenate(parts), np.float32)
        self.starts = np.cumsum([0] + [b - a for a, b in pieces[:-1]]) / SAMPLE_RATE  # joined seconds
        self.sources = np.array([a for a, _ in pieces]) / SAMPLE_RATE
        self.ends = np.array([b for _, b in pieces]) / SAMPLE_RATE

    def source(self, start: float, end: float) -> tuple[float, float]:
        """Where a stretch of the joined signal lies in the source: in the piece it starts in (a word that runs
        over a joint ends with its piece, as the silence between them is not there)."""
        k = max(0, int(np.searchsorted(self.starts, start, side="right")) - 1)
        a = min(float(self.sources[k] + start - self.starts[k]), float(self.ends[k]))
        return a, min(max(a, float(self.sources[k] + end - self.starts[k])), float(self.ends[k]))

    def words(self, segment, channel: int, offset_s: float = 0.0) -> list[Word]:
        """The segment's words, their times (in the joined signal, less ``offset_s``) taken back to the source."""
        return [Word(*self.source(offset_s + w.start, offset_s + w.end), w.word.strip(), float(w.probability), channel)
                for w in segment.words or () if w.word.strip()]


def _transcribe_windows(model, x: np.ndarray, spans: Sequence[Span], config: AsrConfig, channel: int) -> list[Word]:
    """Words of one signal (shape (n,), or (channels, n) to be mixed): the windows around its speech (``windows``)
    decoded ``asr.batch_size`` at a time with faster-whisper's ``BatchedInferencePipeline``, without timestamps;
    only one batch's audio and features are held at once. A window that loops is decoded again (``_kept``).
    A window's text may end early and leave the rest of its speech out, where the
    sequential decoder goes on from its last timestamp (``docs/benchmarks.md``: more errors on the real calls)."""
    from faster_whisper import BatchedInferencePipeline

    n = x.shape[-1]
    bounds = windows(spans, n / SAMPLE_RATE, config.window_pad_s)
    words = []
    for g in range(0, len(bounds), config.batch_size):
        group = bounds[g : g + config.batch_size]
        joined = _Joined(x, [(int(a * SAMPLE_RATE), min(n, int(np.ceil(b * SAMPLE_RATE))))
                             for window in group for a, b in window])
        release(x)
        clips, at = [], 0.0
        for window in group:
            length = sum(b - a for a, b in window)
            clips.append({"start": at, "end": at + length})
            at += length
        segments, _ = BatchedInferencePipeline(model).transcribe(  # a new pipeline: no state from the last batch
            joined.audio, language=config.language, beam_size=config.beam_size, word_timestamps=True,
            vad_filter=False, clip_timestamps=clips, batch_size=config.batch_size,
            temperature=list(config.temperatures), hotwords=config.hotwords, initial_prompt=config.initial_prompt)
        words += _kept(model, joined.audio, list(segments), config,
                       lambda segment, at, joined=joined: joined.words(segment, channel, at))
        release_freed_memory()
    return words


def transcribe(model, samples: np.ndarray, config: AsrConfig, per_channel: bool,
               spans: Sequence[Sequence[Span]] | None = None) -> Transcript:
    """Transcribe a call: each channel apart when ``per_channel``, else the channel mix.

    ``samples`` has shape (channels, n). With ``asr.batch_size`` and the speech ``spans`` of each signal (one
    sequence per channel, or one for the mix), the windows around the speech are decoded in batches
    (``_transcribe_windows``). Otherwise each signal is transcribed in blocks of about ``ASR_BLOCK_S``, cut at quiet
    points (``signal.block_bounds``), so that the recognizer's features and memory stay those of one block;
    ``models.asr.decoders`` blocks are decoded at once (the channels of a stereo call, the blocks of a long one).
    The blocks, and so the words, do not depend on how many. With the spans, speech the decoder skipped is
    decoded again (``recover``). Words come back sorted by start time.
    """
    signals = [(ch, samples[ch]) for ch in range(samples.shape[0])] if per_channel else [(-1, samples)]
    n = samples.shape[1]
    if config.batch_size and spans is not None:
        said = [_transcribe_windows(model, x, spans[k], config, channel) for k, (channel, x) in enumerate(signals)]
    else:
        def decode(k: int, lo: int, hi: int) -> list[Word]:
            channel, x = signals[k]
            block = np.array(x[lo:hi] if x.ndim == 1 else x[:, lo:hi].mean(axis=0))
            release(samples)
            words = transcribe_channel(model, block, config, channel, lo / SAMPLE_RATE)
            release_freed_memory()
            return words

        blocks = map_blocks([frame_db(x) for _, x in signals], n, decode, decoders(config), ASR_BLOCK_S)
        said = [[w for block in mine for w in block] for mine in blocks]
    words = []
    for k, (channel, x) in enumerate(signals):
        words += recover(model, x, spans[k], said[k], config, channel) if spans is not None else said[k]
    words.sort(key=lambda w: (w.start, w.end))
    return Transcript(tuple(words), config.model, config.compute_type, config.language or "auto", config.hotwords,
                      config.initial_prompt)
