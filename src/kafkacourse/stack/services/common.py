"""What the Day 4 services (PostgreSQL, Kafka Connect, Prometheus) and their Python facades share."""

from __future__ import annotations

import httpx

from .. import profiles, runtime
from .base import Context


def default_context() -> Context:
    """The context a lesson's facade assumes: the course home and the default profile (ports moved by
    $KAFKA_COURSE_PORT_OFFSET)."""
    return Context(runtime.home(), profiles.get(profiles.DEFAULT))


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
