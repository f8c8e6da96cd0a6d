"""The nightly run over an archive: incremental, resumable, on an engine's workers, one lock per DIR.

A call is analyzed again only when its bytes (sha256), its metadata or the fingerprint of the
settings and models that shape its results changed. Each result lands whole (``store.write_files``)
and is then catalogued in one transaction; a failure is recorded with its stage and cause and the
run goes on. A full or read-only output and a model that cannot load would fail every call alike:
they stop the run instead. Progress goes through a hook; nothing here prints. How the calls are
executed (this machine's worker processes, or a Ray cluster's actors) is the engine's (``nightly.engine``).
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Literal

import duckdb

from pipeline import __version__
from pipeline.audio.decode import file_sha256
from pipeline.config import Config, config_from_dict
from pipeline.errors import BusyError, ConfigError, EngineError, Interrupted, ModelError, OutputError
from pipeline.fsutil import REFUSALS, refused
from pipeline.hooks import Hook
from pipeline.models.identity import identities
from pipeline.nightly import archive, catalog
from pipeline.nightly.engine import CallOutcome, Engine, LocalEngine

LOCK = ".callscope.lock"
Key = tuple[str, str, str]  # what decides whether a call is analyzed again: sha256, fingerprint, metadata_sha256


def settings(config: Config) -> dict[str, Any]:
    """What shapes a call's results: the resolved config (less thread counts and the archive and run sections),
    the callscope version and the identities of the models it uses (``models.identity``)."""
    resolved = dataclasses.asdict(config_from_dict(dataclasses.asdict(config)))  # values as a file gives them
    del resolved["archive"], resolved["run"], resolved["asr"]["cpu_threads"]
    return {"config": resolved, "callscope": __version__, "models": identities(config)}


def fingerprint(settings_doc: dict[str, Any]) -> str:
    """A short stable hash of ``settings(config)``."""
    return hashlib.sha256(json.dumps(settings_doc, sort_keys=True).encode()).hexdigest()[:16]


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


def _run_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}Z-{os.getpid()}"


@dataclass(kw_only=True)
class RunSummary:
    """A run as ``DIR/_runs/<run_id>.json`` and the catalog's ``runs`` and ``errors`` tables hold it
    (``document()``): calls found, analyzed, skipped (unchanged) and failed, each failure with its file,
    stage, cause and keys, and the files left for a later run."""

    run_id: str = field(default_factory=_run_id)
    status: Literal["running", "done", "interrupted"] = "running"
    started_at: str = field(default_factory=_now)
    finished_at: str | None = None
    archive: str
    out_dir: str
    workers: int
    threads_per_worker: int
    fingerprint: str
    settings: dict[str, Any]
    since: str | None
    found: int
    analyzed: int = 0
    skipped: int = 0
    failed: int = 0
    audio_s: float = 0.0
    seconds: float = 0.0
    errors: list[dict[str, Any]] = field(default_factory=list)
    left: list[str]
    t0: float  # time.perf_counter() when the run began; not in the document

    def document(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        del doc["t0"]
        return doc

    def record(self, outcome: CallOutcome, key: Key | None = None) -> None:
        """Count one call's outcome; a failure is listed with the call's ``key`` where it was read."""
        setattr(self, outcome.status, getattr(self, outcome.status) + 1)
        self.audio_s = round(self.audio_s + outcome.audio_s, 3)
        if outcome.status == "failed":
            sha, _, msha = key or (None, None, None)
            self.errors.append({"call_id": outcome.call_id, "file": outcome.file, "stage": outcome.stage,
                                "cause": outcome.cause, "sha256": sha, "fingerprint": self.fingerprint,
                                "metadata_sha256": msha})
        if outcome.status != "skipped":
            self.seconds = round(time.perf_counter() - self.t0, 3)

    def finish(self, status: Literal["done", "interrupted"]) -> None:
        self.status, self.finished_at, self.seconds = status, _now(), round(time.perf_counter() - self.t0, 3)


@dataclass
class _Ledger:
    """Where a run's outcomes land as they come: its summary, saved to ``DIR/_runs`` and the catalog
    whenever it changes, and the keys of the calls read so far (by file)."""

    con: duckdb.DuckDBPyConnection
    out_dir: Path
    summary: RunSummary
    keys: dict[str, Key] = field(default_factory=dict)

    def save(self) -> None:
        doc = self.summary.document()
        catalog.write_run(self.out_dir, doc)
        catalog.ingest_run(self.con, doc)

    def record(self, outcome: CallOutcome) -> None:
        """Catalogue an analyzed call and count its outcome; a skipped call changes nothing to save. A call the
        catalog cannot hold fails alone, stage ``catalog``."""
        if outcome.status == "analyzed":
            try:
                catalog.ingest_call(self.con, self.out_dir / outcome.call_id)
            except catalog.UNCATALOGUABLE as exc:
                cause = f"cannot be catalogued ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
                outcome = dataclasses.replace(outcome, status="failed", audio_s=0.0, stage="catalog", cause=cause)
        self.summary.record(outcome, self.keys.get(outcome.file))
        if outcome.status != "skipped":
            self.save()

    def finish(self, status: Literal["done", "interrupted"]) -> None:
        self.summary.finish(status)
        self.save()


def run_archive(archive_dir: str | Path, out_dir: str | Path, config: Config, *, engine: Engine | None = None,
                since: date | None = None, hook: Hook | None = None,
                stop: Callable[[], int | None] | None = None) -> dict[str, Any]:
    """Analyze every new or changed call of ``archive_dir`` into ``out_dir`` on ``engine`` (default: one
    local worker); return the run summary (``RunSummary.document()``).

    ``hook`` hears ``"start"`` and each ``"call"`` (``pipeline.hooks``). ``stop`` is asked after each call
    and each file hashed; a signal number from it ends the run with ``Interrupted`` (so does a signal handler
    that raises it while the engine waits, ``engine.interruptible``): the calls in progress are cut short and
    recorded as failed, stage ``interrupted``, which the next run analyzes again; the run is recorded as
    interrupted.

    The summary is also ``DIR/_runs/<run_id>.json`` and the catalog's ``runs`` and ``errors``.
    Raises ``BusyError`` when another run holds ``out_dir`` and ``ConfigError`` for a bad archive.
    ``OutputError`` (``out_dir`` full or read-only, from the start or partway), ``ModelError`` and
    ``EngineError`` (a Ray cluster out of reach or without workers) stop the run at once: what has landed
    is kept and catalogued (by the next run where the catalog refused it),
    a rerun resumes.
    """
    archive_dir, out_dir = Path(archive_dir), Path(out_dir)
    if not archive_dir.is_dir():
        raise ConfigError(f"{archive_dir}: archive is not a directory")
    t0 = time.perf_counter()
    engine = engine or LocalEngine()
    try:
        with run_lock(out_dir), closing(catalog.connect(out_dir)) as con, catalog.refusals(out_dir):
            catalog.reconcile(con, out_dir)
            found = archive.scan(archive_dir, config.archive, since)
            settings_doc = settings(config)
            ledger = _Ledger(con, out_dir, RunSummary(
                archive=str(archive_dir.resolve()), out_dir=str(out_dir.resolve()), workers=engine.workers,
                threads_per_worker=engine.threads, fingerprint=fingerprint(settings_doc), settings=settings_doc,
                since=since and since.isoformat(), found=len(found.calls) + len(found.rejected),
                left=[f"{p}: {why}" for p, why in found.left], t0=t0))
            ledger.save()
            todo = _triage(ledger, found, stop)
            try:
                _analyze(ledger, todo, config, engine, hook, stop)
            except BaseException:
                with suppress(OSError, duckdb.Error):  # the output may be what failed: the next run marks it
                    ledger.finish("interrupted")
                raise
            ledger.finish("done")
            return ledger.summary.document()
    except (OutputError, ModelError, EngineError) as exc:
        raise type(exc)(f"{exc}; the run stopped, results written so far are kept: run again to resume") from exc


def _triage(ledger: _Ledger, found: archive.Archive, stop: Callable[[], int | None] | None,
            ) -> list[archive.CallFile]:
    """The calls to analyze. Rejected and unreadable calls are recorded as failed, unchanged ones as
    skipped, and those that failed before with the same key as failed again, without a try."""
    done, failures = catalog.call_keys(ledger.con), catalog.known_failures(ledger.con)
    hashes, hashed = catalog.known_hashes(ledger.con), []
    todo: list[archive.CallFile] = []
    for bad in found.rejected:
        ledger.record(CallOutcome(bad.call_id, str(bad.path), "failed", stage=bad.stage, cause=bad.cause))
    for call in found.calls:
        _check(stop)  # hashing a big night's new files takes a while
        file = str(call.path)
        try:
            sha = _sha256(call.path, hashes, hashed)
        except OSError as exc:
            ledger.record(CallOutcome(call.call_id, file, "failed", stage="read", cause=str(exc)))
            continue
        ledger.keys[file] = key = (sha, ledger.summary.fingerprint, archive.metadata_sha256(call))
        if done.get(call.call_id) == key:
            ledger.record(CallOutcome(call.call_id, file, "skipped"))
        elif (file, *key) in failures:
            stage, cause = failures[(file, *key)]
            ledger.record(CallOutcome(call.call_id, file, "failed", stage=stage, cause=f"{cause} (unchanged)"))
        else:
            todo.append(call)
    catalog.remember_hashes(ledger.con, hashed)
    return todo


def _sha256(path: Path, known: dict[str, tuple[catalog.FileStat, str]],
            hashed: list[tuple[str, catalog.FileStat, str]]) -> str:
    """The file's sha256: the one hashed on an earlier night when its size, times and inode are the same (a
    write changes its ctime, which no one can set back), else read and added to ``hashed``."""
    stat = catalog.file_stat(path)
    if (cached := known.get(str(path))) and cached[0] == stat:
        return cached[1]
    sha = file_sha256(path)
    hashed.append((str(path), stat, sha))
    return sha


def _analyze(ledger: _Ledger, todo: list[archive.CallFile], config: Config, engine: Engine, hook: Hook | None,
             stop: Callable[[], int | None] | None) -> None:
    """Analyze ``todo`` on ``engine``, recording each outcome as it comes."""
    if hook:
        hook("start", None, completed=0, total=len(todo))
    try:  # closed on the way out: calls not yet started are cancelled, those in progress cut short
        with closing(engine.outcomes(todo, config, ledger.out_dir, ledger.summary.fingerprint)) as outcomes:
            for i, outcome in enumerate(outcomes):
                ledger.record(outcome)
                if hook:
                    hook("call", outcome, completed=i + 1, total=len(todo))
                _check(stop)  # between calls: never inside a catalog transaction
    except Interrupted as exc:
        cause = f"stopped by {signal.Signals(exc.signum).name} while being analyzed; the next run analyzes it again"
        for call in engine.in_flight():
            ledger.record(CallOutcome(call.call_id, str(call.path), "failed", stage="interrupted", cause=cause))
        raise


def _check(stop: Callable[[], int | None] | None) -> None:
    """``Interrupted`` when a stop was asked for."""
    if stop and (signum := stop()):
        raise Interrupted(signum)
