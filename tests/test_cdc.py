"""instruments.cdc on a live Debezium connector: change events parsed, folded back into the table."""

from __future__ import annotations

import pytest

import kafkacourse as kc
from kafkacourse import postgres
from kafkacourse.instruments.cdc import change_events, events_from_lines, fold, wait_for_records


@pytest.fixture
def captured(connect_worker, cluster):
    name = kc.unique_name("cdcfold").replace("-", "_")
    postgres.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, v text)")
    postgres.execute(f"INSERT INTO {name} VALUES (1, 'one'), (2, 'two')")
    connect_worker.put_config(name, postgres.debezium_settings(
        {"topic.prefix": name, "table.include.list": f"public.{name}", "slot.name": name}))
    try:
        connect_worker.wait_running(name)
        yield name, f"{name}.public.{name}"
    finally:
        connect_worker.delete(name, missing_ok=True)
        postgres.drop_replication_slot(name)
        postgres.execute(f"DROP TABLE IF EXISTS {name}")
        for topic in cluster.topics(name):
            cluster.delete_topic(topic)


def test_events_fold_back_into_the_table(captured, cluster):
    name, topic = captured
    postgres.execute(f"UPDATE {name} SET v = 'uno' WHERE id = 1")
    postgres.execute(f"DELETE FROM {name} WHERE id = 2")
    records = wait_for_records(cluster, topic, 5)
    events = change_events(records)
    assert events.op.tolist() == ["r", "r", "u", "d", "tombstone"]
    assert events.key.tolist()[-2:] == [{"id": 2}, {"id": 2}]
    assert fold(events) == {1: {"id": 1, "v": "uno"}}
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
