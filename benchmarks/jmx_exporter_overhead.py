"""Broker start-up with and without the Prometheus JMX exporter javaagent, side by side.

    .venv/bin/python benchmarks/jmx_exporter_overhead.py [--runs 5] [--profile single|cluster]

Starts a scratch stack (private KAFKA_COURSE_HOME sharing the jars cache, every port moved by a free offset,
no registry) and times `up` → every broker answers, alternating runs without and with the exporter so both
see the same machine load. Storage is formatted once before timing (what `up` does every day after the
first). The platform's budget: the exporter may add at most 2 s per broker.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from kafkacourse.stack import profiles, runtime, services
from kafkacourse.stack.local import LocalStack
from kafkacourse.stack.services.base import quiet

HOOKS = services.JVM_ARGS


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (from /proc; less sensitive to machine load than
    wall-clock time)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_up(profile: str, exporter: bool) -> tuple[float, float]:
    """(wall-clock s from `up` to every broker answering, CPU s the brokers used by then)."""
    services.JVM_ARGS = HOOKS if exporter else ()
    stack = LocalStack(profile=profile)
    started = time.monotonic()
    stack.up(progress=quiet, registry=False)
    elapsed = time.monotonic() - started
    cpu = sum(cpu_seconds(b.process.pid()) for b in stack.brokers)
    if exporter:  # the exporter really serves the broker's metrics
        import httpx

        for node in stack.nodes:
            body = httpx.get(f"http://localhost:{node.jmx_port}/metrics", timeout=10).text
            assert "kafka_server_replicamanager_partitioncount" in body, f"no broker metrics on :{node.jmx_port}"
    stack.down(registry=False, progress=quiet)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", default="single", choices=["single", "cluster", "dr"])
    args = parser.parse_args()
    runtime.resolve_jars()
    with tempfile.TemporaryDirectory(prefix="kafkacourse-jmx-bench-") as scratch:
        (Path(scratch) / "jars").symlink_to(runtime.home() / "jars")
        os.environ["KAFKA_COURSE_HOME"] = scratch
        os.environ[profiles.PORT_OFFSET_ENV] = str(profiles.free_offset())
        brokers = len(profiles.get(args.profile).nodes)
        timed_up(args.profile, exporter=False)  # format the storage; not timed
        without, with_ = [], []
        for _ in range(args.runs):
            without.append(timed_up(args.profile, exporter=False))
            with_.append(timed_up(args.profile, exporter=True))
        LocalStack(profile=args.profile).reset(progress=quiet)
    def median(runs, i):
        return statistics.median(r[i] for r in runs)

    def listed(runs, i):
        return ", ".join(f"{r[i]:.2f}" for r in runs)

    extra, extra_cpu = median(with_, 0) - median(without, 0), median(with_, 1) - median(without, 1)
    print(f"cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}; profile {args.profile} "
          f"({brokers} broker(s)); {args.runs} runs each, alternating")
    for label, runs in (("without exporter", without), ("with exporter   ", with_)):
        print(f"{label}: wall median {median(runs, 0):.2f} s ({listed(runs, 0)}); "
              f"broker CPU median {median(runs, 1):.2f} s ({listed(runs, 1)})")
    verdict = "ok" if extra <= 2.0 * brokers else "OVER BUDGET"
    print(f"exporter adds {extra:+.2f} s wall, {extra_cpu:+.2f} s CPU to the start of {brokers} broker(s) "
          f"(budget ≤ {2.0 * brokers:.0f} s): {verdict}")


if __name__ == "__main__":
    main()
