"""The database sink of Day 3 lesson 02: output rows and consumed offsets in ONE SQLite transaction.

Per batch of ``--batch`` records: ``BEGIN``, one row per input record into ``results`` (its ledger id,
partition, offset and the run's ``--name``), the next offset of each partition into ``kafka_offsets``,
``COMMIT``. Either both are in the database or neither is. The consumer commits nothing to Kafka
(``enable.auto.commit=false``); on every assignment (``on_assign``) it reads ``kafka_offsets`` and starts each
partition there — the database, not the group's committed offsets, says where to resume.

    python -m courseapps.day3.eos_db_sink --bootstrap-servers localhost:9092 --topic T --group G \\
        --db /tmp/sink.db --name first [--stall-after 25] [--instance-id I]

Lines it prints: ``assigned {partition: start offset}`` (``beginning`` where the database has none),
``committed <n> rows``, ``caught up <n>``. ``--stall-after N``: after inserting the N-th row of this run,
inside the open database transaction, it prints ``in db transaction after <N> rows`` and hangs (until
SIGKILL). SIGTERM: leave the loop, close, print ``stopped``.
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from .consuming import BatchReader, say
from .ledger_values import record_id
from kafkacourse.client_env import env_client_settings


SCHEMA = """
CREATE TABLE IF NOT EXISTS results (id INTEGER NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
                                    processed_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kafka_offsets (topic TEXT NOT NULL, partition INTEGER NOT NULL,
                                          next_offset INTEGER NOT NULL, PRIMARY KEY (topic, partition));
"""


def open_db(path: str | Path) -> sqlite3.Connection:
    """The sink database (created if missing), in WAL mode so a reader never waits for the sink's transaction."""
    db = sqlite3.connect(path, isolation_level=None)  # autocommit mode: transactions are explicit BEGIN/COMMIT
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    return db


def stored_offsets(db: sqlite3.Connection, topic: str) -> dict[int, int]:
    """The next offset per partition of `topic`, as the last committed database transaction left it."""
    return dict(db.execute("SELECT partition, next_offset FROM kafka_offsets WHERE topic = ?", (topic,)))


def run(bootstrap_servers: str, topic: str, group: str, db_path: str | Path, *, name: str = "sink",
        instance_id: str | None = None, batch: int = 10, stall_after: int | None = None,
        stop: threading.Event | None = None) -> int:
    """Write `topic` into the database until `stop`; returns the rows this run committed."""
    stop = stop or threading.Event()
    config: dict[str, Any] = {**env_client_settings(), "bootstrap.servers": bootstrap_servers, "group.id": group,
                              "enable.auto.commit": False, "enable.partition.eof": True}
    if instance_id:
        config["group.instance.id"] = instance_id
    db = open_db(db_path)
    consumer = Consumer(config)
    reader = BatchReader(consumer)
    inserted, committed = 0, 0

    def on_assign(c: Consumer, partitions: list[TopicPartition]) -> None:
        stored = stored_offsets(db, topic)
        for tp in partitions:
            tp.offset = stored.get(tp.partition, OFFSET_BEGINNING)
        c.assign(partitions)             # start each partition where the database says
        reader.assigned(partitions)
        say("assigned " + str({tp.partition: stored.get(tp.partition, "beginning") for tp in partitions}))

    try:
        consumer.subscribe([topic], on_assign=on_assign, on_revoke=lambda _c, ps: reader.revoked(ps))
        while not stop.is_set():
            messages = reader.next_batch(batch, stop)
            if messages:
                next_offsets: dict[int, int] = {}
                db.execute("BEGIN IMMEDIATE")
                for msg in messages:
                    db.execute("INSERT INTO results VALUES (?, ?, ?, ?)",
                               (record_id(msg.value()), msg.partition(), msg.offset(), name))
                    next_offsets[msg.partition()] = msg.offset() + 1
                    inserted += 1
                    if inserted == stall_after:
                        say(f"in db transaction after {inserted} rows")
                        while True:          # hangs inside the open transaction until killed
                            time.sleep(1)
                db.executemany("INSERT INTO kafka_offsets VALUES (?, ?, ?) ON CONFLICT (topic, partition) "
                               "DO UPDATE SET next_offset = excluded.next_offset",
                               [(topic, p, o) for p, o in next_offsets.items()])
                db.execute("COMMIT")         # the rows and the offsets, together
                committed += len(messages)
                say(f"committed {committed} rows")
            if reader.newly_caught_up(messages):
                say(f"caught up {committed}")
    finally:
        consumer.close()
        db.close()
    say("stopped")
    return committed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--db", required=True, help="SQLite file (created if missing)")
    parser.add_argument("--name", default="sink")
    parser.add_argument("--instance-id", default=None, help="group.instance.id (static membership)")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--stall-after", type=int, default=None)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    run(args.bootstrap_servers, args.topic, args.group, args.db, name=args.name, instance_id=args.instance_id,
        batch=args.batch, stall_after=args.stall_after, stop=stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
