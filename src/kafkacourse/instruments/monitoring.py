"""Broker metrics in Prometheus (Day 4): which brokers of a profile are scraped, and a rolling restart that
brings the JMX exporter to brokers started without it (every broker the course starts now carries it; brokers
started by an older version of the course do not).

>>> missing = brokers_not_scraped(prom, "cluster")          # node ids whose exporter target is not up
>>> rolling_restart(stack, cluster, prom, missing, topic)   # one at a time; waits for the ISR after each
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterable
from typing import Any

from . import replication


def brokers_not_scraped(prom: Any, profile: str, discovery_s: float = 30.0) -> list[int]:
    """Node ids of `profile`'s brokers whose exporter Prometheus does not scrape successfully right now.

    A Prometheus that has just started lists its targets only after its first discovery round (Prometheus 2.42
    hands new targets to its scrapers on a 5 s tick): this waits up to `discovery_s` s for the list to appear."""
    deadline = time.monotonic() + discovery_s
    targets = prom.targets()
    while (not len(targets) or "profile" not in targets) and time.monotonic() < deadline:
        time.sleep(0.5)
        targets = prom.targets()
    if not len(targets) or "profile" not in targets:
        raise RuntimeError("Prometheus has no broker targets: is it the course's server (`kafkacourse up --with prometheus`)?")
    mine = targets[(targets.job == "kafka") & (targets.profile == profile)]
    if not len(mine):
        raise ValueError(f"Prometheus has no targets for the profile {profile!r}")
    while (mine.health == "unknown").any() and time.monotonic() < deadline:  # discovered, not scraped yet
        time.sleep(0.5)
        targets = prom.targets()
        mine = targets[(targets.job == "kafka") & (targets.profile == profile)]
    return sorted(int(t.node) for t in mine.itertuples() if t.health != "up")


def wait_scraped(prom: Any, profile: str, node: int, timeout: float = 60.0) -> None:
    """Wait until Prometheus has scraped broker `node` of `profile` successfully (``up == 1``)."""
    prom.wait_for(f'up{{job="kafka", profile="{profile}", node="{node}"}} == 1', timeout=timeout)


def rolling_restart(stack: Any, cluster: Any, prom: Any, nodes: Iterable[int], topic: str,
                    progress: Callable[[str], None] = print, timeout: float = 90.0) -> None:
    """Restart brokers `nodes` of the local `stack` one at a time (SIGTERM: a controlled shutdown), each time
    waiting until it answers, Prometheus scrapes it, and every partition of `topic` (replicated on all
    brokers) has its full ISR again — so at most one broker is ever out."""
    size = len(stack.nodes)
    for node in nodes:
        started = time.monotonic()
        stack.broker(node).stop(sig=signal.SIGTERM, timeout=60)
        stack.start_broker(node, progress=lambda _m: None)
        wait_scraped(prom, stack.name, node, timeout=timeout)
        replication.wait_for_isr(cluster, topic, size=size, timeout=timeout)
        progress(f"broker {node} restarted with its exporter in {time.monotonic() - started:.0f} s")
