"""The nightly run's calls on a Ray cluster: actors that load the models once, each call's audio through Ray's
object store, results landed in DIR by the run.

The run (scan, skip decision, lock, catalog, summary, stop signal) stays in the driver, as with the local
engine; workers need no file system shared with it: the driver reads each call's bytes and puts them in the
object store, an actor analyzes them into the call's result files (``engine.analyze_bytes``) and the driver
writes those at once (``engine.land``). At most one call per actor is in flight, so a run over any number of
calls holds only those. Ray's usage statistics and dashboard are off unless the environment turns them on.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Generator, Sequence
from contextlib import suppress
from pathlib import Path
from types import ModuleType
from typing import Any

from pipeline.config import Config, with_overrides
from pipeline.errors import EngineError, Interrupted, ModelError, OutputError
from pipeline.nightly.archive import CallFile
from pipeline.nightly.engine import (
    CRASHES_ALLOWED,
    KILL_GRACE_S,
    THREAD_VARS,
    WORKER_DIED,
    CallOutcome,
    Computed,
    analyze_bytes,
    interruptible,
    land,
    load_models,
    run_limited,
    timeout_cause,
)

START_TIMEOUT_S = 300.0  # no worker at all: how long to wait for one to start before the run stops
POLL_S = 5.0  # how often the run looks at its calls' time limits and starting workers
CONNECT_TIMEOUT_S = 10.0  # a cluster address that does not answer this fast is out of reach


def ray_module() -> ModuleType:
    """Ray, imported with its usage statistics off (unless ``RAY_USAGE_STATS_ENABLED`` says otherwise)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    return ray


class CallWorker:
    """A Ray actor: one worker process that loads the models once and analyzes calls from their bytes."""

    def __init__(self, config: Config) -> None:
        load_models(config)

    def node(self) -> str:
        """The id of the Ray node this worker runs on (also says it has started)."""
        return ray_module().get_runtime_context().get_node_id()

    def analyze(self, task: Callable[..., Computed], limit: float, call: CallFile, audio: bytes, config: Config,
                fingerprint: str) -> Computed:
        """``task`` (``analyze_bytes``) on one call within ``run.call_timeout_s``."""
        done = run_limited(task, limit, call, audio, config, fingerprint)
        return done if isinstance(done, Computed) else Computed(done)


def _wait(ray: ModuleType, refs: list[Any]) -> list[Any]:
    """The first of ``refs`` to be ready within ``POLL_S`` (none: an empty list); a stop signal ends the
    wait at once. Its ``Interrupted``, raised by the handler inside Ray's C code, comes out of it wrapped in
    a ``SystemError`` and is unwrapped here."""
    with interruptible():
        try:
            return ray.wait(refs, num_returns=1, timeout=POLL_S)[0]
        except SystemError as exc:
            if isinstance(exc.__cause__, Interrupted):
                raise exc.__cause__ from None
            raise


class RayEngine:
    """Calls on the actors of a Ray cluster: ``address`` "auto" (the cluster ``ray start`` made on this
    machine, or ``RAY_ADDRESS``), HOST:PORT, or "" for a Ray started on this machine for the run.

    ``workers`` actors (0: as many as the cluster's CPUs hold), each reserving ``threads`` CPUs (and one GPU
    when ``asr.device`` is cuda) and capping its BLAS, OpenMP and ASR threads to that many. A call whose
    actor dies is run again on another actor; one that kills its actor twice fails at stage ``worker``, and
    only it; a call on a node that left the cluster is run again without a strike, and the run goes on with
    the nodes that remain. A call past ``run.call_timeout_s`` fails at stage ``timeout``; one stuck in native
    code ``KILL_GRACE_S`` longer has its actor killed and replaced. ``task`` is what runs each call (tests
    put in one that crashes).
    """

    def __init__(self, address: str = "", workers: int = 0, threads: int = 1,
                 task: Callable[..., Computed] = analyze_bytes, config: Config | None = None) -> None:
        self.address, self.threads, self.task = address, threads, task
        self._workers = workers
        self._ray: ModuleType | None = None
        self._early = config  # the actors start (and load the models) as the engine joins: during the scan
        self._actors: _Actors | None = None
        self._running: dict[Any, tuple[Any, CallFile, float]] = {}

    def in_flight(self) -> list[CallFile]:
        return [call for _, call, _ in self._running.values()]

    @property
    def workers(self) -> int:
        """The number of actors, decided when the engine first joins the cluster."""
        ray = self._connect()
        if not self._workers:
            self._workers = max(1, int(ray.cluster_resources().get("CPU", 0) // self.threads))
        if self._early is not None and self._actors is None:
            self._start_actors(self._early)
        return self._workers

    def _start_actors(self, config: Config) -> _Actors:
        """The run's actors for ``config`` (``asr.cpu_threads: 0`` becoming ``threads``), started once."""
        if config.asr.cpu_threads == 0:
            config = with_overrides(config, "asr", cpu_threads=self.threads)
        if self._actors is None or self._actors.config != config:
            if self._actors is not None:
                self._actors.stop()
            self._actors = _Actors(self._connect(), config, self.threads)
            for _ in range(self.workers):
                self._actors.start()
        return self._actors

    def _connect(self) -> ModuleType:
        """Join (or start) the cluster once, keeping the run's own SIGTERM and SIGINT handlers."""
        if self._ray is not None:
            return self._ray
        _check_reachable(self.address)
        ray = ray_module()
        handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
        options: dict[str, Any] = {"log_to_driver": False, "logging_level": "WARNING"}
        if not self.address:
            options.update(address="local", include_dashboard=False, num_cpus=len(os.sched_getaffinity(0)))
        else:
            options.update(address=self.address)
        try:
            ray.init(**options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise EngineError(f"ray: cannot join the cluster at {self.address or 'this machine'}: "
                              f"{str(exc).splitlines()[0]}") from None
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
        self._ray = ray
        return ray

    def close(self) -> None:
        """Leave the cluster (and stop the Ray this engine started)."""
        if self._actors is not None:
            self._actors.stop()
            self._actors = None
        if self._ray is not None:
            self._ray.shutdown()
            self._ray = None

    def outcomes(self, calls: Sequence[CallFile], config: Config, out_dir: Path, fingerprint: str,
                 ) -> Generator[CallOutcome, None, None]:
        """See ``Engine.outcomes``; ``asr.cpu_threads: 0`` becomes ``threads``."""
        ray = self._connect()
        actors = self._start_actors(config)
        config = actors.config
        limit, config_ref = config.run.call_timeout_s, ray.put(config)
        queue, crashes = deque(calls), Counter()
        running: dict[Any, tuple[Any, CallFile, float]] = {}  # call's reference: actor, call, start
        self._running, stopped = running, True
        try:
            while queue or running:
                while queue and actors.idle:
                    call = queue.popleft()
                    try:
                        audio = ray.put(call.path.read_bytes())
                    except OSError as exc:
                        yield CallOutcome(call.call_id, str(call.path), "failed", stage="read",
                                          cause=exc.strerror or str(exc))
                        continue
                    actor = actors.idle.pop()
                    ref = actor.analyze.remote(self.task, limit, call, audio, config_ref, fingerprint)
                    running[ref] = actor, call, time.monotonic()
                if not running and not queue:
                    break
                if not running and not actors.starting:  # the cluster lost every worker and has no room for one
                    raise EngineError("ray: no worker left to run calls (every node left, or none has "
                                      f"{self.threads} CPU(s) free)")
                if not running and time.monotonic() - actors.since > START_TIMEOUT_S:
                    raise EngineError(f"ray: no worker started in {START_TIMEOUT_S:g} s (no node has "
                                      f"{self.threads} CPU(s) free, or callscope cannot load on the nodes)")
                ready = _wait(ray, [*running, *actors.starting])
                for ref in ready:
                    if ref in actors.starting:
                        actors.started(ref)
                        continue
                    actor, call, _ = running.pop(ref)
                    yield from self._finish(ray, ref, actor, call, actors, queue, crashes, out_dir)
                if limit:
                    yield from self._kill_stuck(ray, running, actors, limit)
            stopped = False
        finally:
            if stopped:  # a stop signal or an error of the run: the calls in progress are cut short
                for actor, _, _ in running.values():
                    with suppress(Exception):
                        ray.kill(actor)
            actors.stop()
            self._actors = None

    def _finish(self, ray: ModuleType, ref: Any, actor: Any, call: CallFile, actors: _Actors, queue: deque[CallFile],
                crashes: Counter[str], out_dir: Path) -> Generator[CallOutcome, None, None]:
        """The end of one call: landed; failed; or run again when its actor died (a strike for the call
        unless the actor's node left the cluster)."""
        try:
            computed = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # the task raised: a bug, or an error for the whole run
            cause = exc.cause
            if isinstance(cause, OutputError | ModelError):
                raise cause from None
            actors.idle.append(actor)
            text = str(cause).splitlines()[0] if str(cause) else ""
            yield CallOutcome(call.call_id, str(call.path), "failed", stage="worker",
                              cause=f"{type(cause).__name__}: {text}")
            return
        except ray.exceptions.RayError:  # the actor's process or node died
            crashes[call.call_id] += actors.node_alive(actor)
            actors.replace(actor)
            if crashes[call.call_id] > CRASHES_ALLOWED:
                yield CallOutcome(call.call_id, str(call.path), "failed", stage="worker", cause=WORKER_DIED)
            else:
                queue.appendleft(call)
            return
        actors.idle.append(actor)
        yield land(computed, out_dir)

    @staticmethod
    def _kill_stuck(ray: ModuleType, running: dict[Any, tuple[Any, CallFile, float]], actors: _Actors,
                    limit: float) -> Generator[CallOutcome, None, None]:
        """Calls still running ``KILL_GRACE_S`` past their limit (deaf to the timer): their actors are killed
        and replaced, and they fail at stage ``timeout``."""
        now = time.monotonic()
        for ref, (actor, call, started) in list(running.items()):
            if now - started >= limit + KILL_GRACE_S:
                del running[ref]
                actors.replace(actor)
                yield CallOutcome(call.call_id, str(call.path), "failed", 0.0, now - started, "timeout",
                                  f"{timeout_cause(limit)}; its worker was killed")


def _check_reachable(address: str) -> None:
    """``EngineError`` at once when nothing answers at a HOST:PORT address (Ray itself would retry for minutes)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "://" in address:
        return
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise EngineError(f"ray: cannot join the cluster at {address}: {exc.strerror or exc}") from None


class _Actors:
    """The run's actors: starting (by the reference that says they started), idle, and the node of each."""

    def __init__(self, ray: ModuleType, config: Config, threads: int) -> None:
        caps = dict.fromkeys(THREAD_VARS, str(threads))
        self.ray, self.config, self.threads = ray, config, threads
        gpus = 1 if config.asr.device == "cuda" else 0  # one GPU per actor where the ASR runs on one
        self.remote = ray.remote(CallWorker).options(num_cpus=threads, num_gpus=gpus, max_restarts=0,
                                                     max_task_retries=0, runtime_env={"env_vars": caps})
        self.starting: dict[Any, Any] = {}  # node() reference: actor
        self.idle: list[Any] = []
        self.nodes: dict[Any, str] = {}  # actor: node id
        self.since = time.monotonic()  # when the last actor was asked for

    def start(self) -> None:
        actor = self.remote.remote(self.config)
        self.starting[actor.node.remote()] = actor
        self.since = time.monotonic()

    def started(self, ref: Any) -> None:
        """An actor answered (or died starting: then another is asked for)."""
        actor = self.starting.pop(ref)
        try:
            self.nodes[actor] = self.ray.get(ref)
        except self.ray.exceptions.RayError:
            self.start()
            return
        self.idle.append(actor)

    def node_alive(self, actor: Any) -> bool:
        node = self.nodes.get(actor)
        return any(n["NodeID"] == node and n["Alive"] for n in self.ray.nodes())

    def replace(self, actor: Any) -> None:
        """Kill ``actor`` (if it still lives) and ask for a new one; it starts where the cluster has room."""
        self.nodes.pop(actor, None)
        with suppress(Exception):
            self.ray.kill(actor)
        self.start()

    def stop(self) -> None:
        for actor in [*self.starting.values(), *self.nodes]:  # every started actor has its node, idle or not
            with suppress(Exception):
                self.ray.kill(actor)
        self.starting.clear()
        self.idle.clear()
        self.nodes.clear()
