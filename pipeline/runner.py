"""``analyze_call``: one recording in, one ``CallResult`` out, a stage a line."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path

from threadpoolctl import threadpool_limits

from pipeline.audio import decode, echo, signal, vad
from pipeline.config import Config
from pipeline.conversation import acoustics, behaviours, cues, dynamics, prosody, redaction, roles, scoring
from pipeline.diarization import align, channels, embedding, pyannote
from pipeline.errors import CallscopeError, StageError
from pipeline.hooks import Hook
from pipeline.metadata import CallMetadata
from pipeline.models import asr
from pipeline.models import pyannote as pyannote_model
from pipeline.transcription import transcribe
from pipeline.types import Assessment, CallResult, Diarization

BLAS_THREADS = 1  # numpy's BLAS rounds differently with each thread count: one, whatever the worker has
BESIDE_THREADS = 1  # the embedding diarizer's models beside the ASR: the core a decoder leaves free


@contextmanager
def _stage(name: str, call_id: str, timings: dict[str, float], hook: Hook | None) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    except CallscopeError:
        raise
    except Exception as exc:
        cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StageError(call_id, name, cause) from exc
    signal.release_freed_memory()
    timings[name] = time.perf_counter() - start
    if hook:
        hook(name, timings[name])


def analyze_call(path: str | Path, config: Config, hook: Hook | None = None,
                 call_id: str | None = None, metadata: CallMetadata | None = None) -> CallResult:
    """Decode, find speech, transcribe, diarize, align one call; measure its turn-taking, prosody and
    language; tell the agent from the customer and score them. ``metadata`` (a sidecar) may give the
    call id and a channel map of the roles. ``hook`` hears of each stage as it ends (``pipeline.hooks``).

    Pure in its inputs: models load once per process behind ``lru_cache``, so a process pool or
    a distributed engine can run it unchanged. Raises ``CallscopeError`` subclasses only.

    With two decoders or more, the embedding diarizer (which needs no words) runs beside the ASR on one thread,
    the core a decoder leaves free while the last blocks decode (a call under 2.5 minutes is one block); on two
    threads it took half of both cores from the first blocks, and the last then decoded alone.

    The same inputs give the same result whatever the process's thread counts: numpy's BLAS runs on
    ``BLAS_THREADS`` here (the Whisper features are a matrix product whose rounding depends on how many
    threads split it, and a last-bit change can turn a window's decoding); the ASR's own threads do not
    change its result (``docs/reliability.md``). Large blocks of memory go back to the system when freed
    (``signal.map_large_blocks``).
    """
    signal.map_large_blocks()
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        return _analyze(path, config, hook, call_id, metadata)


def _analyze(path: str | Path, config: Config, hook: Hook | None, call_id: str | None,
             metadata: CallMetadata | None) -> CallResult:
    t0 = time.perf_counter()
    call_id = call_id or (metadata and metadata.call_id) or Path(path).stem
    timings: dict[str, float] = {}
    with _stage("decode", call_id, timings, hook):
        rec = decode.load_audio(path)
    with _stage("echo", call_id, timings, hook):  # stereo: one channel repeating the other late
        found = echo.find_echo(rec.samples, config.diarization)
        rec = dataclasses.replace(rec, samples=echo.cancel_echo(rec.samples, found)) if found else rec
    with _stage("vad", call_id, timings, hook):
        cores = asr.decoders(config.asr)  # the decodings at once: the cores this call may keep busy
        channel_spans = vad.channels_speech(list(rec.samples), config.vad, cores)
    with _stage("method", call_id, timings, hook):
        method, checks = channels.choose_method(rec.samples, channel_spans, config.diarization)
        mixed = signal.mix(rec.samples) if method != "channels" else None  # the channel mix, made once
        if method != "channels" and rec.channels > 1:  # a stereo file analyzed as mono: speech found over the mix
            channel_spans = [*channel_spans, *vad.channels_speech([mixed], config.vad, cores)]
        checks = (*checks, echo.echo_note(found)) if found else checks
        # models load once per process; a pyannote pipeline that cannot load fails before the ASR
        diarizer = pyannote_model.pipeline_for(config.diarization) if method == "pyannote" else None
    # the embedding diarizer needs no words: with two decoders or more, it runs beside the ASR
    beside = method == "embedding" and cores > 1

    def diarize(heard: Hook | None, into: dict[str, float]) -> Diarization:
        with _stage("diarize", call_id, into, heard):
            if method == "channels":
                diar = channels.diarize_channels(channel_spans, rec.samples, config.diarization)
            elif method == "pyannote":  # its own speech detection, over the channel mix
                diar = pyannote.diarize_pyannote(rec.samples, config.diarization, diarizer)
            else:  # over the channel mix, whose speech spans come last
                threads = BESIDE_THREADS if beside else 0  # 0: the process's
                diar = embedding.diarize_embedding(mixed, channel_spans[-1], config.diarization, threads)
            return dataclasses.replace(diar, notes=(*checks, *diar.notes), echo=found)

    with ThreadPoolExecutor(1) if beside else nullcontext() as pool:
        beside_timings: dict[str, float] = {}  # the stages keep their order in timings_s
        pending = pool.submit(diarize, None, beside_timings) if pool else None
        with _stage("asr", call_id, timings, hook):
            hinted = dataclasses.replace(config.asr, **metadata.asr_hints()) if metadata else config.asr
            per_channel = method == "channels"
            spans = channel_spans if per_channel else channel_spans[-1:]
            transcript = transcribe.transcribe(asr.model_for(hinted), rec.samples, hinted, per_channel, spans)
            if config.privacy.redact:  # before anything downstream sees the words
                transcript = redaction.redact_transcript(transcript, config.privacy)
        diar = pending.result() if pending else diarize(hook, timings)
    if pending:
        timings.update(beside_timings)
        if hook:
            hook("diarize", timings["diarize"])
    with _stage("align", call_id, timings, hook):
        alignment = align.align(transcript, diar, config.align)
    with _stage("dynamics", call_id, timings, hook):
        # without overlap detection the embedding diarizer gives one speaker per moment
        observable = diar.method != "embedding" or config.diarization.overlap_detection
        conversation = dynamics.analyze(alignment, config.dynamics, overlaps_observable=observable)
    with _stage("prosody", call_id, timings, hook):
        voices = prosody.analyze(rec, alignment, config.prosody)
    with _stage("acoustics", call_id, timings, hook):
        measured = acoustics.analyze(rec.samples, alignment, conversation, config.acoustics)
    with _stage("cues", call_id, timings, hook):
        said = cues.analyze(alignment, rec.info.duration_s, config.cues, config.dynamics.question_words)
    with _stage("score", call_id, timings, hook):
        who = roles.assign(alignment, said, config.roles, metadata.channel_roles if metadata else None)
        if doubt := roles.map_doubt(who, roles.from_evidence(alignment, said, config.roles), alignment.channel_of):
            diar = dataclasses.replace(diar, notes=(*diar.notes, doubt))
        did = behaviours.find(alignment.words, config.cues, config.dynamics.hold_phrases)
        holds = behaviours.holds(conversation.waits, did, config.dynamics.hold_min_s)
        trends, scores = scoring.analyze(alignment, conversation, voices, said, rec.info.duration_s, config.scoring,
                                         who, did, holds)
    timings["total"] = time.perf_counter() - t0
    return CallResult(call_id, rec.info, transcript, diar, alignment, conversation, voices, measured, timings,
                      Assessment(who, said, trends, scores, did))
