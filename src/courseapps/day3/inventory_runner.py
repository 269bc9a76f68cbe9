"""Runs a learner's inventory consumer (lab 08) as its own OS process, with crash points.

    python -m courseapps.day3.inventory_runner CONFIG.json CODE_DIR

imports ``inventory_consumer`` from CODE_DIR (the files the lab's cells write) and calls its ``run(ctx)``
with a :class:`LabContext`: the topics, the group, the stock database, the registry, and ``ctx.consumer()``.
SIGTERM sets ``ctx.stopping``.

**Crash points.** ``ctx.consumer(settings)`` is a real confluent-kafka Consumer whose ``poll``/``consume``
and ``commit`` also watch for the records named in the config's ``crash_points``, and SIGKILL their own
process (no ``finally``, no commit, no close) at exactly one moment of each record's life:

* ``in-hand``       — poll() has handed the record over and the process is still busy with it (it waits
  ``auto.commit.interval.ms`` + 1.5 s first when auto-commit is on, so a background commit has its chance);
* ``before-commit`` — the first commit() that covers the record, before it reaches the broker;
* ``after-commit``  — the same commit() once it returned (0.5 s later, so an asynchronous one is sent).

Each fires once per lab run: fired points are written to the config's ``fired_file`` before the kill, so the
restarted process runs on. A lab thus proves what a random kill would show only by luck.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from kafkacourse.client_env import env_client_settings


def _die(point: dict[str, Any], fired_file: Path) -> None:
    with open(fired_file, "a") as f:
        f.write(json.dumps(point) + "\n")
        f.flush()
        os.fsync(f.fileno())
    print(f"crash point {point['kind']} at {point['topic']}/{point['partition']}/{point['offset']}: SIGKILL",
          flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


class CrashPointConsumer(Consumer):
    """A Consumer that SIGKILLs its process at the configured crash points (see the module docstring)."""

    def __init__(self, config: dict[str, Any], crash_points: list[dict[str, Any]], fired_file: Path) -> None:
        super().__init__(config)
        self._fired_file = Path(fired_file)
        fired = self._fired_file.read_text().splitlines() if self._fired_file.exists() else []
        done = {(p["kind"], p["topic"], p["partition"], p["offset"]) for p in map(json.loads, fired)}
        self._points = [p for p in crash_points if (p["kind"], p["topic"], p["partition"], p["offset"]) not in done]
        auto = str(config.get("enable.auto.commit", True)).lower() in ("true", "1")
        self._in_hand_wait = (int(config.get("auto.commit.interval.ms", 5000)) / 1000 + 1.5) if auto else 0.5

    def _take(self, kind: str, covers) -> dict[str, Any] | None:
        for point in self._points:
            if point["kind"] == kind and covers(point):
                self._points.remove(point)
                return point
        return None

    def _watch(self, msg: Any) -> None:
        if msg is None or msg.error():
            return
        point = self._take("in-hand", lambda p: (p["topic"], p["partition"], p["offset"]) ==
                           (msg.topic(), msg.partition(), msg.offset()))
        if point:
            time.sleep(self._in_hand_wait)  # busy with the record; a background auto-commit may run meanwhile
            _die(point, self._fired_file)

    def poll(self, *args: Any, **kwargs: Any) -> Any:
        msg = super().poll(*args, **kwargs)
        self._watch(msg)
        return msg

    def consume(self, *args: Any, **kwargs: Any) -> list:
        msgs = super().consume(*args, **kwargs)
        for msg in msgs:
            self._watch(msg)
        return msgs

    def commit(self, *args: Any, **kwargs: Any) -> Any:
        covered = self._covered(*args, **kwargs)
        covers = lambda p: covered.get((p["topic"], p["partition"]), -1) > p["offset"]
        point = self._take("before-commit", covers)
        if point:
            _die(point, self._fired_file)
        result = super().commit(*args, **kwargs)
        point = self._take("after-commit", covers)
        if point:
            time.sleep(0.5)
            _die(point, self._fired_file)
        return result

    def _covered(self, message: Any = None, offsets: Any = None, asynchronous: bool = True) -> dict[tuple[str, int], int]:
        """(topic, partition) → the offset this commit() call commits."""
        if message is not None:
            return {(message.topic(), message.partition()): message.offset() + 1}
        if offsets is not None:
            return {(tp.topic, tp.partition): tp.offset for tp in offsets}
        return {(tp.topic, tp.partition): tp.offset for tp in self.position(self.assignment()) if tp.offset >= 0}


class LabContext:
    """What the learner's ``run(ctx)`` gets: names, clients, and ``stopping`` (True after SIGTERM)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.topic: str = config["topic"]
        self.retry_topic: str = config["retry_topic"]
        self.dlq_topic: str = config["dlq_topic"]
        self.group: str = config["group"]
        self.db_path: str = config["db_path"]
        self.bootstrap_servers: str = config["bootstrap_servers"]
        self.schema_registry_url: str = config["schema_registry_url"]
        self.stopping = False

    def consumer(self, settings: dict[str, Any]) -> CrashPointConsumer:
        """A consumer in the lab's group with your `settings` (librdkafka names) on top. It has a fixed
        ``group.instance.id`` (static membership): a restarted process gets its partitions back at once."""
        config = {**env_client_settings(), "bootstrap.servers": self.bootstrap_servers, "group.id": self.group,
                  "group.instance.id": self.config["instance_id"], **settings}
        return CrashPointConsumer(config, self.config.get("crash_points", []), Path(self.config["fired_file"]))

    def producer(self, settings: dict[str, Any] | None = None) -> Producer:
        return Producer({**env_client_settings(), "bootstrap.servers": self.bootstrap_servers, "acks": "all", "enable.idempotence": True,
                         **(settings or {})})

    def registry(self) -> SchemaRegistryClient:
        return SchemaRegistryClient({"url": self.schema_registry_url})


def main(argv: list[str] | None = None) -> int:
    config_path, code_dir = (argv if argv is not None else sys.argv[1:])[:2]
    config = json.loads(Path(config_path).read_text())
    sys.path.insert(0, str(code_dir))
    ctx = LabContext(config)
    signal.signal(signal.SIGTERM, lambda *_: setattr(ctx, "stopping", True))
    module = importlib.import_module("inventory_consumer")
    print(f"started pid {os.getpid()}", flush=True)
    module.run(ctx)
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
