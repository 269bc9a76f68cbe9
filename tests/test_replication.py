"""kafkacourse.instruments.replication on the live three-broker cluster (one test kills and restarts a broker)."""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import kafkacourse as kc  # noqa: E402
from kafkacourse.instruments import replication  # noqa: E402
from kafkacourse.plots.replication import plot_roles, plot_timeline  # noqa: E402


@pytest.fixture
def topic3(cluster3: kc.Cluster):
    """A fresh topic with 6 partitions, each replicated on all three brokers; deleted afterwards."""
    name = cluster3.create_topic(kc.unique_name("test-repl"), partitions=6, replication_factor=3)
    yield name
    cluster3.delete_topic(name)


def test_roles_of_a_hand_written_description():
    description = pd.DataFrame([
        {"partition": 0, "leader": 1, "replicas": [1, 2, 3], "isr": [1, 2]},
        {"partition": 1, "leader": 2, "replicas": [2, 3], "isr": [2, 3]},
    ])
    table = replication.roles(description)
    assert list(table.columns) == [1, 2, 3]
    assert table.loc[0].tolist() == [replication.LEADER, replication.IN_SYNC, replication.OUT_OF_SYNC]
    assert table.loc[1].tolist() == [replication.NOT_A_REPLICA, replication.LEADER, replication.IN_SYNC]
    assert replication.leader_counts(description) == {1: 1, 2: 1, 3: 0}


def test_roles_on_a_replicated_topic(cluster3, topic3):
    description = cluster3.describe_topic(topic3)
    table = replication.roles(description)
    assert table.shape == (6, 3)
    assert (table == replication.LEADER).sum(axis=1).tolist() == [1] * 6, table
    assert sum(replication.leader_counts(description).values()) == 6
    fig = plot_roles({"a": description, "b": description})
    assert len(fig.axes) == 2
    plt.close(fig)


def test_wait_for_gives_up_with_a_clear_error(cluster3, topic3):
    with pytest.raises(TimeoutError, match="never"):
        replication.wait_for(cluster3, topic3, lambda d: False, "never", timeout=1)
    assert len(replication.wait_for_isr(cluster3, topic3, size=3, timeout=30)) == 6
    with pytest.raises(ValueError):
        replication.wait_for_isr(cluster3, topic3)


def test_quorum_status_names_a_voter_as_leader(cluster3):
    status = replication.quorum_status(cluster3)
    assert int(status["LeaderId"]) in {1, 2, 3}, status
    assert all(f'"id": {n}' in status["CurrentVoters"] for n in (1, 2, 3)), status


def test_steady_producer_and_recorder(cluster3, topic3):
    with replication.SteadyProducer(cluster3, topic3, per_second=400) as producer, \
            replication.Recorder(cluster3, topic3, interval=0.2) as recorder:
        time.sleep(1.5)
    assert producer.unflushed == 0 and producer.failed().empty, producer.failed()
    acked = producer.acked()
    assert len(acked) == producer.sent > 100
    assert sorted(acked.id) == list(range(producer.sent))
    counts = recorder.leader_counts()
    assert len(counts) >= 3 and (counts.sum(axis=1) == 6).all(), counts
    fig = plot_timeline(recorder, producer)
    assert len(fig.axes) == 3
    plt.close(fig)


def test_killed_broker_loses_leadership_and_comes_back_in_sync(cluster3, topic3):
    controller = int(replication.quorum_status(cluster3)["LeaderId"])
    counts = replication.leader_counts(cluster3.describe_topic(topic3))
    victim = max((b for b in counts if b != controller), key=counts.get)
    assert counts[victim] > 0
    with replication.SteadyProducer(cluster3, topic3) as producer, replication.Recorder(cluster3, topic3) as rec:
        try:
            rec.mark(f"kill {victim}")
            cluster3.kill_broker(victim)
            down = replication.wait_for_leaders(cluster3, topic3, not_on=victim, timeout=30)
            down = replication.wait_for_isr(cluster3, topic3, without=victim, timeout=30)
            assert replication.leader_counts(down)[victim] == 0
        finally:
            cluster3.start_broker(victim)
        replication.wait_for_isr(cluster3, topic3, size=3, timeout=60)
        after = replication.elect_preferred_leaders(cluster3, topic3)
    assert replication.leader_counts(after) == counts
    assert producer.failed().empty and producer.unflushed == 0, producer.failed()
    assert rec.leader_counts()[f"broker {victim}"].min() == 0
    consumed = cluster3.consume(topic3, n=len(producer.acked()), timeout=15)
    assert set(consumed.value.astype(int)) == set(producer.acked().id), "an acknowledged record was lost"
    assert len(consumed) == len(producer.acked()), "duplicates despite idempotence"
