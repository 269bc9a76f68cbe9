"""A stateless producer service for Day 4's scaling lesson: one of several processes sharing the keys.

The process owns the keys ``key-START`` … ``key-(END-1)`` (``--keys START:END``) and sends ``--per-key``
records for each, key after key, every key's sequence numbers in order. Each record first costs
``--work-ms`` of waiting (``time.sleep``: the call that fetches the event upstream), then is produced with
its key (``--batch N``: one wait of N × ``--work-ms`` fetches N records, then they are produced; the same
time per record, one wake-up per batch) — so the partitioner (librdkafka's ``consistent_random``: CRC32 of the key) puts every record of a
key on the same partition, whichever process sends it. Idempotence is on, so a retry cannot reorder a key's
records. Because each key belongs to one process, its records also leave in order: scaling out by splitting
the *keys* keeps per-key order, splitting one key's records over processes would not.

Values are ledger values (as ``kafkacourse.instruments.ledger.encode_value`` makes them: id ``<key>/<seq>``,
seq).
``--out FILE`` gets one ``id key seq partition offset error`` line per delivery report. ``--go-file PATH``:
connect, print ``ready``, and wait for that file before sending (so several processes start together).
Printed JSON lines: ``ready``, ``go``, ``done`` (records, errors, first_t, sent_t — the last record handed to the
producer —, last_t — every delivery report in: epoch seconds).

    python -m courseapps.day4.keyed_producer --topic T --keys 0:20 --per-key 10 --work-ms 5 --out p1.txt
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from confluent_kafka import Producer
from kafkacourse.client_env import env_client_settings


def ledger_value(record_id: str, seq: int) -> bytes:
    """The value ``kafkacourse.instruments.ledger.encode_value(record_id, seq)`` makes, written with ``json``
    alone: importing the course library pulls in pandas and matplotlib, seconds of start-up on a busy
    2-core machine for every process a lesson starts (a test keeps both the same)."""
    return json.dumps({"id": record_id, "seq": seq}).encode()


def key_range(text: str) -> range:
    """``"0:20"`` → range(0, 20); a clear error for anything else."""
    start, sep, end = text.partition(":")
    try:
        keys = range(int(start), int(end))
    except ValueError:
        raise ValueError(f"--keys takes START:END (integers), not {text!r}") from None
    if not sep or not keys:
        raise ValueError(f"--keys takes START:END with START < END, not {text!r}")
    return keys


def run(kafka_config: dict[str, Any], topic: str, keys: range, per_key: int, *, work_ms: float = 0.0,
        batch: int = 1, out: str | None = None, go_file: str | None = None, emit=print) -> dict[str, Any]:
    """Send the records (see the module docstring); returns the ``done`` event."""
    if batch < 1:
        raise ValueError(f"batch is the number of records fetched per upstream call (1 or more), not {batch}")
    producer = Producer({"enable.idempotence": True, "linger.ms": 5, **kafka_config})
    lines = open(out, "a") if out else None
    errors = [0]

    def on_delivery(err: Any, msg: Any) -> None:
        if err is not None:
            errors[0] += 1
        if lines is not None:
            fields = json.loads(msg.value())
            lines.write(f"{fields['id']} {msg.key().decode()} {fields['seq']} {msg.partition()} "
                        f"{msg.offset() if err is None else -1} {err.name() if err else '-'}\n")

    def event(name: str, **fields: Any) -> dict[str, Any]:
        data = {"t": round(time.time(), 4), "event": name, **fields}
        emit(json.dumps(data))
        return data

    first = last = sent_t = None
    sent = 0
    try:
        producer.list_topics(topic, timeout=30)   # connected, the topic's partitions known
        event("ready", keys=[keys.start, keys.stop])
        while go_file and not os.path.exists(go_file):
            time.sleep(0.005)
        event("go")
        first = time.time()
        order = [(seq, k) for seq in range(per_key) for k in keys]
        for start in range(0, len(order), batch):
            chunk = order[start:start + batch]
            if work_ms:
                time.sleep(len(chunk) * work_ms / 1000)   # one upstream call fetches the whole chunk
            for seq, k in chunk:
                key = f"key-{k:03d}"
                producer.produce(topic, key=key, value=ledger_value(f"{key}/{seq}", seq), on_delivery=on_delivery)
                producer.poll(0)
                sent += 1
        sent_t = time.time()   # every record fetched and handed to the producer
        left = producer.flush(60)
        last = time.time()
    finally:
        producer.flush(10)
        if lines is not None:
            lines.close()
    return event("done", records=sent, errors=errors[0] + left, first_t=first, sent_t=sent_t, last_t=last)


def read_out(path: str) -> list[dict[str, Any]]:
    """The delivery lines of an ``--out`` file as dicts: id, key, seq, partition, offset, error (None if ok)."""
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 6:
                rows.append({"id": parts[0], "key": parts[1], "seq": int(parts[2]), "partition": int(parts[3]),
                             "offset": int(parts[4]) if parts[5] == "-" else None,
                             "error": None if parts[5] == "-" else parts[5]})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--keys", required=True, help="START:END, the key numbers this process owns")
    parser.add_argument("--per-key", type=int, default=10)
    parser.add_argument("--work-ms", type=float, default=0.0)
    parser.add_argument("--batch", type=int, default=1, help="records fetched per upstream call (one wait each)")
    parser.add_argument("--out")
    parser.add_argument("--go-file")
    args = parser.parse_args(argv)
    try:
        keys = key_range(args.keys)
    except ValueError as exc:
        parser.error(str(exc))
    done = run({**env_client_settings(), "bootstrap.servers": args.bootstrap_servers}, args.topic, keys, args.per_key,
               work_ms=args.work_ms, batch=args.batch, out=args.out, go_file=args.go_file,
               emit=lambda s: print(s, flush=True))
    return 0 if done["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
