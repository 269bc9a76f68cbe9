"""courseapps.day4.scaling_consumer as real processes: members share partitions, a surplus member idles,
the go file holds paused members back, SIGTERM commits."""

from __future__ import annotations

import time

import pytest

import kafkacourse as kc
from courseapps.day4.scaling_consumer import parse_settings
from kafkacourse.instruments.ledger import DeliveryLedger
from kafkacourse.instruments.scaling import (ConsumerFleet, LagSampler, drain_backlog, drain_together, fill_backlog,
                                             group_assignment)


def test_two_members_share_the_partitions_and_a_third_on_two_partitions_idles(cluster, make_topic):
    topic = make_topic(partitions=2, prefix="test-scale")
    fleet = ConsumerFleet(cluster, topic, kc.unique_name("test-scale"), work_ms=2)
    ledger = DeliveryLedger()
    with fleet, LagSampler(cluster, fleet.group, topic, interval=0.2) as lag:
        fleet.add(2)
        first = drain_backlog(cluster, fleet, lag, ledger, per_partition=20)
        assert first["records"] == 40 and sorted(first["per_member"].values()) == [20, 20], first
        fleet.add(1)
        _, owners = group_assignment(cluster, fleet.group)
        assert owners.partitions.map(len).tolist().count(0) == 1, owners
        second = drain_backlog(cluster, fleet, lag, ledger, per_partition=20)
        assert second["per_member"]["m3"] == 0 and second["records"] == 40, second
        closed = fleet.stop()
    assert closed.processed.sum() == 80 and closed.set_index("member").processed["m3"] == 0
    assert cluster.group_offsets(fleet.group, topic).lag.sum() == 0, "SIGTERM commits what was processed"


def test_members_wait_for_the_go_file(cluster, make_topic):
    topic = make_topic(partitions=2, prefix="test-go")
    cluster.produce(topic, [{"value": b'{"id": %d}' % i, "partition": i % 2} for i in range(50)])
    fleet = ConsumerFleet(cluster, topic, kc.unique_name("test-go"), batch=100, go=True)
    with fleet:
        fleet.add(1)
        time.sleep(1.0)
        assert fleet.records().empty, "a paused member processed records before the go file"
        go = fleet.go()
        deadline = time.monotonic() + 30
        while len(fleet.records()) < 50 and time.monotonic() < deadline:
            time.sleep(0.1)
        records = fleet.records()
        closed = fleet.stop()
    assert len(records) == 50 and records.t.min() >= go - 0.01
    assert closed.processed.iloc[0] == 50


def test_fleets_drain_their_backlogs_side_by_side(cluster, make_topic):
    ledger = DeliveryLedger()
    fleets = {}
    try:
        for size in (1, 2):
            topic = make_topic(partitions=2, prefix=f"test-together{size}")
            assert fill_backlog(cluster, topic, ledger, per_partition=30) == 60
            fleets[size] = ConsumerFleet(cluster, topic, kc.unique_name("test-together"), work_ms=5, batch=10,
                                         bulk=True, go=True)
            fleets[size].add(size, wait=False)
        for fleet in fleets.values():
            fleet.wait_settled()
        race = drain_together(cluster, fleets)
    finally:
        for fleet in fleets.values():
            fleet.kill_all()
    rounds = race["rounds"].set_index("fleet")
    assert rounds.records.tolist() == [60, 60] and rounds.busy_members.tolist() == [1, 2], rounds
    assert (race["per_member"].groupby("fleet").records.sum() == 60).all(), race["per_member"]
    assert all(frame.lag.iloc[-1] == 0 for frame in race["lag"].values())
    assert (rounds.member_rate_mean <= 200).all(), "5 ms per record, waited per batch: at most 200 records/s each"
    with pytest.raises(ValueError, match="go=True"):
        drain_together(cluster, {1: ConsumerFleet(cluster, "t", "g")})


def test_bad_settings_are_refused_clearly():
    assert parse_settings(["fetch.min.bytes=10"]) == {"fetch.min.bytes": "10"}
    with pytest.raises(ValueError, match="key=value"):
        parse_settings(["fetch.min.bytes"])
    with pytest.raises(ValueError, match="at least one"):
        ConsumerFleet(None, "t", "g").add(0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch size"):
        ConsumerFleet(None, "t", "g", bulk=True)  # type: ignore[arg-type]
