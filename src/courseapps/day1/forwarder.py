"""A consumer-group member that hands each order event to a downstream service, on a background thread.

Each event is POSTed to ``{target_url}/orders``; only after the service said yes is the record's offset
committed (at-least-once). When the service fails, the forwarder stops the way an unhandled exception ends
a consumer process: without committing that record, so a forwarder started later in the same group picks
up exactly there. (Day 3 replaces "stop" with retries and a dead-letter topic.)

>>> payment = Forwarder(cluster.config(), "orders", "payment", payment_service.url).start()
>>> payment.wait_for(20, timeout=10)       # True once 20 events were handled and committed
>>> payment.processed[:3], payment.error   # order ids handed over; why it stopped, if it did
>>> payment.stop()
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
from confluent_kafka import Consumer, KafkaError, KafkaException


class DownstreamFailed(RuntimeError):
    """The downstream service did not accept an event."""


class Forwarder:
    """Consume `topic` in `group_id` and POST every event to `target_url`; see the module docstring."""

    def __init__(self, kafka_config: dict[str, Any], topic: str, group_id: str, target_url: str, *,
                 timeout_s: float = 5.0) -> None:
        self.topic, self.group_id, self.target_url, self.timeout_s = topic, group_id, target_url, timeout_s
        self._config = {**kafka_config, "group.id": group_id, "auto.offset.reset": "earliest",
                        "enable.auto.commit": False}
        self.processed: list[str] = []  # order ids the service accepted and whose offsets were committed
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"forwarder:{group_id}", daemon=True)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> "Forwarder":
        self._thread.start()
        return self

    def _run(self) -> None:
        consumer = Consumer(self._config)
        client = httpx.Client(timeout=self.timeout_s)
        try:
            consumer.subscribe([self.topic])
            while not self._stop.is_set():
                msg = consumer.poll(0.1)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(msg.error())
                event = json.loads(msg.value())
                try:
                    response = client.post(f"{self.target_url}/orders", json=event)
                except httpx.HTTPError as exc:
                    raise DownstreamFailed(f"{self.target_url}: {type(exc).__name__}") from exc
                if not response.is_success:
                    raise DownstreamFailed(f"{self.target_url} answered {response.status_code} "
                                           f"for order {event.get('order_id')} (offset {msg.offset()})")
                consumer.commit(message=msg, asynchronous=False)  # only now is the event "done" for the group
                self.processed.append(event["order_id"])
        except Exception as exc:  # a crash: remember why, leave the group, commit nothing more
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            consumer.close()
            client.close()

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        """Wait until `count` events were processed; False if the forwarder stopped or time ran out first."""
        deadline = time.monotonic() + timeout
        while len(self.processed) < count:
            if not self.running or time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def join(self, timeout: float = 30.0) -> bool:
        """Wait until the forwarder has stopped by itself (e.g. crashed); True if it has."""
        self._thread.join(timeout)
        return not self.running

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the event in hand, leave the group (close the consumer) and end the thread."""
        self._stop.set()
        self._thread.join(timeout)

    def __enter__(self) -> "Forwarder":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else f"stopped ({self.error})" if self.error else "stopped"
        return f"<Forwarder group={self.group_id!r} processed={len(self.processed)} {state}>"
