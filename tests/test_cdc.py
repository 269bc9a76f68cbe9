"""instruments.cdc on a live Debezium connector: change events parsed, folded back into the table."""

from __future__ import annotations

import pytest

from kafkacourse import postgres
from kafkacourse.instruments.cdc import change_events, events_from_lines, fold, wait_for_records


def test_events_fold_back_into_the_table(cdc, cluster):
    name, topic = cdc  # the conftest fixture: table (id serial, name text), connector without snapshot
    postgres.execute(f"INSERT INTO {name} (name) VALUES ('one'), ('two')")
    postgres.execute(f"UPDATE {name} SET name = 'uno' WHERE id = 1")
    postgres.execute(f"DELETE FROM {name} WHERE id = 2")
    records = wait_for_records(cluster, topic, 5)
    events = change_events(records)
    assert events.op.tolist() == ["c", "c", "u", "d", "tombstone"]
    assert events.key.tolist()[-2:] == [{"id": 2}, {"id": 2}]
    assert fold(events) == {1: {"id": 1, "name": "uno"}}
    # The same values as a file sink writes them (StringConverter: the JSON text, "null" for a tombstone).
    lines = [("null" if r.value() is None else r.value().decode()) for r in records]
    assert fold(events_from_lines(lines)) == fold(events)
    with pytest.raises(TimeoutError, match="had 5 records, not 6"):
        wait_for_records(cluster, topic, 6, timeout=1)


def test_records_that_are_not_change_events_are_refused():
    with pytest.raises(ValueError, match="not a Debezium change event"):
        events_from_lines(['{"hello": 1}'])
    with pytest.raises(ValueError, match="missing"):
        fold(change_events([]).drop(columns=["after"]))
