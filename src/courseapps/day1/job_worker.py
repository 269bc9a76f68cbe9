"""The worker process of lesson 07: consume job events, do each job, then commit (at-least-once).

For each record: do the work (sleep ``seconds``), append the job id to the done file, and only then commit
the record's offset, synchronously. Killed at any moment, the worker loses nothing: a job whose offset was
not committed yet is read again by the next worker of the same group. The price is possible duplicates: a
worker killed after writing "done" but before its commit reached the broker does that job twice.

``--commit`` chooses when the group's offset moves (lesson 07 compares them):

* ``after-work`` (the default): ``commit(message)`` after each job, synchronously, as above;
* ``auto``: librdkafka's defaults (``enable.auto.commit=true``, ``enable.auto.offset.store=true``): the offset
  is *stored* when ``poll()`` hands the record over, and a background thread commits the stored offsets every
  ``auto.commit.interval.ms`` (5 s unless ``--auto-commit-interval-ms``), whether the job is done or not. A
  worker killed mid-job may have committed past it already: that job is lost;
* ``stored``: auto-commit stays on but ``enable.auto.offset.store=false``, and the worker calls
  ``store_offsets(message)`` after each job: the background thread only ever commits finished jobs.

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
from kafkacourse.client_env import env_client_settings


def log(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


COMMIT_MODES = ("after-work", "auto", "stored")


def run(kafka_config: dict[str, Any], topic: str, group_id: str, done_file: str | Path, *,
        instance_id: str | None = None, idle_exit: float | None = None,
        stop: threading.Event | None = None, commit: str = "after-work",
        auto_commit_interval_ms: int | None = None, session_timeout_ms: int = 10_000) -> int:
    """Work through `topic` as a member of `group_id` until `stop` is set or idle; returns jobs done."""
    if commit not in COMMIT_MODES:
        raise ValueError(f"commit must be one of {COMMIT_MODES}, not {commit!r}")
    stop = stop or threading.Event()
    config = {**kafka_config, "group.id": group_id, "auto.offset.reset": "earliest",
              "session.timeout.ms": session_timeout_ms}
    if commit == "after-work":
        config["enable.auto.commit"] = False
    elif commit == "stored":
        config["enable.auto.offset.store"] = False     # auto-commit commits only what store_offsets() stored
    if auto_commit_interval_ms is not None:
        config["auto.commit.interval.ms"] = auto_commit_interval_ms
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
                log(f"start {job.job_id} (partition {msg.partition()} offset {msg.offset()})")
                time.sleep(job.seconds)                 # the work
                with done_path.open("a") as out:        # its result
                    out.write(job.job_id + "\n")
                jobs_done += 1
                log(f"done {job.job_id} (partition {msg.partition()} offset {msg.offset()})")
            if commit == "after-work":
                consumer.commit(message=msg, asynchronous=False)  # after the work: at-least-once
            elif commit == "stored":
                consumer.store_offsets(message=msg)   # after the work; the background thread commits it
            # commit == "auto": nothing here: poll() already stored the offset, the background thread commits
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
    parser.add_argument("--commit", choices=COMMIT_MODES, default="after-work")
    parser.add_argument("--auto-commit-interval-ms", type=int)
    parser.add_argument("--session-timeout-ms", type=int, default=10_000)
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run({**env_client_settings(), "bootstrap.servers": args.bootstrap_servers}, args.topic, args.group, args.done_file,
        instance_id=args.instance_id, idle_exit=args.idle_exit, stop=stop, commit=args.commit,
        auto_commit_interval_ms=args.auto_commit_interval_ms, session_timeout_ms=args.session_timeout_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
