"""courseapps.day3.eos_db_sink: rows and offsets in one SQLite transaction; a kill mid-batch loses and repeats nothing."""

from __future__ import annotations

import sqlite3

import kafkacourse as kc
from courseapps.day3 import eos_db_sink
from kafkacourse.instruments.ledger import encode_value
from kafkacourse.instruments.processes import ServiceProcess


def test_killed_mid_transaction_then_restarted_each_input_is_stored_once(cluster, make_topic, tmp_path):
    topic = make_topic(partitions=2, prefix="test-db-sink")
    cluster.produce(topic, [{"value": encode_value(i), "partition": i % 2} for i in range(40)])
    db, group = tmp_path / "sink.db", kc.unique_name("test-db-sink")

    def sink(name, *extra):
        return ServiceProcess("courseapps.day3.eos_db_sink", "--bootstrap-servers", cluster.bootstrap_servers,
                              "--topic", topic, "--group", group, "--db", db, "--name", name, "--instance-id", "s",
                              "--batch", 10, *extra, log_dir=tmp_path, name=name)

    first = sink("first", "--stall-after", 15).start()
    try:
        first.wait_for("in db transaction after 15 rows", timeout=60)
    finally:
        first.kill()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 10, "only the committed batch"
        assert sum(eos_db_sink.stored_offsets(conn, topic).values()) == 10
    with sink("restarted") as again:
        assigned = again.wait_for("assigned", timeout=60)
        again.wait_for("caught up", timeout=60)
        assert again.terminate() == 0
    with sqlite3.connect(db) as conn:
        ids = sorted(row[0] for row in conn.execute("SELECT id FROM results"))
        stored = eos_db_sink.stored_offsets(conn, topic)
    assert ids == list(range(40)) and stored == {0: 20, 1: 20}
    assert sum(v for v in eval(assigned.split(" ", 1)[1]).values() if v != "beginning") == 10, assigned
    assert cluster.group_offsets(group, topic).committed.tolist() == [None, None], "nothing committed to Kafka"
