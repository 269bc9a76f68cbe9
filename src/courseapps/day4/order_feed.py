"""Orders with explicit event timestamps, published through a producer the caller hands in (the app's seam).

Lesson 05 feeds the Kafka Streams app and its Python twin with these orders; lesson 06 tests `OrderFeed` with
a test double in place of the producer. Each order is JSON keyed by ``order_id``; the record timestamp is the
order's event time (``ts``, ms), set by the producer, never the broker's clock.

>>> orders = sample_orders(200, t0_ms=1_700_000_000_000, seed=7)    # some arrive late, a few beyond any grace
>>> feed = OrderFeed(cluster.producer(), topic)                     # any object with produce()/flush()
>>> feed.publish_all(orders)                                        # 200 once every delivery report is in

Run as a command: ``python -m courseapps.day4.order_feed --topic T --count 200 [--seed 7] [--t0-ms MS]``.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any, Protocol

__all__ = ["CUSTOMERS", "sample_orders", "OrderFeed", "DeliveryFailed"]

CUSTOMERS = {
    "c-ada": {"name": "Ada", "tier": "gold"},
    "c-grace": {"name": "Grace", "tier": "silver"},
    "c-linus": {"name": "Linus", "tier": "bronze"},
}


class ProducerLike(Protocol):
    def produce(self, topic: str, value: bytes | None = None, key: bytes | None = None, **kwargs: Any) -> None: ...
    def poll(self, timeout: float = ...) -> int: ...
    def flush(self, timeout: float = ...) -> int: ...


class DeliveryFailed(RuntimeError):
    """Some orders were not acknowledged by the broker; `failures` holds (order_id, error) pairs."""

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        self.failures = failures
        super().__init__(f"{len(failures)} orders not delivered, first: {failures[0][0]}: {failures[0][1]}")


def sample_orders(n: int, t0_ms: int, seed: int = 7, step_ms: int = 400, late_share: float = 0.1,
                  max_delay_ms: int = 12_000) -> list[dict[str, Any]]:
    """`n` orders whose event times advance by ~`step_ms` from `t0_ms`; `late_share` of them arrive out of order,
    up to `max_delay_ms` behind (so some fall inside a 5 s grace and some beyond it). Deterministic per `seed`."""
    if n < 0 or not 0 <= late_share <= 1:
        raise ValueError(f"need n >= 0 and 0 <= late_share <= 1, got {n=}, {late_share=}")
    rng = random.Random(seed)
    customers = sorted(CUSTOMERS)
    orders, clock = [], t0_ms
    for i in range(n):
        clock += rng.randint(step_ms // 2, step_ms * 3 // 2)
        ts = clock - rng.randint(1_000, max_delay_ms) if rng.random() < late_share else clock
        orders.append({"order_id": f"o-{seed}-{i:05d}", "customer": rng.choice(customers),
                       "amount": round(rng.uniform(5, 120), 2), "ts": max(ts, t0_ms)})
    return orders


class OrderFeed:
    """Publish orders to `topic` through `producer` (a confluent_kafka.Producer, or a test double)."""

    def __init__(self, producer: ProducerLike, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self.delivered = 0
        self.failures: list[tuple[str, str]] = []

    def _report(self, err: Any, msg: Any) -> None:  # called from poll()/flush() once the broker answered
        if err is not None:
            self.failures.append((msg.key().decode() if msg.key() else "?", str(err)))
        else:
            self.delivered += 1

    def publish(self, order: dict[str, Any]) -> None:
        """Queue one order: key ``order_id``, JSON value without ``ts``, record timestamp ``ts``."""
        missing = {"order_id", "customer", "ts"} - set(order)
        if missing:
            raise ValueError(f"an order needs {sorted(missing)}: {order!r}")
        value = {k: v for k, v in order.items() if k != "ts"}
        self.producer.produce(self.topic, key=order["order_id"].encode(), value=json.dumps(value).encode(),
                              timestamp=int(order["ts"]), on_delivery=self._report)
        self.producer.poll(0)

    def publish_all(self, orders: list[dict[str, Any]], timeout: float = 30.0) -> int:
        """Publish every order and wait for every delivery report; the number delivered, or DeliveryFailed."""
        for order in orders:
            self.publish(order)
        left = self.producer.flush(timeout)
        if left:
            raise TimeoutError(f"{left} orders still unacknowledged after {timeout:.0f} s")
        if self.failures:
            raise DeliveryFailed(self.failures)
        return self.delivered


def main(argv: list[str] | None = None) -> None:
    import kafkacourse as kc

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--t0-ms", type=int, default=None, help="first event time (default: now - 5 min)")
    args = parser.parse_args(argv)
    t0 = args.t0_ms if args.t0_ms is not None else int(time.time() * 1000) - 300_000
    producer = kc.connect().producer()
    try:
        delivered = OrderFeed(producer, args.topic).publish_all(sample_orders(args.count, t0, args.seed))
    finally:
        producer.flush(10)
    print(f"published {delivered} orders to {args.topic}", flush=True)


if __name__ == "__main__":
    main()
