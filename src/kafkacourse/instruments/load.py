"""Fire HTTP requests at a service, a few at a time, and get one row per request back.

A small load driver for comparing services: latency and status of every request in a pandas DataFrame,
and `summarize()` to turn that into p50 / p95 / success rate.

>>> from kafkacourse.load import fire, summarize
>>> orders = [{"order_id": f"o-{i}", "customer": "ada", "amount": 9.5} for i in range(20)]
>>> results = fire(server.url + "/orders", orders, concurrency=5)     # POST each payload as JSON
>>> pings = fire(server.url + "/ping", n=10, interval_s=0.1)           # GET, one every 100 ms
>>> summarize(results)                                                 # requests, ok_rate, p50_ms ...
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pandas as pd

COLUMNS = ["request", "status", "ok", "latency_ms", "sent_s", "error", "body"]


def fire(url: str, payloads: Sequence[Any] | None = None, *, n: int | None = None, method: str | None = None,
         concurrency: int = 5, interval_s: float = 0.0, timeout: float = 10.0,
         t0: float | None = None, headers: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
         ) -> pd.DataFrame:
    """Send requests to `url` from `concurrency` threads; one row per request, in request order.

    Either `payloads` (each sent as a JSON body; POST by default) or `n` (GET by default, no body).
    `interval_s` > 0 spaces the sends: request i leaves no earlier than ``i * interval_s`` after the start.
    A transport failure (refused, timeout) is a row too, with ``status`` missing and ``error`` set.
    `headers`: one mapping for every request, or one per request (e.g. an ``Idempotency-Key`` each).

    Rows: request (index), status (HTTP status or <NA>), ok (2xx), latency_ms, sent_s (seconds after `t0`,
    a ``time.perf_counter()`` value that defaults to the moment of the call), error, body (decoded JSON,
    else text, else None).
    """
    if (payloads is None) == (n is None):
        raise ValueError("give either payloads or n")
    count = len(payloads) if payloads is not None else int(n)  # type: ignore[arg-type]
    if headers is None or isinstance(headers, Mapping):
        per_request = [dict(headers or {})] * count
    elif len(headers) != count:
        raise ValueError(f"headers: {len(headers)} mappings for {count} requests")
    else:
        per_request = [dict(h) for h in headers]
    verb = (method or ("POST" if payloads is not None else "GET")).upper()
    start = time.perf_counter()
    origin = start if t0 is None else t0
    rows: list[dict[str, Any] | None] = [None] * count
    lock = threading.Lock()

    with httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=max(concurrency, 1))) as client:
        def send(i: int) -> None:
            due = start + i * interval_s
            if (wait := due - time.perf_counter()) > 0:
                time.sleep(wait)
            sent = time.perf_counter()
            row: dict[str, Any] = {"request": i, "status": None, "ok": False, "error": None, "body": None,
                                   "sent_s": sent - origin}
            try:
                kwargs = {"json": payloads[i]} if payloads is not None else {}
                response = client.request(verb, url, headers=per_request[i], **kwargs)
                row["status"] = response.status_code
                row["ok"] = response.is_success
                row["body"] = _body(response)
            except httpx.HTTPError as exc:
                row["error"] = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            row["latency_ms"] = (time.perf_counter() - sent) * 1000
            with lock:
                rows[i] = row

        with ThreadPoolExecutor(max_workers=max(concurrency, 1), thread_name_prefix="fire") as pool:
            for future in [pool.submit(send, i) for i in range(count)]:
                future.result()

    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["status"] = frame["status"].astype("Int64")
    frame["ok"] = frame["ok"].astype(bool)
    return frame


def summarize(results: pd.DataFrame, by: str | list[str] | None = None) -> pd.DataFrame:
    """Requests, success rate, latency percentiles and status counts of `fire()` results, per `by` group.

    >>> summarize(pd.concat([sync.assign(path="sync"), events.assign(path="events")]), by="path")
    """
    keys = [] if by is None else [by] if isinstance(by, str) else list(by)
    groups = [((), results)] if not keys else results.groupby(keys, sort=False)
    rows = []
    for name, group in groups:
        name = name if isinstance(name, tuple) else (name,)
        latency = group["latency_ms"]
        statuses = group["status"].astype("string").fillna("error").value_counts()
        rows.append({**dict(zip(keys, name)), "requests": len(group), "ok_rate": float(group["ok"].mean()),
                     "p50_ms": latency.quantile(0.5), "p95_ms": latency.quantile(0.95), "max_ms": latency.max(),
                     "statuses": ", ".join(f"{status}×{count}" for status, count in statuses.items())})
    frame = pd.DataFrame(rows)
    return frame.set_index(keys) if keys else frame


def _body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text
