"""The worker process of lesson 07: consume job events, do each job, then commit (at-least-once).

For each record: do the work (sleep ``seconds``), append the job id to the done file, and only then commit
the record's offset, synchronously. Killed at any moment, the worker loses nothing: a job whose offset was
not committed yet is read again by the next worker of the same group. The price is possible duplicates: a
worker killed after writing "done" but before its commit reached the broker does that job twice.

With ``--instance-id`` the worker is a *static member* of its group (``group.instance.id``): a restarted
worker with the same id takes its predecessor's place at once instead of waiting for the broker to notice
the old one is dead (``session.timeout.ms``).

    python -m courseapps.day1.job_worker --bootstrap-servers localhost:9092 --topic jobs \\
        --group job-workers --done-file /tmp/done.txt --instance-id worker-1

SIGTERM / Ctrl-C: finish the job in hand, commit, leave the group, exit 0. ``--idle-exit S``: exit after S
seconds without a record (a safety net so a forgotten worker does not run forever).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException
from pydantic import ValidationError

from .models import Job


def log(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


def run(kafka_config: dict[str, Any], topic: str, group_id: str, done_file: str | Path, *,
        instance_id: str | None = None, idle_exit: float | None = None,
        stop: threading.Event | None = None) -> int:
    """Work through `topic` as a member of `group_id` until `stop` is set or idle; returns jobs done."""
    stop = stop or threading.Event()
    config = {**kafka_config, "group.id": group_id, "auto.offset.reset": "earliest",
              "enable.auto.commit": False, "session.timeout.ms": 10_000}
    if instance_id:
        config["group.instance.id"] = instance_id
    consumer = Consumer(config)
    done_path = Path(done_file)
    jobs_done = 0

    def on_assign(_consumer: Consumer, partitions: list) -> None:
        log(f"joined group {group_id!r}: partitions {sorted(p.partition for p in partitions)}")

    try:
        consumer.subscribe([topic], on_assign=on_assign)
        idle_since = time.monotonic()
        while not stop.is_set():
            msg = consumer.poll(0.2)
            if msg is None:
                if idle_exit is not None and time.monotonic() - idle_since > idle_exit:
                    log(f"idle for {idle_exit:.0f} s: exiting")
                    break
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(msg.error())
            idle_since = time.monotonic()
            try:
                job = Job.model_validate_json(msg.value())
            except ValidationError as exc:  # a record no worker could ever do: skip it, do not block the partition
                log(f"skipping invalid job at partition {msg.partition()} offset {msg.offset()}: "
                    f"{exc.errors()[0]['msg']}")
            else:
                time.sleep(job.seconds)                 # the work
                with done_path.open("a") as out:        # its result
                    out.write(job.job_id + "\n")
                jobs_done += 1
                log(f"done {job.job_id} (partition {msg.partition()} offset {msg.offset()})")
            consumer.commit(message=msg, asynchronous=False)  # after the work: at-least-once
    finally:
        consumer.close()
        log(f"left the group after {jobs_done} jobs")
    return jobs_done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--done-file", required=True)
    parser.add_argument("--instance-id")
    parser.add_argument("--idle-exit", type=float)
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run({"bootstrap.servers": args.bootstrap_servers}, args.topic, args.group, args.done_file,
        instance_id=args.instance_id, idle_exit=args.idle_exit, stop=stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
