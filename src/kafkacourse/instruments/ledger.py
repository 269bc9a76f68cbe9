"""A delivery ledger: what an experiment sent, what came back, and what went wrong on the way.

Every record an experiment produces carries an id (and a sequence number per key) in its value; the ledger
writes down each record sent and each record received, then answers the questions every delivery lesson asks:
which records were **lost** (sent, never received), which were **duplicated** (received more than once), and
which arrived **out of order** (a lower per-key sequence after a higher one, or per partition, or overall).
It knows nothing about Kafka except for convenience methods that read confluent-kafka ``Message`` objects.

>>> ledger = DeliveryLedger()
>>> for i in range(6):
...     key = f"user-{i % 2}"
...     producer.produce(topic, key=key, value=ledger.stamp(key), on_delivery=ledger.on_delivery)
>>> producer.flush()
>>> for msg in messages:                  # consumed from `topic`
...     ledger.record_received_message(msg)
>>> ledger.summary()    # {'sent': 6, 'received': 6, 'lost': 0, 'duplicates': 0, 'out_of_order_by_key': 0, ...}
>>> ledger.losses(), ledger.duplicates(), ledger.out_of_order(by="key")   # DataFrames with the details
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

if TYPE_CHECKING:
    from ..cluster import Cluster

OrderScope = Literal["key", "partition", "global"]

SENT_COLUMNS = ["id", "key", "seq", "index", "partition", "offset", "error"]
RECEIVED_COLUMNS = ["id", "key", "seq", "partition", "offset", "arrival"]


def encode_value(record_id: Any, seq: int | None = None, **extra: Any) -> bytes:
    """A record value (UTF-8 JSON) carrying a record id, its per-key sequence number and any extra fields.

    >>> encode_value(7, seq=3, note="hi")
    b'{"id": 7, "seq": 3, "note": "hi"}'
    """
    return json.dumps({"id": record_id, "seq": seq, **extra}).encode()


def decode_value(value: bytes | str | None) -> dict[str, Any]:
    """The fields :func:`encode_value` wrote (``id``, ``seq`` and extras); ValueError for any other value.

    >>> decode_value(b'{"id": 7, "seq": 3}')
    {'id': 7, 'seq': 3}
    """
    if value is None:
        raise ValueError("the record has no value: it carries no ledger id")
    try:
        fields = json.loads(value)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a ledger value (JSON with an 'id'): {value[:60]!r}") from exc
    if not isinstance(fields, dict) or "id" not in fields:
        raise ValueError(f"not a ledger value (JSON with an 'id'): {value[:60]!r}")
    return fields


def _key_of(msg: Any) -> Any:
    key = msg.key()
    if isinstance(key, bytes):
        try:
            return key.decode()
        except UnicodeDecodeError:
            return key
    return key


class DeliveryLedger:
    """Sent and received records of one experiment, and the losses, duplicates and reorderings between them.

    Sent records are keyed by id (a later ``record_sent`` for the same id updates it, as a delivery report
    does); every ``record_received`` adds a row, in arrival order, so a record received twice appears twice.
    A sent record gets ``seq`` (its position among the records sent with the same key) and ``index`` (its
    position among all records sent) unless the caller gives them.

    >>> ledger = DeliveryLedger()
    >>> ledger.record_sent(1, key="a"); ledger.record_sent(2, key="a")
    >>> ledger.record_received(2, partition=0); ledger.record_received(1, partition=0)
    >>> ledger.summary()["out_of_order_by_key"]
    1
    """

    def __init__(self) -> None:
        self._sent: dict[Hashable, dict[str, Any]] = {}
        self._received: list[dict[str, Any]] = []
        self._next_seq: dict[Any, int] = {}

    # -- writing it down -------------------------------------------------------------------------------------
    def record_sent(self, record_id: Hashable, key: Any = None, seq: int | None = None,
                    partition: int | None = None, offset: int | None = None, error: str | None = None,
                    index: int | None = None, **extra: Any) -> dict[str, Any]:
        """Write down (or update) a record sent; returns its row. Fields left as None keep their old value."""
        row = self._sent.get(record_id)
        if row is None:
            if seq is None:
                seq = self._next_seq.get(key, 0)
            self._next_seq[key] = max(self._next_seq.get(key, 0), seq + 1)
            row = {"id": record_id, "key": key, "seq": seq,
                   "index": len(self._sent) if index is None else index,
                   "partition": partition, "offset": offset, "error": error, **extra}
            self._sent[record_id] = row
            return row
        updates = {"key": key, "seq": seq, "partition": partition, "offset": offset, "index": index, **extra}
        row.update({name: value for name, value in updates.items() if value is not None})
        row["error"] = error  # a later delivery report replaces an earlier error
        return row

    def stamp(self, key: Any = None, record_id: Hashable | None = None, **extra: Any) -> bytes:
        """Record a new sent record for `key` and return the value to produce (see :func:`encode_value`).

        The id defaults to the record's index (0, 1, 2, ...); `extra` fields travel in the value. Pass
        :meth:`on_delivery` as the producer's delivery callback to fill in partition, offset and error.
        """
        record_id = len(self._sent) if record_id is None else record_id
        if record_id in self._sent:
            raise ValueError(f"id {record_id!r} was already sent: ids must be unique within a ledger")
        row = self.record_sent(record_id, key=key)
        return encode_value(record_id, row["seq"], **extra)

    def on_delivery(self, err: Any, msg: Any) -> None:
        """A confluent-kafka delivery callback: the record's partition, offset, or delivery error."""
        fields = decode_value(msg.value())
        self.record_sent(fields["id"], key=_key_of(msg), seq=fields.get("seq"), partition=msg.partition(),
                         offset=msg.offset() if err is None else None, error=str(err) if err else None)

    def record_received(self, record_id: Hashable, partition: int | None = None, offset: int | None = None,
                        key: Any = None, seq: int | None = None, **extra: Any) -> dict[str, Any]:
        """Write down one record received (extra keyword fields become columns); returns its row."""
        row = {"id": record_id, "key": key, "seq": seq, "partition": partition, "offset": offset,
               "arrival": len(self._received), **extra}
        self._received.append(row)
        return row

    def record_received_message(self, msg: Any, **extra: Any) -> dict[str, Any]:
        """Write down a consumed confluent-kafka Message whose value :func:`encode_value` made.

        The value's extra fields and the keyword `extra` (e.g. ``consumer="restarted"``) become columns.
        """
        fields = decode_value(msg.value())
        record_id, seq = fields.pop("id"), fields.pop("seq", None)
        return self.record_received(record_id, partition=msg.partition(), offset=msg.offset(),
                                    key=_key_of(msg), seq=seq, **{**fields, **extra})

    # -- tables ----------------------------------------------------------------------------------------------
    @property
    def sent(self) -> pd.DataFrame:
        """One row per record sent: id, key, seq, index, partition, offset, error (and any extras)."""
        return pd.DataFrame(list(self._sent.values()), columns=_columns(SENT_COLUMNS, self._sent.values()))

    @property
    def received(self) -> pd.DataFrame:
        """One row per record received, in arrival order: id, key, seq, partition, offset, arrival (+ extras).

        Key and seq missing on a received row are taken from the sent record with the same id.
        """
        frame = pd.DataFrame(self._received, columns=_columns(RECEIVED_COLUMNS, self._received))
        if frame.empty:
            return frame.assign(index=pd.Series(dtype="Int64"))
        sent = self._sent
        for name in ("key", "seq"):
            frame[name] = [value if value is not None and not _isna(value) else sent.get(rid, {}).get(name)
                           for rid, value in zip(frame["id"], frame[name])]
        frame["index"] = pd.array([sent.get(rid, {}).get("index") for rid in frame["id"]], dtype="Int64")
        return frame

    def losses(self, acked_only: bool = False) -> pd.DataFrame:
        """Records sent and never received (rows of :attr:`sent`); `acked_only` keeps those the broker acked."""
        sent = self.sent
        lost = sent[~sent["id"].isin({row["id"] for row in self._received})]
        if acked_only:
            lost = lost[lost["error"].isna()]
        return lost.reset_index(drop=True)

    def duplicates(self) -> pd.DataFrame:
        """Ids received more than once: id, key, times received, and the partitions/offsets they came from."""
        received = self.received
        if received.empty:
            return pd.DataFrame(columns=["id", "key", "times", "partitions", "offsets"])
        counts = received.groupby("id", sort=False).agg(
            key=("key", "first"), times=("arrival", "size"),
            partitions=("partition", lambda s: sorted(set(s.dropna()))), offsets=("offset", list))
        return counts[counts["times"] > 1].reset_index()

    def unexpected(self) -> pd.DataFrame:
        """Records received whose id was never sent (another producer's, or a ledger mix-up)."""
        received = self.received
        return received[~received["id"].isin(self._sent.keys())].reset_index(drop=True)

    def out_of_order(self, by: OrderScope = "key", first_only: bool = True) -> pd.DataFrame:
        """Received records that arrived after a record that should have come after them.

        ``by="key"``: a lower per-key ``seq`` after a higher one with the same key (what Kafka guarantees
        never happens within a partition). ``by="partition"``: within a partition, a record sent earlier (lower
        ``index``) after one sent later. ``by="global"``: the same over all partitions (Kafka promises nothing).
        `first_only` ignores redeliveries (duplicates replayed after a rewind are not a reordering).
        Rows: the received row plus ``behind``, the highest seq/index already seen in its group.
        """
        received = self.received
        if first_only:
            received = received.drop_duplicates("id", keep="first")
        column = "seq" if by == "key" else "index"
        group = {"key": "key", "partition": "partition", "global": None}[by]
        flagged, behind = [], []
        highest: dict[Any, Any] = {}
        for position, row in enumerate(received.itertuples(index=False)):
            value = getattr(row, column)
            if value is None or _isna(value):
                continue
            name = getattr(row, group) if group else None
            name = None if _isna(name) else name   # pandas turns a missing key into NaN, and NaN != NaN
            if name in highest and value < highest[name]:
                flagged.append(position)
                behind.append(highest[name])
            highest[name] = value if name not in highest else max(highest[name], value)
        result = received.iloc[flagged].copy()
        result["behind"] = behind
        return result.reset_index(drop=True)

    def order_report(self, by: OrderScope = "key") -> pd.DataFrame:
        """Per key (or partition, or overall): records received (first copies) and how many came out of order."""
        received = self.received.drop_duplicates("id", keep="first")
        flagged = self.out_of_order(by=by)
        if by == "global":
            return pd.DataFrame([{"scope": "all partitions", "received": len(received),
                                  "out_of_order": len(flagged), "in_order": flagged.empty}])
        counts = received.groupby(by, dropna=False).size().rename("received")
        bad = flagged.groupby(by, dropna=False).size().rename("out_of_order")
        report = pd.concat([counts, bad], axis=1).fillna({"out_of_order": 0}).astype({"out_of_order": int})
        report["in_order"] = report["out_of_order"] == 0
        return report.reset_index()

    def summary(self) -> dict[str, int]:
        """Counts in one dict: sent, failed (delivery errors), received, unique_received, lost, duplicates
        (extra copies received), duplicated_ids, unexpected, out_of_order_by_key, out_of_order_by_partition."""
        received_ids = [row["id"] for row in self._received]
        unique = set(received_ids)
        return {
            "sent": len(self._sent),
            "failed": sum(1 for row in self._sent.values() if row.get("error")),
            "received": len(received_ids),
            "unique_received": len(unique),
            "lost": sum(1 for record_id in self._sent if record_id not in unique),
            "duplicates": len(received_ids) - len(unique),
            "duplicated_ids": len(self.duplicates()),
            "unexpected": sum(1 for record_id in unique if record_id not in self._sent),
            "out_of_order_by_key": len(self.out_of_order(by="key")),
            "out_of_order_by_partition": len(self.out_of_order(by="partition")),
        }

    def __repr__(self) -> str:
        counts = self.summary()
        return (f"DeliveryLedger(sent={counts['sent']}, received={counts['received']}, lost={counts['lost']}, "
                f"duplicates={counts['duplicates']}, out_of_order_by_key={counts['out_of_order_by_key']})")


def _isna(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _columns(base: list[str], rows: Any) -> list[str]:
    extra: list[str] = []
    for row in rows:
        extra.extend(name for name in row if name not in base and name not in extra)
    return base + extra


def read_into(ledger: "DeliveryLedger | dict[int, DeliveryLedger]", cluster: "Cluster", topic: str, *,
              isolation_level: str = "read_committed", timeout: float = 30.0,
              **fields: Any) -> "DeliveryLedger | dict[int, DeliveryLedger]":
    """Read all of `topic` (every partition, from its first offset to its end now) into `ledger`; return it.

    Waits first until no transaction is open on the topic, so a read_committed reader sees everything
    committed. `ledger` may be a dict partition → ledger (one experiment per partition). Keyword `fields`
    (e.g. ``reader="restarted"``) become columns of the received rows. Call it once the producers have
    flushed: records produced later are not read. A TimeoutError after `timeout` s.

    >>> read_into(stream.ledger, cluster, topic).summary()
    >>> read_into({0: ledger_a, 1: ledger_b}, cluster, topic)
    >>> read_into(DeliveryLedger(), cluster, topic, isolation_level="read_uncommitted")
    """
    cluster.wait_until_stable(topic, timeout)
    ledgers = ledger if isinstance(ledger, dict) else None
    for msg in cluster.messages(topic, isolation_level=isolation_level, timeout=timeout):
        target = ledgers[msg.partition()] if ledgers is not None else ledger
        target.record_received_message(msg, **fields)  # type: ignore[union-attr]
    return ledger
