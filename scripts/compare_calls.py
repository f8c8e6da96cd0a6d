"""Compare two output directories of callscope analyses, call by call: call.json (less ``timings_s``), the
RTTM and the transcript. Exits 1 and lists the first differences when any call differs.

    python scripts/compare_calls.py BEFORE_DIR AFTER_DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

IGNORED = ("timings_s",)  # run times differ between any two runs


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Paths (``speakers[0].metrics.talk_ratio``) at which two JSON values differ, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in (differences(a.get(k), b.get(k), f"{where}.{k}" if where else str(k))
                          if k in a and k in b else [f"{where}.{k}: only in {'before' if k in a else 'after'}"])]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items before, {len(b)} after"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {a!r} -> {b!r}"]


def compare_call(before: Path, after: Path) -> list[str]:
    """The differences of one call's folder."""
    docs = [json.loads((d / "call.json").read_text(encoding="utf-8")) for d in (before, after)]
    for doc in docs:
        for key in IGNORED:
            doc.pop(key, None)
    out = differences(*docs)
    for name in (f"{before.name}.rttm", f"{before.name}.txt"):
        if (before / name).read_bytes() != (after / name).read_bytes():
            out.append(f"{name} differs")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    calls = sorted(p.name for p in args.before.iterdir() if (p / "call.json").is_file())
    missing = [c for c in calls if not (args.after / c / "call.json").is_file()]
    changed = {c: d for c in calls if c not in missing and (d := compare_call(args.before / c, args.after / c))}
    for call, diffs in changed.items():
        print(f"{call}: {len(diffs)} difference(s)")
        for d in diffs[:20]:
            print(f"  {d}")
    for call in missing:
        print(f"{call}: missing after")
    print(f"{len(calls) - len(changed) - len(missing)} of {len(calls)} calls identical")
    sys.exit(1 if changed or missing else 0)


if __name__ == "__main__":
    main()
