"""A consumer-group member for Day 3 lessons 03, 04 and 06: one loop, run as a thread or as its own process.

Each record carries a ledger id (``kafkacourse.instruments.ledger.encode_value``). For each record the worker
does its *work* (``work_ms`` of Python bytecode, of one GIL-holding JSON parse, or of sleeping), appends ``id partition offset time`` to
its ``out`` file (the side effect a duplicate would repeat; flushed at once, so a SIGKILL loses no line), and
only then stores the record's offset (``enable.auto.offset.store=false`` + ``store_offsets``). librdkafka's
auto-commit thread commits stored offsets every ``auto.commit.interval.ms``, and ``close()`` commits the
last ones and leaves the group: at-least-once, never a loss.

As a process (``python -m courseapps.day3.group_worker --topic T --group G ...``) it prints one JSON line per
event to stdout: ``{"t": <epoch s>, "member": ..., "event": "assigned" | "revoked" | "lost" | "processed" |
"error" | "commit" | "stall" | "signal" | "closed" | "exit", ...}`` (``processed`` every ``--progress-every`` records), which a
lesson reads back with ``ServiceProcess.events()``. ``--health-port`` serves ``/health`` and ``/ready`` (see
:func:`health_routes`; ``--max-lag``, default 100) from a uvicorn thread. How it stops (``--shutdown``):

* ``graceful`` (default): SIGTERM sets a flag; the record in hand is finished, its offset stored,
  ``close()`` commits and sends LeaveGroup (a static member, ``--instance-id``, does not leave).
* ``no-close``: SIGTERM ends the loop too, but the process exits without ``close()``: no final commit,
  no LeaveGroup; the group waits for ``session.timeout.ms`` to notice.

``--stall-after N --stall-s S`` stops polling for S seconds after N records (longer than
``max.poll.interval.ms``, the member is removed from the group); the next ``poll()`` error and the result of
the ``commit()`` that follows are printed as events.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from kafkacourse.client_env import env_client_settings

SHUTDOWN_STYLES = ("graceful", "no-close")
WORK_KINDS = ("cpu", "json", "sleep")


def burn(ms: float) -> None:
    """CPU-bound Python bytecode for `ms` milliseconds (the interpreter hands the GIL to another thread that
    asks for it every ``sys.getswitchinterval()``, 5 ms)."""
    end = time.perf_counter() + ms / 1000
    n = 0
    while time.perf_counter() < end:
        n += 1


_documents: dict[float, str] = {}


def parse_json(ms: float) -> None:
    """One ``json.loads`` of a document that takes about `ms` milliseconds to parse on an idle machine.

    The parser is C code that keeps the GIL for the whole call, as other C-level work does (pydantic-core
    validation, regular expressions): no other thread of the process runs Python meanwhile. The document
    size is calibrated once per `ms` (best of 3 timings, twice).
    """
    if ms not in _documents:
        size = 20_000
        for _ in range(2):   # parse time is not quite linear in size: measure, rescale, measure again
            document = json.dumps(list(range(size)))
            best = min(_time(json.loads, document) for _ in range(3))
            size = max(1, int(size * (ms / 1000) / best))
        _documents[ms] = json.dumps(list(range(size)))
    json.loads(_documents[ms])


def _time(fn: Callable[[str], Any], arg: str) -> float:
    t = time.perf_counter()
    fn(arg)
    return time.perf_counter() - t


class GroupWorker:
    """One member of `group` reading `topic`; :meth:`run` until `stop`, or :meth:`step` from your own loop.

    Args:
        kafka_config: at least ``bootstrap.servers``; more client settings (dotted names) go here too.
        instance_id: ``group.instance.id`` (static membership); None for a dynamic member.
        protocol: ``group.protocol``: "classic" or "consumer" (KIP-848; then no session/heartbeat/strategy).
        strategy: ``partition.assignment.strategy`` (classic only), default librdkafka's "range,roundrobin".
        session_timeout_ms: classic only; 6000 is the broker's minimum (``group.min.session.timeout.ms``).
        work_ms, work: time spent per record: "cpu" (Python bytecode, see :func:`burn`), "json" (one C call
            that holds the GIL, see :func:`parse_json`) or "sleep" (waiting, as on another service).
        out: a file that gets one ``id partition offset time`` line per processed record (time: epoch s).
        emit: called with each event dict (the process prints it as a JSON line).
        name: the member's name in events and its ``client.id``.
    """

    def __init__(self, kafka_config: dict[str, Any], topic: str, group: str, *, instance_id: str | None = None,
                 protocol: str = "classic", strategy: str | None = None, session_timeout_ms: int | None = 6000,
                 max_poll_interval_ms: int | None = None, auto_commit_interval_ms: int | None = None,
                 work_ms: float = 0.0, work: str = "sleep", out: str | Path | None = None,
                 emit: Callable[[dict[str, Any]], None] | None = None, name: str | None = None,
                 progress_every: int = 0) -> None:
        if work not in WORK_KINDS:
            raise ValueError(f"work must be one of {WORK_KINDS}, not {work!r}")
        if protocol not in ("classic", "consumer"):
            raise ValueError(f"protocol must be 'classic' or 'consumer', not {protocol!r}")
        self.topic, self.group = topic, group
        self.name = name or instance_id or "worker"
        self.work_ms, self.work = work_ms, work
        self.emit = emit or (lambda event: None)
        self.progress_every = progress_every
        config: dict[str, Any] = {
            **kafka_config, "group.id": group, "client.id": self.name, "group.protocol": protocol,
            "auto.offset.reset": "earliest",            # librdkafka's default is latest
            "enable.auto.commit": True,                 # librdkafka's default, every auto.commit.interval.ms
            "enable.auto.offset.store": False,          # store after the work, not at poll()
        }
        if auto_commit_interval_ms is not None:         # librdkafka's default: 5000
            config["auto.commit.interval.ms"] = auto_commit_interval_ms
        if protocol == "classic":
            if session_timeout_ms is not None:
                config["session.timeout.ms"] = session_timeout_ms
                config["heartbeat.interval.ms"] = max(500, session_timeout_ms // 6)
            if strategy:
                config["partition.assignment.strategy"] = strategy
        if max_poll_interval_ms is not None:
            config["max.poll.interval.ms"] = max_poll_interval_ms
        if instance_id:
            config["group.instance.id"] = instance_id
        self.cooperative = protocol == "consumer" or (strategy or "").startswith("cooperative")
        self.consumer = Consumer(config)
        self._out = open(out, "a", buffering=1) if out else None  # line-buffered: each line written at once
        self._lock = threading.Lock()
        self.assigned: set[int] = set()
        self.processed = 0
        self.last_poll = time.monotonic()
        self.running = False
        self.closed = False
        self._lag: dict[int, int | None] = {}
        self._lag_at = 0.0

    # -- events and callbacks --------------------------------------------------------------------------------
    def _event(self, event: str, **fields: Any) -> None:
        self.emit({"t": round(time.time(), 3), "member": self.name, "event": event, **fields})

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        with self._lock:
            self.assigned |= {p.partition for p in partitions}
        if self.cooperative:
            consumer.incremental_assign(partitions)
        self._event("assigned", partitions=sorted(p.partition for p in partitions), owned=sorted(self.assigned))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition], kind: str = "revoked") -> None:
        with self._lock:
            self.assigned -= {p.partition for p in partitions}
        if self.cooperative:
            consumer.incremental_unassign(partitions)
        self._event(kind, partitions=sorted(p.partition for p in partitions), owned=sorted(self.assigned))

    # -- the loop --------------------------------------------------------------------------------------------
    def subscribe(self) -> None:
        self.consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                                on_lost=lambda c, parts: self._on_revoke(c, parts, "lost"))
        self.running = True

    def step(self, timeout: float = 0.1) -> bool:
        """Poll once and process what came; True if a record was processed."""
        msg = self.consumer.poll(timeout)
        self.last_poll = time.monotonic()
        if self.last_poll - self._lag_at > 0.25:
            self._measure_lag()
        if msg is None:
            return False
        if msg.error() is not None:
            if msg.error().code() == KafkaError._PARTITION_EOF:
                return False
            if msg.error().fatal():
                raise KafkaException(msg.error())
            self._event("error", code=msg.error().name(), message=msg.error().str())
            if msg.error().code() == KafkaError._MAX_POLL_EXCEEDED:
                self._commit_after_error()
            return False
        self.process(msg)
        return True

    def process(self, msg: Any) -> None:
        """Do the work for one record, write its line, store its offset (committed later by librdkafka)."""
        record_id = json.loads(msg.value())["id"]
        if self.work_ms:
            {"cpu": burn, "json": parse_json, "sleep": lambda ms: time.sleep(ms / 1000)}[self.work](self.work_ms)
        if self._out is not None:
            self._out.write(f"{record_id} {msg.partition()} {msg.offset()} {time.time():.3f}\n")
        self.consumer.store_offsets(message=msg)
        with self._lock:
            self.processed += 1
        if self.progress_every and self.processed % self.progress_every == 0:
            self._event("processed", count=self.processed)

    def _measure_lag(self) -> None:
        """Lag per assigned partition: the last high watermark the fetcher saw minus the position.

        Measured here, in the polling thread: the client is not called from the probes' threads (a call
        such as ``position()`` from another thread can wait for the running ``poll()``).
        """
        self._lag_at = time.monotonic()
        assignment = self.consumer.assignment()
        lag: dict[int, int | None] = {}
        for tp in self.consumer.position(assignment) if assignment else []:
            _low, high = self.consumer.get_watermark_offsets(tp, cached=True)
            lag[tp.partition] = None if high < 0 or tp.offset < 0 else max(0, high - tp.offset)
        with self._lock:
            self._lag = lag

    def _commit_after_error(self) -> None:
        """What an application sees when it commits after being removed from the group."""
        try:
            self.consumer.commit(asynchronous=False)
            self._event("commit", code="ok")
        except KafkaException as exc:
            self._event("commit", code=exc.args[0].name(), message=exc.args[0].str())

    def run(self, stop: threading.Event, *, close: bool = True, stall_after: int | None = None,
            stall_s: float = 0.0) -> int:
        """Poll and process until `stop` is set; then close (commit + leave) unless `close` is False."""
        self.subscribe()
        try:
            while not stop.is_set():
                self.step(0.1)
                if stall_after is not None and self.processed >= stall_after:
                    stall_after = None
                    self._event("stall", seconds=stall_s)
                    stop.wait(stall_s)            # no poll() meanwhile: max.poll.interval.ms runs out
        finally:
            self.running = False
            if close:
                self.close()
        return self.processed

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.consumer.close()   # revokes (callback), commits the stored offsets, sends LeaveGroup
            self._event("closed", processed=self.processed)
        finally:
            if self._out is not None:
                self._out.close()

    # -- health ----------------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What /health and /ready report: assigned partitions, lag per partition, records processed."""
        with self._lock:
            assigned = sorted(self.assigned)
            processed = self.processed
            lag = {p: self._lag.get(p) for p in assigned}
        return {"member": self.name, "running": self.running, "assigned": assigned, "lag": lag,
                "processed": processed, "since_last_poll_s": round(time.monotonic() - self.last_poll, 3)}


def health_routes(app: Any, worker: Callable[[], GroupWorker | None], max_lag: int = 100,
                  max_poll_age_s: float = 10.0) -> None:
    """Add ``/health`` (liveness) and ``/ready`` (readiness) to a FastAPI `app`, reading `worker()`'s status.

    ``/health``: 200 while the consumer loop runs and polled within `max_poll_age_s`, else 503.
    ``/ready``: 200 when the worker owns partitions and every one is at most `max_lag` records behind, else 503.
    Both answer the status as JSON (assigned, lag, processed) so a probe's log shows why.
    """
    from fastapi.responses import JSONResponse

    def current() -> dict[str, Any]:
        w = worker()
        return {"running": False, "assigned": [], "lag": {}, "processed": 0} if w is None else w.status()

    @app.get("/health")
    def health() -> JSONResponse:   # a plain def: FastAPI runs it in its threadpool
        status = current()
        alive = status["running"] and status.get("since_last_poll_s", 0) <= max_poll_age_s
        return JSONResponse(status, status_code=200 if alive else 503)

    @app.get("/ready")
    def ready() -> JSONResponse:
        status = current()
        lags = [v for v in status["lag"].values() if v is not None]
        ok = bool(status["assigned"]) and len(lags) == len(status["assigned"]) and max(lags, default=0) <= max_lag
        return JSONResponse(status, status_code=200 if ok else 503)


def read_out(path: str | Path) -> list[tuple[int, int, int, float]]:
    """The (id, partition, offset, time) lines of an out file, in order; a missing file has none."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 4:
            rows.append((int(parts[0]), int(parts[1]), int(parts[2]), float(parts[3])))
    return rows


def _serve_health(worker: GroupWorker, port: int, max_lag: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI(title=f"health of {worker.name}")
    health_routes(app, lambda: worker, max_lag=max_lag)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # the main thread owns them
    threading.Thread(target=server.run, name="health", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--name")
    parser.add_argument("--instance-id")
    parser.add_argument("--protocol", default="classic", choices=["classic", "consumer"])
    parser.add_argument("--strategy")
    parser.add_argument("--session-timeout-ms", type=int, default=6000)
    parser.add_argument("--max-poll-interval-ms", type=int)
    parser.add_argument("--auto-commit-interval-ms", type=int)
    parser.add_argument("--work-ms", type=float, default=0.0)
    parser.add_argument("--work", default="sleep", choices=WORK_KINDS)
    parser.add_argument("--out")
    parser.add_argument("--shutdown", default="graceful", choices=SHUTDOWN_STYLES)
    parser.add_argument("--progress-every", type=int, default=0)
    parser.add_argument("--stall-after", type=int)
    parser.add_argument("--stall-s", type=float, default=0.0)
    parser.add_argument("--health-port", type=int)
    parser.add_argument("--max-lag", type=int, default=100, help="/ready answers 503 above this lag")
    args = parser.parse_args(argv)

    def emit(event: dict[str, Any]) -> None:
        print(json.dumps(event), flush=True)

    worker = GroupWorker({**env_client_settings(), "bootstrap.servers": args.bootstrap_servers}, args.topic, args.group,
                         instance_id=args.instance_id, protocol=args.protocol, strategy=args.strategy,
                         session_timeout_ms=args.session_timeout_ms if args.protocol == "classic" else None,
                         max_poll_interval_ms=args.max_poll_interval_ms,
                         auto_commit_interval_ms=args.auto_commit_interval_ms, work_ms=args.work_ms, work=args.work,
                         out=args.out, emit=emit, name=args.name, progress_every=args.progress_every)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        worker._event("signal", signal=signal.Signals(signum).name)
        stop.set()   # the loop finishes the record in hand, then leaves

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    if args.health_port:
        _serve_health(worker, args.health_port, args.max_lag)
    worker.run(stop, close=args.shutdown == "graceful", stall_after=args.stall_after, stall_s=args.stall_s)
    worker._event("exit", processed=worker.processed, closed=worker.closed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
