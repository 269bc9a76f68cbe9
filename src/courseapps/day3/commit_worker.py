"""The consumer service of Day 3 lesson 01: one processing loop, seven ways to commit its offsets.

Each record's "processing" appends ``<id> <offset>`` (the record's ledger id, see
``kafkacourse.instruments.ledger``) to a sink file, the service's stand-in for a database: a line reaches the
file only when the record is completely processed, and a SIGKILL cannot take back a line already written. The
strategies (``--strategy``):

========================  ==========================================================================================
``auto``                  librdkafka's defaults: ``enable.auto.commit=true``, ``enable.auto.offset.store=true`` — the
                          offset is *stored* when ``poll()`` hands the record over and committed by a background thread
                          every ``auto.commit.interval.ms``, whether or not the record was processed by then
``auto-store-after``      auto-commit, but ``enable.auto.offset.store=false`` and ``store_offsets()`` after processing
``sync-per-record``       ``commit(message, asynchronous=False)`` after each record
``async-per-record``      ``commit(message, asynchronous=True)`` after each record
``sync-per-batch``        ``consume()`` a batch of ``--batch`` records, process them all, then one synchronous commit
``async-per-batch``       the same with an asynchronous commit
``on-revoke``             ``async-per-batch``, plus a synchronous commit of everything processed so far in the
                          ``on_revoke`` callback (which librdkafka calls in a rebalance and in ``close()``)
========================  ==========================================================================================

    python -m courseapps.day3.commit_worker --bootstrap-servers localhost:9092 --topic T --group G \\
        --strategy auto --sink /tmp/sink.txt [--stall-at 1550] [--batch 100] [--instance-id worker-1]

Lines it prints (a lesson waits for them): ``assigned [0]``; ``throughput <records> <seconds>`` (this run's
records, first to last processed) and ``caught up <records>`` each time every partition is read to its end;
with ``--stall-at OFFSET``, ``processing <id> at offset <offset>`` when it starts on that record, which then
never finishes (a slow call that hangs) — until SIGKILL, or SIGTERM: the service abandons the record in hand,
leaves the loop, closes the consumer (``on_revoke`` runs there) and prints ``stopped``.
``--go-file PATH``: print ``waiting for PATH`` and start only once that file exists (so a lesson can start
several workers at once and let them run one after the other). ``--for-seconds S``: stop S seconds after the
first record, printing ``throughput`` and ``time is up`` (a fixed window to measure the rate).
``--instance-id`` makes it a static group member, so a restart takes the partitions back at once instead of
waiting for the dead member's session to time out.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from .consuming import BatchReader, say
from .ledger_values import record_id
from kafkacourse.client_env import env_client_settings


STRATEGIES = ("auto", "auto-store-after", "sync-per-record", "async-per-record",
              "sync-per-batch", "async-per-batch", "on-revoke")
BATCHED = {"sync-per-batch", "async-per-batch", "on-revoke"}


def consumer_config(bootstrap_servers: str, group: str, strategy: str, auto_commit_interval_ms: int,
                    instance_id: str | None = None) -> dict[str, Any]:
    """The consumer's librdkafka settings for `strategy` (a ValueError for an unknown one)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
    config: dict[str, Any] = {
        **env_client_settings(), "bootstrap.servers": bootstrap_servers, "group.id": group,
        "auto.offset.reset": "earliest",        # librdkafka's default is latest: a new group would skip the backlog
        "enable.partition.eof": True,           # to say "caught up"
        "auto.commit.interval.ms": auto_commit_interval_ms,
    }
    # "auto" sets nothing more: enable.auto.commit and enable.auto.offset.store are librdkafka's defaults (true).
    if strategy == "auto-store-after":
        config["enable.auto.offset.store"] = False
    elif strategy != "auto":
        config["enable.auto.commit"] = False
    if instance_id:
        config["group.instance.id"] = instance_id
    return config


def run(config: dict[str, Any], topic: str, strategy: str, sink_path: str, batch: int = 100,
        stall_at: int | None = None, go_file: str | None = None, for_seconds: float | None = None,
        stop: threading.Event | None = None) -> int:
    """Consume `topic` with `strategy` until `stop` is set; returns the records processed by this run.

    With `go_file`, wait until that file exists before joining the group and reading. With `for_seconds`,
    stop once that long has passed since the first record was processed (a fixed window to measure the rate).
    """
    stop = stop or threading.Event()
    if go_file:
        say(f"waiting for {go_file}")
        while not Path(go_file).exists() and not stop.is_set():
            time.sleep(0.02)
    consumer = Consumer(config)
    size = batch if strategy in BATCHED else 1
    done: dict[tuple[str, int], int] = {}       # (topic, partition) -> next offset after the last processed record
    reader = BatchReader(consumer)
    processed, first_at, last_at = 0, None, None

    def on_assign(_c: Consumer, partitions: list[TopicPartition]) -> None:
        reader.assigned(partitions)
        say(f"assigned {sorted(reader.partitions)}")

    def on_revoke(c: Consumer, partitions: list[TopicPartition]) -> None:
        mine = [TopicPartition(p.topic, p.partition, done[(p.topic, p.partition)])
                for p in partitions if (p.topic, p.partition) in done]
        if strategy == "on-revoke" and mine:
            c.commit(offsets=mine, asynchronous=False)
            say(f"revoked: committed {[(tp.partition, tp.offset) for tp in mine]}")
        reader.revoked(partitions)

    def commit_done(asynchronous: bool) -> None:
        if done:
            consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in done.items()],
                            asynchronous=asynchronous)

    try:
        consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
        with open(sink_path, "a", buffering=1) as sink:  # line-buffered: one write() per processed record
            while not stop.is_set():
                messages = reader.next_batch(size, stop)
                for msg in messages:
                    if msg.offset() == stall_at:
                        say(f"processing {record_id(msg.value())} at offset {msg.offset()}")
                        say(f"throughput {processed} {(last_at or 0) - (first_at or 0):.4f}")
                        while not stop.is_set():   # the slow call that never returns
                            time.sleep(0.05)
                    if stop.is_set():
                        break                      # abandon the rest: not processed, not committed
                    sink.write(f"{record_id(msg.value())} {msg.offset()}\n")
                    processed += 1
                    last_at = time.perf_counter()
                    first_at = first_at or last_at
                    done[(msg.topic(), msg.partition())] = msg.offset() + 1
                    if strategy == "auto-store-after":
                        consumer.store_offsets(message=msg)
                    elif strategy == "sync-per-record":
                        consumer.commit(message=msg, asynchronous=False)
                    elif strategy == "async-per-record":
                        consumer.commit(message=msg, asynchronous=True)
                if stop.is_set():
                    break
                if messages and strategy in BATCHED:
                    commit_done(asynchronous=strategy != "sync-per-batch")
                if for_seconds is not None and first_at and last_at - first_at >= for_seconds:
                    say(f"throughput {processed} {last_at - first_at:.4f}")
                    say("time is up")
                    break
                if reader.newly_caught_up(messages):
                    say(f"throughput {processed} {(last_at or 0) - (first_at or 0):.4f}")
                    say(f"caught up {processed}")
    finally:
        consumer.close()   # with auto-commit on, commits the stored offsets; calls on_revoke
    say("stopped")
    return processed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--strategy", choices=STRATEGIES, required=True)
    parser.add_argument("--sink", required=True, help="file the processed records' ids are appended to")
    parser.add_argument("--batch", type=int, default=100, help="records per batch (the *-batch strategies)")
    parser.add_argument("--stall-at", type=int, default=None, help="hang while processing the record at this offset")
    parser.add_argument("--auto-commit-interval-ms", type=int, default=5000, help="librdkafka's default: 5000")
    parser.add_argument("--instance-id", default=None, help="group.instance.id (static membership)")
    parser.add_argument("--go-file", default=None, help="start reading only once this file exists")
    parser.add_argument("--for-seconds", type=float, default=None, help="stop this long after the first record")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    config = consumer_config(args.bootstrap_servers, args.group, args.strategy, args.auto_commit_interval_ms,
                             args.instance_id)
    run(config, args.topic, args.strategy, args.sink, batch=args.batch, stall_at=args.stall_at,
        go_file=args.go_file, for_seconds=args.for_seconds, stop=stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
