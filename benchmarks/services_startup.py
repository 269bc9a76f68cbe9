"""Measure start → ready for the Day 4 services: PostgreSQL, Prometheus, Kafka Connect (+ Debezium), jars cached.

    .venv/bin/python benchmarks/services_startup.py [--runs 3]

Runs in a scratch KAFKA_COURSE_HOME that shares the jars cache, on ports moved by a free offset, beside a
scratch single broker (started first, not timed: Connect needs it). "cold": a first start (PostgreSQL's
initdb, Connect's internal topics created); "warm": a restart on existing data. Ready means: PostgreSQL
accepts the course user; Prometheus answers queries (its first scrape of the broker is timed separately:
Prometheus hands new targets to its scrapers on a 5 s tick); Connect's REST API lists the Debezium plugin.
Targets (issue 13, 2 cores): PostgreSQL ≤ 5 s, Prometheus ≤ 5 s, Connect ≤ 25 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from _scratch import scratch_course_home

from kafkacourse.stack.local import LocalStack
from kafkacourse.stack.services.base import quiet

TARGETS = {"postgres": 5.0, "prometheus": 5.0, "connect": 25.0}


def timed_start(svc) -> float:
    started = time.monotonic()
    svc.start(quiet)
    svc.wait_ready(120)
    return time.monotonic() - started


def first_scrape(stack: LocalStack) -> float:
    """Seconds from Prometheus's start until it has scraped the broker's exporter once."""
    from kafkacourse.prometheus import Prometheus

    prom_service = next(s for s in stack.extras if s.name == "prometheus")
    started = time.monotonic()
    prom_service.start(quiet)
    prom_service.wait_ready(60)
    Prometheus(prom_service.url).wait_for('up{job="kafka",profile="single"} == 1', timeout=60)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with scratch_course_home("kafkacourse-services-bench-"):
        stack = LocalStack(profile="single", with_services=["postgres", "prometheus", "connect"])
        for broker in stack.brokers:
            broker.start(quiet)
        stack.wait_ready()
        results: dict[str, dict[str, list[float]]] = {}
        scrapes = []
        try:
            for _ in range(args.runs):
                for svc in (s for s in stack.extras if s.name in TARGETS):
                    times = results.setdefault(svc.name, {"cold": [], "warm": []})
                    times["cold"].append(timed_start(svc))
                    svc.stop(quiet)
                    times["warm"].append(timed_start(svc))
                    svc.stop(quiet)
                    if svc.name == "prometheus":
                        scrapes.append(first_scrape(stack))
                        svc.stop(quiet)
                    svc.reset(quiet)
        finally:
            stack.down(progress=quiet)
            for svc in stack.extras:
                svc.reset(quiet)
    print(f"cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}; {args.runs} runs")
    for name, times in results.items():
        worst = max(times["cold"] + times["warm"])
        verdict = "ok" if worst <= TARGETS[name] else "OVER TARGET"
        print(f"{name}: cold median {statistics.median(times['cold']):.1f} s (max {max(times['cold']):.1f}), "
              f"warm median {statistics.median(times['warm']):.1f} s (max {max(times['warm']):.1f}); "
              f"target ≤ {TARGETS[name]:.0f} s: {verdict}")
    if scrapes:
        print(f"prometheus: first scrape of the broker after {statistics.median(scrapes):.1f} s (median; "
              f"max {max(scrapes):.1f})")


if __name__ == "__main__":
    main()
