"""A monthly cost model of a Kafka workload on a managed or a self-managed cluster (Day 5 lesson 06).

The model turns a workload (write throughput, read fan-out, retention, partitions, replication) into the three
things every Kafka bill is made of, and prices each with numbers the caller can change:

- **broker-hours** (or eCKU-hours, or cluster-hours): how many capacity units the workload needs, times 730 hours,
  plus a partition-hour charge where the offering has one;
- **storage**: the bytes retained, times the replicas where the offering bills them, per GB-month;
- **network**: the offering's own per-GB meters for data in and out, plus the cloud's charge for bytes that cross
  an availability zone (replication between brokers, clients in another zone) where that is billed to you.

Prices are inputs, never facts of the library: :data:`DEFAULT_PRICES` holds dated defaults with their sources, and
they change. Sizing per unit (MB/s and partitions one broker or eCKU carries) are assumptions to replace with
your own measurements.

>>> from kafkacourse.instruments import cost
>>> work = cost.Workload(write_mb_s=5, read_fanout=2, retention_hours=72, partitions=60, replication=3)
>>> cost.monthly_cost(work, cost.DEFAULT_PRICES["self-managed (EC2)"])["total"]
>>> cost.compare(work)               # one row per offering: units, stored GB, the three drivers, total
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

import pandas as pd

__all__ = ["HOURS_PER_MONTH", "Workload", "Prices", "DEFAULT_PRICES", "PRICES_AS_OF", "monthly_cost", "compare"]

HOURS_PER_MONTH = 730  # the cloud providers' billing month
PRICES_AS_OF = "December 2026"


@dataclass(frozen=True)
class Workload:
    """What the cluster carries: average `write_mb_s` (MB/s produced, after compression), `read_fanout` (how
    many consumer groups read each byte), `retention_hours`, `partitions` (of all topics), `replication`
    (the replication factor)."""

    write_mb_s: float
    read_fanout: float = 1.0
    retention_hours: float = 72.0
    partitions: int = 30
    replication: int = 3

    def __post_init__(self) -> None:
        if not self.write_mb_s >= 0 or not self.read_fanout >= 0 or not self.retention_hours >= 0:
            raise ValueError(f"write_mb_s, read_fanout and retention_hours are >= 0, got {self}")
        if not isinstance(self.partitions, int) or self.partitions < 1:
            raise ValueError(f"partitions is a whole number >= 1, got {self.partitions!r}")
        if not isinstance(self.replication, int) or not 1 <= self.replication <= 5:
            raise ValueError(f"replication is a whole number from 1 to 5, got {self.replication!r}")

    @property
    def written_gb_month(self) -> float:
        return self.write_mb_s * 3600 * HOURS_PER_MONTH / 1000

    @property
    def read_gb_month(self) -> float:
        return self.written_gb_month * self.read_fanout

    @property
    def retained_gb(self) -> float:
        """One copy of the retained data (GB)."""
        return self.write_mb_s * 3600 * self.retention_hours / 1000


@dataclass(frozen=True)
class Prices:
    """An offering's prices (USD) and sizing assumptions; every field is an input the learner may change.

    `unit` names what `unit_hour` buys (a broker, an eCKU, a cluster); `min_units` the smallest cluster;
    `unit_write_mb_s`, `unit_read_mb_s`, `unit_partitions` what one unit carries. `storage_counts_replicas`:
    you pay for every replica (brokers and their disks: storage, writes and partitions count replicas) or for
    one copy (the provider's meters count what clients send and keep).
    `cross_az_gb`: the cloud's price per GB that crosses a zone (both directions together);
    `replication_crosses_az`: inter-broker replication is billed at that price; `client_cross_az_share`: the
    share of client traffic billed at that price (2/3 when clients sit in one of three zones at random).
    """

    name: str
    unit: str
    unit_hour: float
    storage_gb_month: float
    min_units: int = 1
    unit_write_mb_s: float = math.inf
    unit_read_mb_s: float = math.inf
    unit_partitions: float = math.inf
    partition_hour: float = 0.0
    data_in_gb: float = 0.0
    data_out_gb: float = 0.0
    storage_counts_replicas: bool = True
    cross_az_gb: float = 0.0
    replication_crosses_az: bool = False
    client_cross_az_share: float = 0.0
    source: str = ""

    def __post_init__(self) -> None:
        negative = [f.name for f in fields(self) if isinstance(getattr(self, f.name), (int, float))
                    and not isinstance(getattr(self, f.name), bool) and not getattr(self, f.name) >= 0]
        if negative:
            raise ValueError(f"{self.name}: prices and sizes are >= 0, not {', '.join(negative)}")
        if min(self.unit_write_mb_s, self.unit_read_mb_s, self.unit_partitions) <= 0:
            raise ValueError(f"{self.name}: what one {self.unit} carries must be > 0")
        if self.min_units < 1 or not 0 <= self.client_cross_az_share <= 1:
            raise ValueError(f"{self.name}: min_units >= 1 and 0 <= client_cross_az_share <= 1")

    def with_(self, **changes: Any) -> "Prices":
        """A copy with some fields changed: ``prices.with_(unit_hour=0.25)``."""
        return replace(self, **changes)


# Brokers on 2-vCPU Graviton instances in three zones: the same sizing assumptions (not vendor figures) and the
# same cross-zone price ($0.01/GB each way), clients in one of three zones at random.
_AWS_BROKERS: dict[str, Any] = dict(min_units=3, unit_write_mb_s=20, unit_read_mb_s=40, unit_partitions=1000,
                                    storage_counts_replicas=True, cross_az_gb=0.02, client_cross_az_share=2 / 3)

# Defaults as of PRICES_AS_OF, on-demand, US East (N. Virginia) / AWS us-east-1. They change: check the sources.
DEFAULT_PRICES: dict[str, Prices] = {
    "MSK provisioned": Prices(
        "MSK provisioned", unit="kafka.m7g.large broker", unit_hour=0.204, storage_gb_month=0.10,
        replication_crosses_az=False, **_AWS_BROKERS,
        source="https://aws.amazon.com/msk/pricing/ (broker-hour, GB-month; no charge for replication between "
               "brokers; clients pay standard AWS data transfer) and https://aws.amazon.com/ec2/pricing/on-demand/ "
               "(cross-AZ $0.01/GB each way)"),
    "Confluent Cloud (Basic)": Prices(
        "Confluent Cloud (Basic)", unit="eCKU", unit_hour=0.14, storage_gb_month=0.08, min_units=1,
        unit_write_mb_s=50, unit_read_mb_s=150, unit_partitions=4096,
        data_in_gb=0.05, data_out_gb=0.05, storage_counts_replicas=False,
        source="https://www.confluent.io/confluent-cloud/pricing/ (eCKU-hour, first eCKU free on Basic: not "
               "modelled; $/GB in and out; $/GB-month) and "
               "https://docs.confluent.io/cloud/current/billing/billing-dimensions.html"),
    "self-managed (EC2)": Prices(
        "self-managed (EC2)", unit="m7g.large instance", unit_hour=0.0816, storage_gb_month=0.08,
        replication_crosses_az=True, **_AWS_BROKERS,
        source="https://aws.amazon.com/ec2/pricing/on-demand/ (m7g.large hour; cross-AZ $0.01/GB each way) and "
               "https://aws.amazon.com/ebs/pricing/ (gp3 GB-month); people, upgrades, on-call not included"),
}


def monthly_cost(workload: Workload, prices: Prices) -> dict[str, Any]:
    """The workload's month on one offering: the drivers (units, stored GB, GB crossing zones) and the cost of
    each (``broker_hours``, ``storage``, ``network``) with their ``total`` (USD).

    >>> cost.monthly_cost(cost.Workload(write_mb_s=1), cost.DEFAULT_PRICES["MSK provisioned"])["units"]
    3
    """
    w, p = workload, prices
    read_mb_s = w.write_mb_s * w.read_fanout
    units = max(p.min_units,
                math.ceil(w.write_mb_s * w.replication / p.unit_write_mb_s) if p.storage_counts_replicas
                else math.ceil(w.write_mb_s / p.unit_write_mb_s),
                math.ceil(read_mb_s / p.unit_read_mb_s),
                math.ceil(w.partitions * (w.replication if p.storage_counts_replicas else 1) / p.unit_partitions))
    stored_gb = w.retained_gb * (w.replication if p.storage_counts_replicas else 1)
    replication_gb = w.written_gb_month * (w.replication - 1)
    client_gb = w.written_gb_month + w.read_gb_month
    cross_az_gb = (replication_gb if p.replication_crosses_az else 0.0) + client_gb * p.client_cross_az_share
    broker_hours = units * p.unit_hour * HOURS_PER_MONTH + w.partitions * p.partition_hour * HOURS_PER_MONTH
    storage = stored_gb * p.storage_gb_month
    network = (w.written_gb_month * p.data_in_gb + w.read_gb_month * p.data_out_gb + cross_az_gb * p.cross_az_gb)
    return {"offering": p.name, "units": units, "unit": p.unit, "stored_gb": stored_gb,
            "cross_az_gb": cross_az_gb, "broker_hours": broker_hours, "storage": storage, "network": network,
            "total": broker_hours + storage + network}


def compare(workload: Workload, offerings: dict[str, Prices] | None = None) -> pd.DataFrame:
    """:func:`monthly_cost` for each offering (default :data:`DEFAULT_PRICES`), one row each, indexed by name."""
    rows = [monthly_cost(workload, prices) for prices in (offerings or DEFAULT_PRICES).values()]
    return pd.DataFrame(rows).set_index("offering")
