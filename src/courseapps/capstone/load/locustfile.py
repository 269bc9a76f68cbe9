"""The capstone's load: locust users placing orders on the orders API, each request with its Idempotency-Key.

Headless (what the tests and notebooks run, through :class:`courseapps.capstone.load.runner.Load`):

    locust -f src/courseapps/capstone/load/locustfile.py --headless -u 10 -r 10 --host http://127.0.0.1:8600

With its web UI for learners (open http://localhost:8089, set users and rate there):

    locust -f src/courseapps/capstone/load/locustfile.py --host http://127.0.0.1:8600

Each user places ``CAPSTONE_ORDERS_PER_USER_S`` orders per second (``constant_throughput``): one to three
lines over the skus in ``CAPSTONE_SKUS`` (comma-separated; the last one, scarce, runs out so some orders are
cancelled out_of_stock). Every ``CAPSTONE_REPEAT_EVERY``-th order is sent twice with the same key: the second
answer must be the same order (200, ``Idempotent-Replayed``), else locust counts a failure.
"""

from __future__ import annotations

import os
import random
import uuid

from locust import HttpUser, constant_throughput, task

SKUS = os.environ.get("CAPSTONE_SKUS", "sku-red,sku-green,sku-blue,sku-rare").split(",")
PER_USER_S = float(os.environ.get("CAPSTONE_ORDERS_PER_USER_S", "1"))
REPEAT_EVERY = int(os.environ.get("CAPSTONE_REPEAT_EVERY", "10"))


class Customer(HttpUser):
    wait_time = constant_throughput(PER_USER_S)

    def on_start(self) -> None:
        self.customer_id = f"customer-{uuid.uuid4().hex[:6]}"
        self.placed = 0

    @task
    def place_order(self) -> None:
        lines = [{"sku": sku, "quantity": random.randint(1, 2), "unit_price": random.choice([499, 1250, 2000])}
                 for sku in random.sample(SKUS, random.randint(1, min(3, len(SKUS))))]
        key = str(uuid.uuid4())
        body = {"customer_id": self.customer_id, "lines": lines}
        with self.client.post("/orders", json=body, headers={"Idempotency-Key": key}, name="POST /orders",
                              catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"HTTP {response.status_code}: {response.text[:100]}")
                return
            order_id = response.json()["order_id"]
        self.placed += 1
        if REPEAT_EVERY and self.placed % REPEAT_EVERY == 0:
            with self.client.post("/orders", json=body, headers={"Idempotency-Key": key},
                                  name="POST /orders (same key again)", catch_response=True) as again:
                if again.status_code != 200 or again.json().get("order_id") != order_id:
                    again.failure(f"a repeated Idempotency-Key gave HTTP {again.status_code}, not the same order")
