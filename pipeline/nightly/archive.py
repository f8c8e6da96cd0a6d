"""Find the calls of an archive and their metadata: per-call sidecars and a ``calls.csv`` manifest.

Audio is recognised by extension or by its first bytes; hidden files, partial copies (``.part``,
``.tmp``, ...) and files still growing are left for the next run. Metadata comes from
``ARCHIVE/calls.csv`` (a ``file`` column, relative to the archive, then any metadata field) and from
``<audio>.json`` beside a recording, whose fields win. Each call either has valid metadata or is
rejected with a one-line cause.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import stat
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.config import ArchiveConfig
from pipeline.errors import ConfigError, MetadataError
from pipeline.metadata import (
    FIELDS,
    CallMetadata,
    call_id_for,
    read_sidecar,
    sidecar_path,
    validate_metadata,
)

MANIFEST = "calls.csv"
EXTRA, BAD_ROW = "\0extra", "\0bad"  # keys no manifest column can have: surplus fields, an unreadable row
# (offset, bytes) of the containers the decoders read
FILE_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
              stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}
MAGIC = ((0, b"RIFF"), (0, b"RF64"), (0, b"fLaC"), (0, b"OggS"), (0, b"ID3"), (0, b"FORM"), (0, b"caff"),
         (0, b".snd"), (0, b"#!AMR"), (0, b"\x1a\x45\xdf\xa3"), (0, b"\x30\x26\xb2\x75"), (4, b"ftyp"))


@dataclass(frozen=True)
class CallFile:
    """A recording to analyze with its validated metadata (every field of ``FIELDS`` but the call id,
    None where unknown) and the file's modification time (ISO 8601, UTC)."""

    path: Path
    call_id: str
    metadata: dict[str, Any]
    file_time: str

    @property
    def started_at(self) -> str:
        """When the call started: the metadata's time, else the file's."""
        return self.metadata["started_at"] or self.file_time


@dataclass(frozen=True)
class Rejected:
    """A recording that cannot be analyzed as it stands, with a one-line cause."""

    path: Path
    call_id: str
    stage: str
    cause: str


@dataclass(frozen=True)
class Archive:
    """What a scan found: calls in path order, rejected calls, and files left for a later run."""

    calls: tuple[CallFile, ...]
    rejected: tuple[Rejected, ...]
    left: tuple[tuple[Path, str], ...]


def call_metadata(call: CallFile) -> CallMetadata:
    """A call's metadata as the analysis takes it: its channel roles decide who the agent is, so that roles
    and scores agree."""
    return CallMetadata.from_fields({**call.metadata, "call_id": call.call_id})


def metadata_sha256(call: CallFile) -> str:
    """A short hash of a call's id and metadata: a call whose metadata changed is analyzed again."""
    return hashlib.sha256(json.dumps([call.call_id, call.metadata], sort_keys=True).encode()).hexdigest()[:16]


def is_audio(path: Path, config: ArchiveConfig) -> bool:
    """By extension, else by the file's first bytes."""
    if path.suffix.lower() in config.audio_extensions:
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(12)
    except OSError:
        return False
    return any(head[at : at + len(magic)] == magic for at, magic in MAGIC)


def parse_date(text: str, name: str = "date") -> date:
    """``YYYY-MM-DD`` (or a full ISO time) as a date; ``ConfigError`` otherwise."""
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        raise ConfigError(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None


def read_manifest(archive: Path) -> dict[Path, dict[str, str]]:
    """Rows of ``ARCHIVE/calls.csv`` by resolved file path; ``ConfigError`` when its header is wrong.

    A row the file's recording can still be told from, but whose fields cannot be read (fewer or more
    than the header's, bytes that are not UTF-8), maps to ``{BAD_ROW: cause}``: that call fails on its
    metadata, the others go on. Names stay bytes where they are not UTF-8, as the file system's are.
    """
    path = archive / MANIFEST
    if not path.is_file():
        return {}
    try:
        with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
            reader = csv.DictReader(handle, restkey=EXTRA)
            header = reader.fieldnames or []
            bad = sorted(set(header) - {"file", *FIELDS})
            if "file" not in header or bad:
                raise ConfigError(f"{path}: columns must be 'file' and any of {', '.join(FIELDS)}"
                                  + (f"; unknown {', '.join(map(repr, bad))}" if bad else ""))
            rows = {}
            for row in reader:
                if not row.get("file"):
                    continue  # no recording to tell: nothing to analyze with it
                rows[(archive / row["file"]).resolve()] = _manifest_row(row, f"{path} line {reader.line_num}",
                                                                         len(header))
            return rows
    except (OSError, csv.Error) as exc:
        raise ConfigError(f"{path}: cannot read the manifest ({exc})") from None


def _manifest_row(row: dict[str, Any], where: str, width: int) -> dict[str, str]:
    """A manifest row's metadata fields, or ``{BAD_ROW: cause}``."""
    if EXTRA in row or None in row.values():
        count = width + len(row.get(EXTRA, [])) - sum(v is None for v in row.values())
        return {BAD_ROW: f"{where}: {count} fields, the header has {width}"}
    for key, value in row.items():
        if any("\udc80" <= c <= "\udcff" for c in value):  # an undecodable byte, as surrogateescape keeps it
            return {BAD_ROW: f"{where}: {key} is not UTF-8 text"}
    return {k: v for k, v in row.items() if k != "file"}


def _metadata(path: Path, row: dict[str, str] | None) -> dict[str, Any]:
    if row and BAD_ROW in row:
        raise MetadataError(row[BAD_ROW])
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        return validate_metadata(row or {}, str(path))
    return validate_metadata({**(row or {}), **read_sidecar(sidecar)}, str(sidecar))


def _candidates(archive: Path, config: ArchiveConfig) -> tuple[list[Path], list[tuple[Path, str]], list[Rejected]]:
    """Audio files, files left for a later run, and audio names that cannot be analyzed: a symlink loop,
    something that is not a regular file (a FIFO, a device: reading it would never end), a link out of the
    archive (``archive.follow_outside_links``)."""
    found, left, broken = [], [], []
    inside = archive.resolve()
    for root, dirs, files in os.walk(archive):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if name.startswith("."):
                left.append((path, "hidden"))
                continue
            if name.lower().endswith(config.partial_suffixes):
                left.append((path, "partial"))
                continue
            try:
                kind = stat.S_IFMT(path.stat().st_mode)
            except OSError as exc:
                if path.suffix.lower() in config.audio_extensions:
                    broken.append(Rejected(path, path.stem, "read", f"{path}: {exc.strerror or exc}"))
                continue
            if kind != stat.S_IFREG:
                if path.suffix.lower() in config.audio_extensions:
                    broken.append(Rejected(path, path.stem, "read", f"{path}: not a regular file "
                                           f"({FILE_KINDS.get(kind, 'special file')})"))
                else:
                    left.append((path, f"not a regular file ({FILE_KINDS.get(kind, 'special file')})"))
                continue
            if not is_audio(path, config):
                continue
            target = path.resolve()
            if not config.follow_outside_links and not target.is_relative_to(inside):
                broken.append(Rejected(path, path.stem, "read", f"{path}: links outside the archive (to {target}); "
                                       "set archive.follow_outside_links to analyze such files"))
                continue
            found.append(path)
    return found, left, broken


def _settled(paths: list[Path], settle_s: float) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files modified within ``settle_s`` are looked at again after it: still changing (or gone), they are left."""
    def state(path: Path) -> tuple[int, int] | None:
        try:
            st = path.stat()
        except OSError:  # renamed or deleted meanwhile
            return None
        return st.st_size, st.st_mtime_ns

    now = time.time()
    first = {p: state(p) for p in paths}
    gone = {p for p, s in first.items() if s is None}
    recent = [p for p, s in first.items() if s is not None and now - s[1] / 1e9 < settle_s]
    if recent:
        time.sleep(max(0.0, settle_s - min(now - first[p][1] / 1e9 for p in recent)))
    later = {p: state(p) for p in recent}
    gone |= {p for p, s in later.items() if s is None}
    growing = {p for p, s in later.items() if s is not None and s != first[p]}
    return ([p for p in paths if p not in growing | gone],
            [(p, "still being written") for p in sorted(growing)] + [(p, "gone during the scan") for p in sorted(gone)])


def scan(archive: str | Path, config: ArchiveConfig, since: date | None = None) -> Archive:
    """Every call of ``archive`` (recursively) from ``since`` on (by its start time, else the file's)."""
    archive = Path(archive)
    if not archive.is_dir():
        raise ConfigError(f"{archive}: archive is not a directory")
    manifest = read_manifest(archive)
    paths, left, rejected = _candidates(archive, config)
    paths, growing = _settled(paths, config.settle_s)
    calls: list[CallFile] = []
    owner: dict[str, Path] = {}
    for path in paths:
        try:
            mtime = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).replace(microsecond=0)
        except OSError:
            growing.append((path, "gone during the scan"))
            continue
        try:
            metadata = _metadata(path, manifest.get(path.resolve()))
            call_id = call_id_for(path, metadata.pop("call_id"))
            if call_id in owner:
                raise MetadataError(f"{path}: call_id {call_id!r} is already used by {owner[call_id]}")
        except MetadataError as exc:
            rejected.append(Rejected(path, path.stem, "metadata", str(exc)))
            continue
        owner[call_id] = path
        call = CallFile(path, call_id, metadata, mtime.isoformat())
        if since is None or datetime.fromisoformat(call.started_at).date() >= since:
            calls.append(call)
    return Archive(tuple(calls), tuple(rejected), tuple(left + growing))
