"""What the capstone dashboard shows, gathered from Prometheus, the cluster and the run's faults.jsonl.

Each function here is one panel's data in the JSON shape the page draws (no HTTP, no threads):

* :func:`series` — a range query as ``{"time": [...], "series": {label: [...]}}`` (uPlot's column layout:
  one shared time axis, ``None`` where a series has no sample at that step);
* :func:`counts` — an instant query as ``{label: value}``;
* :func:`group_lag` — consumer lag per group from the cluster (committed offset vs log-end offset, summed over
  every partition the group committed), not from a metric;
* :func:`faults` — the fault markers the system appended to ``<run dir>/faults.jsonl``.

The PromQL of every panel is in :data:`PANELS`, filled with the run's label `selector` (default
``job="capstone"``):

>>> queries(selector='job="capstone",run="capstone-1a2b"')["throughput"]
'sum by (service) (rate(capstone_events_total{job="capstone",run="capstone-1a2b",outcome="ok"}[10s]))'
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from confluent_kafka import TopicPartition

from kafkacourse.prometheus import Prometheus

RATE_WINDOW = "10s"  # five scrapes at the course Prometheus' 2 s interval: a rate never rests on one sample
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}

# panel -> (PromQL template with {sel} for the selector, the label that names each line)
PANELS: dict[str, tuple[str, str]] = {
    "throughput": (f'sum by (service) (rate(capstone_events_total{{{{sel}},outcome="ok"}}[{RATE_WINDOW}]))',
                   "service"),
    **{f"latency_{name}": (f"histogram_quantile({q}, sum by (le) (rate(capstone_order_e2e_seconds_bucket"
                           f"{{{{sel}}}}[{RATE_WINDOW}])))", "")
       for name, q in QUANTILES.items()},
    "dlq": ("sum by (service) (capstone_dlq_total{{sel}})", "service"),
    "saga": ("sum by (outcome) (capstone_saga_outcomes_total{{sel}})", "outcome"),
    "breakers": ("max by (service, breaker) (capstone_circuit_breaker_state{{sel}})", "service/breaker"),
}
BREAKER_STATES = {0: "closed", 1: "open", 2: "half-open"}


def queries(selector: str = 'job="capstone"') -> dict[str, str]:
    """Every panel's PromQL for the series matching `selector` (label matchers without braces)."""
    if "{" in selector or "}" in selector:
        raise ValueError(f"selector is label matchers without braces, e.g. 'job=\"capstone\"', not {selector!r}")
    return {name: template.replace("{sel}", selector) for name, (template, _) in PANELS.items()}


def _label(row: dict[str, Any], label: str, default: str) -> str:
    if not label:
        return default
    return "/".join(str(row.get(part, "")) for part in label.split("/"))


def _number(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else round(value, 6)


def series(prometheus: Prometheus, promql: str, label: str, start: float, end: float, step: float = 2.0,
           name: str = "value") -> dict[str, Any]:
    """A range query from `start` to `end` (Unix seconds) as {"time": [epoch s...], "series": {line: [...]}}.

    Each line is named by the `label` of its series ("a/b" joins two labels; "" names the single line `name`).
    NaN (e.g. a quantile over no observations) becomes None, a gap in the chart."""
    frame = prometheus.query_range(promql, start=start, end=end, step=step)
    if frame.empty:
        return {"time": [], "series": {}}
    frame = frame.assign(epoch=frame["time"].astype("int64") / 1e9)
    times = sorted(set(frame["epoch"]))
    index = {t: i for i, t in enumerate(times)}
    lines: dict[str, list[float | None]] = {}
    for row in frame.to_dict("records"):
        line = lines.setdefault(_label(row, label, name), [None] * len(times))
        line[index[row["epoch"]]] = _number(row["value"])
    return {"time": times, "series": dict(sorted(lines.items()))}


def merge(parts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Several single-line results (e.g. p50, p95, p99) on one time axis: {"time": [...], "series": {name: [...]}}."""
    times = sorted({t for part in parts.values() for t in part["time"]})
    index = {t: i for i, t in enumerate(times)}
    out: dict[str, list[float | None]] = {}
    for name, part in parts.items():
        line: list[float | None] = [None] * len(times)
        for values in part["series"].values():
            for t, v in zip(part["time"], values):
                line[index[t]] = v
        out[name] = line
    return {"time": times, "series": out}


def counts(prometheus: Prometheus, promql: str, label: str) -> dict[str, float]:
    """An instant query as {line: value}, lines named by `label` as in :func:`series`."""
    frame = prometheus.query(promql)
    return {_label(row, label, "value"): _number(row["value"]) for row in frame.to_dict("records")}


def breakers(values: dict[str, float]) -> list[dict[str, Any]]:
    """The circuit-breaker gauge's values ({"service/breaker": 0|1|2}) as rows with the state's name."""
    rows = []
    for key, value in sorted(values.items()):
        service, _, breaker = key.partition("/")
        state = BREAKER_STATES.get(int(value)) if value is not None else None
        if state is None:
            raise ValueError(f"capstone_circuit_breaker_state{{service={service!r}}} is {value}, not 0, 1 or 2")
        rows.append({"service": service, "breaker": breaker, "value": int(value), "state": state})
    return rows


def group_lag(cluster, prefix: str, timeout: float = 10.0) -> dict[str, int]:
    """{group: lag} for every consumer group whose id starts with `prefix`: the sum, over the partitions of the
    run's topics (``<prefix>.…``) that the group has committed offsets for, of log-end offset minus committed
    offset (what ``kafka-consumer-groups.sh --describe`` reports per partition, added up)."""
    listed = cluster.admin().list_consumer_groups(request_timeout=timeout).result(timeout)
    groups = sorted(g.group_id for g in listed.valid if g.group_id.startswith(prefix))
    if not groups:
        return {}
    ends = {topic: cluster.end_offsets(topic, timeout=timeout) for topic in cluster.topics(f"{prefix}.")}
    partitions = [TopicPartition(topic, p) for topic, offsets in ends.items() for p in sorted(offsets)]
    lag = {}
    for group in groups:
        committed = cluster.committed(group, partitions, timeout=timeout) if partitions else {}
        lag[group] = sum(max(ends[topic][p] - offset, 0) for (topic, p), offset in committed.items()
                         if offset is not None)
    return lag


def faults(run_dir: str | Path | None, since: float = 0.0) -> list[dict[str, Any]]:
    """The fault markers in `run_dir`/faults.jsonl at or after `since` (Unix s), oldest first; [] without a file.

    Each line is {"at": epoch_s, "fault": name, "detail": ...}; a line being written (no newline yet) is
    skipped, a line that is not such an object raises ValueError naming the file and line."""
    if run_dir is None:
        return []
    path = Path(run_dir) / "faults.jsonl"
    if not path.exists():
        return []
    out = []
    text = path.read_text()
    lines = text.split("\n")[:-1]  # the last piece has no newline yet: still being appended
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            at, fault = float(entry["at"]), str(entry["fault"])
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{path}:{number} is not a fault marker "
                             f'{{"at": epoch_s, "fault": name, "detail": ...}}: {line[:120]!r}') from None
        if at >= since:
            out.append({"at": at, "fault": fault, "detail": entry.get("detail")})
    return sorted(out, key=lambda e: e["at"])


def snapshot(prometheus: Prometheus, selector: str, minutes: float, lag_history: dict[str, Any],
             run_dir: str | Path | None, now: float | None = None, step: float = 2.0) -> dict[str, Any]:
    """Everything the page draws, for the last `minutes`: throughput, latency, lag (the history the app
    samples from the cluster), DLQ and saga counts over time and now, breakers, fault markers."""
    end = time.time() if now is None else now
    start = end - minutes * 60
    q = queries(selector)
    label = {name: lbl for name, (_, lbl) in PANELS.items()}
    latency = merge({name: series(prometheus, q[f"latency_{name}"], "", start, end, step, name)
                     for name in QUANTILES})
    return {
        "now": end,
        "start": start,
        "throughput": series(prometheus, q["throughput"], label["throughput"], start, end, step),
        "latency": latency,
        "lag": lag_history,
        "dlq": series(prometheus, q["dlq"], label["dlq"], start, end, step),
        "saga": series(prometheus, q["saga"], label["saga"], start, end, step),
        "totals": {"dlq": counts(prometheus, q["dlq"], label["dlq"]),
                   "saga": counts(prometheus, q["saga"], label["saga"])},
        "breakers": breakers(counts(prometheus, q["breakers"], label["breakers"])),
        "breaker_history": series(prometheus, q["breakers"], label["breakers"], start, end, step),
        "faults": faults(run_dir, since=start),
    }
