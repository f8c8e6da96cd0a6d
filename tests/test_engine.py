"""The local engine's faults: a worker killed mid-call, a call that kills its worker every time, errors
that cross the process boundary."""

import json
import os
import pickle
import signal
import time
from pathlib import Path

import pytest

from pipeline import errors
from pipeline.config import Config, with_overrides
from pipeline.nightly import engine
from pipeline.nightly.archive import CallFile
from pipeline.nightly.engine import WORKER_DIED, CallOutcome, LocalEngine


def crashing_task(call: CallFile, config: Config, out_dir: Path, fingerprint: str) -> CallOutcome:
    """Kills its worker for a call named ``crash*`` every time, for ``once*`` the first time (a marker in
    ``out_dir`` remembers it); any other call is analyzed at once."""
    marker = out_dir / f"{call.call_id}.started"
    first = not marker.exists()
    marker.write_text("")
    if call.call_id.startswith("crash") or (call.call_id.startswith("once") and first):
        os.kill(os.getpid(), signal.SIGKILL)
    return CallOutcome(call.call_id, str(call.path), "analyzed", 1.0, 0.0)


def _calls(*names):
    return [CallFile(Path(f"/archive/{n}.wav"), n, {}, "2026-11-29T00:00:00+00:00") for n in names]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_call_that_kills_its_worker_fails_alone(tmp_path, workers):
    """It was: the pool broke, and every call not yet finished failed as 'the worker process died'."""
    calls = _calls("a", "b", "crash", "c", "d", "e")
    outcomes = list(LocalEngine(workers, crashing_task).outcomes(calls, Config(), tmp_path, "f" * 16))
    assert sorted(o.call_id for o in outcomes) == sorted(c.call_id for c in calls)  # each exactly once
    failed = [(o.call_id, o.stage, o.cause) for o in outcomes if o.status == "failed"]
    assert failed == [("crash", "worker", WORKER_DIED)]


def test_a_worker_killed_once_mid_call_is_retried_and_the_call_lands_once(tmp_path):
    calls = _calls("a", "once", "b", "c")
    outcomes = list(LocalEngine(2, crashing_task).outcomes(calls, Config(), tmp_path, "f" * 16))
    assert sorted((o.call_id, o.status) for o in outcomes) == [(c.call_id, "analyzed") for c in sorted(
        calls, key=lambda c: c.call_id)]


ERRORS = [errors.AudioError("/a/call.wav", "not audio"), errors.StageError("c1", "asr", "boom"),
          errors.ConfigError("bad"), errors.ModelError("missing"), errors.MetadataError("x: bad field"),
          errors.BusyError("busy"), errors.OutputError("full"), errors.EngineError("no worker"),
          errors.Interrupted(signal.SIGTERM)]


def test_every_error_survives_a_pickle_round_trip():
    """Workers send them to the run: StageError and AudioError could not be unpickled."""
    leaves = {errors.CallscopeError, errors.Interrupted}
    classes = {c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, BaseException)}
    assert {type(e) for e in ERRORS} == classes - {errors.CallscopeError} | (leaves - {errors.CallscopeError})
    for error in ERRORS:
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error) and str(back) == str(error) and vars(back) == vars(error)


def sleeping_task(call: CallFile, config: Config, out_dir: Path, fingerprint: str) -> CallOutcome:
    """``slow*`` sleeps 10 minutes; ``stuck*`` too, deaf to the timer (as native code is); others end at once."""
    if call.call_id.startswith("stuck"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    if call.call_id.startswith(("slow", "stuck")):
        time.sleep(600)
    return CallOutcome(call.call_id, str(call.path), "analyzed", 1.0, 0.0)


def test_a_call_past_its_time_limit_fails_and_the_run_goes_on(tmp_path):
    config = with_overrides(Config(), "run", call_timeout_s=2.0)
    t0 = time.monotonic()
    outcomes = list(LocalEngine(2, sleeping_task).outcomes(_calls("a", "slow", "b", "c"), config, tmp_path, "f" * 16))
    assert sorted((o.call_id, o.status, o.stage) for o in outcomes) == [
        ("a", "analyzed", None), ("b", "analyzed", None), ("c", "analyzed", None), ("slow", "failed", "timeout")]
    assert [o.cause for o in outcomes if o.stage] == ["still running after 2 s (run.call_timeout_s)"]
    assert time.monotonic() - t0 < 120


def test_a_call_stuck_in_native_code_has_its_worker_killed(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "KILL_GRACE_S", 20.0)  # covers a worker's start (spawn, torch, the ASR model)
    config = with_overrides(Config(), "run", call_timeout_s=2.0)
    outcomes = list(LocalEngine(2, sleeping_task).outcomes(_calls("a", "stuck", "b"), config, tmp_path, "f" * 16))
    assert sorted((o.call_id, o.status, o.stage) for o in outcomes) == [
        ("a", "analyzed", None), ("b", "analyzed", None), ("stuck", "failed", "timeout")]
    assert [o.cause for o in outcomes if o.stage] == [
        "still running after 2 s (run.call_timeout_s); its worker was killed"]


def test_the_config_names_the_engine_and_its_sizes():
    from pipeline.nightly.ray_engine import RayEngine

    local = engine.make_engine(with_overrides(Config(), "run", workers=3, threads=2))
    assert isinstance(local, LocalEngine) and (local.workers, local.threads) == (3, 2)
    assert engine.make_engine(Config()).workers == 1
    ray = engine.make_engine(with_overrides(Config(), "run", engine="ray", ray_address="auto", workers=4))
    assert isinstance(ray, RayEngine) and (ray.address, ray._workers, ray.threads) == ("auto", 4, 1)


def test_a_stop_signal_cuts_the_calls_in_progress_short(tmp_path):
    """It was: a first SIGTERM waited for the calls in progress (a 6-minute call, a read or a model call that
    never ends), so ``timeout 600 callscope run`` could run on for minutes."""
    import threading

    import soundfile as sf

    from pipeline.cli import _StopRequest
    from pipeline.nightly import batch, catalog

    from .conftest import tone

    root = tmp_path / "archive"
    root.mkdir()
    for name in ("slow_a", "slow_b"):
        sf.write(root / f"{name}.wav", tone(300, 0.5), 16000)
    request = _StopRequest()
    previous = signal.signal(signal.SIGTERM, request)
    timer = threading.Timer(15.0, os.kill, (os.getpid(), signal.SIGTERM))  # past the workers' start
    timer.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(errors.Interrupted):
            batch.run_archive(root, tmp_path / "out", with_overrides(Config(), "archive", settle_s=0.0),
                              engine=LocalEngine(2, sleeping_task), stop=lambda: request.signum)
    finally:
        timer.cancel()
        signal.signal(signal.SIGTERM, previous)
    assert time.monotonic() - t0 < 120  # the calls sleep 10 minutes
    run = json.loads(next((tmp_path / "out" / "_runs").glob("*.json")).read_text())
    assert run["status"] == "interrupted"
    assert sorted((e["call_id"], e["stage"]) for e in run["errors"]) == [("slow_a", "interrupted"),
                                                                         ("slow_b", "interrupted")]
    assert run["errors"][0]["cause"] == "stopped by SIGTERM while being analyzed; the next run analyzes it again"
    with catalog.connect(tmp_path / "out", read_only=True) as con:
        assert catalog.known_failures(con) == {}  # the next run tries them again


def test_a_stop_signal_inside_ray_wait_comes_out_as_itself():
    """The handler's ``Interrupted`` raised inside Ray's C wait surfaces as a SystemError caused by it (seen in
    CI): the Ray engine's wait hands the ``Interrupted`` on, so the run records its calls as interrupted."""
    from types import SimpleNamespace

    from pipeline.nightly import ray_engine

    def wait(refs, num_returns, timeout):
        try:
            raise errors.Interrupted(signal.SIGTERM)
        except errors.Interrupted as exc:
            raise SystemError("<cyfunction CoreWorker.wait> returned a result with an exception set") from exc

    with pytest.raises(errors.Interrupted) as stopped:
        ray_engine._wait(SimpleNamespace(wait=wait), [])
    assert stopped.value.signum == signal.SIGTERM

    def broken(refs, num_returns, timeout):
        raise SystemError("something else")

    with pytest.raises(SystemError, match="something else"):  # any other SystemError is no stop
        ray_engine._wait(SimpleNamespace(wait=broken), [])
