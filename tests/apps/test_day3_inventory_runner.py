"""The lab runner's crash points: a real process SIGKILLs itself at the configured record, once per lab run."""

from __future__ import annotations

import json

import kafkacourse as kc
from kafkacourse.instruments.processes import ServiceProcess

CONSUMER = '''
def run(ctx):
    consumer = ctx.consumer({"enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.subscribe([ctx.topic])
    try:
        while not ctx.stopping:
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            print("processed", msg.offset(), flush=True)
            consumer.commit(message=msg, asynchronous=False)
    finally:
        consumer.close()
'''


def test_a_before_commit_crash_point_kills_the_process_once_before_that_commit(cluster, make_topic, tmp_path):
    topic = make_topic(1)
    cluster.produce(topic, [f"v{i}" for i in range(6)])
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inventory_consumer.py").write_text(CONSUMER)
    group = kc.unique_name("test-runner")
    config = {"topic": topic, "retry_topic": topic, "dlq_topic": topic, "group": group,
              "instance_id": kc.unique_name("i"), "db_path": str(tmp_path / "none.db"),
              "bootstrap_servers": cluster.bootstrap_servers, "schema_registry_url": cluster.schema_registry_url,
              "fired_file": str(tmp_path / "fired.jsonl"),
              "crash_points": [{"kind": "before-commit", "topic": topic, "partition": 0, "offset": 3}]}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with ServiceProcess("courseapps.day3.inventory_runner", str(tmp_path / "config.json"), str(tmp_path / "code"),
                        log_dir=tmp_path / "logs") as runner:
        assert runner.wait() == -9
        first = runner.log(this_run=True)
        assert "processed 3" in first and "processed 4" not in first and "crash point before-commit" in first
        assert dict(zip(*[cluster.group_offsets(group, topic)[c] for c in ("partition", "committed")])) == {0: 3}
        runner.restart().wait_for("processed 5")
        assert "processed 3" in runner.log(this_run=True), "the uncommitted record came again, and no second crash"
        assert runner.terminate() == 0
