"""A fault-injection TCP proxy between Kafka clients and brokers: delay, drop, cut, heal, at any moment.

Every broker of the course's stack has a PROXIED listener that binds ``broker_port + 3`` but advertises
``broker_port + 2`` (single broker: 9095 and 9094). :class:`FaultProxy` listens on each advertised port and
forwards every connection to the broker's real port, on an asyncio loop in a background thread, so a client
that bootstraps at ``cluster.proxied_bootstrap_servers`` talks to the brokers only through it. Faults switch
at runtime, from any thread:

* ``delay(ms)`` — hold every chunk of bytes `ms` milliseconds before forwarding it (per direction).
* ``drop()`` — stop forwarding: bytes are read and swallowed, connections stay open, requests go unanswered
  (the client only notices through its own timeouts). ``drop("to_client")`` lets requests reach the broker
  and swallows only its responses: the broker did the work, the client never hears about it.
* ``cut(refuse_for=s)`` — close every current connection at once (a TCP reset), and for `s` seconds reset
  new ones as soon as they are accepted.
* ``heal()`` — back to plain forwarding (queued delayed bytes still arrive).

Directions are ``"to_broker"`` (requests), ``"to_client"`` (responses) or ``"both"``.

>>> import kafkacourse as kc
>>> from kafkacourse.faults import FaultProxy
>>> cluster = kc.connect()
>>> with FaultProxy.for_cluster(cluster) as proxy:          # listens on 9094, forwards to 9095
...     producer = cluster.producer(settings={"bootstrap.servers": cluster.proxied_bootstrap_servers})
...     proxy.delay(200)                                    # +200 ms each way
...     proxy.drop("to_client", duration=3)                 # swallow responses for 3 s, then heal
...     proxy.cut(refuse_for=2)                             # reset all connections, refuse new ones for 2 s
...     proxy.heal()
...     proxy.stats()            # {'connections': 3, 'active': 1, 'bytes_to_broker': ..., 'dropped_to_client': ...}
>>> proxy.events                 # when each fault started, a DataFrame (t = time.perf_counter() seconds)
>>> proxy.fault_windows(t0)      # start, end (s after t0), fault — and proxy.shade(ax, t0) draws them

A proxy frees its ports when it stops (``with`` block, or ``stop()``); starting a second proxy on a port this
process already proxies stops the first one (a re-run notebook cell), and a port held by another process is
waited for up to `timeout` seconds, then refused with a :class:`ProxyPortBusyError` that names that process.

The ports are fixed, by design: a broker advertises its PROXIED listener at the proxy's port, and every client
connects to the advertised address after bootstrapping. A proxy on some other free port would see the
bootstrap connection only; the client would then go to the advertised port, past this proxy (to another
lesson's proxy, or to nothing). So two lessons cannot proxy the same broker at the same moment: the second
waits for the first, or stops with the first one's pid and command line.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..cluster import Cluster

Direction = Literal["to_broker", "to_client", "both"]
DIRECTIONS: tuple[str, str] = ("to_broker", "to_client")
CHUNK = 65536

_running: dict[int, "FaultProxy"] = {}  # listen port → the proxy of this process that holds it


class ProxyPortBusyError(OSError):
    """A fault proxy's port is held by another process (another lesson's proxy?) after the wait; the message
    names that process. The port cannot be swapped for a free one: brokers advertise it (module docstring)."""
_running_lock = threading.Lock()


@dataclass(frozen=True)
class Route:
    """One forwarded port: connections accepted on ``listen_host:listen_port`` go to ``target_host:target_port``."""

    listen_port: int
    target_port: int
    listen_host: str = "127.0.0.1"
    target_host: str = "127.0.0.1"


def _directions(direction: str) -> tuple[str, ...]:
    if direction == "both":
        return DIRECTIONS
    if direction in DIRECTIONS:
        return (direction,)
    raise ValueError(f"direction must be 'to_broker', 'to_client' or 'both', not {direction!r}")


class _Link:
    """One proxied connection: the client's side and the broker's side."""

    def __init__(self, client: asyncio.StreamWriter, broker: asyncio.StreamWriter) -> None:
        self.client, self.broker = client, broker

    def abort(self) -> None:
        for writer in (self.client, self.broker):
            writer.transport.abort()  # RST at once: what a dead link or a crashed middlebox looks like


class FaultProxy:
    """A TCP proxy in front of one or more brokers whose forwarding can be delayed, dropped or cut at runtime.

    Build it with :meth:`for_cluster` (the stack's proxy ports) or from explicit :class:`Route` s / ``(listen,
    target)`` port pairs; start it with ``start()`` or a ``with`` block. Every fault method returns at once and
    is safe to call from any thread; `duration` (seconds) schedules a :meth:`heal` that many seconds later.

    >>> proxy = FaultProxy([(9094, 9095)]).start()
    >>> proxy.drop(); time.sleep(2); proxy.heal()
    >>> proxy.stop()
    """

    def __init__(self, routes: Iterable[Route | tuple[int, int]]) -> None:
        self.routes = [r if isinstance(r, Route) else Route(int(r[0]), int(r[1])) for r in routes]
        if not self.routes:
            raise ValueError("a FaultProxy needs at least one (listen_port, target_port) route")
        self._delay_s = {d: 0.0 for d in DIRECTIONS}
        self._dropping = {d: False for d in DIRECTIONS}
        self._refuse_until = 0.0  # time.monotonic()
        self._counters = dict.fromkeys(
            ["connections", "refused", "failed", "cut", "bytes_to_broker", "bytes_to_client",
             "dropped_to_broker", "dropped_to_client"], 0)
        self._links: set[_Link] = set()
        self._events: list[dict[str, Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._heal_timer: asyncio.TimerHandle | None = None

    @classmethod
    def for_cluster(cls, cluster: "Cluster", listen_host: str = "127.0.0.1") -> "FaultProxy":
        """A proxy for every broker of `cluster`: each node's proxy port → its PROXIED listener.

        On the local stack the ports come from its nodes (``NodeSpec.proxy_port`` → ``proxy_target_port``);
        otherwise from the bootstrap servers: ``port + 2`` → ``host:port + 3``.
        """
        if cluster.stack is not None:
            return cls(Route(n.proxy_port, n.proxy_target_port, listen_host) for n in cluster.stack.nodes)
        routes = []
        for address in cluster.bootstrap_servers.split(","):
            host, port = address.strip().rsplit(":", 1)
            target = "127.0.0.1" if host == "localhost" else host
            routes.append(Route(int(port) + 2, int(port) + 3, listen_host, target))
        return cls(routes)

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> "FaultProxy":
        """Listen on every route's port (waiting up to `timeout` s for a port another process holds); returns self."""
        if self._thread is not None:
            return self
        with _running_lock:
            previous = {_running[r.listen_port] for r in self.routes if r.listen_port in _running}
        for proxy in previous:  # this kernel's proxy from an earlier run of the same cell
            proxy.stop()
        sockets = [_bind(route, timeout) for route in self.routes]
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(sockets, ready), daemon=True,
                                        name=f"fault-proxy:{self.routes[0].listen_port}")
        self._thread.start()
        if not ready.wait(10):
            raise TimeoutError("the fault proxy's event loop did not start within 10 s")
        with _running_lock:
            for route in self.routes:
                _running[route.listen_port] = self
        self._event("start", ", ".join(f"{r.listen_port}→{r.target_port}" for r in self.routes))
        return self

    def _run(self, sockets: list[socket.socket], ready: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)

        async def listen() -> None:
            for route, sock in zip(self.routes, sockets):
                handler = (lambda r: lambda reader, writer: self._handle(r, reader, writer))(route)
                self._servers.append(await asyncio.start_server(handler, sock=sock))

        loop.run_until_complete(listen())
        ready.set()
        loop.run_forever()
        # stop(): close listeners and connections, let the tasks finish, then close the loop.
        for server in self._servers:
            server.close()
        for link in list(self._links):
            link.abort()  # the connection handlers see their sockets close and return on their own
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=2))
        for task in pending:
            if not task.done():
                task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        for server in self._servers:
            loop.run_until_complete(server.wait_closed())
        loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Close every connection and listening socket (the ports are free again) and end the thread."""
        if self._thread is None or self._loop is None:
            return
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        self._event("stop")
        self._thread = None
        with _running_lock:
            for route in self.routes:
                if _running.get(route.listen_port) is self:
                    del _running[route.listen_port]

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        ports = ", ".join(f"{r.listen_port}→{r.target_port}" for r in self.routes)
        return f"<FaultProxy {ports} {'running' if self.running else 'stopped'} {self.state()}>"

    # -- faults ----------------------------------------------------------------------------------------------
    def delay(self, ms: float, direction: Direction = "both", duration: float | None = None) -> None:
        """Hold each chunk `ms` milliseconds before forwarding it in `direction` (order is kept; 0 = no delay)."""
        for d in _directions(direction):
            self._delay_s[d] = max(0.0, ms) / 1000
        self._event("delay", f"{ms:g} ms {direction}")
        self._heal_after(duration)

    def drop(self, direction: Direction = "both", duration: float | None = None) -> None:
        """Swallow every byte in `direction` (connections stay open; nothing is answered) until :meth:`heal`."""
        for d in _directions(direction):
            self._dropping[d] = True
        self._event("drop", direction)
        self._heal_after(duration)

    def cut(self, refuse_for: float = 0.0) -> int:
        """Reset every open connection now, and every new one for `refuse_for` seconds; returns how many were cut."""
        self._refuse_until = max(self._refuse_until, time.monotonic() + refuse_for)
        self._event("cut", f"refuse new connections for {refuse_for:g} s" if refuse_for else "")
        return self._call_in_loop(self._cut_all)

    def heal(self) -> None:
        """Forward normally again: no delay, no drop, new connections accepted."""
        for d in DIRECTIONS:
            self._delay_s[d] = 0.0
            self._dropping[d] = False
        self._refuse_until = 0.0
        self._event("heal")

    def state(self) -> dict[str, Any]:
        """The faults switched on now: delays (ms), dropped directions, seconds left of refusing."""
        return {"delay_ms": {d: self._delay_s[d] * 1000 for d in DIRECTIONS if self._delay_s[d]},
                "dropping": [d for d in DIRECTIONS if self._dropping[d]],
                "refusing_s": round(max(0.0, self._refuse_until - time.monotonic()), 1)}

    # -- what happened ---------------------------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        """Counters since start: connections accepted (and still ``active``), ``refused`` (reset during a
        refusal), ``failed`` (the broker side did not answer), ``cut``; bytes forwarded and dropped per direction."""
        return {**self._counters, "active": len(self._links)}

    @property
    def events(self) -> pd.DataFrame:
        """Every start, fault, heal and stop: ``t`` (``time.perf_counter()`` seconds), ``action``, ``detail``."""
        return pd.DataFrame(self._events, columns=["t", "action", "detail"])

    def fault_windows(self, t0: float = 0.0) -> pd.DataFrame:
        """The periods a fault was on, from :attr:`events`: ``start``, ``end`` (seconds after `t0`), ``fault``.

        A fault lasts until the next heal (or stop); a cut with a refusal lasts as long as the refusal.
        """
        windows: list[dict[str, Any]] = []
        open_faults: list[dict[str, Any]] = []
        for event in self._events:
            t = event["t"] - t0
            if event["action"] in ("heal", "stop"):
                for fault in open_faults:
                    fault["end"] = t
                windows.extend(open_faults)
                open_faults = []
            elif event["action"] in ("delay", "drop"):
                open_faults.append({"start": t, "end": None, "fault": f"{event['action']} {event['detail']}"})
            elif event["action"] == "cut":
                refusal = float(event["detail"].split("for ")[1].split(" s")[0]) if event["detail"] else 0.0
                windows.append({"start": t, "end": t + refusal, "fault": "cut"})
        windows.extend(open_faults)  # still on
        return pd.DataFrame(windows, columns=["start", "end", "fault"])

    def shade(self, ax: "Axes", t0: float = 0.0, color: str = "#e4572e", alpha: float = 0.15,
              labels: bool = True) -> None:
        """Shade each fault window (seconds after `t0`) on a matplotlib axis whose x axis is seconds, named at
        the top when `labels`; set the axis' x limits first (windows outside them are left out)."""
        low, high = ax.get_xlim()
        for window in self.fault_windows(t0).itertuples():
            end = window.end if window.end is not None and not pd.isna(window.end) else high
            if end < low or window.start > high:  # outside the chart (an earlier experiment's fault)
                continue
            if end - window.start < 0.05:  # a cut without refusal: a line, not an area
                ax.axvline(window.start, color=color, linestyle="--", linewidth=1.5)
            else:
                ax.axvspan(window.start, end, color=color, alpha=alpha, linewidth=0)
            if labels:
                ax.annotate(window.fault, (window.start, 1.0), xycoords=("data", "axes fraction"),
                            xytext=(3, -12), textcoords="offset points", fontsize=8, color=color)

    # -- internals -------------------------------------------------------------------------------------------
    def _event(self, action: str, detail: str = "") -> None:
        self._events.append({"t": time.perf_counter(), "action": action, "detail": detail})

    def _heal_after(self, duration: float | None) -> None:
        if duration is None:
            return
        if self._loop is None or not self.running:
            raise RuntimeError("start the proxy before scheduling a fault's end")

        def schedule() -> None:
            if self._heal_timer is not None:
                self._heal_timer.cancel()
            self._heal_timer = self._loop.call_later(duration, self.heal)  # type: ignore[union-attr]

        self._call_in_loop(schedule)

    def _call_in_loop(self, fn: Callable[[], Any]) -> Any:
        if self._loop is None or not self.running:
            raise RuntimeError("the fault proxy is not running: start() it first")
        if threading.current_thread() is self._thread:
            return fn()

        async def call() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(10)

    def _cut_all(self) -> int:
        links = list(self._links)
        for link in links:
            link.abort()
        self._counters["cut"] += len(links)
        return len(links)

    async def _handle(self, route: Route, client_reader: asyncio.StreamReader,
                      client_writer: asyncio.StreamWriter) -> None:
        _no_delay(client_writer)
        if time.monotonic() < self._refuse_until:
            self._counters["refused"] += 1
            client_writer.transport.abort()
            return
        try:
            broker_reader, broker_writer = await asyncio.wait_for(
                asyncio.open_connection(route.target_host, route.target_port), timeout=5)
        except (OSError, asyncio.TimeoutError):
            self._counters["failed"] += 1
            client_writer.transport.abort()
            return
        _no_delay(broker_writer)
        link = _Link(client_writer, broker_writer)
        self._links.add(link)
        self._counters["connections"] += 1
        pumps = [asyncio.create_task(self._pump(client_reader, broker_writer, "to_broker")),
                 asyncio.create_task(self._pump(broker_reader, client_writer, "to_client"))]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            link.abort()
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            self._links.discard(link)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str) -> None:
        """Read chunks from one side and forward them to the other, each no earlier than its arrival + delay."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        sender = asyncio.create_task(self._send(queue, writer))
        try:
            while True:
                try:
                    data = await reader.read(CHUNK)
                except (ConnectionError, OSError):
                    break
                if not data:
                    break
                self._counters[f"bytes_{direction}"] += len(data)
                if self._dropping[direction]:
                    self._counters[f"dropped_{direction}"] += len(data)
                    continue
                queue.put_nowait((loop.time() + self._delay_s[direction], data))
            queue.put_nowait(None)
            await sender
        finally:
            sender.cancel()

    @staticmethod
    async def _send(queue: asyncio.Queue, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        try:
            while (item := await queue.get()) is not None:
                due, data = item
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass


def _no_delay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


def _bind(route: Route, timeout: float) -> socket.socket:
    """A listening socket on the route's port (SO_REUSEADDR), retried while another process holds the port."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((route.listen_host, route.listen_port))
            sock.listen(128)
            sock.setblocking(False)
            return sock
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EADDRINUSE:
                raise OSError(exc.errno, f"cannot listen on {route.listen_host}:{route.listen_port} for the fault "
                                         f"proxy: {exc.strerror}") from exc
            if time.monotonic() > deadline:
                from ..stack.processes import port_owner

                owner = port_owner(route.listen_port) or "a process not visible in /proc (another user's?)"
                raise ProxyPortBusyError(
                    errno.EADDRINUSE,
                    f"port {route.listen_port} (where the brokers advertise their PROXIED listener, forwarded to "
                    f"{route.target_port}) is held by {owner}, still after {timeout:g} s. Another lesson's fault "
                    "proxy? The proxy cannot take another port: clients connect to the advertised one. Stop that "
                    "proxy (its notebook's cleanup cell, or the process), then run this again") from exc
            time.sleep(0.5)
