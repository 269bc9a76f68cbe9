"""The Kafka Connect worker with Debezium, driven over its REST API, on the live single broker and PostgreSQL."""

from __future__ import annotations

import json
import shutil
import time

import pytest

import kafkacourse as kc
from kafkacourse import postgres
from kafkacourse.instruments.cdc import wait_for_records
from kafkacourse.kafka_connect import ConnectError, KafkaConnect
from kafkacourse.stack.services.connect import DEBEZIUM_POSTGRES


def test_worker_lists_debezium_and_apache_kafkas_connectors(connect_worker):
    plugins = connect_worker.plugins()
    assert {DEBEZIUM_POSTGRES, "org.apache.kafka.connect.mirror.MirrorSourceConnector",
            "org.apache.kafka.connect.file.FileStreamSinkConnector"} <= set(plugins["class"])
    assert plugins.set_index("class").loc[DEBEZIUM_POSTGRES, "type"] == "source"


def test_debezium_emits_a_change_event_for_an_insert(cdc, cluster):
    name, topic = cdc
    postgres.execute(f"INSERT INTO {name} (name) VALUES (%s)", ["ada"])
    [record] = wait_for_records(cluster, topic, 1)
    event = json.loads(record.value())
    assert (event["op"], event["before"], event["after"]) == ("c", None, {"id": 1, "name": "ada"})
    assert (event["source"]["db"], event["source"]["table"]) == ("course", name)
    assert json.loads(record.key()) == {"id": 1}
    slots = postgres.replication_slots().set_index("slot_name")
    assert slots.loc[name, "plugin"] == "pgoutput" and slots.loc[name, "active"]


def test_pause_holds_events_back_and_resume_delivers_them(cdc, connect_worker, cluster):
    name, topic = cdc
    postgres.execute(f"INSERT INTO {name} (name) VALUES ('first')")
    wait_for_records(cluster, topic, 1)
    connect_worker.pause(name)
    connect_worker.wait_state(name, "PAUSED")
    postgres.execute(f"INSERT INTO {name} (name) VALUES ('while paused')")
    time.sleep(3)  # a running connector delivers in well under a second: give a paused one the chance to misbehave
    assert len(cluster.messages(topic)) == 1
    connect_worker.resume(name)
    connect_worker.wait_running(name)
    records = wait_for_records(cluster, topic, 2)
    assert [json.loads(r.value())["after"]["name"] for r in records] == ["first", "while paused"]
    connect_worker.restart(name)
    connect_worker.wait_running(name)
    assert connect_worker.offsets(name)[0]["partition"] == {"server": name}


def test_connect_errors_carry_connects_own_message(connect_worker):
    with pytest.raises(ConnectError, match="no.such.Connector") as refused:
        connect_worker.create(kc.unique_name("bad"), {"connector.class": "no.such.Connector"})
    assert refused.value.status in (400, 500)
    with pytest.raises(ConnectError, match="No status found") as missing:
        connect_worker.status(kc.unique_name("missing"))
    assert missing.value.status == 404
    wrong = postgres.debezium_settings({"topic.prefix": "x", "database.password": "wrong"})
    # Debezium logs in while Connect validates the config: the refusal is PostgreSQL's own.
    assert any("password authentication failed" in p for p in connect_worker.validate(DEBEZIUM_POSTGRES, wrong))
    with pytest.raises(ConnectError) as refused_config:  # creating it anyway is refused too
        connect_worker.put_config(kc.unique_name("wrong-password"), wrong)
    assert refused_config.value.status >= 400
    problems = connect_worker.validate(DEBEZIUM_POSTGRES, {**postgres.debezium_settings(), "topic.prefix": "x",
                                                           "database.port": "not-a-number"})
    assert any(p.startswith("database.port:") for p in problems)


def test_bad_input_is_refused_before_any_request():
    connect = KafkaConnect("http://localhost:1")
    with pytest.raises(TypeError, match="'tasks.max'"):
        connect.put_config("x", {"tasks.max": [1]})
    with pytest.raises(ValueError, match="non-empty string"):
        connect.status("")
    with pytest.raises(ConnectError, match="does not answer"):
        connect.connectors()


@pytest.mark.slow
def test_a_deleted_plugin_folder_is_unpacked_again(tmp_path, monkeypatch):
    # Maven's unpack marker for the Debezium bundle lives beside it in the cache: deleting the cache's plugin
    # folder (or the whole cache) makes the next resolution unpack it again instead of trusting a marker.
    from kafkacourse.stack import runtime
    from kafkacourse.stack.services.base import quiet

    monkeypatch.setenv("KAFKA_COURSE_HOME", str(tmp_path))
    runtime.resolve_jars(quiet)
    assert all(path.exists() for path in runtime.day4_jars())
    shutil.rmtree(runtime.connect_plugin_path().parent)
    assert not runtime.jars_ready()
    runtime.resolve_jars(quiet)
    assert runtime.jars_ready() and (runtime.connect_plugin_path() / "debezium-connector-postgres").is_dir()
