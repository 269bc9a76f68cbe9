"""PromQL from Python (Day 4): ask the course's Prometheus (localhost:9090) about the brokers' JMX metrics.

Start it with ``kafkacourse up --with prometheus``; it scrapes every broker's and the Connect worker's JMX
exporter every 2 s (labels ``job``, ``profile``, ``node``).

>>> from kafkacourse.prometheus import Prometheus
>>> prom = Prometheus()
>>> prom.query('kafka_server_replicamanager_underreplicatedpartitions{profile="cluster"}')   # a DataFrame
>>> prom.query_range('rate(kafka_server_brokertopicmetrics_bytesin_total[10s])', minutes=2)
>>> prom.add_rules("lag", {"groups": [{"name": "lag", "rules": [{"alert": "LagHigh", "expr": "my_lag > 100",
...                                                               "for": "4s"}]}]})
>>> prom.wait_alert("LagHigh", "firing")
>>> prom.add_target("my-consumer", "localhost:8000")     # scrape a prometheus-client exporter of your own
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pandas as pd
import yaml

from .stack.services.common import default_context
from .stack.services.prometheus import PORT, PrometheusService


class PrometheusError(RuntimeError):
    """Prometheus refused a query or a reload; the message is Prometheus's own."""


class Prometheus:
    """A client of one Prometheus server's HTTP API (default: the course's, http://localhost:9090).

    add_rules / add_target write files into the course server's folder, so they need the local server."""

    def __init__(self, url: str | None = None, timeout: float = 10.0) -> None:
        self.url = (url or f"http://localhost:{default_context().port(PORT)}").rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Prometheus({self.url!r})"

    # -- queries ---------------------------------------------------------------------------------------------
    def query(self, promql: str, at: float | None = None) -> pd.DataFrame:
        """An instant query: one row per series, a column per label, and `value` (float). Empty: no series."""
        params = {"query": promql, **({"time": at} if at is not None else {})}
        data = self._get("/api/v1/query", params)
        if data["resultType"] in ("scalar", "string"):
            return pd.DataFrame([{"value": float(data["result"][1])}])
        rows = [{**series["metric"], "value": float(series["value"][1])} for series in data["result"]]
        return pd.DataFrame(rows)

    def value(self, promql: str) -> float:
        """The single number an instant query returns; ValueError when it returns no series or several."""
        frame = self.query(promql)
        if len(frame) != 1:
            raise ValueError(f"{promql!r} returned {len(frame)} series, not one"
                             + (f": {frame.drop(columns='value').to_dict('records')}" if len(frame) else ""))
        return float(frame["value"].iloc[0])

    def query_range(self, promql: str, minutes: float = 5, step: str | float = 2,
                    start: float | None = None, end: float | None = None) -> pd.DataFrame:
        """A range query (the last `minutes`, or `start`..`end` as Unix times) in long form: one row per
        series per step, columns `time` (datetime), the labels, and `value`."""
        end = time.time() if end is None else end
        start = end - minutes * 60 if start is None else start
        data = self._get("/api/v1/query_range", {"query": promql, "start": start, "end": end, "step": step})
        rows = [{"time": pd.Timestamp(t, unit="s"), **series["metric"], "value": float(v)}
                for series in data["result"] for t, v in series["values"]]
        return pd.DataFrame(rows)

    def wait_for(self, promql: str, timeout: float = 30.0) -> pd.DataFrame:
        """Re-run an instant query until it returns at least one series (e.g. ``up{job="kafka"} == 1``)."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.query(promql)
            if len(frame):
                return frame
            if time.monotonic() > deadline:
                raise TimeoutError(f"{promql!r} returned no series within {timeout:.0f} s")
            time.sleep(0.5)

    # -- targets, rules, alerts ------------------------------------------------------------------------------
    def targets(self) -> pd.DataFrame:
        """Active scrape targets: job, instance, profile, node, health (up/down), last_error, last_scrape."""
        active = self._get("/api/v1/targets", {"state": "active"})["activeTargets"]
        return pd.DataFrame([{**t["labels"], "health": t["health"], "last_error": t.get("lastError", ""),
                              "last_scrape": t.get("lastScrape")} for t in active])

    def alerts(self) -> pd.DataFrame:
        """Alerts pending or firing now: alertname, state, labels, value, active_at."""
        rows = [{"alertname": a["labels"].get("alertname"), "state": a["state"], **a["labels"],
                 "value": a.get("value"), "active_at": a.get("activeAt")}
                for a in self._get("/api/v1/alerts", {})["alerts"]]
        return pd.DataFrame(rows, columns=None if rows else ["alertname", "state", "value", "active_at"])

    def rules(self) -> pd.DataFrame:
        """Loaded rules: group, name, type (alerting/recording), query, state (of an alert), health."""
        groups = self._get("/api/v1/rules", {})["groups"]
        return pd.DataFrame([{"group": g["name"], "name": r["name"], "type": r["type"], "query": r["query"],
                              "state": r.get("state"), "health": r.get("health")}
                             for g in groups for r in g["rules"]])

    def alert_state(self, name: str) -> str:
        """"firing", "pending" or "inactive" for the alerting rule `name` (ValueError if no rule has that name)."""
        rules = self.rules()
        match = rules[(rules["type"] == "alerting") & (rules["name"] == name)] if len(rules) else rules
        if not len(match):
            raise ValueError(f"no alerting rule named {name!r} is loaded (add_rules first)")
        states = set(match["state"])
        return "firing" if "firing" in states else "pending" if "pending" in states else "inactive"

    def wait_alert(self, name: str, state: str = "firing", timeout: float = 60.0) -> None:
        """Wait until the alerting rule `name` is in `state` ("firing", "pending" or "inactive")."""
        deadline = time.monotonic() + timeout
        while (current := self.alert_state(name)) != state:
            if time.monotonic() > deadline:
                raise TimeoutError(f"alert {name!r} was {current!r}, not {state!r}, within {timeout:.0f} s")
            time.sleep(0.5)

    def add_rules(self, name: str, rules: dict | str) -> None:
        """Write a rule file (a dict in Prometheus's rule-file shape, or its YAML text) and reload Prometheus.
        A rule file Prometheus refuses is removed again and raised as PrometheusError with its message."""
        path = self._file(PrometheusService(default_context()).rules_dir, name, ".yml")
        text = rules if isinstance(rules, str) else yaml.safe_dump(rules, sort_keys=False)
        path.write_text(text)
        try:
            self.reload()
        except PrometheusError:
            path.unlink()
            self.reload()
            raise

    def remove_rules(self, name: str) -> None:
        self._file(PrometheusService(default_context()).rules_dir, name, ".yml").unlink(missing_ok=True)
        self.reload()

    def add_target(self, job: str, address: str, labels: dict[str, str] | None = None) -> None:
        """Scrape `address` ("host:port", serving /metrics) as `job` from now on (picked up within ~5 s)."""
        path = self._file(PrometheusService(default_context()).targets_dir, job, ".json")
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps([{"targets": [address], "labels": {"job": job, **(labels or {})}}]))
        tmp.replace(path)

    def remove_target(self, job: str) -> None:
        self._file(PrometheusService(default_context()).targets_dir, job, ".json").unlink(missing_ok=True)

    def reload(self) -> None:
        """Make Prometheus reread its configuration and rule files (POST /-/reload)."""
        try:
            response = httpx.post(f"{self.url}/-/reload", timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise PrometheusError(self._unreachable(exc)) from None
        if not response.is_success:
            raise PrometheusError(f"Prometheus refused to reload: {response.text.strip()}")

    # -- HTTP ------------------------------------------------------------------------------------------------
    def _get(self, path: str, params: dict):
        try:
            response = httpx.get(self.url + path, params=params, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise PrometheusError(self._unreachable(exc)) from None
        try:
            body = response.json()
        except ValueError:
            raise PrometheusError(f"{path}: {response.status_code} {response.text[:200]}") from None
        if body.get("status") != "success":
            raise PrometheusError(f"{params.get('query', path)!r}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def _unreachable(self, exc: Exception) -> str:
        return f"Prometheus at {self.url} does not answer ({exc}); start it with `kafkacourse up --with prometheus`."

    @staticmethod
    def _file(folder: Path, name: str, suffix: str) -> Path:
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"a rule or target name is letters, digits, - and _, not {name!r}")
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{name}{suffix}"
