"""What the Day 4 services (PostgreSQL, Kafka Connect, Prometheus) share: ports, status rows, doctor findings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import httpx

from .. import processes

PORT_OFFSET_ENV = "KAFKA_COURSE_PORT_OFFSET"


def port(base: int) -> int:
    """`base` moved by $KAFKA_COURSE_PORT_OFFSET (scratch stacks beside the shared one)."""
    raw = os.environ.get(PORT_OFFSET_ENV, "").strip()
    return base + (int(raw) if raw else 0)


@dataclass(frozen=True)
class Finding:
    """One line of `doctor`: what was checked, whether it is fine, what was seen, and how to fix it."""

    check: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    port: int
    listening: bool
    log_file: Path

    @property
    def state(self) -> str:
        if self.pid and self.listening:
            return "running"
        return "starting" if self.pid else "stopped"


def port_finding(name: str, port_number: int, ours: int | None) -> Finding:
    """Is `port_number` free, or held by our own process (pid `ours`)?"""
    if ours is not None:
        return Finding(f"{name} port {port_number}", True, f"ours (pid {ours})")
    if processes.port_is_free(port_number):
        return Finding(f"{name} port {port_number}", True, "free")
    owner = processes.port_owner(port_number) or "a process not visible in /proc"
    return Finding(f"{name} port {port_number}", False, f"in use by {owner}",
                   f"stop that process, or move the course's ports with {PORT_OFFSET_ENV}")


def get_json(url: str, timeout: float = 2.0):
    """GET `url` and decode its JSON body; None when nothing answers or the answer is not 2xx."""
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError:
        return None
    if not response.is_success:
        return None
    try:
        return response.json()
    except ValueError:
        return None
