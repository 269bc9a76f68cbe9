"""courseapps.day3.eos_processor: killed mid-transaction and restarted, each input is in the output once."""

from __future__ import annotations

import json

import kafkacourse as kc
from courseapps.day3 import eos_processor
from courseapps.day3.ledger_values import record_id, with_fields
from kafkacourse.instruments.ledger import encode_value
from kafkacourse.instruments.processes import ServiceProcess


def test_value_helpers():
    assert record_id(encode_value(7, seq=3)) == 7
    assert json.loads(eos_processor.transform(encode_value(7, seq=3), "a")) == {"id": 7, "seq": 3, "processed_by": "a"}
    assert json.loads(with_fields(b'{"id": 1}', x=2)) == {"id": 1, "x": 2}


def test_sigkill_mid_transaction_then_restart_gives_each_input_once(cluster, make_topic, tmp_path):
    source, sink = make_topic(partitions=1, prefix="test-eos-in"), make_topic(partitions=1, prefix="test-eos-out")
    cluster.produce(source, [encode_value(i) for i in range(30)])
    group, txid = kc.unique_name("test-eos"), kc.unique_name("test-eos-tx")

    def processor(name, *extra):
        return ServiceProcess("courseapps.day3.eos_processor", "--bootstrap-servers", cluster.bootstrap_servers,
                              "--input", source, "--output", sink, "--group", group, "--transactional-id", txid,
                              "--instance-id", "p", "--name", name, "--batch", 10, *extra, log_dir=tmp_path, name=name)

    first = processor("first", "--stall-at", 15).start()
    try:
        first.wait_for("in transaction at offset 15", timeout=60)
    finally:
        first.kill()
    with processor("restarted") as restarted:    # init_transactions aborts the killed run's transaction
        restarted.wait_for("caught up", timeout=60)
        assert restarted.terminate() == 0
    committed = [json.loads(m.value()) for m in cluster.messages(sink, isolation_level="read_committed")]
    everything = [json.loads(m.value()) for m in cluster.messages(sink, isolation_level="read_uncommitted")]
    assert sorted(r["id"] for r in committed) == list(range(30))
    assert [r["processed_by"] for r in committed].count("first") == 10
    assert len(everything) == 36, "the aborted transaction's 6 records stay in the log"
    assert cluster.group_offsets(group, source).committed[0] == 30


def test_a_paused_instance_is_fenced_by_its_replacement(cluster, make_topic, tmp_path):
    import os
    import signal

    source, sink = make_topic(partitions=1, prefix="test-fence-in"), make_topic(partitions=1, prefix="test-fence-out")
    cluster.produce(source, [encode_value(i) for i in range(20)])
    args = ["--bootstrap-servers", cluster.bootstrap_servers, "--input", source, "--output", sink,
            "--group", kc.unique_name("test-fence"), "--transactional-id", kc.unique_name("test-fence-tx"),
            "--instance-id", "p", "--batch", 10]
    zombie = ServiceProcess("courseapps.day3.eos_processor", *args, "--stall-at", 5, "--stall-seconds", 60,
                            log_dir=tmp_path, name="zombie").start()
    try:
        zombie.wait_for("in transaction at offset 5", timeout=60)
        os.kill(zombie.pid, signal.SIGSTOP)
        with ServiceProcess("courseapps.day3.eos_processor", *args, log_dir=tmp_path, name="new") as new:
            new.wait_for("caught up", timeout=60)
            os.kill(zombie.pid, signal.SIGCONT)
            assert zombie.wait(30) == eos_processor.FENCED_EXIT
            assert zombie.wait_for("fenced: ").startswith("fenced: _FENCED") and "(fatal=True)" in zombie.log()
            new.terminate()
    finally:
        if zombie.alive:
            os.kill(zombie.pid, signal.SIGCONT)
            zombie.kill()
    ids = sorted(json.loads(m.value())["id"] for m in cluster.messages(sink, isolation_level="read_committed"))
    assert ids == list(range(20))
