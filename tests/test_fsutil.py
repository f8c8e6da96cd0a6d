"""The one atomic writer: a target is replaced whole or keeps its old content, and no temporary name stays."""

import errno
import os

import pytest

from pipeline.fsutil import atomic_dir, atomic_file
from pipeline.nightly import catalog
from pipeline.reporting.export import export


class Refused(Exception):
    pass


def names(folder):
    return sorted(p.name for p in folder.iterdir())


def fail_fsync_of(monkeypatch, marker: str):
    """``os.fsync`` fails with ENOSPC on files whose path holds ``marker``, as a disk filling up would."""
    real = os.fsync

    def fsync(fd):
        if marker in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize(("mode", "old", "new"), [("w", "old\n", "new\n"), ("wb", b"old", b"new")])
def test_atomic_file_replaces_the_target(tmp_path, mode, old, new):
    target = tmp_path / "out.txt"
    with atomic_file(target, mode) as handle:
        handle.write(old)
    with atomic_file(target, mode) as handle:
        handle.write(new)
        assert (target.read_bytes() if mode == "wb" else target.read_text()) == old  # not yet replaced
    assert (target.read_bytes() if mode == "wb" else target.read_text()) == new
    assert names(tmp_path) == ["out.txt"]


def test_a_write_that_raises_midway_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    with pytest.raises(Refused), atomic_file(target) as handle:
        handle.write("half of the new")
        raise Refused
    assert target.read_text() == "old\n" and names(tmp_path) == ["out.txt"]


def test_a_refused_fsync_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    fail_fsync_of(monkeypatch, ".callscope-tmp")
    with pytest.raises(OSError, match="No space left"), atomic_file(target) as handle:
        handle.write("new\n")
    assert target.read_text() == "old\n" and names(tmp_path) == ["out.txt"]


def test_atomic_dir_replaces_a_folder_whole_or_not_at_all(tmp_path):
    target = tmp_path / "call"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("first")
    with pytest.raises(Refused), atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("second")
        raise Refused
    assert names(tmp_path) == ["call"] and (target / "a.txt").read_text() == "first"
    with atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("third")
    assert names(tmp_path) == ["call"] and names(target) == ["b.txt"]
    assert oct(target.stat().st_mode & 0o777) == "0o755"


def test_the_data_dictionary_is_written_atomically(tmp_path, monkeypatch):
    """It was a plain ``write_text``: a disk filling up under it left a cut dictionary beside the report."""
    (tmp_path / "db").mkdir()
    catalog.connect(tmp_path / "db").close()  # an empty catalog
    out = tmp_path / "report" / "calls.csv"
    _, dictionary = export(tmp_path / "db", "call", "csv", out)
    before = dictionary.read_text()
    fail_fsync_of(monkeypatch, "dictionary")
    with pytest.raises(OSError, match="No space left"):
        export(tmp_path / "db", "call", "csv", out, agent="A1")
    assert dictionary.read_text() == before and "agent: -" in before
    assert names(out.parent) == ["calls.csv", "calls.csv.dictionary.md"]
