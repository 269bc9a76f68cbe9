"""Progress of the command line's long steps (stack start, first jar resolution, warm-up).

`Steps` is a progress callback of the kind the stack takes (``LocalStack(1).up(progress=steps)``): it is
called with one message per event, and a message ending in "…" starts a step. On a terminal the running step
shows a spinner and its elapsed time, redrawn in place, and each finished step leaves one line with its
duration; anywhere else (CI logs, pipes) each message is one plain line, so logs are not flooded.

>>> with Steps() as steps:
...     LocalStack(1).up(progress=steps)
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Steps:
    """A progress callback: a spinner per step on a terminal, plain lines elsewhere (see the module docstring)."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None, interval_s: float = 0.1) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval_s = interval_s
        self.number = 0
        self._step: str | None = None
        self._started = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, message: str) -> None:
        with self._lock:
            self._finish_locked()
            if message.endswith("…"):
                self.number += 1
                self._step, self._started = message, time.monotonic()
                if self.tty:
                    self._draw_locked()
                    self._ensure_spinner()
                else:
                    self._write(f"[{self.number}] {message}\n")
            else:
                self._write(f"{message}\n")

    def close(self) -> None:
        """Finish the running step (if any) and stop the spinner."""
        with self._lock:
            self._finish_locked()
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=1)

    def __enter__(self) -> "Steps":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------------------------

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def _draw_locked(self, frame: int = 0) -> None:
        elapsed = time.monotonic() - self._started
        self._write(f"\r\x1b[K{SPINNER[frame % len(SPINNER)]} [{self.number}] {self._step} {elapsed:4.0f} s")

    def _finish_locked(self) -> None:
        if self._step is None:
            return
        elapsed = time.monotonic() - self._started
        if self.tty:
            self._write(f"\r\x1b[K✔ OK [{self.number}] {self._step} {elapsed:.1f} s\n")
        else:
            self._write(f"[{self.number}] done in {elapsed:.1f} s\n")
        self._step = None

    def _ensure_spinner(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._spin, name="course-steps", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        frame = 0
        while not self._stop.wait(self.interval_s):
            frame += 1
            with self._lock:
                if self._step is not None:
                    self._draw_locked(frame)
