"""A course service run as its own OS process, so a lesson can crash it for real.

Day 1 and Day 2 started their workers with ``subprocess.Popen`` in the notebook; from Day 3 on every consumer
service, processor or API that a lesson SIGKILLs, SIGTERMs or restarts runs through :class:`ServiceProcess`:

>>> from kafkacourse.instruments.processes import ServiceProcess
>>> worker = ServiceProcess("courseapps.day3.commit_worker", "--topic", topic, "--group", group).start()
>>> worker.wait_for("assigned")          # a line the service prints once it is ready
>>> worker.kill()                        # SIGKILL: no finally, no commit, no LeaveGroup
>>> worker.restart().wait_for("assigned")
>>> worker.terminate()                   # SIGTERM: the service's own shutdown path; returns its exit code
>>> worker.events()                      # the JSON lines it printed, parsed (its structured events)

The process's stdout and stderr go to a log file (``worker.log()`` reads it), never into the notebook. The
service is started with this interpreter and this environment (plus ``env``), unbuffered, so its lines reach
the log as it prints them. Used as a context manager, a still-running process is killed on exit.

A JVM service (Day 4's Kafka Streams app) runs the same way, as a `java` child of its own:

>>> app = ServiceProcess.java("io.github.kafkacourse.streams.OrderStreams", *args, classpath=cp).start()
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, and that this process has not handed out before.

    The port is free when returned, not reserved: give it to one service (``--port``) and let that service bind
    it. Never handing out the same port twice keeps two services started side by side from getting the same one
    (the OS may return a port just released). Wait for the service's "listening" line, not an earlier one:
    uvicorn prints "Application startup complete" *before* it binds its port.
    """
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


class ServiceDied(RuntimeError):
    """The service exited while a lesson waited for it; the message carries the end of its log."""


class ServiceProcess:
    """``python -m <module> <args>`` as a child process with its own log, started, killed and restarted on demand.

    `name` labels the log file (default: the module's last part); `env` adds to this process's environment.
    `new_session` starts it in a session of its own (``setsid``), as a service on its own machine would run:
    Linux's autogroup scheduling then gives it its own share of the CPU instead of a slice of this session's.
    """

    def __init__(self, module: str, *args: str, env: dict[str, str] | None = None, name: str | None = None,
                 log_dir: Path | None = None, new_session: bool = False) -> None:
        self.new_session = new_session
        self.module = module
        self.args = [str(a) for a in args]
        self.env = {k: str(v) for k, v in (env or {}).items()}
        self.name = name or module.rsplit(".", 1)[-1]
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix=f"{self.name}-"))
        self.log_file = self.log_dir / f"{self.name}.log"
        self.starts = 0
        self._proc: subprocess.Popen | None = None
        self._log_offset = 0  # where the current run's lines begin in the (appended) log
        self._argv: list[str] | None = None  # set by java(): the command instead of `python -m module`

    @classmethod
    def java(cls, main_class: str, *args: str, classpath: str, jvm_options: tuple[str, ...] = ("-Xmx256m",),
             env: dict[str, str] | None = None, name: str | None = None,
             log_dir: Path | None = None) -> "ServiceProcess":
        """``java -cp <classpath> <jvm_options> <main_class> <args>`` as the child process (the stack's Java 17+).

        The `java` binary itself is the child, so kill() SIGKILLs the JVM, not a wrapper shell.
        """
        from kafkacourse.stack.runtime import java_executable

        service = cls(main_class, *args, env=env, name=name or main_class.rsplit(".", 1)[-1], log_dir=log_dir)
        service._argv = [java_executable(), *jvm_options, "-cp", classpath, main_class, *service.args]
        return service

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> "ServiceProcess":
        """Start the process (an error if it already runs); every run appends to the same log file."""
        if self.alive:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        env = dict(os.environ, PYTHONUNBUFFERED="1", **self.env)
        with open(self.log_file, "ab") as log:
            argv = self._argv or [sys.executable, "-m", self.module, *self.args]
            self._proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          env=env, start_new_session=self.new_session)
        self.starts += 1
        return self

    def restart(self) -> "ServiceProcess":
        """Start again after a kill or an exit."""
        if self.alive:
            raise RuntimeError(f"{self.name} is still running (pid {self.pid}): kill or terminate it first")
        return self.start()

    def kill(self) -> int:
        """SIGKILL, as in a crash: the process gets no chance to commit, close or leave its group."""
        return self._signal(signal.SIGKILL, timeout=10)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait up to `timeout` s for the service's own shutdown; returns its exit code."""
        return self._signal(signal.SIGTERM, timeout=timeout)

    def wait(self, timeout: float = 30.0) -> int:
        """Wait until the process exits by itself; its exit code."""
        proc = self._running_or_raise()
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{self.name} still runs after {timeout:.0f} s.\n{self.tail()}") from None

    def _signal(self, sig: int, timeout: float) -> int:
        proc = self._running_or_raise()
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{self.name} did not exit within {timeout:.0f} s of {signal.Signals(sig).name}."
                               f"\n{self.tail()}") from None

    def _running_or_raise(self) -> subprocess.Popen:
        if self._proc is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._proc

    # -- state -----------------------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def log(self, this_run: bool = False) -> str:
        """The whole log (every run), or only the current run's lines."""
        try:
            with open(self.log_file, "rb") as f:
                f.seek(self._log_offset if this_run else 0)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def events(self, this_run: bool = False) -> list[dict]:
        """The log's JSON-object lines (a service's structured events, one per line), parsed, in order.

        Other lines (tracebacks, library warnings) are skipped. Day 3's services print e.g.
        ``{"t": 1764576000.12, "member": "w1", "event": "assigned", "partitions": [0, 1]}``.
        """
        found = []
        for line in self.log(this_run=this_run).splitlines():
            if line.startswith("{"):
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(event, dict):
                    found.append(event)
        return found

    def tail(self, lines: int = 20) -> str:
        return f"--- last lines of {self.log_file}:\n" + "\n".join(self.log().splitlines()[-lines:])

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float = 60.0, count: int = 1) -> str:
        """Wait until this run's log holds `pattern` (a substring or a regex) `count` times; the last matching line.

        Raises ServiceDied as soon as the process exits first, TimeoutError after `timeout` s; both show the log.
        """
        regex = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))
        deadline = time.monotonic() + timeout
        while True:
            matches = [line for line in self.log(this_run=True).splitlines() if regex.search(line)]
            if len(matches) >= count:
                return matches[count - 1]
            if not self.alive:
                raise ServiceDied(f"{self.name} exited (code {self.returncode}) before printing "
                                  f"{regex.pattern!r}.\n{self.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not print {regex.pattern!r} within {timeout:.0f} s.\n{self.tail()}")
            time.sleep(0.05)

    # -- context manager -------------------------------------------------------------------------------------
    def __enter__(self) -> "ServiceProcess":
        return self if self.alive else self.start()

    def __exit__(self, *exc: object) -> None:
        if self.alive:
            self.kill()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.alive else f"exited {self.returncode}" if self._proc else "not started"
        return f"ServiceProcess({self.module!r}, {state}, log={self.log_file})"
