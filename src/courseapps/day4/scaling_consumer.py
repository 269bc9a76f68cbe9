"""A consumer-group member for Day 4's scaling and tuning lessons, run as its own process.

Each record costs ``--work-ms`` milliseconds of *waiting* (``time.sleep``: a call to a downstream service),
which takes wall-clock time but almost no CPU — so several members on a 2-core machine really do work in
parallel, as they would on several machines. With ``--work-ms 0`` it reads as fast as it can
(``--batch N``: ``consume(num_messages=N)`` instead of one ``poll()`` per record). With ``--bulk`` (and
``--batch``) the member waits once per batch, ``work-ms`` × the records in it, as a bulk call downstream
would: the same time per record, but one wake-up per batch instead of one per record, so a busy machine's
scheduling delays cost it far less.

Offsets are stored after the work (``enable.auto.offset.store=false`` + ``store_offsets``) and committed by
librdkafka every ``--commit-interval-ms`` (200 by default, so the broker's view of the lag stays fresh).
The group uses the classic protocol with ``cooperative-sticky`` assignment: a member that joins takes
partitions from the others without the others giving up the rest, and a member beyond the partition count
gets none. ``--out FILE`` gets one ``id partition offset time`` line per record (the value's ledger id).
``--go-file PATH``: partitions are paused until that file exists, so several members can join first and then
start at the same moment. ``--set key=value`` passes any librdkafka setting (fetch.min.bytes, ...).

Printed JSON lines (``ServiceProcess.events()``): ``{"t": <epoch s>, "member": ..., "event": ...}`` with
events ``assigned`` / ``revoked`` (partitions, owned), ``go``, ``error``, ``closed`` (processed, first_t,
last_t, partitions) and ``exit``. SIGTERM finishes the record in hand, closes (commits) and leaves.

    python -m courseapps.day4.scaling_consumer --topic T --group G --name m1 --work-ms 10 --out m1.txt
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from kafkacourse.client_env import env_client_settings


def parse_settings(pairs: list[str]) -> dict[str, str]:
    """``["fetch.min.bytes=1000", ...]`` → a dict; a pair without ``=`` is refused with a clear message."""
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set takes key=value (a librdkafka setting), not {pair!r}")
        settings[key.strip()] = value.strip()
    return settings


class ScalingConsumer:
    """One member of `group` reading `topic`, paced by `work_ms` per record; see the module docstring."""

    def __init__(self, kafka_config: dict[str, Any], topic: str, group: str, *, name: str = "member",
                 work_ms: float = 0.0, batch: int = 0, bulk: bool = False, out: str | None = None,
                 go_file: str | None = None, commit_interval_ms: int = 200, emit=None) -> None:
        if batch < 0 or work_ms < 0:
            raise ValueError("batch and work_ms must be >= 0")
        if bulk and not batch:
            raise ValueError("bulk waits once per batch: give a batch size (--batch N) too")
        self.topic, self.name, self.work_ms, self.batch, self.bulk = topic, name, work_ms, batch, bulk
        self.go_file = go_file
        self.go = go_file is None
        self.emit = emit or (lambda event: None)
        self.consumer = Consumer({
            "group.id": group, "client.id": name, "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": 10000, "heartbeat.interval.ms": 500,  # notice joins quickly; survive a busy machine
            "enable.auto.commit": True, "auto.commit.interval.ms": commit_interval_ms,
            "enable.auto.offset.store": False,
            **kafka_config})
        self._out = open(out, "a", buffering=1 << 16) if out else None
        self.owned: set[int] = set()
        self.seen: set[int] = set()
        self.processed = 0
        self.first_t: float | None = None
        self.last_t: float | None = None

    def _event(self, event: str, **fields: Any) -> None:
        self.emit({"t": round(time.time(), 4), "member": self.name, "event": event, **fields})

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        consumer.incremental_assign(partitions)
        if not self.go and partitions:
            consumer.pause(partitions)          # joined, but waits for the go file
        self.owned |= {p.partition for p in partitions}
        self._event("assigned", partitions=sorted(p.partition for p in partitions), owned=sorted(self.owned))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        consumer.incremental_unassign(partitions)
        self.owned -= {p.partition for p in partitions}
        self._event("revoked", partitions=sorted(p.partition for p in partitions), owned=sorted(self.owned))

    def _check_go(self) -> None:
        if not self.go and os.path.exists(self.go_file):  # type: ignore[arg-type]
            self.go = True
            assignment = self.consumer.assignment()
            if assignment:
                self.consumer.resume(assignment)
            self._event("go", owned=sorted(self.owned))

    def run(self, stop: threading.Event) -> int:
        self.consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                                on_lost=self._on_revoke)
        try:
            while not stop.is_set():
                self._check_go()
                timeout = 0.1 if self.go else 0.01
                if self.batch:
                    messages = self.consumer.consume(self.batch, timeout)
                else:
                    msg = self.consumer.poll(timeout)
                    messages = [msg] if msg is not None else []
                self._handle(messages)
        finally:
            self.close()
        return self.processed

    def _handle(self, messages: list) -> None:
        last: dict[int, int] = {}
        if self.bulk and self.work_ms:
            records = sum(1 for msg in messages if msg.error() is None)
            time.sleep(records * self.work_ms / 1000)   # one bulk call downstream for the whole batch
        for msg in messages:
            if msg.error() is not None:
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                if msg.error().fatal():
                    raise KafkaException(msg.error())
                self._event("error", code=msg.error().name(), message=msg.error().str())
                continue
            if self.work_ms and not self.bulk:
                time.sleep(self.work_ms / 1000)   # waiting on a downstream call: wall time, no CPU
            now = time.time()
            if self._out is not None:
                record_id = json.loads(msg.value())["id"]
                self._out.write(f"{record_id} {msg.partition()} {msg.offset()} {now:.4f}\n")
            if self.first_t is None:
                self.first_t = now
            self.last_t = now
            self.processed += 1
            self.seen.add(msg.partition())
            if self.batch:
                last[msg.partition()] = msg.offset()
            else:
                self.consumer.store_offsets(message=msg)
        if last:
            self.consumer.store_offsets(offsets=[TopicPartition(self.topic, p, o + 1) for p, o in last.items()])
        if self._out is not None and messages:
            self._out.flush()

    def close(self) -> None:
        try:
            self.consumer.close()   # commits the stored offsets, leaves the group
        finally:
            if self._out is not None:
                self._out.close()
            self._event("closed", processed=self.processed, first_t=self.first_t, last_t=self.last_t,
                        partitions=sorted(self.seen))


def read_out(path: str) -> list[tuple[str, int, int, float]]:
    """The ``(id, partition, offset, time)`` lines of an ``--out`` file; a missing file has none."""
    if not os.path.exists(path):
        return []
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 4:
                rows.append((parts[0], int(parts[1]), int(parts[2]), float(parts[3])))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--name", default="member")
    parser.add_argument("--work-ms", type=float, default=0.0)
    parser.add_argument("--batch", type=int, default=0, help="consume(num_messages=BATCH); 0: poll() per record")
    parser.add_argument("--bulk", action="store_true", help="wait once per batch: work-ms x its records")
    parser.add_argument("--out")
    parser.add_argument("--go-file")
    parser.add_argument("--commit-interval-ms", type=int, default=200)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    try:
        extra = parse_settings(args.set)
    except ValueError as exc:
        parser.error(str(exc))

    def emit(event: dict[str, Any]) -> None:
        print(json.dumps(event), flush=True)

    member = ScalingConsumer({**env_client_settings(), "bootstrap.servers": args.bootstrap_servers, **extra},
                             args.topic, args.group,
                             name=args.name, work_ms=args.work_ms, batch=args.batch, bulk=args.bulk, out=args.out,
                             go_file=args.go_file, commit_interval_ms=args.commit_interval_ms, emit=emit)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    member.run(stop)
    emit({"t": round(time.time(), 4), "member": args.name, "event": "exit", "processed": member.processed})
    return 0


if __name__ == "__main__":
    sys.exit(main())
