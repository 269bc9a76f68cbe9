"""courseapps.day3.commit_worker: auto-commit commits the record in hand; on_revoke commits what was processed."""

from __future__ import annotations

import threading
import time

import pytest

import kafkacourse as kc
from courseapps.day3 import commit_worker
from kafkacourse.instruments.ledger import encode_value
from kafkacourse.instruments.processes import ServiceProcess


@pytest.fixture
def topic(make_topic, cluster):
    name = make_topic(partitions=1, prefix="test-commit")
    cluster.produce(name, [encode_value(i) for i in range(30)])
    return name


def worker(cluster, topic, group, strategy, sink, tmp_path, *extra):
    return ServiceProcess("courseapps.day3.commit_worker", "--bootstrap-servers", cluster.bootstrap_servers,
                          "--topic", topic, "--group", group, "--strategy", strategy, "--sink", sink,
                          "--batch", 10, "--auto-commit-interval-ms", 200, "--instance-id", "w", *extra,
                          log_dir=tmp_path)


def committed(cluster, group, topic):
    return cluster.group_offsets(group, topic).committed[0]


def sink_ids(sink):
    return [int(line.split()[0]) for line in sink.read_text().splitlines()]


def test_settings_per_strategy():
    auto = commit_worker.consumer_config("b:9092", "g", "auto", 500)
    assert "enable.auto.commit" not in auto and "enable.auto.offset.store" not in auto, "auto = librdkafka defaults"
    assert commit_worker.consumer_config("b:9092", "g", "auto-store-after", 500)["enable.auto.offset.store"] is False
    for strategy in ("sync-per-record", "async-per-batch", "on-revoke"):
        assert commit_worker.consumer_config("b:9092", "g", strategy, 500)["enable.auto.commit"] is False
    with pytest.raises(ValueError, match="strategy must be one of"):
        commit_worker.consumer_config("b:9092", "g", "whenever", 500)


def test_auto_commit_commits_the_record_being_processed_and_a_kill_loses_it(cluster, topic, tmp_path):
    group, sink = kc.unique_name("test-auto"), tmp_path / "sink.txt"
    go = tmp_path / "go"
    first = worker(cluster, topic, group, "auto", sink, tmp_path, "--stall-at", 12, "--go-file", go).start()
    try:
        first.wait_for("waiting for", timeout=60)
        time.sleep(0.5)
        assert not sink.exists() and committed(cluster, group, topic) is None, "it waits for its go file"
        go.touch()
        first.wait_for("processing 12 at offset 12", timeout=60)
        time.sleep(1.0)                              # five auto-commit intervals
        assert committed(cluster, group, topic) == 13 and 12 not in sink_ids(sink)
    finally:
        first.kill()
    again = worker(cluster, topic, group, "auto", sink, tmp_path)
    with again:
        again.wait_for("caught up", timeout=60)
    assert sink_ids(sink) == [i for i in range(30) if i != 12]


def test_on_revoke_commits_what_was_processed_when_the_consumer_closes(cluster, topic, tmp_path):
    group, sink = kc.unique_name("test-revoke"), tmp_path / "sink.txt"
    service = worker(cluster, topic, group, "on-revoke", sink, tmp_path, "--stall-at", 15).start()
    try:
        service.wait_for("processing 15", timeout=60)
        assert committed(cluster, group, topic) == 10, "per batch: the batch 10-19 is not committed yet"
        assert service.terminate() == 0
    finally:
        if service.alive:
            service.kill()
    assert "revoked: committed [(0, 15)]" in service.log() and committed(cluster, group, topic) == 15
    assert sink_ids(sink) == list(range(15))


def test_sync_per_record_in_process_reads_everything_and_commits_the_end(cluster, topic, tmp_path):
    group, sink, stop = kc.unique_name("test-sync"), tmp_path / "sink.txt", threading.Event()
    config = commit_worker.consumer_config(cluster.bootstrap_servers, group, "sync-per-record", 5000)
    thread = threading.Thread(target=commit_worker.run, args=(config, topic, "sync-per-record", str(sink)),
                              kwargs={"stop": stop}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while committed(cluster, group, topic) != 30:
            assert time.monotonic() < deadline, "the worker did not commit all 30 records"
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(15)
    assert sink_ids(sink) == list(range(30))


def test_for_seconds_stops_after_its_window_and_reports_the_rate(cluster, make_topic, tmp_path):
    topic = make_topic(partitions=1, prefix="test-rate")
    cluster.produce(topic, [encode_value(i) for i in range(2000)])
    group, sink = kc.unique_name("test-rate"), tmp_path / "sink.txt"
    service = worker(cluster, topic, group, "sync-per-record", sink, tmp_path, "--for-seconds", 0.05).start()
    try:
        assert service.wait(60) == 0, "it stops by itself once the window has passed"
    finally:
        if service.alive:
            service.kill()
    records, seconds = service.wait_for("throughput").split()[1:]
    assert "time is up" in service.log() and 0 < int(records) == len(sink_ids(sink)) < 2000 and float(seconds) >= 0.05
