"""OS-level helpers: is a port free (and who holds it), is a pid alive, stop a process group; and
ManagedProcess, a long-running program started detached and found again through its pid file."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import NotReadyError, PortInUseError, ProcessDiedError

# For clients that probe readiness: refused connections are expected there, their log lines are not news.
SILENT = logging.getLogger("kafkacourse.stack.probe")
SILENT.addHandler(logging.NullHandler())
SILENT.propagate = False


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the JVM does: TIME_WAIT is no owner
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_accepts(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_owner(port: int) -> str | None:
    """'pid 123 (cmdline…)' of the process listening on a TCP port, from /proc; None when unknown."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(fields[9])
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return f"pid {proc.name} ({short_command(int(proc.name))})"
        except OSError:
            continue
    return None


def require_free_ports(ports: dict[int, str], grace_s: float = 5.0) -> None:
    """Raise PortInUseError naming every busy port, what it is for, and who holds it.

    Waits up to `grace_s` first: a process stopped a moment ago may still be releasing its sockets."""
    deadline = time.monotonic() + grace_s
    while not all(port_is_free(port) for port in ports) and time.monotonic() < deadline:
        time.sleep(0.2)
    busy = []
    for port, purpose in ports.items():
        if not port_is_free(port):
            owner = port_owner(port) or "a process not visible in /proc (another user's?)"
            busy.append(f"port {port} ({purpose}) is in use by {owner}")
    if busy:
        raise PortInUseError(
            "; ".join(busy) + ". Stop that process, or if it is an old copy of this stack, run `kafkacourse down`."
        )


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def short_command(pid: int, width: int = 110) -> str:
    """The program and the end of its command line (where a JVM names its main class and config)."""
    command = command_line(pid)
    if len(command) <= width:
        return command
    program = os.path.basename(command.split(" ", 1)[0])
    return f"{program} … {command[-(width - len(program) - 3):]}"


def is_alive(pid: int) -> bool:
    """True while the process runs (a zombie counts as dead; our own zombie children are reaped)."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass  # not our child: fine
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def stop(pid: int, timeout: float = 30.0, sig: int = signal.SIGTERM) -> None:
    """Send `sig` to the process group of pid, wait up to `timeout` s, then SIGKILL it."""
    for s in (sig, signal.SIGKILL):
        try:
            os.killpg(pid, s)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, s)
        deadline = time.monotonic() + (timeout if s == sig else 10)
        while time.monotonic() < deadline:
            if not is_alive(pid):
                return
            time.sleep(0.1)


@dataclass
class ManagedProcess:
    """A long-running program we start detached, find again through its pid file, and stop.

    Its log (stdout and stderr) is ``<workdir>/<name>.log``; the previous run's is kept as ``<name>.log.1``.
    A pid counts as ours only while that process's command line mentions `workdir` (pids get reused)."""

    name: str
    workdir: Path
    ports: dict[int, str]

    @property
    def log_file(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def pid_file(self) -> Path:
        return self.workdir / "pid"

    def pid(self) -> int | None:
        """The pid of our running process, or None (a stale pid file, or a pid reused by another program)."""
        try:
            pid = int(self.pid_file.read_text())
        except (OSError, ValueError):
            return None
        if is_alive(pid) and str(self.workdir) in command_line(pid):
            return pid
        return None

    def start(self, command: list[str], env: dict[str, str] | None = None) -> int:
        require_free_ports(self.ports)
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.log_file.exists():  # keep one previous log for post-mortems
            self.log_file.replace(self.log_file.with_suffix(".log.1"))
        with open(self.log_file, "wb") as log:
            proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.workdir, start_new_session=True, env=env,
            )
        self.pid_file.write_text(str(proc.pid))
        # Until the child has exec'd, /proc shows the parent's command line, and pid() would call it dead.
        deadline = time.monotonic() + 10
        while proc.poll() is None and str(self.workdir) not in command_line(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        return proc.pid

    def check_alive_or_raise(self) -> None:
        if self.pid() is None:
            raise ProcessDiedError(f"{self.name} exited while starting. Last lines of {self.log_file}:\n{self.tail(25)}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> bool:
        """Stop the process (`sig`, then SIGKILL after `timeout` s); False when it was not running."""
        pid = self.pid()
        if pid is None:
            return False
        stop(pid, timeout=timeout, sig=sig)
        return True

    def tail(self, lines: int = 50) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log yet)"


def wait_until(ready: Callable[[], bool], *watched: ManagedProcess, what: str, timeout: float = 90.0) -> None:
    """Poll `ready` until it is true; raise ProcessDiedError as soon as a watched process exits, and
    NotReadyError (with the end of each watched log) after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        for proc in watched:
            proc.check_alive_or_raise()
        time.sleep(0.2)
    logs = "\n".join(f"--- {p.log_file}\n{p.tail(15)}" for p in watched)
    raise NotReadyError(f"{what} did not answer within {timeout:.0f} s.\n{logs}")
