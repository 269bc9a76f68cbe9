"""Run a FastAPI (any ASGI) app with uvicorn in a background thread, inside a Jupyter kernel.

>>> from kafkacourse import serve
>>> with serve("apps.hello:app") as server:       # or an app object
...     httpx.get(server.url + "/health").json()
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

_running: dict[int, "BackgroundServer"] = {}  # by port: a re-run cell replaces its previous server


class BackgroundServer:
    """A uvicorn server on its own thread and event loop. Stop it with stop() or a `with` block."""

    def __init__(self, app: Any, host: str, port: int, log_level: str) -> None:
        # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP. Without it
        # Nagle + delayed ACK add ~40 ms to every keep-alive request after a connection's first.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))  # port 0: the OS picks a free one
        self.host, self.port = self.sock.getsockname()[:2]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, lifespan="on"))
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"uvicorn:{self.port}", daemon=True)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as exc:  # uvicorn exits with SystemExit(3) when the app's startup fails
            self.failure = exc

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float) -> "BackgroundServer":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                self.sock.close()
                raise RuntimeError(f"the app on {self.url} failed to start (its startup/lifespan raised: "
                                   f"see the log above; uvicorn exited with {self.failure!r})")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the app on {self.url} did not start within {timeout:.0f} s")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit (runs the app's shutdown/lifespan), wait for the thread, free the port."""
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():  # stuck request handlers: force it
            self.server.force_exit = True
            self.thread.join(timeout)
        self.sock.close()
        _running.pop(self.port, None)

    def __enter__(self) -> "BackgroundServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.thread.is_alive() else "stopped"
        return f"<BackgroundServer {self.url} {state}>"


def serve(app: Any, port: int = 0, host: str = "127.0.0.1", timeout: float = 15.0,
          log_level: str = "warning") -> BackgroundServer:
    """Start `app` (an ASGI app or an import string "module:attr") and return once it accepts requests.

    With the default port 0 the OS picks a free port (see ``.url``). Starting again on a fixed port that a
    previous cell of this kernel still serves stops that server first, so re-running a cell just works.
    """
    if port and port in _running:
        _running[port].stop()
    server = BackgroundServer(app, host, port, log_level).start(timeout)
    _running[server.port] = server
    return server


def stop_all() -> None:
    """Stop every server started with serve() in this process."""
    for server in list(_running.values()):
        server.stop()
