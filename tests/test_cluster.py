"""Admin, produce and consume helpers against the live single broker."""

from __future__ import annotations

import pytest

import kafkacourse as kc


def test_unique_names_do_not_collide():
    names = {kc.unique_name("orders") for _ in range(200)}
    assert len(names) == 200 and all(n.startswith("orders-") for n in names)


def test_config_takes_librdkafkas_dotted_names_in_one_dict(cluster):
    conf = cluster.config(settings={"group.id": "g1", "enable.idempotence": True, "error_cb": print})
    assert conf == {"bootstrap.servers": cluster.bootstrap_servers, "group.id": "g1",
                    "enable.idempotence": True, "error_cb": print}
    assert cluster.config(settings={"bootstrap.servers": "elsewhere:1"})["bootstrap.servers"] == "elsewhere:1"


def test_keyword_settings_are_refused_with_the_dotted_spelling(cluster, topic):
    for call in (lambda: cluster.config(linger_ms=5), lambda: cluster.producer(linger_ms=5),
                 lambda: cluster.produce(topic, ["x"], linger_ms=5), lambda: cluster.consume(topic, linger_ms=5),
                 lambda: cluster.messages(topic, linger_ms=5)):
        with pytest.raises(TypeError, match=r"settings=\{'linger.ms': 5\}, not as keywords \(linger_ms=\)"):
            call()
    with pytest.raises(TypeError, match=r"settings=\{'enable.auto.commit': False, 'logger': None\}"):
        cluster.consumer("g", enable_auto_commit=False, logger=None)
    assert topic not in {m.topic() for m in cluster.messages(topic)}, "nothing was produced"


def test_settings_are_keyword_only_so_they_never_become_the_group_id(cluster):
    with pytest.raises(TypeError, match="positional argument"):
        cluster.consumer("g", {"enable.auto.commit": False})
    with pytest.raises(TypeError, match=r"group_id is a str, not a dict .*settings=\{…\}"):
        cluster.consumer({"enable.auto.commit": False})
    with pytest.raises(TypeError, match="positional argument"):
        cluster.producer({"linger.ms": 5})
    with pytest.raises(TypeError, match="a dict of librdkafka's dotted names"):
        cluster.config(settings=[("linger.ms", 5)])


def test_unknown_record_shapes_are_refused_before_anything_is_sent(cluster, topic):
    with pytest.raises(ValueError, match="a record tuple is \\(key, value\\); got 3 items"):
        cluster.produce(topic, ["fine", ("k", "v", "extra")])
    with pytest.raises(ValueError, match=r"not \['id'\]"):
        cluster.produce(topic, [{"id": 1}])
    with pytest.raises(TypeError, match="got a list"):
        cluster.produce(topic, [["k", "v"]])
    assert cluster.end_offsets(topic) == {0: 0, 1: 0, 2: 0}, "the valid record before the bad one was not sent"


def test_a_missing_topic_is_named(cluster):
    missing = kc.unique_name("test-missing")
    for call in (cluster.end_offsets, cluster.messages, cluster.describe_topic):
        with pytest.raises(ValueError, match=f"no topic '{missing}' on {cluster.bootstrap_servers}"):
            call(missing)


def test_create_topic_is_idempotent_and_waits_for_leaders(cluster):
    name = kc.unique_name("test-create")
    try:
        assert cluster.create_topic(name, partitions=3) == name
        assert cluster.create_topic(name, partitions=3) == name  # second call: no error, same topic
        described = cluster.describe_topic(name)
        assert described.partition.tolist() == [0, 1, 2]
        assert described.leader.notna().all() and described.isr.map(len).eq(1).all()
        with pytest.raises(ValueError, match="exists with 3 partitions, not 5"):
            cluster.create_topic(name, partitions=5)
    finally:
        cluster.delete_topic(name)
    assert name not in cluster.topics()
    cluster.delete_topic(name)  # deleting a missing topic is fine


def test_a_deleted_topic_is_gone_from_every_brokers_metadata(cluster3):
    """Each broker applies a deletion on its own; delete_topic returns once none of them lists the topic."""
    from confluent_kafka.admin import AdminClient

    brokers = [f"{b.host}:{b.port}" for b in cluster3._metadata().brokers.values()]
    assert len(brokers) == 3, brokers
    for _ in range(3):
        name = cluster3.create_topic(kc.unique_name("test-delete"), partitions=3)
        cluster3.delete_topic(name)
        for address in brokers:   # a fresh client asks its bootstrap broker first
            answer = AdminClient({**cluster3.config(), "bootstrap.servers": address}).list_topics(timeout=10)
            assert name not in answer.topics, f"{address} still lists {name}"
        assert not any(name in cluster3.topics() for _ in range(10))


def test_produce_then_consume_round_trip_with_keys(cluster, topic):
    sent = cluster.produce(topic, [(f"k{i % 4}", f"v{i}") for i in range(40)] + ["no key"])
    assert len(sent) == 41 and sent.error.isna().all() and sent.offset.notna().all()
    assert (sent.groupby("key").partition.nunique() == 1).all(), "one key, one partition"
    received = cluster.consume(topic, n=41)
    assert sorted(zip(received.key.fillna(""), received.value)) == sorted(zip(sent.key.fillna(""), sent.value))
    assert cluster.end_offsets(topic) == sent.groupby("partition").size().to_dict() | {
        p: 0 for p in range(3) if p not in set(sent.partition)}


def test_consume_stops_after_idle_timeout(cluster, topic):
    assert cluster.consume(topic, timeout=1).empty


def test_dict_records_carry_partition_and_headers(cluster, topic):
    sent = cluster.produce(topic, [{"key": "a", "value": "x", "partition": 2, "headers": {"h": b"1"}}])
    assert sent.partition.tolist() == [2]


def test_environment_variable_overrides_the_local_stack(cluster, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", cluster.bootstrap_servers)
    external = kc.connect()
    assert external.stack is None and external.bootstrap_servers == cluster.bootstrap_servers
    with pytest.raises(kc.StackError, match="docker compose kill"):
        external.kill_broker(1)


def test_unreachable_broker_is_a_clear_timeout(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "localhost:1")
    with pytest.raises(TimeoutError, match="localhost:1 did not answer within 3 s.*kafkacourse doctor"):
        kc.connect(timeout=3)


def test_messages_reads_every_partition_to_its_end_without_a_group(cluster, make_topic):
    full, empty = make_topic(3), make_topic(2)
    cluster.produce(full, [(f"k{i}", f"v{i}") for i in range(12)])
    read = cluster.messages([full, empty], timeout=20)
    assert sorted(m.value().decode() for m in read) == sorted(f"v{i}" for i in range(12))
    assert {m.topic() for m in read} == {full}, "an empty topic ends at once"


def test_messages_with_read_committed_skip_an_open_transaction(cluster, topic):
    producer = cluster.producer(settings={"transactional.id": kc.unique_name("tx")})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, b"pending")
    producer.flush(10)
    try:
        assert cluster.messages(topic) == [], "read_committed stops at the last stable offset"
        assert [m.value() for m in cluster.messages(topic, isolation_level="read_uncommitted")] == [b"pending"]
    finally:
        producer.abort_transaction(30)


def test_commit_offsets_sets_a_groups_starting_point(cluster, make_topic):
    from confluent_kafka import TopicPartition
    topic, group = make_topic(partitions=2), kc.unique_name("commit-offsets")
    cluster.produce(topic, [{"value": f"v{i}", "partition": i % 2} for i in range(6)])
    cluster.commit_offsets(group, [TopicPartition(topic, 0, 2), TopicPartition(topic, 1, 3)])
    assert cluster.group_offsets(group, topic).committed.tolist() == [2, 3]


def test_committed_reads_a_groups_offsets_with_none_where_it_committed_nothing(cluster, make_topic):
    from confluent_kafka import TopicPartition
    topic, group = make_topic(partitions=2), kc.unique_name("committed")
    cluster.produce(topic, [{"value": f"v{i}", "partition": i % 2} for i in range(6)])
    cluster.commit_offsets(group, [TopicPartition(topic, 1, 3)])
    assert cluster.committed(group, [TopicPartition(topic, 0), TopicPartition(topic, 1)]) == {
        (topic, 0): None, (topic, 1): 3}
    assert cluster.group_offsets(group, topic).committed.tolist() == [None, 3]


def test_no_course_code_reads_committed_offsets_through_the_admin_client():
    # librdkafka's admin client dies with SIGSEGV when an OffsetFetch answer says NOT_COORDINATOR (#5040)
    from pathlib import Path
    src = Path(kc.__file__).resolve().parents[1]
    callers = [str(path.relative_to(src)) for path in src.rglob("*.py")
               if ".list_consumer_group_offsets(" in path.read_text()]
    assert callers == [], f"read committed offsets with Cluster.committed(), not the AdminClient: {callers}"


class _MovingCoordinatorMember:
    """A consumer whose coordinator answers `answers` in turn (a real one can't be made to move on cue)."""

    def __init__(self, answers):
        self.answers, self.asked, self.closed = list(answers), 0, False

    def _answer(self):
        from confluent_kafka import KafkaError, KafkaException
        self.asked += 1
        answer = self.answers.pop(0)
        if answer is not None:
            raise KafkaException(KafkaError(answer))

    def commit(self, offsets, asynchronous):
        self._answer()

    def committed(self, partitions, timeout):
        from confluent_kafka import TopicPartition
        self._answer()
        return [TopicPartition("t", 0, 7)]

    def close(self):
        self.closed = True


@pytest.mark.parametrize("call, not_ready", [
    (lambda c: c.commit_offsets("g", []), "COORDINATOR_LOAD_IN_PROGRESS"),
    (lambda c: c.committed("g", []), "_TIMED_OUT"),
], ids=["commit_offsets", "committed"])
def test_a_moving_coordinator_is_asked_again_and_nothing_else(cluster, monkeypatch, call, not_ready):
    from confluent_kafka import KafkaError, KafkaException
    moving = _MovingCoordinatorMember([KafkaError.NOT_COORDINATOR, getattr(KafkaError, not_ready), None])
    monkeypatch.setattr(cluster, "consumer", lambda group, settings: moving)
    call(cluster)
    assert (moving.asked, moving.closed) == (3, True)

    refused = _MovingCoordinatorMember([KafkaError.GROUP_AUTHORIZATION_FAILED])
    monkeypatch.setattr(cluster, "consumer", lambda group, settings: refused)
    with pytest.raises(KafkaException, match="GROUP_AUTHORIZATION_FAILED"):
        call(cluster)
    assert (refused.asked, refused.closed) == (1, True)


