"""The run catalog: an embedded DuckDB database in the output directory, derived from the files.

``DIR/<call_id>/call.json`` and ``DIR/_runs/<run_id>.json`` are the source of truth; the catalog
(``DIR/_catalog.duckdb``) indexes them for the nightly skip test and for exports. Each call is
ingested in one transaction, after its directory has landed, and ``reconcile`` catches up with
directories whose ingestion a killed run never made. ``rebuild`` makes the catalog again from the
files alone.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from pipeline.errors import ConfigError
from pipeline.fsutil import OLD_SUFFIX, REFUSALS, TMP_SUFFIX, atomic_file, refused

log = logging.getLogger(__name__)

CATALOG = "_catalog.duckdb"
RUNS = "_runs"
# failures that may pass on a second try ("model": older runs; "interrupted": cut short by a stop)
RETRIED_STAGES = ("write", "worker", "read", "model", "interrupted")

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    call_id VARCHAR PRIMARY KEY, source VARCHAR, sha256 VARCHAR, fingerprint VARCHAR, metadata_sha256 VARCHAR,
    agent_id VARCHAR, started_at VARCHAR, queue VARCHAR, direction VARCHAR,
    duration_s DOUBLE, sample_rate INTEGER, channels INTEGER, codec VARCHAR, asr_model VARCHAR, language VARCHAR,
    diarization_method VARCHAR, num_speakers INTEGER, transcript VARCHAR,
    document_mtime_ns BIGINT, document_size BIGINT);
CREATE TABLE IF NOT EXISTS speakers (call_id VARCHAR, speaker VARCHAR, role VARCHAR, channel INTEGER);
CREATE TABLE IF NOT EXISTS metrics (
    call_id VARCHAR, speaker VARCHAR, kind VARCHAR, name VARCHAR, pos INTEGER, value DOUBLE, text VARCHAR);
CREATE TABLE IF NOT EXISTS events (
    call_id VARCHAR, seq INTEGER, type VARCHAR, start_s DOUBLE, end_s DOUBLE, by_speaker VARCHAR, of_speaker VARCHAR,
    gave_way VARCHAR, yield_s DOUBLE, repeated BOOLEAN);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, status VARCHAR, started_at VARCHAR, finished_at VARCHAR, archive VARCHAR,
    out_dir VARCHAR, workers INTEGER, threads_per_worker INTEGER, fingerprint VARCHAR, settings VARCHAR,
    found INTEGER, analyzed INTEGER, skipped INTEGER, failed INTEGER, audio_s DOUBLE, seconds DOUBLE);
CREATE TABLE IF NOT EXISTS errors (
    run_id VARCHAR, call_id VARCHAR, file VARCHAR, stage VARCHAR, cause VARCHAR,
    sha256 VARCHAR, fingerprint VARCHAR, metadata_sha256 VARCHAR);
CREATE TABLE IF NOT EXISTS file_hashes (
    file VARCHAR PRIMARY KEY, size BIGINT, mtime_ns BIGINT, ctime_ns BIGINT, inode BIGINT, sha256 VARCHAR);
"""
CALL_TABLES = ("calls", "speakers", "metrics", "events")


def connect(out_dir: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open ``DIR/_catalog.duckdb`` (created when writable); ``ConfigError`` when absent or busy,
    ``OutputError`` when DIR is full or read-only."""
    path = Path(out_dir) / CATALOG
    if read_only and not path.is_file():
        raise ConfigError(f"{out_dir}: no catalog here ({CATALOG}); run `callscope run` into it first")
    try:
        if read_only:
            return duckdb.connect(str(path), read_only=True)
        with refusals(out_dir):
            return _open_writable(path)
    except duckdb.IOException as exc:
        raise ConfigError(f"{path}: catalog busy or unreadable ({str(exc).splitlines()[0]}); "
                          "a run may be writing it: try again when it ends") from None


def _open_writable(path: Path) -> duckdb.DuckDBPyConnection:
    """The catalog with its tables. One it could not finish creating is removed: left, it would be
    unreadable to every later run."""
    new = not path.exists()
    try:
        con = duckdb.connect(str(path))
        try:
            con.execute(SCHEMA)
        except BaseException:
            con.close()
            raise
    except BaseException:
        if new:
            path.unlink(missing_ok=True)
            Path(f"{path}.wal").unlink(missing_ok=True)
        raise
    return con


@contextmanager
def refusals(out_dir: str | Path) -> Iterator[None]:
    """A write refused by a full or read-only ``out_dir`` as the ``OutputError`` of the run: an ``OSError``
    of ``REFUSALS``, a DuckDB error naming one in its message, or one naming no cause while ``out_dir``
    refuses a write tried then."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in REFUSALS:
            raise
        raise refused(out_dir, exc.errno) from exc
    except duckdb.Error as exc:  # e.g. "Could not write file ...: No space left on device", "fsync failed!"
        err = next((err for err in REFUSALS if os.strerror(err) in str(exc)), None) or _refusal(out_dir)
        if err is None:
            raise
        raise refused(out_dir, err) from exc


def _refusal(out_dir: str | Path) -> int | None:
    """The ``REFUSALS`` errno that a write into ``out_dir`` meets now, None when it lands (an unnamed file)."""
    try:
        with tempfile.TemporaryFile(dir=out_dir) as probe:
            probe.write(b"\n")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        return exc.errno if exc.errno in REFUSALS else None
    return None


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """The block in one transaction, rolled back when it raises. A COMMIT that fails (a full or read-only
    disk) ends the transaction itself, and its error is the one that surfaces."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _metric_rows(call_id: str, speaker: str | None, kind: str, values: dict[str, Any]) -> list[tuple]:
    return [(call_id, speaker, kind, name, pos,
             None if isinstance(v, str | bool) or v is None else float(v), v if isinstance(v, str) else None)
            for pos, (name, v) in enumerate(values.items())]


# what a call.json the catalog cannot hold raises: damaged by hand (bad JSON, a key missing), or text no database
# holds (a lone surrogate that an older version let through from a sidecar)
UNCATALOGUABLE = (ValueError, KeyError, TypeError, duckdb.InvalidInputException, duckdb.ConversionException)


def ingest_call(con: duckdb.DuckDBPyConnection, call_dir: Path) -> None:
    """Replace one call's rows with what its call.json says, in one transaction."""
    doc_path = call_dir / "call.json"
    st = doc_path.stat()
    doc = json.loads(doc_path.read_text(encoding="utf-8"))
    meta = doc.get("metadata", {})
    cid = doc["call_id"]
    transcript = "\n".join(t["text"] for t in doc["turns"])
    metrics = _metric_rows(cid, None, "call", doc["call_metrics"])
    for s in doc["speakers"]:
        metrics += _metric_rows(cid, s["id"], "metric", s["metrics"])
        metrics += _metric_rows(cid, s["id"], "score", {k: v["value"] for k, v in s["scores"].items()})
        metrics += _metric_rows(cid, s["id"], "not_applicable", {
            k: "; ".join(n for n, c in v["components"].items() if not c.get("applicable", True)) or None
            for k, v in s["scores"].items()})
    events = [(cid, i, e["type"], e["start"], e["end"], e["by"], e["of"], e.get("gave_way"), e.get("yield_s"),
               e.get("repeated")) for i, e in enumerate(doc["events"])]
    with _transaction(con):
        for table in CALL_TABLES:
            con.execute(f"DELETE FROM {table} WHERE call_id = ?", [cid])
        con.execute("INSERT INTO calls VALUES (" + ", ".join(["?"] * 20) + ")", [
            cid, doc["source"], doc["sha256"], doc.get("fingerprint"), doc.get("metadata_sha256"),
            meta.get("agent_id"), meta.get("started_at") or meta.get("file_time"), meta.get("queue"),
            meta.get("direction"), doc["duration_s"], doc["sample_rate"], doc["channels"], doc["codec"],
            doc["asr"]["model"], doc["asr"]["language"], doc["diarization"]["method"],
            doc["diarization"]["num_speakers"], transcript, st.st_mtime_ns, st.st_size])
        if doc["speakers"]:
            con.executemany("INSERT INTO speakers VALUES (?, ?, ?, ?)",
                            [(cid, s["id"], s["role"], s["channel"]) for s in doc["speakers"]])
        if metrics:
            con.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?)", metrics)
        if events:
            con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", events)


def forget_call(con: duckdb.DuckDBPyConnection, call_id: str) -> None:
    """Drop a call whose directory is gone, in one transaction."""
    with _transaction(con):
        for table in CALL_TABLES:
            con.execute(f"DELETE FROM {table} WHERE call_id = ?", [call_id])


def ingest_run(con: duckdb.DuckDBPyConnection, run: dict[str, Any]) -> None:
    """Replace one run's row and its errors with the run document, in one transaction."""
    with _transaction(con):
        con.execute("DELETE FROM runs WHERE run_id = ?", [run["run_id"]])
        con.execute("DELETE FROM errors WHERE run_id = ?", [run["run_id"]])
        con.execute("INSERT INTO runs VALUES (" + ", ".join(["?"] * 16) + ")", [
            run["run_id"], run["status"], run["started_at"], run["finished_at"], run["archive"], run["out_dir"],
            run["workers"], run["threads_per_worker"], run["fingerprint"], json.dumps(run["settings"]),
            run["found"], run["analyzed"], run["skipped"], run["failed"], run["audio_s"], run["seconds"]])
        if run["errors"]:
            con.executemany("INSERT INTO errors VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
                (run["run_id"], e["call_id"], e["file"], e["stage"], e["cause"], e["sha256"], e["fingerprint"],
                 e["metadata_sha256"]) for e in run["errors"]])


def write_run(out_dir: Path, run: dict[str, Any]) -> None:
    """``DIR/_runs/<run_id>.json``, replaced atomically (``fsutil.atomic_file``): a crash or a file system
    gone read-only leaves the previous summary, never an empty file."""
    folder = out_dir / RUNS
    folder.mkdir(exist_ok=True)
    with atomic_file(folder / f"{run['run_id']}.json") as handle:
        handle.write(json.dumps(run, indent=1) + "\n")


def _call_dirs(out_dir: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted(out_dir.iterdir())
            if p.is_dir() and not p.name.startswith((".", "_")) and (p / "call.json").is_file()}


def _tidy(out_dir: Path) -> None:
    """Undo what a killed or refused write left: temporary directories and run files go; a result moved
    aside comes back. Only the names ``fsutil``'s writers make: anything else in DIR is not the run's."""
    for p in out_dir.glob(f".*{TMP_SUFFIX}"):
        shutil.rmtree(p, ignore_errors=True)
    for p in (out_dir / RUNS).glob(f".*{TMP_SUFFIX}"):
        p.unlink()
    for old in out_dir.glob(f".*{OLD_SUFFIX}"):
        final = out_dir / old.name[1:-len(OLD_SUFFIX)]
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, final)


def reconcile(con: duckdb.DuckDBPyConnection, out_dir: Path) -> None:
    """Bring the catalog up to the files: new or changed call directories are ingested, rows of gone
    ones dropped, runs that died while running marked ``interrupted``. Only under the run lock."""
    _tidy(out_dir)
    dirs = _call_dirs(out_dir)
    rows = {r[0]: r[1:] for r in con.execute("SELECT call_id, document_mtime_ns, document_size FROM calls").fetchall()}
    for call_id, path in dirs.items():
        st = (path / "call.json").stat()
        if rows.get(call_id) != (st.st_mtime_ns, st.st_size):
            try:
                ingest_call(con, path)
            except UNCATALOGUABLE as exc:  # damaged by hand, or from an older version: uncatalogued, so analyzed again
                log.warning("%s: call.json unreadable (%s); left out of the catalog", path, exc)
                forget_call(con, call_id)
    for call_id in sorted(set(rows) - set(dirs)):
        forget_call(con, call_id)
    known = dict(con.execute("SELECT run_id, status FROM runs").fetchall())
    for path in sorted((out_dir / RUNS).glob("*.json")):
        try:
            run = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:  # damaged by hand, or cut short by a crash before summaries were synced
            log.warning("%s: run summary unreadable (%s); skipped", path, exc)
            continue
        if run["status"] == "running":
            run["status"] = "interrupted"
            write_run(out_dir, run)
        if known.get(run["run_id"]) != run["status"]:
            ingest_run(con, run)


def rebuild(out_dir: str | Path) -> None:
    """Make the catalog again from the call directories and run files; the old one is replaced at once.
    Only under the run lock."""
    out_dir = Path(out_dir)
    path, tmp = out_dir / CATALOG, out_dir / f".{CATALOG}.rebuild"
    for stale in (tmp, Path(f"{tmp}.wal")):
        stale.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        con.execute(SCHEMA)
        reconcile(con, out_dir)
    finally:
        con.close()
    os.replace(tmp, path)
    Path(f"{path}.wal").unlink(missing_ok=True)


def call_keys(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str, str]]:
    """``call_id -> (sha256, fingerprint, metadata_sha256)`` of every catalogued call."""
    rows = con.execute("SELECT call_id, sha256, fingerprint, metadata_sha256 FROM calls").fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


FileStat = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode: a file unchanged keeps all four


def file_stat(path: Path) -> FileStat:
    st = path.stat()
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def known_hashes(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[FileStat, str]]:
    """``file -> (its stat when hashed, sha256)``: the hashes a run need not compute again (a cache; a
    rebuilt catalog starts without it)."""
    rows = con.execute("SELECT file, size, mtime_ns, ctime_ns, inode, sha256 FROM file_hashes").fetchall()
    return {r[0]: (tuple(r[1:5]), r[5]) for r in rows}


def remember_hashes(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, FileStat, str]]) -> None:
    """Store the hashes a run computed, in one transaction."""
    if rows:
        with _transaction(con):
            con.executemany("INSERT OR REPLACE INTO file_hashes VALUES (?, ?, ?, ?, ?, ?)",
                            [(f, *st, sha) for f, st, sha in rows])


def known_failures(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str, str, str], tuple[str, str]]:
    """``(file, sha256, fingerprint, metadata_sha256) -> (stage, cause)`` of failures that would repeat:
    the same bytes and settings fail the same way. The cause is the one first recorded (a later run records
    it again as unchanged)."""
    rows = con.execute(
        "SELECT file, sha256, fingerprint, metadata_sha256, stage, cause FROM errors "
        f"WHERE stage NOT IN ({', '.join(['?'] * len(RETRIED_STAGES))}) AND sha256 IS NOT NULL "
        "ORDER BY run_id DESC", list(RETRIED_STAGES)).fetchall()
    return {tuple(r[:4]): (r[4], r[5]) for r in rows}
