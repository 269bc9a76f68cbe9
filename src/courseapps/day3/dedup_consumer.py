"""The idempotent consumer of Day 3 lesson 07: at-least-once delivery, an effect applied once per record id.

Each record's effect is a row in the ``effects`` table of a SQLite database (the service's business data).
Offsets are committed synchronously after each batch of ``--batch`` records (at-least-once: a crash
mid-batch redelivers the records processed since the last commit). Before applying a record the consumer
asks its store of processed ids (``--store``):

=============  ===============================================================================================
``none``       no de-duplication: every delivery is applied
``memory``     a Python ``set`` in the process: gone when the process dies
``sqlite``     a ``processed`` table with a PRIMARY KEY on the id, written in the SAME database transaction as
               the effect: a second insert of the id fails (``IntegrityError``) and the effect is not applied
``compacted``  a compacted Kafka topic (``--state-topic``, key = record id): read to its end at start-up into
               a set; each id is produced (and flushed) to it right after its effect is committed
=============  ===============================================================================================

    python -m courseapps.day3.dedup_consumer --bootstrap-servers localhost:9092 --topic T --group G \\
        --db /tmp/effects.db --store sqlite [--state-topic S] [--stall-at 70] [--instance-id I]

Lines it prints: ``state: <n> ids`` (the store's size at start-up), ``assigned [0]``,
``caught up applied=<n> skipped=<m>`` (this run's counts) when the partitions are read to their end.
``--stall-at OFFSET``: ``processing <id> at offset <offset>`` and a hang before applying that record, until
SIGKILL. SIGTERM: leave the loop, close, print ``stopped``.
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

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from .consuming import BatchReader, say
from .ledger_values import record_id
from kafkacourse.client_env import env_client_settings


STORES = ("none", "memory", "sqlite", "compacted")
SCHEMA = """
CREATE TABLE IF NOT EXISTS effects (id INTEGER NOT NULL, offset INTEGER NOT NULL, run INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS processed (id INTEGER PRIMARY KEY);
"""


def read_state_topic(bootstrap_servers: str, topic: str, timeout: float = 30.0) -> set[int]:
    """Every id (record key) the compacted state topic holds, read from its beginning to its end."""
    consumer = Consumer({**env_client_settings(), "bootstrap.servers": bootstrap_servers, "group.id": "unused-state-reader",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    reader, ids = BatchReader(consumer), set()
    try:
        partitions = [TopicPartition(topic, p, OFFSET_BEGINNING)
                      for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions]
        consumer.assign(partitions)
        reader.assigned(partitions)
        deadline = time.monotonic() + timeout
        while not reader.at_end_of_all:
            if time.monotonic() > deadline:
                raise TimeoutError(f"state topic {topic!r} not read to its end in {timeout:.0f} s")
            ids.update(int(msg.key()) for msg in reader.next_batch(500))
    finally:
        consumer.close()
    return ids


def run(bootstrap_servers: str, topic: str, group: str, db_path: str | Path, store: str, *,
        state_topic: str | None = None, run_number: int = 1, instance_id: str | None = None, batch: int = 20,
        stall_at: int | None = None, stop: threading.Event | None = None) -> tuple[int, int]:
    """Consume `topic` until `stop`; returns (effects applied, deliveries skipped as already processed)."""
    if store not in STORES:
        raise ValueError(f"store must be one of {STORES}, not {store!r}")
    if store == "compacted" and not state_topic:
        raise ValueError("the compacted store needs --state-topic")
    stop = stop or threading.Event()
    db = sqlite3.connect(db_path, isolation_level=None)
    db.executescript(SCHEMA)
    seen: set[int] = set()
    state: Producer | None = None
    if store == "compacted":
        seen = read_state_topic(bootstrap_servers, state_topic)
        state = Producer({**env_client_settings(), "bootstrap.servers": bootstrap_servers, "enable.idempotence": True})
    remembered = db.execute("SELECT COUNT(*) FROM processed").fetchone()[0] if store == "sqlite" else len(seen)
    say(f"state: {remembered} ids")
    config: dict[str, Any] = {**env_client_settings(), "bootstrap.servers": bootstrap_servers, "group.id": group,
                              "auto.offset.reset": "earliest", "enable.auto.commit": False,
                              "enable.partition.eof": True}
    if instance_id:
        config["group.instance.id"] = instance_id
    consumer = Consumer(config)
    reader = BatchReader(consumer)
    applied, skipped = 0, 0

    def on_assign(_c: Consumer, partitions: list[TopicPartition]) -> None:
        reader.assigned(partitions)
        say(f"assigned {sorted(reader.partitions)}")

    def apply(rid: int, offset: int) -> bool:
        """Apply the effect unless the store says it was applied; True if applied."""
        if store == "sqlite":
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("INSERT INTO processed VALUES (?)", (rid,))
            except sqlite3.IntegrityError:          # the unique constraint: this id was processed before
                db.execute("ROLLBACK")
                return False
            db.execute("INSERT INTO effects VALUES (?, ?, ?)", (rid, offset, run_number))
            db.execute("COMMIT")                    # the effect and the processed id, together
            return True
        if store in ("memory", "compacted") and rid in seen:
            return False
        db.execute("INSERT INTO effects VALUES (?, ?, ?)", (rid, offset, run_number))
        seen.add(rid)
        if state is not None:                       # after the effect: a crash in between re-applies it once
            state.produce(state_topic, key=str(rid), value=b"processed")
            state.flush(30)
        return True

    try:
        consumer.subscribe([topic], on_assign=on_assign, on_revoke=lambda _c, ps: reader.revoked(ps))
        while not stop.is_set():
            messages = reader.next_batch(batch, stop)
            for msg in messages:
                rid = record_id(msg.value())
                if msg.offset() == stall_at:
                    say(f"processing {rid} at offset {msg.offset()}")
                    while True:                     # hangs before applying it, until killed
                        time.sleep(1)
                if apply(rid, msg.offset()):
                    applied += 1
                else:
                    skipped += 1
            if messages:
                consumer.commit(asynchronous=False)  # the offsets stored as poll/consume handed them over
            if reader.newly_caught_up(messages):
                say(f"caught up applied={applied} skipped={skipped}")
    finally:
        consumer.close()
        if state is not None:
            state.flush(30)
        db.close()
    say("stopped")
    return applied, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--store", choices=STORES, required=True)
    parser.add_argument("--state-topic", default=None)
    parser.add_argument("--run", type=int, default=1, help="run number written into each effect row")
    parser.add_argument("--instance-id", default=None)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--stall-at", type=int, default=None)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    run(args.bootstrap_servers, args.topic, args.group, args.db, args.store, state_topic=args.state_topic,
        run_number=args.run, instance_id=args.instance_id, batch=args.batch, stall_at=args.stall_at, stop=stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
