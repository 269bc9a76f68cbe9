"""Measure `up` → ready for the local stack: one broker (+ registry) and three brokers, jars cached.

    .venv/bin/python benchmarks/stack_startup.py [--runs 3]

Runs in a scratch KAFKA_COURSE_HOME that shares the jars cache, so the course's own data is untouched.
"cold" is a first start (storage formatted, registry database created); "warm" restarts existing data.
When the course's stack already runs, the scratch stack uses the same ports shifted by +10000 and the
report says so (numbers then include the load of the running stack). Targets: ≤ 20 s (1), ≤ 40 s (3).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from kafkacourse.stack import local, runtime

TARGETS = {1: 20.0, 3: 40.0}


def shift_ports(offset: int) -> None:
    for name, nodes in local.TOPOLOGIES.items():
        local.TOPOLOGIES[name] = tuple(local.NodeSpec(n.node_id, n.broker_port + offset, n.controller_port + offset)
                                       for n in nodes)
    local.REGISTRY_PORT += offset


def timed_up(brokers: int) -> float:
    stack = local.LocalStack(brokers)
    started = time.monotonic()
    stack.up(progress=lambda _msg: None)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runtime.resolve_jars()  # cached jars are the premise of the targets
    busy = any(not local.processes.port_is_free(p) for p in (9092, 9192, local.REGISTRY_PORT))
    if busy:
        shift_ports(10000)
    with tempfile.TemporaryDirectory(prefix="kafkacourse-bench-") as scratch:
        (Path(scratch) / "jars").symlink_to(runtime.home() / "jars")
        os.environ["KAFKA_COURSE_HOME"] = scratch
        print(f"cores: {os.cpu_count()}; ports {'shifted +10000 (course stack running)' if busy else 'default'}")
        for brokers in (1, 3):
            cold, warm = [], []
            for _ in range(args.runs):
                cold.append(timed_up(brokers))
                local.LocalStack(brokers).down(progress=lambda _msg: None)
                warm.append(timed_up(brokers))
                local.LocalStack(brokers).reset(progress=lambda _msg: None)
                local.LocalStack(brokers).registry.process.stop()
                shutil.rmtree(Path(scratch) / "registry", ignore_errors=True)  # next run: a cold registry too
            verdict = "ok" if max(cold + warm) <= TARGETS[brokers] else "OVER TARGET"
            print(f"{brokers} broker(s) + registry: cold median {statistics.median(cold):.1f} s "
                  f"(max {max(cold):.1f}), warm median {statistics.median(warm):.1f} s (max {max(warm):.1f}); "
                  f"target ≤ {TARGETS[brokers]:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
