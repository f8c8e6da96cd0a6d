"""Models exported from torch to ONNX once per machine and run with ONNX Runtime, so that a worker needs no torch.

An export is a set of files (ONNX graphs, their geometry) cached under ``CALLSCOPE_CACHE`` (default
``~/.cache/callscope``) by a hash of the weights they come from, each written to a temporary name and
renamed, so concurrent workers agree. A process that finds them all never imports torch; a damaged cache is
exported again; a cache that cannot be written leaves the export in memory.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pipeline.fsutil import atomic_file
from pipeline.models import cpu_threads

CACHE_DIR = Path(os.environ.get("CALLSCOPE_CACHE", Path.home() / ".cache" / "callscope")) / "models"
log = logging.getLogger(__name__)
T = TypeVar("T")


def session(model: bytes, threads: int = 0) -> Any:
    """An ONNX Runtime session of a serialized graph on ``threads`` CPU threads (0: this process's,
    ``models.cpu_threads``), with no busy waits and no memory arena: what a run allocates is freed after it, at
    no cost in speed. The thread count does not change the outputs (``tests/test_diarize.py``)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or cpu_threads()
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = False  # an arena keeps the peak of the last run resident (230 MB on a 6-min call)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy waits beside other work
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def digest(weights: Path) -> str:
    """The first 16 hex digits of the sha256 of a weight file, "missing" where there is none."""
    return hashlib.sha256(weights.read_bytes()).hexdigest()[:16] if weights.is_file() else "missing"


def cached(stem: str, suffixes: tuple[str, ...], export: Callable[[], dict[str, bytes]],
           build: Callable[[dict[str, bytes]], T], cache_dir: Path) -> T:
    """``build`` over the files ``<stem><suffix>`` in ``cache_dir``, or over a fresh ``export()`` (suffix: bytes)
    where one is missing or ``build`` fails on them, cached there for the next process."""
    paths = {suffix: cache_dir / f"{stem}{suffix}" for suffix in suffixes}
    if all(path.exists() for path in paths.values()):
        try:
            return build({suffix: path.read_bytes() for suffix, path in paths.items()})
        except Exception as exc:  # truncated, overwritten or half there: export again
            log.warning("cannot use the cached model %s (%s); exporting it again", paths[suffixes[0]],
                        type(exc).__name__)
    files = export()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for suffix in reversed(suffixes):  # the first, which says the export is there, last
            with atomic_file(paths[suffix], "wb") as handle:
                handle.write(files[suffix])
    except OSError as exc:
        log.warning("cannot cache the model %s in %s (%s); kept in memory", stem, cache_dir, exc)
    return build(files)
