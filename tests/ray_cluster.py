"""A real Ray cluster for the tests: a head and a second node started with ``ray start`` (1 CPU each) in a
network namespace of their own, where loopback is the only interface, so that nothing of it listens
beyond 127.0.0.1 or reaches out (usage statistics and the dashboard are off too). Commands run inside
the namespace through ``nsenter``; the cluster ends with every process in the namespace killed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAD_PORT = 6379
NODE2_MANAGER_PORT = 6391  # how the second node's raylet is told from the head's
LOOPBACK_UP = ("import fcntl, socket, struct; fcntl.ioctl(socket.socket(), 0x8914, "  # SIOCSIFFLAGS
               "struct.pack('16sH14x', b'lo', 0x1 | 0x8 | 0x40))")  # IFF_UP | IFF_LOOPBACK | IFF_RUNNING


def namespace_possible() -> bool:
    """Whether this process may make a network namespace (root, or CAP_SYS_ADMIN)."""
    return subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0


@dataclass
class Cluster:
    holder: subprocess.Popen  # the process that keeps the namespace alive
    temp_dir: str
    env: dict[str, str]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{HEAD_PORT}"

    @property
    def namespace(self) -> str:
        return f"/proc/{self.holder.pid}/ns/net"

    def command(self, *args: str) -> list[str]:
        """``args`` as a command run inside the cluster's network namespace."""
        return ["nsenter", f"--net={self.namespace}", *args]

    def run(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(self.command(*args), capture_output=True, text=True, env=self.env, cwd=ROOT,
                              timeout=timeout)
        if check and proc.returncode:
            raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        return proc

    def start(self, *args: str) -> subprocess.Popen:
        """``args`` started in the background inside the namespace."""
        return subprocess.Popen(self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env, cwd=ROOT)

    def processes(self) -> list[int]:
        """Every process in the cluster's namespace but its holder."""
        mine = os.readlink(self.namespace)
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != self.holder.pid:
                try:
                    if os.readlink(entry / "ns" / "net") == mine:
                        found.append(int(entry.name))
                except OSError:
                    pass
        return found

    def node2_processes(self) -> list[int]:
        """The second node: its raylet and every process under it (agents, workers)."""
        raylet = [p for p in self.processes() if f"--node_manager_port={NODE2_MANAGER_PORT}" in cmdline(p)]
        return [p for p in self.processes() if any(descends(p, r) for r in raylet)]

    def stop(self) -> None:
        for pid in self.processes():
            kill(pid)
        self.holder.kill()
        self.holder.wait()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
    return False


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def start_cluster() -> Cluster:
    """A head and a second node, 1 CPU each, on loopback in a namespace of their own."""
    holder = subprocess.Popen(["unshare", "--net", "sleep", "infinity"])
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT)}
    cluster = Cluster(holder, tempfile.mkdtemp(prefix="ray", dir="/tmp"), env)
    try:
        for _ in range(100):  # the holder has entered its namespace
            if os.path.exists(cluster.namespace) and os.readlink(cluster.namespace) != os.readlink(
                    "/proc/self/ns/net"):
                break
            time.sleep(0.05)
        ray = str(Path(sys.executable).with_name("ray"))
        cluster.run(sys.executable, "-c", LOOPBACK_UP)
        cluster.run(ray, "start", "--head", f"--port={HEAD_PORT}", "--num-cpus=1", "--include-dashboard=false",
                    "--disable-usage-stats", f"--temp-dir={cluster.temp_dir}")
        cluster.run(ray, "start", f"--address={cluster.address}", "--num-cpus=1", "--disable-usage-stats",
                    f"--node-manager-port={NODE2_MANAGER_PORT}")
    except BaseException:
        cluster.stop()
        raise
    return cluster


# 127.0.0.1, ::1, ::ffff:127.0.0.1 as /proc/net/tcp{,6} write them
LOOPBACK = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}


def listeners(cluster: Cluster) -> list[tuple[str, int]]:
    """The TCP sockets listening in the cluster's namespace: (address as the kernel writes it, port)."""
    found = []
    for name in ("tcp", "tcp6"):
        for line in Path(f"/proc/{cluster.holder.pid}/net/{name}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                address, port = fields[1].split(":")
                found.append((address, int(port, 16)))
    return found


def interfaces(cluster: Cluster) -> list[str]:
    """The network interfaces of the cluster's namespace."""
    lines = Path(f"/proc/{cluster.holder.pid}/net/dev").read_text().splitlines()[2:]
    return [line.split(":")[0].strip() for line in lines]
