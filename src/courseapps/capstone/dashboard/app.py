"""The capstone's observability dashboard: one static page (uPlot charts, vendored) and the JSON it polls.

* ``GET /`` — the page: throughput, end-to-end latency, lag per consumer group, DLQ counts, saga outcomes,
  circuit-breaker states, each time chart with a vertical marker where a fault was injected;
* ``GET /api/state?minutes=5`` — what the page draws (:func:`courseapps.capstone.dashboard.data.snapshot`);
* ``GET /health`` — 200 once the app runs, with the last lag sample's time and error (if any).

Lag is not a metric: a thread samples it from the cluster every `lag_interval_s` (consumer groups whose id
starts with the run's prefix) and keeps the last `keep` samples. Everything else comes from Prometheus, whose
scrape targets the system registers.

>>> from courseapps.capstone.dashboard import create_app
>>> app = create_app(prefix, run_dir=system.run_dir, bootstrap_servers=cluster.bootstrap_servers)
>>> server = kc.serve(app)                  # or: python -m courseapps.capstone.dashboard --prefix … --port …
>>> IPython.display.IFrame(server.url, width="100%", height=720)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from kafkacourse.cluster import Cluster
from kafkacourse.prometheus import Prometheus, PrometheusError

from . import data

STATIC = Path(__file__).parent / "static"


class LagSampler:
    """Samples data.group_lag(cluster, prefix) every `interval_s` on a daemon thread; keeps `keep` samples."""

    def __init__(self, cluster: Cluster, prefix: str, interval_s: float = 2.0, keep: int = 300) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, not {interval_s}")
        self.cluster, self.prefix, self.interval_s = cluster, prefix, interval_s
        self.samples: deque[tuple[float, dict[str, int]]] = deque(maxlen=keep)
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lag:{prefix}", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.time(), data.group_lag(self.cluster, self.prefix)))
                self.error = None
            except Exception as exc:  # a broker down during a fault: keep sampling, show the error
                self.error = f"{type(exc).__name__}: {exc}"
            self._stop.wait(self.interval_s)

    def start(self) -> "LagSampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def history(self, since: float = 0.0) -> dict:
        """The samples at or after `since` as {"time": [...], "series": {group: [...]}} (None: group not seen);
        each group named without the run's prefix (``<prefix>.inventory`` is ``inventory``)."""
        samples = [(t, lags) for t, lags in list(self.samples) if t >= since]
        groups = sorted({g for _, lags in samples for g in lags})
        return {"time": [round(t, 3) for t, _ in samples],
                "series": {(g[len(self.prefix):].lstrip(".-_") or g): [lags.get(g) for _, lags in samples]
                           for g in groups}}


def create_app(prefix: str, run_dir: str | Path | None = None, bootstrap_servers: str = "localhost:9092",
               prometheus_url: str | None = None, selector: str | None = None,
               lag_interval_s: float = 2.0) -> FastAPI:
    """The dashboard of the capstone run named `prefix` (its topics and groups start with it).

    `run_dir` holds faults.jsonl (None: no markers); `selector` picks the run's series in Prometheus (label
    matchers without braces; default ``job="capstone",run="<prefix>"``, the labels System gives its scrape
    targets); `prometheus_url` defaults to the course's."""
    if not prefix:
        raise ValueError("prefix is the run's name (its groups start with it), e.g. kc.unique_name('capstone')")
    selector = selector or f'job="capstone",run="{prefix}"'
    data.queries(selector)  # a bad selector fails here, not on the first request
    prometheus = Prometheus(prometheus_url)
    cluster = Cluster(bootstrap_servers, schema_registry_url="")  # the admin client and offsets only
    sampler = LagSampler(cluster, prefix, lag_interval_s)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        sampler.start()
        try:
            yield
        finally:
            sampler.stop()

    app = FastAPI(title=f"Capstone dashboard · {prefix}", lifespan=lifespan)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/health")
    def health() -> dict:
        last = sampler.samples[-1][0] if sampler.samples else None
        return {"prefix": prefix, "lag_sampled_at": last, "lag_error": sampler.error}

    @app.get("/api/state")
    def state(minutes: float = Query(5.0, gt=0, le=60)) -> dict:
        now = time.time()
        try:
            snap = data.snapshot(prometheus, selector, minutes, sampler.history(now - minutes * 60), run_dir, now)
        except PrometheusError as exc:
            raise HTTPException(503, str(exc)) from None
        return {"prefix": prefix, "lag_error": sampler.error, **snap}

    return app
