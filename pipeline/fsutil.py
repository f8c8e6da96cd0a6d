"""Writing results safely: files and folders that appear whole or not at all, and the refusals of a full or
read-only output.

Every writer of the project (call folders, run summaries, exports and their data dictionaries, report
pages, the segmentation model cache) goes through ``atomic_file`` or ``atomic_dir``, which behave alike:
the content goes to a hidden temporary name beside the target (``.<name>.<random>.callscope-tmp``); on success its
bytes are fsynced, it is renamed onto the target with ``os.replace``, and the parent directory is fsynced,
so that once the writer returns the result survives a crash or a file system turning read-only. On
failure the temporary name is removed (what a killed process leaves, ``catalog.reconcile`` tidies), the
target keeps its old content, and the error is raised as it came.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, Literal

from pipeline.errors import OutputError

REFUSALS = {errno.ENOSPC: "free space", errno.EDQUOT: "free space or raise the quota",
            errno.EROFS: "make it writable"}  # errors of the whole output, not of one call, with their fix
TMP_SUFFIX, OLD_SUFFIX = ".callscope-tmp", ".callscope-old"  # names only these writers make, so only those are tidied


def refused(out_dir: str | Path, err: int) -> OutputError:
    """The ``OutputError`` of an output that refuses every write (``err`` a key of ``REFUSALS``)."""
    return OutputError(f"{out_dir}: cannot write results ({os.strerror(err)}): {REFUSALS[err]}")


def fsync_file(path: Path) -> None:
    """Flush a written file's bytes to the disk."""
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (names created, renamed or removed) to the disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_file(target: str | Path, mode: Literal["w", "wb"] = "w", *, newline: str | None = None,
                ) -> Iterator[IO[Any]]:
    """An open temporary file (text in UTF-8 with ``mode="w"``, bytes with ``"wb"``) that replaces
    ``target`` when the block ends without error; see the module docstring."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}{TMP_SUFFIX}")
    try:
        with tmp.open(mode.replace("w", "x"), encoding=None if "b" in mode else "utf-8", newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with suppress(OSError):  # a read-only output refuses this too; the first error is the one to see
            tmp.unlink()
        raise
    fsync_dir(target.parent)


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """A temporary folder to fill, which replaces the folder ``target`` when the block ends without error.

    Its files are fsynced, then the folder (mode 0755); an older ``target`` is moved aside to
    ``.<name>.callscope-old`` for the rename and then removed. See the module docstring.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=TMP_SUFFIX, dir=target.parent))
    try:
        yield tmp
        for f in tmp.iterdir():
            fsync_file(f)
        os.chmod(tmp, 0o755)
        fsync_dir(tmp)
        if target.exists():
            old = target.with_name(f".{target.name}{OLD_SUFFIX}")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
        fsync_dir(target.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
