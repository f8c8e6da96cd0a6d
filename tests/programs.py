"""The system programs that tests and scripts run, with the Debian package that installs each.

``.ci/run`` installs what is missing before the tests (``python3 tests/programs.py`` prints those
packages, using nothing but the standard library); ``tests/test_programs.py`` fails in one line when one
is still missing, and checks that every program the code runs is listed here.
"""

from __future__ import annotations

import shutil
import sys

PROGRAMS = {  # program: (Debian package, what needs it)
    "bash": ("bash", "scripts/demo.sh in tests/test_demo.py"),
    "espeak-ng": ("espeak-ng", "scripted test calls and scripts/make_samples.py"),
    "chromium": ("chromium", "report pages rendered in tests and scripts/bench_report.py"),
    "mount": ("mount", "read-only and full file systems in tests/test_hostile.py"),
    "umount": ("mount", "read-only and full file systems in tests/test_hostile.py"),
    "findmnt": ("util-linux", "the ext4 image that fails in tests/test_hostile.py"),
    "mkfs.ext4": ("e2fsprogs", "the ext4 image that fails in tests/test_hostile.py"),
    "unshare": ("util-linux", "the Ray test cluster's own network namespace in tests/ray_cluster.py"),
    "nsenter": ("util-linux", "the Ray test cluster's own network namespace in tests/ray_cluster.py"),
}


def missing() -> list[str]:
    """The programs of ``PROGRAMS`` not on PATH, in order."""
    return [name for name in PROGRAMS if shutil.which(name) is None]


def packages(programs: list[str]) -> list[str]:
    """The Debian packages that install ``programs``, each once, in order."""
    return list(dict.fromkeys(PROGRAMS[name][0] for name in programs))


def complaint(programs: list[str]) -> str:
    """One line naming the missing programs and how to install them."""
    return (f"system programs missing: {', '.join(programs)} (needed by "
            f"{'; '.join(dict.fromkeys(PROGRAMS[p][1] for p in programs))}); `bash .ci/run` installs them, or "
            f"apt-get install {' '.join(packages(programs))}")


if __name__ == "__main__":  # the Debian packages to install, one line, empty when nothing is missing
    print(" ".join(packages(missing())))
    sys.exit(0)
