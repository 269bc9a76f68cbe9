"""The Day 5 cost model (kafkacourse.instruments.cost): each driver moves with the input that drives it, and
only there; a hand-computed month; clear errors for impossible inputs."""

from __future__ import annotations

import pytest

from kafkacourse.instruments import cost

EC2 = cost.DEFAULT_PRICES["self-managed (EC2)"]
MSK = cost.DEFAULT_PRICES["MSK provisioned"]
CONFLUENT = cost.DEFAULT_PRICES["Confluent Cloud (Basic)"]


def test_a_hand_computed_month():
    prices = cost.Prices("toy", unit="broker", unit_hour=0.10, storage_gb_month=0.10, min_units=3,
                         unit_write_mb_s=10, data_in_gb=0.01, cross_az_gb=0.02, replication_crosses_az=True)
    month = cost.monthly_cost(cost.Workload(write_mb_s=1, read_fanout=0, retention_hours=24, replication=3), prices)
    written = 1 * 3600 * 730 / 1000                      # 2628 GB a month
    assert month["units"] == 3
    assert month["broker_hours"] == pytest.approx(3 * 0.10 * 730)
    assert month["stored_gb"] == pytest.approx(3 * 86.4)  # one day at 1 MB/s, three replicas
    assert month["storage"] == pytest.approx(3 * 86.4 * 0.10)
    assert month["network"] == pytest.approx(written * 0.01 + 2 * written * 0.02)  # in + two follower copies
    assert month["total"] == pytest.approx(month["broker_hours"] + month["storage"] + month["network"])


def test_storage_follows_retention_and_replicas_only_where_they_are_billed():
    short, long = cost.Workload(write_mb_s=5, retention_hours=24), cost.Workload(write_mb_s=5, retention_hours=72)
    for prices in (EC2, MSK, CONFLUENT):
        assert cost.monthly_cost(long, prices)["storage"] == pytest.approx(3 * cost.monthly_cost(short, prices)["storage"])
    rf2, rf3 = cost.Workload(write_mb_s=5, replication=2), cost.Workload(write_mb_s=5, replication=3)
    assert cost.monthly_cost(rf3, EC2)["stored_gb"] == pytest.approx(1.5 * cost.monthly_cost(rf2, EC2)["stored_gb"])
    assert cost.monthly_cost(rf3, CONFLUENT)["stored_gb"] == cost.monthly_cost(rf2, CONFLUENT)["stored_gb"]


def test_replication_traffic_is_billed_on_self_managed_not_on_msk():
    rf1, rf3 = cost.Workload(write_mb_s=5, replication=1), cost.Workload(write_mb_s=5, replication=3)
    assert cost.monthly_cost(rf3, EC2)["network"] > cost.monthly_cost(rf1, EC2)["network"]
    assert cost.monthly_cost(rf3, MSK)["network"] == pytest.approx(cost.monthly_cost(rf1, MSK)["network"])
    assert cost.monthly_cost(rf3, MSK)["network"] > 0, "clients in another zone still pay data transfer"


def test_units_step_up_with_throughput_and_partitions():
    assert cost.monthly_cost(cost.Workload(write_mb_s=1), EC2)["units"] == EC2.min_units
    busy = cost.monthly_cost(cost.Workload(write_mb_s=100, replication=3), EC2)
    assert busy["units"] == 15  # 300 MB/s of replica writes at 20 MB/s each
    wide = cost.monthly_cost(cost.Workload(write_mb_s=1, partitions=2000, replication=3), EC2)
    assert wide["units"] == 6   # 6000 partition replicas at 1000 a broker
    assert cost.monthly_cost(cost.Workload(write_mb_s=1), EC2.with_(unit_hour=2 * EC2.unit_hour))["broker_hours"] == \
        pytest.approx(2 * cost.monthly_cost(cost.Workload(write_mb_s=1), EC2)["broker_hours"])


def test_compare_has_one_row_per_offering():
    table = cost.compare(cost.Workload(write_mb_s=5))
    assert list(table.index) == list(cost.DEFAULT_PRICES)
    assert {"units", "broker_hours", "storage", "network", "total"} <= set(table.columns)
    assert all(p.source.startswith("https://") for p in cost.DEFAULT_PRICES.values()), "every default is sourced"


@pytest.mark.parametrize("bad", [dict(write_mb_s=-1), dict(write_mb_s=1, replication=0),
                                 dict(write_mb_s=1, partitions=0), dict(write_mb_s=1, replication=2.5)])
def test_an_impossible_workload_is_refused(bad):
    with pytest.raises(ValueError):
        cost.Workload(**bad)


def test_negative_prices_are_refused():
    with pytest.raises(ValueError, match="unit_hour"):
        EC2.with_(unit_hour=-0.1)
    with pytest.raises(ValueError, match="carries"):
        EC2.with_(unit_write_mb_s=0)
