"""courseapps.day3.group_worker as a real process: graceful SIGTERM, a forgotten close(), SIGKILL, probes."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

import kafkacourse as kc
from courseapps.day3.group_worker import GroupWorker, parse_json, read_out
from kafkacourse.instruments.ledger import DeliveryLedger
from kafkacourse.instruments.processes import ServiceProcess

N = 60


@pytest.fixture
def numbered(cluster, make_topic):
    topic = make_topic(partitions=2, prefix="test-worker")
    ledger, producer = DeliveryLedger(), cluster.producer()
    try:
        for i in range(N):
            producer.produce(topic, key=f"k{i % 5}", value=ledger.stamp(f"k{i % 5}"))
    finally:
        producer.flush(30)
    return topic, ledger


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker(cluster, topic, group, tmp_path, *args, name="w1") -> ServiceProcess:
    return ServiceProcess("courseapps.day3.group_worker", "--bootstrap-servers", cluster.bootstrap_servers,
                          "--topic", topic, "--group", group, "--name", name, "--out", tmp_path / f"{name}.txt",
                          "--progress-every", 5, *args, name=name, log_dir=tmp_path)


def run_then_sigterm(cluster, topic, group, tmp_path, *args) -> ServiceProcess:
    """Start a worker, let it process 10 records, SIGTERM it; it must exit 0."""
    proc = worker(cluster, topic, group, tmp_path, "--work-ms", 20, *args).start()
    try:
        proc.wait_for('"event": "processed"', timeout=60, count=2)
        assert proc.terminate() == 0
    finally:
        if proc.alive:
            proc.kill()
    return proc


def members(cluster, group) -> int:
    return len(cluster.admin().describe_consumer_groups([group], request_timeout=10)[group].result().members)


def test_sigterm_finishes_commits_and_leaves(cluster, numbered, tmp_path):
    topic, _ = numbered
    group = kc.unique_name("test-graceful")
    proc = run_then_sigterm(cluster, topic, group, tmp_path)
    kinds = [e["event"] for e in proc.events()]
    assert kinds[-4:] == ["signal", "revoked", "closed", "exit"], kinds
    done = read_out(tmp_path / "w1.txt")
    committed = cluster.group_offsets(group, topic)
    per_partition = {p: max(o for _, q, o, _ in done if q == p) + 1 for p in {q for _, q, _, _ in done}}
    assert {p: c for p, c in zip(committed.partition, committed.committed) if c is not None} == per_partition
    assert members(cluster, group) == 0, "close() sent LeaveGroup"


def test_no_close_exits_without_committing_or_leaving(cluster, numbered, tmp_path):
    topic, _ = numbered
    group = kc.unique_name("test-noclose")
    proc = run_then_sigterm(cluster, topic, group, tmp_path, "--shutdown", "no-close")
    assert "closed" not in [e["event"] for e in proc.events()]
    assert members(cluster, group) == 1, "no LeaveGroup: the coordinator still counts the member"
    assert cluster.group_offsets(group, topic).committed.isna().all(), "nothing committed (interval 5 s)"


def test_killed_and_restarted_static_worker_processes_every_record(cluster, numbered, tmp_path):
    topic, ledger = numbered
    group = kc.unique_name("test-kill")
    proc = worker(cluster, topic, group, tmp_path, "--work-ms", 20, "--instance-id", "w1").start()
    try:
        proc.wait_for('"event": "processed"', timeout=60, count=2)
        assert proc.kill() == -9
        proc.restart()
        deadline = time.monotonic() + 60
        while len({r[0] for r in read_out(tmp_path / "w1.txt")}) < N:
            assert time.monotonic() < deadline, proc.tail()
            time.sleep(0.1)
    finally:
        if proc.alive:
            proc.terminate()
    for record_id, partition, offset, _ in read_out(tmp_path / "w1.txt"):
        ledger.record_received(record_id, partition=partition, offset=offset)
    summary = ledger.summary()
    assert summary["lost"] == 0 and summary["duplicates"] > 0, summary


def test_health_and_ready_report_assignment_and_lag(cluster, numbered, tmp_path):
    topic, _ = numbered
    group, port = kc.unique_name("test-probes"), free_port()
    proc = worker(cluster, topic, group, tmp_path, "--work-ms", 50, "--health-port", port).start()
    url = f"http://127.0.0.1:{port}"
    try:
        proc.wait_for('"event": "assigned"', timeout=60)
        deadline = time.monotonic() + 30
        while True:
            try:
                ready = httpx.get(url + "/ready", timeout=30)
                if ready.json()["lag"]:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, proc.tail()
            time.sleep(0.1)
        assert httpx.get(url + "/health", timeout=30).status_code == 200
        body = ready.json()
        assert body["assigned"] == [0, 1] and body["processed"] < N
        behind = sum(v or 0 for v in body["lag"].values())
        assert ready.status_code == (503 if behind > 100 or None in body["lag"].values() else 200), body
        # Caught up: every record processed (60 × 50 ms) and, at the worker's next lag sample (taken in its
        # poll loop at most every 0.25 s, so a moment after the last record), no lag left.
        deadline = time.monotonic() + 60
        while True:
            caught_up = httpx.get(url + "/ready", timeout=30)
            body = caught_up.json()
            if body["processed"] >= N and set(body["lag"].values()) == {0}:
                break
            assert time.monotonic() < deadline, (body, proc.tail())
            time.sleep(0.2)
        assert caught_up.status_code == 200 and body["processed"] == N, body
    finally:
        proc.terminate()


def test_a_stalled_worker_reports_the_poll_and_commit_errors(cluster, numbered, tmp_path):
    topic, _ = numbered
    group = kc.unique_name("test-stall")
    proc = worker(cluster, topic, group, tmp_path, "--stall-after", 3, "--stall-s", 8,
                  "--max-poll-interval-ms", 6000).start()
    try:
        proc.wait_for('"event": "commit"', timeout=60)
    finally:
        proc.terminate()
    events = {e["event"]: e for e in proc.events()}
    assert events["error"]["code"] == "_MAX_POLL_EXCEEDED", events
    assert events["commit"]["code"] in ("_ASSIGNMENT_LOST", "UNKNOWN_MEMBER_ID"), events


def test_work_kinds_and_validation(cluster):
    t = time.perf_counter()
    parse_json(5)
    parse_json(5)
    assert time.perf_counter() - t > 0.005
    with pytest.raises(ValueError, match="work must be one of"):
        GroupWorker(cluster.config(), "t", "g", work="gpu")
    with pytest.raises(ValueError, match="protocol must be"):
        GroupWorker(cluster.config(), "t", "g", protocol="share")
