"""Runs a learner's consumer (Day 4, lab 07) as its own OS process: one member of the lab's group.

    python -m courseapps.day4.scale_lab_runner CONFIG.json CODE_DIR

imports ``lab_consumer`` from CODE_DIR (the file the lab's first cell writes) and calls its ``run(ctx)`` with a
:class:`LabContext`: the topic, the group, this member's name and metrics port, the per-record cost
(``work_ms``) and ``ctx.settings()``. SIGTERM sets ``ctx.stopping``.

With ``"bench": N`` in the config (the benchmark) ``run(ctx)`` runs on a thread while the main thread reads the
learner's own counter (``lab_records_processed_total``, from prometheus-client's default registry) every 2 ms;
once it reaches N the process prints ``{"bench": {"first_t": ..., "last_t": ..., "records": ...}}`` (epoch s:
the counter's first increase and the moment it reached N), stops ``run`` and exits.
"""

from __future__ import annotations

import importlib
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

METRIC = "lab_records_processed_total"


class LabContext:
    """What the learner's ``run(ctx)`` gets; ``stopping`` is True after SIGTERM."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.topic: str = config["topic"]
        self.group: str = config["group"]
        self.name: str = config["name"]
        self.metrics_port: int = int(config["metrics_port"])
        self.work_ms: float = float(config["work_ms"])
        self.bootstrap_servers: str = config["bootstrap_servers"]
        self.stopping = False

    def settings(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """librdkafka settings for this member: bootstrap servers, the lab's group, ``client.id`` = the member's
        name, earliest offsets for a new group, and offsets committed every 0.5 s (so the broker's lag is
        fresh); `extra` on top."""
        return {"bootstrap.servers": self.bootstrap_servers, "group.id": self.group, "client.id": self.name,
                "auto.offset.reset": "earliest", "auto.commit.interval.ms": 500, **(extra or {})}


def _bench(module: Any, ctx: LabContext, records: int) -> int:
    from prometheus_client import REGISTRY

    failure: list[BaseException] = []

    def target() -> None:
        try:
            module.run(ctx)
        except BaseException as exc:  # reported below, and the process exits non-zero
            failure.append(exc)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    first = last = None
    value = 0.0
    deadline = time.monotonic() + float(ctx.config.get("bench_timeout", 60))
    while worker.is_alive() and time.monotonic() < deadline:
        value = REGISTRY.get_sample_value(METRIC) or 0.0
        now = time.time()
        if first is None and value > 0:
            first = now
        if value >= records:
            last = now
            break
        time.sleep(0.002)
    ctx.stopping = True
    worker.join(10)
    print(json.dumps({"bench": {"first_t": first, "last_t": last, "records": value,
                                "error": repr(failure[0]) if failure else None}}), flush=True)
    return 0 if last is not None else 1


def main(argv: list[str] | None = None) -> int:
    config_path, code_dir = (argv if argv is not None else sys.argv[1:])[:2]
    config = json.loads(Path(config_path).read_text())
    sys.path.insert(0, str(code_dir))
    ctx = LabContext(config)
    signal.signal(signal.SIGTERM, lambda *_: setattr(ctx, "stopping", True))
    module = importlib.import_module("lab_consumer")
    print(f"started {ctx.name}", flush=True)
    if config.get("bench"):
        return _bench(module, ctx, int(config["bench"]))
    module.run(ctx)
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
