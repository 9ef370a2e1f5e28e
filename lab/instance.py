"""A stand-in EC2 instance: a systemd 252 container booted with systemd-nspawn, inside a network of its own.

`Network` is a loopback-only network namespace (held by one sleeping process): it has no route anywhere, so
whatever runs in it reaches only what was started in it too. The boot test starts the lab's servers and moto's
server mode there (from a thread that entered the namespace), and boots `Container`s into it, one after the
other, as an Auto Scaling group launches instances into one VPC.

`Container` boots the host's own /usr read-only with a fresh, empty /etc and /var (`--volatile=yes`): a fresh
machine whose first boot has nothing but what the operating system ships. Commands run in it with nsenter.
Everything started here is stopped by its process id.
"""

import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
CLEAN_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
"""Commands in a container get this environment, not the test's (no PIP_*, no AWS_* of the host)."""


def missing_tools() -> list[str]:
    """What booting a container needs and this machine lacks (root, systemd-nspawn, nsenter, unshare)."""
    missing = [] if os.geteuid() == 0 else ["root"]
    for tool in ("/usr/bin/systemd-nspawn", "/usr/bin/nsenter", "/usr/bin/unshare", "/usr/lib/systemd/systemd"):
        if not os.access(tool, os.X_OK):
            missing.append(tool)
    return missing


class Network:
    """A network namespace with only loopback up: no route to PyPI, a package mirror or anything else.

    `call` runs a function on a thread inside it: sockets it opens, and processes it starts, live there.
    """

    def __init__(self) -> None:
        self.holder = subprocess.Popen(
            ["unshare", "--net", "--", "sleep", "3600"], start_new_session=True, stdin=subprocess.DEVNULL
        )
        self.path = f"/proc/{self.holder.pid}/ns/net"
        deadline = time.monotonic() + 10
        while os.readlink(self.path) == os.readlink("/proc/self/ns/net"):
            if time.monotonic() > deadline or self.holder.poll() is not None:
                self.close()
                raise RuntimeError("unshare --net did not create a network namespace")
            time.sleep(0.01)
        subprocess.run(["nsenter", f"--net={self.path}", "ip", "link", "set", "lo", "up"], check=True)
        self._threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="netns", initializer=self._enter)

    def _enter(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns({self.path})")
        finally:
            os.close(fd)

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = 120, **kwargs: Any) -> T:
        """fn(*args, **kwargs) on a thread inside the namespace, waiting at most `timeout` seconds."""
        return self._threads.submit(fn, *args, **kwargs).result(timeout)

    def start(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """fn(*args, **kwargs) inside the namespace, in the background."""
        return self._threads.submit(fn, *args, **kwargs)

    def close(self) -> None:
        """Stop the threads (without waiting for stuck calls) and the process holding the namespace."""
        if hasattr(self, "_threads"):
            self._threads.shutdown(wait=False, cancel_futures=True)
        if self.holder.poll() is None:
            self.holder.kill()
        self.holder.wait(10)


class Container:
    """One booted systemd container in `network`, driven with nsenter and stopped by its processes' ids."""

    def __init__(self, name: str, network: Network, log: IO[bytes], binds: Sequence[tuple[str, str]] = ()) -> None:
        self.name, self.network, self.log = name, network, log
        self.binds = list(binds)
        self.nspawn: subprocess.Popen[bytes] | None = None
        self.leader = 0
        """The container's systemd (pid 1 inside), as the host sees it."""

    def boot(self, timeout: float = 90) -> float:
        """Boot and wait until systemd has finished starting up; returns the seconds it took."""
        started = time.monotonic()
        command = [
            "timeout",
            "--kill-after=10",
            "900",  # a safety net only: stop() ends it long before
            "systemd-nspawn",
            "--quiet",
            "--register=no",
            "--keep-unit",
            "--directory=/",
            "--volatile=yes",
            f"--network-namespace-path={self.network.path}",
            f"--machine={self.name}",
            "--console=pipe",
            *[f"--bind-ro={host}:{inside}" for host, inside in self.binds],
            "--boot",
            "--",
            "systemd.firstboot=off",
        ]
        self.nspawn = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = started + timeout
        self.leader = self._find_leader(deadline)
        state = ""
        while state not in ("running", "degraded"):  # empty until systemd's bus is up
            if time.monotonic() > deadline:
                raise RuntimeError(f"container {self.name} did not finish booting in {timeout} s: {state!r}")
            time.sleep(0.1)
            state = self.run("systemctl", "is-system-running", "--wait", check=False, timeout=timeout).stdout.strip()
        return time.monotonic() - started

    def _find_leader(self, deadline: float) -> int:
        assert self.nspawn is not None
        while time.monotonic() < deadline:
            if self.nspawn.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited with {self.nspawn.returncode} (see the container log)")
            for pid in _descendants(self.nspawn.pid):
                if _comm(pid) == "systemd":
                    return pid
            time.sleep(0.05)
        raise RuntimeError(f"container {self.name}: no systemd process appeared")

    def run(
        self, *command: str, check: bool = True, timeout: float = 60, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """A command inside the container (all its namespaces), with a clean environment."""
        done = subprocess.run(
            ["nsenter", "-t", str(self.leader), "-a", *command],
            env=CLEAN_ENV,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited with {done.returncode}: {done.stderr.strip()[-2000:]}")
        return done

    def path(self, inside: str) -> Path:
        """A path of the container's file system, as the host reaches it."""
        return Path(f"/proc/{self.leader}/root") / inside.lstrip("/")

    def write(self, inside: str, text: str, mode: int = 0o644) -> None:
        """Create a file in the container (and its directories)."""
        target = self.path(inside)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)

    def stop(self) -> None:
        """Power off (SIGTERM to nspawn asks systemd for an orderly shutdown), then kill what is left by pid."""
        if self.nspawn is None:
            return
        nspawn = self.nspawn
        if nspawn.poll() is None:
            for pid in _descendants(nspawn.pid):
                if _comm(pid) == "systemd-nspawn":
                    os.kill(pid, signal.SIGTERM)
            try:
                nspawn.wait(20)
            except subprocess.TimeoutExpired:
                if self.leader and _comm(self.leader) == "systemd":
                    os.kill(self.leader, signal.SIGKILL)  # pid 1 of its namespace: every process in it dies
                os.killpg(nspawn.pid, signal.SIGKILL)
                nspawn.wait(10)
        self.nspawn = None


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            queue += children
    return found
