"""How the nightly run's calls are executed: the ``Engine`` seam, and this machine's process pool behind it.

An engine runs ``analyze_one`` over the calls a run decided to analyze and yields their outcomes as they
end. Everything else that makes a run (scan, skip decision, lock, catalog, summary, stop signal, exit
codes) is ``batch``'s. ``analyze_one`` is pure in its inputs and picklable, so any engine can run it.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from pipeline.config import Config, with_overrides
from pipeline.errors import AudioError, CallscopeError, ModelError, OutputError, StageError
from pipeline.nightly.archive import CallFile, call_metadata, metadata_sha256

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
Status = Literal["analyzed", "skipped", "failed"]


@dataclass(frozen=True)
class CallOutcome:
    """What became of one call in this run; ``stage`` and ``cause`` say why it failed."""

    call_id: str
    file: str
    status: Status
    audio_s: float = 0.0
    seconds: float = 0.0
    stage: str | None = None
    cause: str | None = None


def annotate(document: dict[str, Any], call: CallFile, fprint: str) -> dict[str, Any]:
    """call.json with the call's metadata and the run keys."""
    return {**document, "metadata": {**call.metadata, "file_time": call.file_time},
            "fingerprint": fprint, "metadata_sha256": metadata_sha256(call)}


def analyze_one(call: CallFile, config: Config, out_dir: Path, fprint: str) -> CallOutcome:
    """Analyze and write one call; a ``CallscopeError`` becomes a failed outcome, except ``OutputError`` and
    ``ModelError``, which are raised: they fail the run."""
    from pipeline.outputs.store import call_document, write_call
    from pipeline.runner import analyze_call

    t0 = time.perf_counter()
    try:
        result = analyze_call(call.path, config, call_id=call.call_id, metadata=call_metadata(call))
        write_call(result, out_dir, annotate(call_document(result), call, fprint))
    except (OutputError, ModelError):
        raise
    except CallscopeError as exc:
        stage = exc.stage if isinstance(exc, StageError) else "decode" if isinstance(exc, AudioError) else "analyze"
        cause = exc.cause if isinstance(exc, StageError | AudioError) else str(exc)
        return CallOutcome(call.call_id, str(call.path), "failed", 0.0, time.perf_counter() - t0, stage, cause)
    return CallOutcome(call.call_id, str(call.path), "analyzed", result.audio.duration_s, time.perf_counter() - t0)


class Engine(Protocol):
    """Runs ``analyze_one`` over calls; ``workers`` and ``threads`` (per worker) go into the run summary."""

    workers: int
    threads: int

    def outcomes(self, calls: Sequence[CallFile], config: Config, out_dir: Path, fingerprint: str,
                 ) -> Generator[CallOutcome, None, None]:
        """One outcome per call, in completion order. A call's failure, its worker's crash included, is a
        failed outcome; ``OutputError`` and ``ModelError`` are raised (they would fail every call). Closing
        the generator cancels the calls not yet started; those in progress end first."""


def _die_with_parent(parent_pid: int) -> None:
    """A worker ends when the run that started it is killed (Linux), so it never writes after it."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    if os.getppid() != parent_pid:
        os._exit(1)


@contextmanager
def _thread_caps(threads: int) -> Iterator[None]:
    """Thread caps in the environment that spawned workers inherit (BLAS and OpenMP read them at import)."""
    saved = {var: os.environ.get(var) for var in THREAD_VARS}
    os.environ.update(dict.fromkeys(THREAD_VARS, str(threads)))
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def init_worker(config: Config, threads: int, parent_pid: int) -> None:
    """Worker set-up: threads capped, the ASR model loaded once (other models load on first use)."""
    _die_with_parent(parent_pid)
    import torch

    torch.set_num_threads(threads)
    from pipeline.models.asr import model_for

    with suppress(ModelError):  # raised again by the first call, which stops the run; here it would break the pool
        model_for(config.asr)


WORKER_DIED = "the worker process died (out of memory, or a crash in native code)"
CRASHES_ALLOWED = 1  # a call whose worker died is retried alone; a second death fails it
KILL_GRACE_S = 60.0  # past its time limit, a call that does not stop (stuck in native code) gets its worker killed


class CallTimeout(BaseException):
    """A call ran past ``run.call_timeout_s``; no ``Exception`` handler inside the call may catch it."""


def timeout_cause(limit: float) -> str:
    return f"still running after {limit:g} s (run.call_timeout_s)"


def run_limited(task: Callable[..., CallOutcome], limit: float, call: CallFile, config: Config, out_dir: Path,
                fingerprint: str) -> CallOutcome:
    """``task`` on one call in a worker, stopped by a timer after ``limit`` seconds (0: none) as a failed
    outcome, stage ``timeout``. The timer interrupts Python code and blocking system calls; the run
    kills a worker stuck in native code ``KILL_GRACE_S`` later."""
    if not limit:
        return task(call, config, out_dir, fingerprint)

    def expire(signum: int, frame: object) -> None:
        raise CallTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return task(call, config, out_dir, fingerprint)
    except CallTimeout:
        return CallOutcome(call.call_id, str(call.path), "failed", 0.0, limit, "timeout", timeout_cause(limit))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class LocalEngine:
    """``workers`` processes spawned on this machine, each given cores / ``workers`` threads (so that they do
    not oversubscribe the cores), loading the ASR once, and killed with the run.

    At most ``workers`` calls are handed out at a time, so a run over any number of calls holds only those.
    When a worker dies, every call it may have been running is retried in a new pool, alone; a call whose
    worker dies while it runs alone for the second time fails at stage ``worker``, and only it. A call
    past ``run.call_timeout_s`` fails at stage ``timeout`` (``run_limited``); one stuck in native code
    ``KILL_GRACE_S`` longer has the pool's workers killed, and the other calls then in flight run again.
    ``task`` is what runs each call (``analyze_one``; tests put in one that crashes its worker).
    """

    def __init__(self, workers: int = 1, task: Callable[..., CallOutcome] = analyze_one) -> None:
        self.workers = workers
        self.threads = max(1, len(os.sched_getaffinity(0)) // workers)
        self.task = task

    def outcomes(self, calls: Sequence[CallFile], config: Config, out_dir: Path, fingerprint: str,
                 ) -> Generator[CallOutcome, None, None]:
        """See ``Engine.outcomes``; ``asr.cpu_threads: 0`` becomes the threads of a worker."""
        if config.asr.cpu_threads == 0:
            config = with_overrides(config, "asr", cpu_threads=self.threads)
        queue, suspects, crashes = deque(calls), deque(), Counter()
        while queue or suspects:
            died, spared = yield from self._pool_run(queue, suspects, config, out_dir, fingerprint)
            queue.extendleft(reversed(spared))
            alone = len(died) == 1
            for call in died:
                crashes[call.call_id] += alone
                if crashes[call.call_id] > CRASHES_ALLOWED:
                    yield CallOutcome(call.call_id, str(call.path), "failed", stage="worker", cause=WORKER_DIED)
                else:
                    suspects.append(call)

    def _pool_run(self, queue: deque[CallFile], suspects: deque[CallFile], config: Config, out_dir: Path,
                  fingerprint: str) -> Generator[CallOutcome, None, tuple[list[CallFile], list[CallFile]]]:
        """Run calls from ``queue`` in one pool, ``workers`` at a time, or else the ``suspects`` one at a
        time with nothing beside them, until both are empty, a worker dies or one is killed.

        Returns the calls in flight when a worker died (to be suspected), and those in flight when the run
        killed the workers of a call stuck past its time limit (to be run again: not their fault).
        """
        import multiprocessing

        limit = config.run.call_timeout_s
        with ProcessPoolExecutor(self.workers, multiprocessing.get_context("spawn"), initializer=init_worker,
                                 initargs=(config, self.threads, os.getpid())) as pool:
            running: dict[Future[CallOutcome], tuple[CallFile, float]] = {}
            try:
                while queue or suspects or running:
                    with _thread_caps(self.threads):  # the workers start as the calls are submitted
                        while (suspects and not running) or (not suspects and queue and len(running) < self.workers):
                            call = suspects.popleft() if suspects else queue.popleft()
                            future = pool.submit(run_limited, self.task, limit, call, config, out_dir, fingerprint)
                            running[future] = call, time.monotonic()
                    deadline = min(t for _, t in running.values()) + limit + KILL_GRACE_S if limit else None
                    done, _ = wait(running, None if deadline is None else max(0.0, deadline - time.monotonic()),
                                   FIRST_COMPLETED)
                    if not done:  # a call stuck in native code past its limit and the grace: kill the workers
                        now, stuck = time.monotonic(), []
                        for future, (call, started) in list(running.items()):
                            if now - started >= limit + KILL_GRACE_S:
                                stuck.append((call, now - started))
                                del running[future]
                        for process in list(pool._processes.values()):  # no public way to kill a pool's workers
                            process.kill()
                        for call, seconds in stuck:
                            yield CallOutcome(call.call_id, str(call.path), "failed", 0.0, seconds, "timeout",
                                              f"{timeout_cause(limit)}; its worker was killed")
                        return [], [call for call, _ in running.values()]
                    if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                        return [call for call, _ in running.values()], []
                    for future in done:
                        call, _ = running.pop(future)
                        try:
                            yield future.result()
                        except (OutputError, ModelError):
                            raise
                        except Exception as exc:  # a bug: this call fails, the run goes on
                            cause = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                            yield CallOutcome(call.call_id, str(call.path), "failed", stage="worker", cause=cause)
            finally:
                for future in running:
                    future.cancel()
        return [], []
