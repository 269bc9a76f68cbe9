"""Change data capture (Day 4): read a Debezium connector's change events off a topic and into a table.

Debezium writes one record per row change: the key is the row's primary key, the value an envelope with
``op`` (``r`` snapshot read, ``c`` insert, ``u`` update, ``d`` delete), ``before``, ``after`` and ``source``
(where in the database's log the change was: ``lsn``, ``txId``, ``snapshot``, ``table`` …). A delete is
followed by a *tombstone*: the same key with a null value, so log compaction can drop the row's history.

>>> records = wait_for_records(cluster, "shop.public.customers", 3)
>>> events = change_events(records)          # offset, key, op, before, after, lsn, tx_id, snapshot
>>> fold(events)                             # {key: row}: the table as a sink rebuilds it from the events
"""

from __future__ import annotations

import json
import time
from typing import Any

import pandas as pd

COLUMNS = ["offset", "key", "op", "before", "after", "lsn", "tx_id", "snapshot", "table"]


def wait_for_records(cluster: Any, topic: str, n: int, timeout: float = 60.0) -> list:
    """The topic's records (all of them, read from the start) once it holds at least `n`.

    Connect creates a connector's topic on its first event, so a missing topic counts as empty.
    Raises TimeoutError with the count seen after `timeout` s."""
    if n < 0:
        raise ValueError(f"n is a record count (>= 0), not {n!r}")
    deadline = time.monotonic() + timeout
    seen = 0
    while True:
        if topic in cluster.topics(topic):
            records = cluster.messages(topic)
            seen = len(records)
            if seen >= n:
                return records
        if time.monotonic() > deadline:
            raise TimeoutError(f"{topic} had {seen} records, not {n}, after {timeout:.0f} s")
        time.sleep(0.5)


def _json(data: bytes | None) -> Any:
    return None if data is None else json.loads(data)


def change_events(records: list) -> pd.DataFrame:
    """One row per record: its offset, key (the primary key as a dict), op (``tombstone`` for a null value),
    before, after, and from ``source``: lsn, tx_id, snapshot, table.

    Values written with the schemas envelope (``{"schema": …, "payload": …}``) are unwrapped to the payload."""
    return _events((record.offset(), record.key(), record.value()) for record in records)


def events_from_lines(lines: list[str]) -> pd.DataFrame:
    """The same table from a file sink's lines (one JSON value per line, ``null`` for a tombstone); `offset`
    is the line number, `key` is not in the file (None)."""
    return _events((i, None, None if line.strip() == "null" else line) for i, line in enumerate(lines))


def _events(triples) -> pd.DataFrame:
    rows = []
    for offset, raw_key, raw_value in triples:
        key, value = _json(raw_key), _json(raw_value)
        if isinstance(key, dict) and set(key) == {"schema", "payload"}:
            key = key["payload"]
        if isinstance(value, dict) and set(value) == {"schema", "payload"}:
            value = value["payload"]
        if value is None:
            rows.append({"offset": offset, "key": key, "op": "tombstone"})
            continue
        if not isinstance(value, dict) or "op" not in value:
            raise ValueError(f"offset {offset} is not a Debezium change event: {str(value)[:120]}")
        source = value.get("source") or {}
        rows.append({"offset": offset, "key": key, "op": value["op"], "before": value.get("before"),
                     "after": value.get("after"), "lsn": source.get("lsn"), "tx_id": source.get("txId"),
                     "snapshot": source.get("snapshot"), "table": source.get("table")})
    return pd.DataFrame(rows, columns=COLUMNS)


def fold(events: pd.DataFrame, key: str = "id") -> dict[Any, dict]:
    """Apply change events in order, as a sink would: the rows that exist after the last one, by `key`.

    Snapshot reads, inserts and updates set the row to ``after``; a delete removes it; a tombstone changes
    nothing (it only tells compaction the key is gone). A delete's row is found by its ``before`` (Debezium
    puts at least the key columns there)."""
    missing = {"op", "key", "after"} - set(events.columns)
    if missing:
        raise ValueError(f"events need the columns of change_events(); missing {sorted(missing)}")
    state: dict[Any, dict] = {}
    for event in events.itertuples():
        if event.op in ("r", "c", "u"):
            state[event.after[key]] = event.after
        elif event.op == "d":
            state.pop(event.before[key], None)
        elif event.op != "tombstone":
            raise ValueError(f"unknown change event op {event.op!r} at offset {event.offset}")
    return state
