"""The Docker-free stack: lifecycle, data safety, and the clear errors of the issue (Java, ports, Maven, a dying broker)."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

import kafkacourse as kc
from kafkacourse.stack import (JavaNotFoundError, LocalStack, MavenError, PortInUseError, ProcessDiedError,
                               runtime)


def test_up_is_idempotent_and_status_reports_each_process(cluster):
    stack = LocalStack(1)
    pids = [row.pid for row in stack.status()]
    stack.up(progress=lambda _msg: None)
    assert [row.pid for row in stack.status()] == pids, "up on a running stack must not restart anything"
    rows = stack.status() + stack.registry.status()
    assert all(row.state == "running" and row.log_file.exists() for row in rows), rows


def test_down_keeps_data_and_reset_deletes_it(scratch_home, spare_ports):
    stack = LocalStack(1)
    assert stack.bootstrap_servers == f"localhost:{spare_ports}"
    stack.up(registry=False, progress=lambda _msg: None)
    try:
        scratch = kc.Cluster(stack.bootstrap_servers, "", stack=stack)
        name = scratch.create_topic("kept-across-restarts", partitions=2)
        stack.down(registry=False, progress=lambda _msg: None)
        assert not stack.running()
        stack.up(registry=False, progress=lambda _msg: None)
        assert name in kc.Cluster(stack.bootstrap_servers, "").topics(), "down must not delete topics"
    finally:
        stack.reset(progress=lambda _msg: None)
    assert not stack.root.exists(), "reset deletes the stack's data dir"
    stack.up(registry=False, progress=lambda _msg: None)
    try:
        assert "kept-across-restarts" not in kc.Cluster(stack.bootstrap_servers, "").topics()
    finally:
        stack.reset(progress=lambda _msg: None)


def test_busy_port_names_the_port_and_its_process(cluster, scratch_home):
    # A second copy of the default stack (its own data dir) finds 9092 taken by the running broker.
    with pytest.raises(PortInUseError) as err:
        LocalStack(1).up(registry=False, progress=lambda _msg: None)
    message = str(err.value)
    assert "port 9092 (plaintext listener of broker 1) is in use by pid " in message and "kafka.Kafka" in message, message
    assert "kafkacourse down" in message
    assert cluster.topics() is not None, "the running stack is untouched"


def test_broker_dying_at_start_reports_its_log(scratch_home, spare_ports, monkeypatch):
    monkeypatch.setenv("KAFKA_HEAP_OPTS", "-Xmx1k")  # the JVM refuses to start: a broker that dies at once
    stack = LocalStack(1)
    with pytest.raises(ProcessDiedError) as err:
        stack.up(registry=False, progress=lambda _msg: None)
    assert "exited while starting" in str(err.value)
    assert "heap" in str(err.value).lower(), "the error carries the last lines of the broker's log"
    assert (stack.root / "node-1" / "data" / "meta.properties").exists(), "the formatted storage is kept"


def _fake_java(folder: Path, version: str) -> None:
    java = folder / "java"
    java.write_text(f'#!/bin/sh\necho \'openjdk version "{version}"\' >&2\n')
    java.chmod(java.stat().st_mode | stat.S_IEXEC)


def test_missing_or_old_java_is_explained(tmp_path, monkeypatch):
    runtime.java_major_version.cache_clear()
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(JavaNotFoundError, match="no `java` in \\$JAVA_HOME or on PATH.*openjdk-17"):
        runtime.java_executable()
    _fake_java(tmp_path, "11.0.22")
    with pytest.raises(JavaNotFoundError, match="is Java 11"):
        runtime.java_executable()
    runtime.java_major_version.cache_clear()


def test_maven_missing_or_failing_is_explained(tmp_path, monkeypatch):
    home = tmp_path / "fresh-home"
    monkeypatch.setenv("KAFKA_COURSE_HOME", str(home))
    real_path = os.environ["PATH"]
    monkeypatch.setenv("PATH", os.pathsep.join(p for p in real_path.split(os.pathsep) if not (Path(p) / "mvn").exists()))
    with pytest.raises(MavenError, match="`mvn` is not on PATH.*apt-get install maven"):
        runtime.resolve_jars(progress=lambda _msg: None)

    monkeypatch.setenv("PATH", real_path)
    bad_pom = tmp_path / "pom.xml"
    pinned = f"<kafka.version>{runtime.versions().kafka}</kafka.version>"
    bad_pom.write_text(runtime.POM.read_text().replace(pinned, "<kafka.version>0.0.0-no-such</kafka.version>"))
    monkeypatch.setattr(runtime, "POM", bad_pom)
    with pytest.raises(MavenError) as err:
        runtime.resolve_jars(progress=lambda _msg: None)
    assert "[ERROR]" in str(err.value) and "0.0.0-no-such" in str(err.value), str(err.value)
    assert not (home / "jars" / ".complete").exists()


def test_three_brokers_survive_one_kill(cluster3):
    stack = cluster3.stack
    assert stack is not None and cluster3.brokers().broker.tolist() == [1, 2, 3]
    topic = cluster3.create_topic(kc.unique_name("test-rf3"), partitions=3, replication_factor=3)
    try:
        stack.kill_broker(3)
        assert stack.status()[2].state == "stopped"
        sent = cluster3.produce(topic, [f"m{i}" for i in range(20)],
                                settings={"acks": "all", "message.timeout.ms": 30000})
        assert sent.error.isna().all(), "acks=all succeeds with 2 of 3 replicas in sync (min.insync.replicas=2)"
        stack.start_broker(3, progress=lambda _msg: None)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(len(isr) == 3 for isr in cluster3.describe_topic(topic).isr):
            time.sleep(0.5)
        assert all(len(isr) == 3 for isr in cluster3.describe_topic(topic).isr), "the restarted broker rejoins the ISR"
        assert len(cluster3.consume(topic, n=20)) == 20
    finally:
        if stack.status()[2].state != "running":
            stack.start_broker(3, progress=lambda _msg: None)
        cluster3.delete_topic(topic)


@pytest.mark.slow
def test_jars_resolve_into_two_fresh_homes_and_both_start(tmp_path, monkeypatch, port_offset):
    # Maven's unpack markers once lived in the repo: the second fresh home then got an empty registry folder.
    for name in ("first", "second"):
        monkeypatch.setenv("KAFKA_COURSE_HOME", str(tmp_path / name))
        runtime.resolve_jars(progress=lambda _msg: None)
        assert runtime.jars_ready() and runtime.registry_jar().stat().st_size > 0, name
        stack = LocalStack()
        stack.up(progress=lambda _msg: None)
        try:
            assert stack.brokers_answering() == {1} and stack.registry.answering(), name
        finally:
            stack.down(progress=lambda _msg: None)
    assert not (runtime.RESOURCES / "target").exists(), "Maven keeps its state in the cache, not in the repo"
