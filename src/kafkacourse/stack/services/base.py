"""What every service of the local stack is: start (idempotent), wait until ready, stop, status rows, logs,
reset (the only thing that deletes its data) and doctor findings. Most services are one OS process:
:class:`ProcessService` does all of that from a command line, a port and a readiness probe."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import processes, runtime
from ..profiles import Profile

Progress = Callable[[str], None]
START_TIMEOUT_S = 90.0


def quiet(_message: str) -> None:
    """A progress callback that prints nothing."""


@dataclass(frozen=True)
class Context:
    """What a service needs to know about where it runs: the course home (data, jars), the port offset,
    and the profile `up` was asked for (whose brokers a service such as Kafka Connect talks to)."""

    home: Path
    profile: Profile

    @property
    def offset(self) -> int:
        return self.profile.offset

    def port(self, default: int) -> int:
        """A service's port: its default plus the stack's port offset."""
        return default + self.offset


@dataclass(frozen=True)
class Finding:
    """One line of the doctor: what was checked, whether it is fine, what was seen, how to fix it."""

    check: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class StatusRow:
    """One process of the stack as `kafkacourse status` shows it."""

    name: str
    pid: int | None
    port: int
    listening: bool
    log_file: Path

    @property
    def state(self) -> str:
        if self.pid and self.listening:
            return "running"
        return "starting" if self.pid else "stopped"


class Service:
    """The interface `up`, `down`, `status`, `logs`, `reset`, `doctor` and the tests use; subclass
    :class:`ProcessService` unless the service is not one process of ours."""

    name: str = "service"          # unique among all services ("registry", "cluster/broker-2")
    kind: str = "service"          # what it is ("broker", "registry", "connect", …): hooks decide by it
    title: str = "service"         # for people ("the schema registry")
    needs_brokers: bool = False    # True: `up` starts it only after the profile's brokers answer

    default_port: int = 0          # its main port before the port offset (Context.port moves it)

    def __init__(self, context: Context) -> None:
        self.context = context

    @property
    def port(self) -> int:
        """The service's main port (the one status shows and readiness probes), moved by the port offset."""
        return self.context.port(self.default_port)

    @property
    def data_dir(self) -> Path:
        """home()/<name>: what reset deletes. A service that keeps its data elsewhere says where."""
        return self.context.home / self.name

    def ports(self) -> dict[int, str]:
        """Every port the service binds, with what it is for."""
        raise NotImplementedError

    def running(self) -> bool:
        raise NotImplementedError

    def answering(self) -> bool:
        raise NotImplementedError

    def start(self, progress: Progress = print) -> None:
        """Start the service unless it runs already; does not wait (see wait_ready)."""
        raise NotImplementedError

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Wait until it answers; NotReadyError / ProcessDiedError carrying the end of its log otherwise."""
        raise NotImplementedError

    def stop(self, progress: Progress = quiet) -> bool:
        """Stop it (data stays); False when it was not running."""
        raise NotImplementedError

    def status(self) -> list[StatusRow]:
        raise NotImplementedError

    def logs(self, lines: int = 50) -> str:
        raise NotImplementedError

    def reset(self, progress: Progress = print) -> None:
        """Stop it and delete its data folder: the only call that deletes."""
        self.stop(progress)
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir, ignore_errors=True)
            progress(f"Deleted the data of {self.title} ({self.data_dir}).")

    def installed(self) -> Finding | None:
        """A finding when the service needs something installed beyond Java and the jars (None: nothing)."""
        return None

    def doctor(self) -> list[Finding]:
        """Installed? Its ports free, or held by this very service? Answering when it runs?"""
        findings = [f for f in [self.installed()] if f is not None]
        if self.running():
            ok = self.answering()
            findings.append(Finding(self.title, ok, "answering" + self._where() if ok else "running but not answering",
                                    "" if ok else f"see `kafkacourse logs`; or stop it with `kafkacourse down`"))
            return findings
        busy = {port: processes.port_owner(port) or "an unknown process"
                for port in self.ports() if not processes.port_is_free(port)}
        if busy:
            findings.append(Finding(self.title, False, f"not running, and its ports are busy: {busy}",
                                    f"stop {', '.join(sorted(set(busy.values())))}; {self.title} needs the ports"))
        else:
            command = "kafkacourse up" + ("" if self.name in self.context.profile.services else f" --with {self.name}")
            findings.append(Finding(self.title, True, f"not running, ports {sorted(self.ports())} free "
                                                      f"(`{command}` starts it)"))
        return findings

    def _where(self) -> str:
        return ""


class ProcessService(Service):
    """A service that is one process of ours: subclasses give `process_name`, `data_dir`, `ports()`,
    `command()` and `answering()`; `prepare()` may write config files before each start."""

    process_name: str = "service"

    @property
    def process(self) -> processes.ManagedProcess:
        return processes.ManagedProcess(self.process_name, self.data_dir, self.ports())

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        """The process's environment (None: this process's)."""
        return None

    def prepare(self, progress: Progress) -> None:
        """Write config files, format storage …: called before every start of the process."""

    def starting_message(self) -> str:
        return f"Starting {self.title} on :{self.port}…"

    def running(self) -> bool:
        return self.process.pid() is not None

    def start(self, progress: Progress = print) -> None:
        if self.running():
            return
        progress(self.starting_message())
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.prepare(progress)
        self.process.start(self.command(), env=self.environment())

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        processes.wait_until(self.answering, self.process, what=self.title, timeout=timeout)

    def stop(self, progress: Progress = quiet, sig: int = signal.SIGTERM, timeout: float = 30.0) -> bool:
        if self.process.stop(sig=sig, timeout=timeout):
            progress(f"Stopped {self.title}.")
            return True
        return False

    def status(self) -> list[StatusRow]:
        process = self.process
        return [StatusRow(self.name, process.pid(), self.port, processes.port_accepts(self.port),
                          process.log_file)]

    def logs(self, lines: int = 50) -> str:
        return f"==> {self.title} ({self.process.log_file}) <==\n{self.process.tail(lines)}"


class JvmService(ProcessService):
    """A ProcessService that runs on the course's Java, with extra JVM arguments from the hooks in
    ``stack.services.JVM_ARGS`` (the JMX exporter's -javaagent, for example)."""

    def java(self) -> str:
        return runtime.java_executable()

    def extra_jvm_args(self) -> list[str]:
        from . import JVM_ARGS  # the hooks live with the list of services

        return [arg for hook in JVM_ARGS for arg in hook(self)]
