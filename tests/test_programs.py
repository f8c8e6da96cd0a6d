"""The system programs the suite runs: all installed, and all listed in ``tests/programs.py``."""

from __future__ import annotations

import ast

import pytest

from . import programs
from .conftest import ROOT

RUNNERS = {"run", "Popen", "call", "check_call", "check_output"}  # subprocess functions that take an argv


def called_programs(source: str) -> set[str]:
    """Programs named in ``source``: the first item of a literal argv given to a subprocess function,
    and the argument of ``shutil.which``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func, first = node.func, node.args[0]
        owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else None
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if owner == "subprocess" and name in RUNNERS and isinstance(first, ast.List | ast.Tuple) and first.elts:
            first = first.elts[0]
        elif name != "which" or owner not in (None, "shutil"):
            continue
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.add(first.value)
    return found


def test_the_system_programs_the_suite_runs_are_installed():
    absent = programs.missing()
    if absent:
        pytest.fail(programs.complaint(absent), pytrace=False)


def test_every_program_the_code_runs_is_listed():
    used = {}
    for folder in ("tests", "scripts", "pipeline"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for name in called_programs(path.read_text(encoding="utf-8")):
                used.setdefault(name, path.relative_to(ROOT))
    unlisted = {name: str(path) for name, path in used.items() if name not in programs.PROGRAMS}
    assert not unlisted, f"add these to tests/programs.py (and so to .ci/run): {unlisted}"
    assert {"espeak-ng", "chromium", "mount", "mkfs.ext4"} <= set(used)


def test_the_scan_finds_argv_and_which():
    source = ("import shutil, subprocess, sys\nsubprocess.run(['flac', 'a.wav'])\nsubprocess.Popen(('lame', '-h'))\n"
              "shutil.which('opusenc')\nsubprocess.run([sys.executable, '-m', 'x'])\nprint(['not', 'run'])\n"
              "run(('A', 0, 2, 'a helper named run'))\n")
    assert called_programs(source) == {"flac", "lame", "opusenc"}


def test_a_missing_program_is_named_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert programs.missing() == list(programs.PROGRAMS)
    line = programs.complaint(["espeak-ng", "umount", "mount"])
    assert "\n" not in line and line.startswith("system programs missing: espeak-ng, umount, mount (")
    assert line.endswith("apt-get install espeak-ng mount")
