"""The models, each loaded once per process from the package that ships it: ASR, speaker encoders,
segmentation, pyannote. Each model module says what identifies it (``identity``: names, package versions,
weight file sizes); ``identity.identities(config)`` gathers those of the models a config will use."""

from __future__ import annotations

import importlib.util
import os
from importlib import metadata
from pathlib import Path


def versions(*packages: str) -> dict[str, str | None]:
    """The installed version of each distribution, None where it is absent."""
    found: dict[str, str | None] = {}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def package_file(package: str, relative: str) -> Path | None:
    """A file shipped inside an installed package (not imported), None where the package is absent."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0]) / relative


def file_bytes(path: Path | None) -> int | None:
    """Size of a weight file, None where it is absent."""
    return path.stat().st_size if path is not None and path.is_file() else None


def cpu_threads() -> int:
    """Threads a model may use in this process: the cap the nightly engines give a worker (``OMP_NUM_THREADS``),
    else the cores."""
    cap = os.environ.get("OMP_NUM_THREADS", "")
    return int(cap) if cap.isdigit() and int(cap) > 0 else os.cpu_count() or 1
