"""Consumer lag three ways (Day 4): from the broker (AdminClient), from ``kafka-consumer-groups.sh``, and from
the consumer itself (librdkafka's statistics), side by side.

* the broker: :meth:`Cluster.group_offsets` — the group's committed offset against the log-end offset;
* the tool: :func:`describe_group` runs the real ``kafka-consumer-groups.sh --describe`` and parses its table;
* the client: :class:`Statistics` is a ``stats_cb`` for a consumer with ``statistics.interval.ms`` set; it keeps
  librdkafka's latest statistics document, whose ``topics.<t>.partitions.<p>.consumer_lag`` is the high
  watermark minus the *committed* offset (``consumer_lag_stored``: minus the stored one), as librdkafka's
  STATISTICS.md defines them.

>>> stats = Statistics()
>>> consumer = cluster.consumer(group, settings={"statistics.interval.ms": 500, "stats_cb": stats})
>>> ... consumer.poll(0.5) ...             # stats_cb is served from poll()
>>> reconcile(cluster.group_offsets(group, topic), describe_group(cluster.bootstrap_servers, group), stats.lag(topic))
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import threading
from collections import deque
from typing import Any

import pandas as pd

from ..course.tools import java_command


class Statistics:
    """A ``stats_cb``: keeps the latest statistics document librdkafka emitted, how many it emitted, and the
    last `keep` documents in `history` (window statistics such as ``rtt`` cover one interval each)."""

    def __init__(self, keep: int = 120) -> None:
        self._lock = threading.Lock()
        self.latest: dict[str, Any] = {}
        self.count = 0
        self.history: deque[dict[str, Any]] = deque(maxlen=keep)

    def __call__(self, stats_json: str) -> None:
        document = json.loads(stats_json)
        with self._lock:
            self.latest, self.count = document, self.count + 1
            self.history.append(document)

    def partitions(self, topic: str) -> pd.DataFrame:
        """One row per partition of `topic` the client knows (librdkafka's internal partition -1 left out):
        partition, hi_offset, committed_offset, stored_offset, consumer_lag, consumer_lag_stored, fetchq_cnt."""
        with self._lock:
            parts = self.latest.get("topics", {}).get(topic, {}).get("partitions", {})
        fields = ["hi_offset", "committed_offset", "stored_offset", "consumer_lag", "consumer_lag_stored", "fetchq_cnt"]
        rows = [{"partition": int(p), **{f: info.get(f) for f in fields}} for p, info in parts.items() if int(p) >= 0]
        return pd.DataFrame(rows, columns=["partition", *fields]).sort_values("partition", ignore_index=True)

    def lag(self, topic: str) -> dict[int, int]:
        """{partition: consumer_lag} for the partitions whose lag librdkafka knows (it reports -1 until it
        has both a committed offset and a high watermark)."""
        frame = self.partitions(topic)
        return {int(r.partition): int(r.consumer_lag) for r in frame.itertuples() if r.consumer_lag >= 0}


def describe_group(bootstrap_servers: str, group: str, timeout: float = 60.0) -> pd.DataFrame:
    """``kafka-consumer-groups.sh --describe --group <group>`` (the course's Kafka jars), parsed: one row per
    partition with topic, partition, current_offset, log_end_offset, lag (None where the tool prints "-")."""
    if not group:
        raise ValueError("a consumer group id is a non-empty string")
    command = java_command("kafka-consumer-groups.sh",
                           ["--bootstrap-server", bootstrap_servers, "--describe", "--group", group])
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"kafka-consumer-groups.sh failed ({result.returncode}): {result.stderr.strip()[-400:]}")
    return parse_describe(result.stdout)


def parse_describe(text: str) -> pd.DataFrame:
    """The partition table of ``kafka-consumer-groups.sh --describe`` output as a DataFrame."""
    lines = [line for line in text.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if re.match(r"\s*GROUP\s+TOPIC\s+PARTITION", line)), None)
    if start is None:
        raise ValueError(f"no partition table in the tool's output: {text.strip()[:300]!r}")
    table = pd.read_csv(io.StringIO("\n".join(lines[start:])), sep=r"\s+", engine="python", dtype=str)
    table.columns = [c.lower().replace("-", "_") for c in table.columns]

    def number(value: str):
        return None if value in ("-", None) or pd.isna(value) else int(value)

    out = pd.DataFrame({"topic": table["topic"], "partition": table["partition"].astype(int)})
    for column in ("current_offset", "log_end_offset", "lag"):
        out[column] = pd.Series([number(v) for v in table[column]], dtype=object)
    return out.sort_values(["topic", "partition"], ignore_index=True)


def reconcile(admin: pd.DataFrame, tool: pd.DataFrame, client: dict[int, int]) -> pd.DataFrame:
    """One table: per partition the lag as the AdminClient (:meth:`Cluster.group_offsets`), the tool
    (:func:`describe_group`, for the same topic) and the client's statistics report it, and `agree`."""
    rows = []
    tool_lag = dict(zip(tool["partition"], tool["lag"]))
    for row in admin.itertuples():
        values = (row.lag, tool_lag.get(row.partition), client.get(row.partition))
        rows.append({"partition": row.partition, "committed": row.committed, "end": row.end,
                     "admin_lag": values[0], "tool_lag": values[1], "client_lag": values[2],
                     "agree": None not in values and len(set(values)) == 1})
    return pd.DataFrame(rows)
