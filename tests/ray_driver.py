"""Runs the Ray engine over made-up calls with a task that misbehaves on purpose, inside the test cluster's
namespace (``tests/test_ray.py``); prints the outcomes as JSON.

    python -m tests.ray_driver ADDRESS DIR NAME... [--timeout S] [--grace S]

``crash*`` calls kill their worker every time, ``once*`` the first time (a marker in DIR remembers it),
``slow*`` sleep 10 minutes, ``stuck*`` too, deaf to the timer (as native code is); others end at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import time
from pathlib import Path

from pipeline.config import Config, with_overrides
from pipeline.nightly import ray_engine
from pipeline.nightly.archive import CallFile
from pipeline.nightly.engine import CallOutcome, Computed


def misbehaving(call: CallFile, audio: bytes, config: Config, fingerprint: str) -> Computed:
    marker = call.path.parent / f"{call.call_id}.started"
    first = not marker.exists()
    marker.write_text("")
    if call.call_id.startswith("crash") or (call.call_id.startswith("once") and first):
        os.kill(os.getpid(), signal.SIGKILL)
    if call.call_id.startswith("stuck"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    if call.call_id.startswith(("slow", "stuck")):
        time.sleep(600)
    return Computed(CallOutcome(call.call_id, str(call.path), "analyzed", len(audio) / 32000, 0.0))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    parser.add_argument("dir", type=Path)
    parser.add_argument("names", nargs="+")
    parser.add_argument("--timeout", type=float, default=0.0)
    parser.add_argument("--grace", type=float, default=ray_engine.KILL_GRACE_S)
    args = parser.parse_args()
    ray_engine.KILL_GRACE_S = args.grace
    calls = []
    for name in args.names:
        path = args.dir / f"{name}.wav"
        path.write_bytes(b"\0" * 32000)
        calls.append(CallFile(path, name, {}, "2026-11-29T00:00:00+00:00"))
    config = with_overrides(Config(), "run", call_timeout_s=args.timeout)
    engine = ray_engine.RayEngine(args.address, 2, 1, task=misbehaving)
    try:
        outcomes = [dataclasses.asdict(o) for o in engine.outcomes(calls, config, args.dir / "out", "f" * 16)]
    finally:
        engine.close()
    print(json.dumps(outcomes))


if __name__ == "__main__":
    main()
