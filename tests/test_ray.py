"""The nightly run on a real Ray cluster (a head and a second node, 1 CPU each, on loopback in a network
namespace of their own): the same results as the local engine, a worker killed mid-call, a node leaving
mid-run, a call that kills its worker every time, time limits."""

import json
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from scripts.make_archive import make_archive

from . import ray_cluster
from .test_cli import callscope
from .test_run import call_dirs, export_all

pytestmark = pytest.mark.skipif(not ray_cluster.namespace_possible(),
                                reason="a network namespace for the test cluster needs root (CAP_SYS_ADMIN)")

TABLES = {"calls": "document_mtime_ns, document_size", "speakers": "call_id", "events": "call_id",
          "metrics": "call_id", "errors": "run_id"}  # catalog rows compared, less what differs by run


@pytest.fixture(scope="module")
def cluster():
    cluster = ray_cluster.start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray") / "archive"
    expected = make_archive(root, calls=7, seconds=6.0)
    time.sleep(2.5)  # past archive.settle_s
    return root, expected


@pytest.fixture(scope="module")
def local_run(archive, tmp_path_factory):
    """The local engine with the same workers x threads as the cluster's actors: 2 x 1."""
    out = tmp_path_factory.mktemp("ray") / "local"
    proc = callscope("run", archive[0], "--out", out, "--workers", 2, "--threads", 1)
    assert proc.returncode == 1, proc.stderr  # the archive's broken calls
    return out


def ray_run(cluster, archive, out, *args):
    return cluster.start(sys.executable, "-m", "pipeline.cli", "run", str(archive), "--out", str(out),
                         "--engine", "ray", "--ray-address", cluster.address, *args)


def catalog_rows(out):
    with duckdb.connect(str(out / "_catalog.duckdb"), read_only=True) as con:
        return {t: sorted(map(str, con.execute(f"select * exclude ({ex}) from {t}").fetchall()))
                for t, ex in TABLES.items()}


def summary(out):
    return json.loads(max((out / "_runs").glob("*.json"), key=lambda p: p.stat().st_mtime).read_text())


def assert_same_as_local(out, local, tmp_path):
    assert catalog_rows(out) == catalog_rows(local)
    assert export_all(out, tmp_path / "ray") == export_all(local, tmp_path / "local")


def test_the_cluster_listens_on_loopback_only(cluster):
    assert ray_cluster.interfaces(cluster) == ["lo"]
    found = ray_cluster.listeners(cluster)
    assert ("0100007F", ray_cluster.HEAD_PORT) in found or (
        "0000000000000000FFFF00000100007F", ray_cluster.HEAD_PORT) in found
    assert {address for address, _ in found} <= ray_cluster.LOOPBACK


def test_a_run_on_ray_gives_the_local_engines_rows_and_exports(cluster, archive, local_run, tmp_path):
    out = tmp_path / "out"
    proc = ray_run(cluster, archive[0], out)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 1, stderr
    assert "2 worker(s) x 1 thread(s)" in stdout
    done = summary(out)
    assert (done["analyzed"], done["failed"], done["workers"]) == (4, 3, 2)
    assert_same_as_local(out, local_run, tmp_path)
    again = ray_run(cluster, archive[0], out)  # a rerun: nothing changed, nothing analyzed
    again.communicate(timeout=600)
    assert (summary(out)["analyzed"], summary(out)["skipped"]) == (0, 4)


def analyzing(cluster, pids=None):
    """The processes of the cluster's actors running a call (Ray titles them by the method)."""
    return [p for p in (pids or cluster.processes()) if ray_cluster.cmdline(p).startswith("ray::CallWorker.analyze")]


def wait_for(found, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if got := found():
            return got
        time.sleep(0.05)
    raise AssertionError("never happened")


def test_a_worker_killed_mid_call_is_retried_and_the_call_lands_once(cluster, archive, local_run, tmp_path):
    out = tmp_path / "out"
    proc = ray_run(cluster, archive[0], out)
    victim = wait_for(lambda: analyzing(cluster))[0]
    ray_cluster.kill(victim)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 1, stderr
    done = summary(out)
    assert (done["analyzed"], done["failed"]) == (4, 3)
    assert {e["stage"] for e in done["errors"]} == {"decode"}  # the broken files only
    assert_same_as_local(out, local_run, tmp_path)


def driver(cluster, tmp_path, *args):
    proc = cluster.run(sys.executable, "-m", "tests.ray_driver", cluster.address, str(tmp_path), *args)
    outcomes = json.loads(proc.stdout.splitlines()[-1])  # after what Ray prints of dead workers
    return sorted((o["call_id"], o["status"], o["stage"], o["cause"]) for o in outcomes)


def test_a_call_that_kills_its_worker_twice_fails_alone(cluster, tmp_path):
    got = driver(cluster, tmp_path, "a", "once", "crash", "b", "c")
    assert got == [("a", "analyzed", None, None), ("b", "analyzed", None, None), ("c", "analyzed", None, None),
                   ("crash", "failed", "worker", "the worker process died (out of memory, or a crash in native code)"),
                   ("once", "analyzed", None, None)]


def test_calls_past_their_time_limit_fail_and_the_run_goes_on(cluster, tmp_path):
    got = driver(cluster, tmp_path, "a", "slow", "stuck", "b", "--timeout", "2", "--grace", "5")
    assert got == [("a", "analyzed", None, None), ("b", "analyzed", None, None),
                   ("slow", "failed", "timeout", "still running after 2 s (run.call_timeout_s)"),
                   ("stuck", "failed", "timeout",
                    "still running after 2 s (run.call_timeout_s); its worker was killed")]


def test_sigterm_cuts_the_calls_in_progress_short_and_a_rerun_resumes(cluster, archive, tmp_path):
    root, expected = archive
    out = tmp_path / "out"
    proc = ray_run(cluster, root, out)
    wait_for(lambda: analyzing(cluster))
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "stopped by SIGTERM" in stderr and "Traceback" not in stderr
    stopped = summary(out)
    assert stopped["status"] == "interrupted"
    cut = {e["call_id"] for e in stopped["errors"] if e["stage"] == "interrupted"}  # those in progress
    assert cut and cut <= set(expected["good"]) and not cut & set(call_dirs(out))
    assert set(call_dirs(out)) < set(expected["good"])
    assert not [p for p in out.iterdir() if p.name.endswith((".callscope-tmp", ".callscope-old"))]
    again = ray_run(cluster, root, out)
    again.communicate(timeout=600)
    assert summary(out)["analyzed"] + summary(out)["skipped"] == len(expected["good"])
    assert call_dirs(out) == expected["good"]


def test_a_node_leaving_mid_run_leaves_the_run_to_the_rest(cluster, archive, local_run, tmp_path):
    """Last in this module: the cluster keeps one node after it."""
    out = tmp_path / "out"
    proc = ray_run(cluster, archive[0], out)
    wait_for(lambda: analyzing(cluster, cluster.node2_processes()))
    for pid in cluster.node2_processes():
        ray_cluster.kill(pid)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 1, stderr
    done = summary(out)
    assert (done["analyzed"], done["failed"]) == (4, 3)
    assert_same_as_local(out, local_run, tmp_path)

    def alive() -> str:  # the nodes the cluster holds alive (it marks a killed node dead after its health checks)
        return cluster.run(sys.executable, "-c", f"import ray; ray.init('{cluster.address}'); "
                           "print(sum(n['Alive'] for n in ray.nodes()))").stdout.split()[-1]

    wait_for(lambda: alive() == "1")


def test_an_unreachable_cluster_stops_the_run_in_one_line(cluster, archive, tmp_path):
    proc = subprocess.run(cluster.command(sys.executable, "-m", "pipeline.cli", "run", str(archive[0]), "--out",
                                          str(tmp_path / "out"), "--engine", "ray", "--ray-address",
                                          "127.0.0.1:1"), capture_output=True, text=True, env=cluster.env,
                          timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("callscope: ray: cannot join the cluster at 127.0.0.1:1")
