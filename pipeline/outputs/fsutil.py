"""Writing results safely: files and folders that appear whole or not at all, and the refusals of a full or
read-only output."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from pipeline.errors import OutputError

REFUSALS = {errno.ENOSPC: "free space", errno.EDQUOT: "free space or raise the quota",
            errno.EROFS: "make it writable"}  # errors of the whole output, not of one call, with their fix


def refused(out_dir: str | Path, err: int) -> OutputError:
    """The ``OutputError`` of an output that refuses every write (``err`` a key of ``REFUSALS``)."""
    return OutputError(f"{out_dir}: cannot write results ({os.strerror(err)}): {REFUSALS[err]}")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
