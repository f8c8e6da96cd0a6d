"""How the nightly run's calls are executed: the ``Engine`` seam, and this machine's process pool behind it
(``LocalEngine``; a Ray cluster's actors are ``ray_engine.RayEngine``).

An engine analyzes the calls a run decided to analyze and yields their outcomes as they end. Everything
else that makes a run (scan, skip decision, lock, catalog, summary, stop signal, exit codes) is
``batch``'s. The per-call functions (``analyze_one`` where the archive and DIR are at hand,
``analyze_bytes`` where only the call's bytes are) are pure in their inputs and picklable.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

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


@dataclass(frozen=True)
class Computed:
    """One call analyzed where it ran: its outcome, and the files of its result (``store.render_call``; None
    when it failed) for the run to land in DIR."""

    outcome: CallOutcome
    files: dict[str, str] | None = None


def compute_one(call: CallFile, path: Path, config: Config, fprint: str) -> Computed:
    """Analyze one call read from ``path`` (the archive's file, or a worker's copy of its bytes) into its
    result files, which name the archive's file. A ``CallscopeError`` becomes a failed outcome, except
    ``ModelError``, raised: it would fail every call."""
    from pipeline.outputs.store import call_document, render_call
    from pipeline.runner import analyze_call

    t0 = time.perf_counter()
    try:
        result = analyze_call(path, config, call_id=call.call_id, metadata=call_metadata(call))
        result = dataclasses.replace(result, audio=dataclasses.replace(result.audio, path=str(call.path)))
        files = render_call(result, annotate(call_document(result), call, fprint))
    except ModelError:
        raise
    except CallscopeError as exc:
        stage = exc.stage if isinstance(exc, StageError) else "decode" if isinstance(exc, AudioError) else "analyze"
        cause = exc.cause if isinstance(exc, StageError | AudioError) else str(exc)
        return Computed(CallOutcome(call.call_id, str(call.path), "failed", 0.0, time.perf_counter() - t0, stage,
                                    cause.replace(str(path), str(call.path))))
    return Computed(CallOutcome(call.call_id, str(call.path), "analyzed", result.audio.duration_s,
                                time.perf_counter() - t0), files)


def land(computed: Computed, out_dir: Path) -> CallOutcome:
    """Write a computed call's files to ``out_dir/<call_id>/`` at once (``store.write_files``); a call that
    DIR refuses alone fails at stage ``write``; ``OutputError`` (DIR full or read-only) is raised."""
    from pipeline.outputs.store import write_files

    outcome = computed.outcome
    if computed.files is None:
        return outcome
    try:
        write_files(outcome.call_id, computed.files, out_dir)
    except StageError as exc:
        return dataclasses.replace(outcome, status="failed", audio_s=0.0, stage=exc.stage, cause=exc.cause)
    return outcome


def analyze_one(call: CallFile, config: Config, out_dir: Path, fprint: str) -> CallOutcome:
    """Analyze and write one call where the archive and DIR are both at hand (the local engine's workers)."""
    return land(compute_one(call, call.path, config, fprint), out_dir)


def analyze_bytes(call: CallFile, audio: bytes, config: Config, fprint: str) -> Computed:
    """Analyze one call from its bytes (a worker that shares no file system with the run), read from a
    private temporary copy named as the archive's file."""
    with tempfile.TemporaryDirectory(prefix="callscope-") as tmp:
        path = Path(tmp) / call.path.name
        path.write_bytes(audio)
        return compute_one(call, path, config, fprint)


class Engine(Protocol):
    """Runs the calls of a run; ``workers`` and ``threads`` (per worker) go into the run summary."""

    workers: int
    threads: int

    def outcomes(self, calls: Sequence[CallFile], config: Config, out_dir: Path, fingerprint: str,
                 ) -> Generator[CallOutcome, None, None]:
        """One outcome per call, in completion order, its result landed in ``out_dir``. A call's failure, its
        worker's crash included, is a failed outcome; ``OutputError``, ``ModelError`` and ``EngineError`` are
        raised (they would fail every call). Closing the generator (or ``Interrupted`` from a signal handler
        while it waits, ``interruptible``) cancels the calls not yet started and cuts short those in
        progress (``in_flight`` names them)."""

    def in_flight(self) -> list[CallFile]:
        """The calls being analyzed now (after a stop, the ones it cut short)."""

    def close(self) -> None:
        """Release what the engine holds beyond a run (a Ray connection)."""


class _Wait:
    active = False


@contextmanager
def interruptible() -> Iterator[None]:
    """The run only waits for its workers in this block: a stop signal may end the wait at once
    (``waiting``), which cuts the calls in progress short; anywhere else (a catalog transaction, say) the
    signal is only noted and the run stops at its next check."""
    _Wait.active = True
    try:
        yield
    finally:
        _Wait.active = False


def waiting() -> bool:
    """Whether the run is inside ``interruptible``."""
    return _Wait.active


def make_engine(config: Config) -> Engine:
    """The engine ``config.run`` names, with its workers and threads (0: the engine's default); a Ray engine
    starts its actors for ``config`` as it joins the cluster, so that they load the models during the scan."""
    run = config.run
    if run.engine == "ray":
        from pipeline.nightly.ray_engine import RayEngine

        return RayEngine(run.ray_address, run.workers, run.threads or 1, config=config)
    return LocalEngine(run.workers or 1, threads=run.threads)


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


def load_models(config: Config) -> None:
    """A worker's set-up: the ASR model loaded once. The others load with the first call that needs them,
    under the thread caps the worker inherits (``THREAD_VARS``), so that a worker that only sees stereo
    calls never imports torch."""
    from pipeline.models.asr import model_for

    with suppress(ModelError):  # raised again by the first call, which stops the run; here it would break the worker
        model_for(config.asr)


def init_worker(config: Config, parent_pid: int) -> None:
    """A local pool's worker: ends with the run (``_die_with_parent``), then ``load_models``."""
    _die_with_parent(parent_pid)
    load_models(config)


WORKER_DIED = "the worker process died (out of memory, or a crash in native code)"
CRASHES_ALLOWED = 1  # a call whose worker died is retried alone; a second death fails it
KILL_GRACE_S = 60.0  # past its time limit, a call that does not stop (stuck in native code) gets its worker killed


class CallTimeout(BaseException):
    """A call ran past ``run.call_timeout_s``; no ``Exception`` handler inside the call may catch it."""


def timeout_cause(limit: float) -> str:
    return f"still running after {limit:g} s (run.call_timeout_s)"


T = TypeVar("T")


def run_limited(task: Callable[..., T], limit: float, call: CallFile, *args: Any) -> T | CallOutcome:
    """``task(call, *args)`` in a worker, stopped by a timer after ``limit`` seconds (0: none) as a failed
    outcome, stage ``timeout``. The timer interrupts Python code and blocking system calls; the run
    kills a worker stuck in native code ``KILL_GRACE_S`` later."""
    if not limit:
        return task(call, *args)

    def expire(signum: int, frame: object) -> None:
        raise CallTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return task(call, *args)
    except CallTimeout:
        return CallOutcome(call.call_id, str(call.path), "failed", 0.0, limit, "timeout", timeout_cause(limit))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class LocalEngine:
    """``workers`` processes spawned on this machine, each given ``threads`` (by default cores / ``workers``,
    so that they do not oversubscribe the cores), loading the ASR once, and killed with the run.

    At most ``workers`` calls are handed out at a time, so a run over any number of calls holds only those. A
    run that stops (a signal, an error of the whole run) kills the workers of the calls in progress.
    When a worker dies, every call it may have been running is retried in a new pool, alone; a call whose
    worker dies while it runs alone for the second time fails at stage ``worker``, and only it. A call
    past ``run.call_timeout_s`` fails at stage ``timeout`` (``run_limited``); one stuck in native code
    ``KILL_GRACE_S`` longer has the pool's workers killed, and the other calls then in flight run again.
    ``task`` is what runs each call (``analyze_one``; tests put in one that crashes its worker).
    """

    def __init__(self, workers: int = 1, task: Callable[..., CallOutcome] = analyze_one, threads: int = 0) -> None:
        self.workers = workers
        self.threads = threads or max(1, len(os.sched_getaffinity(0)) // workers)
        self.task = task
        self._running: dict[Future[CallOutcome], tuple[CallFile, float]] = {}

    def in_flight(self) -> list[CallFile]:
        return [call for call, _ in self._running.values()]

    def close(self) -> None:
        """Nothing outlives a run: its pools end with it."""

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
                                 initargs=(config, os.getpid())) as pool:
            running: dict[Future[CallOutcome], tuple[CallFile, float]] = {}
            self._running = running
            try:
                while queue or suspects or running:
                    with _thread_caps(self.threads):  # the workers start as the calls are submitted
                        while (suspects and not running) or (not suspects and queue and len(running) < self.workers):
                            call = suspects.popleft() if suspects else queue.popleft()
                            future = pool.submit(run_limited, self.task, limit, call, config, out_dir, fingerprint)
                            running[future] = call, time.monotonic()
                    deadline = min(t for _, t in running.values()) + limit + KILL_GRACE_S if limit else None
                    with interruptible():
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
                if running:  # a stop, or an error of the run: the calls in progress are cut short
                    for process in list(pool._processes.values()):
                        process.kill()
                for future in running:
                    future.cancel()
        return [], []
