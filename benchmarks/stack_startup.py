"""Measure `up` → ready for every profile of the local stack, and every extra service, jars cached.

    .venv/bin/python benchmarks/stack_startup.py [--runs 3] [--profiles single,cluster] [--services connect]

Runs in a scratch KAFKA_COURSE_HOME that shares the jars cache, on ports moved by a free offset
(KAFKA_COURSE_PORT_OFFSET), so the course's own stack and data are untouched (its load is in the numbers).
"cold" is a first start (storage formatted, certificates made, registry database created); "warm" restarts
existing data. A service (`--with NAME`) is timed from its start to ready, with the single profile running.
Targets (2 cores): single + registry ≤ 10 s, cluster + registry ≤ 20 s, secure and dr ≤ 10 s; Kafka Connect
with the Debezium plugin ≤ 25 s, PostgreSQL ≤ 5 s, Prometheus ≤ 5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from kafkacourse.stack import SERVICES, LocalStack, down_everything, profiles, runtime

TARGETS = {"single": 10.0, "cluster": 20.0, "secure": 10.0, "dr": 10.0,
           "connect": 25.0, "postgres": 5.0, "prometheus": 5.0, "registry": 10.0}


def quiet(_msg: str) -> None:
    pass


def timed(action) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def measure_profile(name: str, runs: int) -> tuple[list[float], list[float]]:
    cold, warm = [], []
    for _ in range(runs):
        stack = LocalStack(profile=name)
        cold.append(timed(lambda: stack.up(progress=quiet)))
        stack.down(progress=quiet)
        warm.append(timed(lambda: stack.up(progress=quiet)))
        stack.down(progress=quiet)
        stack.reset(progress=quiet, services=True)  # next run: cold again (registry database included)
    return cold, warm


def measure_service(name: str, runs: int) -> tuple[list[float], list[float]]:
    base = LocalStack()
    base.up(progress=quiet, registry=False)
    cold, warm = [], []
    try:
        for _ in range(runs):
            service = LocalStack(with_services=[name]).extras[-1]

            def start() -> None:
                service.start(quiet)
                service.wait_ready()

            cold.append(timed(start))
            service.stop()
            warm.append(timed(start))
            service.reset(quiet)
    finally:
        base.down(progress=quiet)
    return cold, warm


def report(what: str, target_key: str, cold: list[float], warm: list[float]) -> None:
    target = TARGETS.get(target_key)
    verdict = "" if target is None else (
        f"; target ≤ {target:.0f} s: {'ok' if max(cold + warm) <= target else 'OVER TARGET'}")
    print(f"{what:<28} cold median {statistics.median(cold):5.1f} s (max {max(cold):5.1f}), "
          f"warm median {statistics.median(warm):5.1f} s (max {max(warm):5.1f}){verdict}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profiles", default=",".join(profiles.NAMES))
    parser.add_argument("--services", default=",".join(s for s in SERVICES if s != "registry"))
    args = parser.parse_args()
    runtime.resolve_jars()  # cached jars are the premise of the targets
    offset = profiles.free_offset()
    with tempfile.TemporaryDirectory(prefix="kafkacourse-bench-") as scratch:
        (Path(scratch) / "jars").symlink_to(runtime.home() / "jars")
        os.environ["KAFKA_COURSE_HOME"] = scratch
        os.environ[profiles.PORT_OFFSET_ENV] = str(offset)
        print(f"cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}; ports shifted by {offset}")
        try:
            for name in filter(None, args.profiles.split(",")):
                stack = LocalStack(profile=name)
                label = name + "".join(f" + {s.name}" for s in stack.extras)
                report(label, name, *measure_profile(name, args.runs))
            for name in filter(None, args.services.split(",")):
                report(f"service {name}", name, *measure_service(name, args.runs))
        finally:
            down_everything(progress=quiet)


if __name__ == "__main__":
    main()
