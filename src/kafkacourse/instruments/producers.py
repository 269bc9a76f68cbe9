"""Measure what a producer's settings cost and buy: latency, throughput, bytes on disk, records lost or doubled.

The producer-configuration lesson (Day 2, 03) and the network-failure lesson (Day 2, 06) use these:

* :func:`round_trips` — one record at a time, each waited for: the delivery latency of ``acks=0/1/all``.
* :func:`blast` / :func:`sweep` — as many records as fast as possible: throughput, latency percentiles and
  how full the batches were, for one config or a grid of them (``linger.ms`` × ``batch.size``…).
* :func:`order_payloads` — realistic, compressible JSON order events; :func:`disk_bytes` — what a topic
  occupies in the brokers' log directories (``kafka-log-dirs.sh``), to compare compression codecs.
* :class:`NumberedStream` — a steady stream of ledger-numbered records on a background thread, with the
  send and delivery time of each (and the client's retry / timeout counters); ``ledger.read_into`` consumes
  a topic back into the ledger; the ledger (:class:`kafkacourse.ledger.DeliveryLedger`) then says what was
  lost or duplicated. :func:`create_topic_led_by` puts every partition's leadership on one broker, so that
  killing it hits them all.
* :func:`duplicates_under_lost_responses` — swallow the broker's responses (a :class:`FaultProxy`) so the
  producer retries requests the broker already appended: duplicates unless idempotence is on.
* :func:`quiet_logger` (from :mod:`kafkacourse.cluster`) — a ``logger=`` that keeps a client's log lines, unprinted.

>>> import kafkacourse as kc
>>> from kafkacourse.instruments import producers as bench
>>> cluster = kc.connect()
>>> topic = cluster.create_topic(kc.unique_name("bench"))
>>> bench.round_trips(cluster, topic, n=200, settings={"acks": "all"}).latency_ms.median()
>>> bench.sweep(cluster, topic, {"linger.ms": [0, 50], "batch.size": [16384, 131072]}, bench.order_payloads(20000))
>>> with bench.NumberedStream(cluster, topic, per_second=500, settings={"acks": "all"}) as stream:
...     time.sleep(3)
>>> ledger.read_into(stream.ledger, cluster, topic).summary()["lost"]
"""

from __future__ import annotations

import itertools
import json
import random
import shutil
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..cluster import quiet_logger
from ..connection import refuse_keywords
from .ledger import DeliveryLedger, read_into

if TYPE_CHECKING:
    from ..cluster import Cluster
    from .faults import FaultProxy


COUNTERS = ("tx", "txretries", "req_timeouts", "connects", "disconnects")


# -- latency, one record at a time ---------------------------------------------------------------------------
def round_trips(cluster: "Cluster", topic: str, n: int = 500, value: bytes = b"x" * 100, *,
                settings: Mapping[str, Any] | None = None, **keywords: Any) -> pd.DataFrame:
    """Produce `n` records one by one, each waited for (``flush``) before the next: one row per record,
    ``latency_ms`` from ``produce()`` to its delivery report, and ``error``. `settings` (librdkafka's dotted
    names) override the producer's (``linger.ms=0`` unless given, so nothing waits to be batched).

    >>> round_trips(cluster, topic, n=300, settings={"acks": "1"}).latency_ms.describe()
    """
    refuse_keywords("round_trips", keywords)
    producer = cluster.producer(settings={"linger.ms": 0, **(settings or {})})
    rows: list[dict[str, Any]] = []
    try:
        for i in range(n):
            report: dict[str, Any] = {}
            sent = time.perf_counter()
            producer.produce(topic, value, on_delivery=lambda err, msg, r=report: r.update(
                error=str(err) if err else None, done=time.perf_counter()))
            producer.flush(30)
            rows.append({"record": i, "latency_ms": (report.get("done", time.perf_counter()) - sent) * 1000,
                         "error": report.get("error", "no delivery report within 30 s")})
    finally:
        producer.flush(10)
        producer.close()  # leave the brokers now, not whenever the object is collected
    return pd.DataFrame(rows, columns=["record", "latency_ms", "error"])


# -- throughput ----------------------------------------------------------------------------------------------
def blast(cluster: "Cluster", topic: str, values: Sequence[bytes], per_second: float | None = None, *,
          settings: Mapping[str, Any] | None = None, **keywords: Any) -> dict[str, Any]:
    """Produce every value as fast as the client accepts them (or at `per_second` records a second, in steps
    of 5 ms) and wait for all delivery reports.

    Returns one dict: ``records``, ``seconds`` (first produce to last report), ``records_per_s``,
    ``mb_per_s`` (payload megabytes), ``p50_ms`` / ``p99_ms`` (produce() → delivery report of each record),
    ``errors``, and from the client's statistics ``requests`` (ProduceRequests sent) and
    ``records_per_batch`` (average). `settings` (librdkafka's dotted names: ``linger.ms``, ``batch.size``,
    ``compression.type``…) override the producer's.

    >>> blast(cluster, topic, order_payloads(10000), settings={"linger.ms": 50})["records_per_s"]
    """
    refuse_keywords("blast", keywords)
    stats: list[dict[str, Any]] = []
    producer = cluster.producer(settings={"statistics.interval.ms": 100,
                                          "stats_cb": lambda s: stats.append(json.loads(s)), **(settings or {})})
    latencies = [0.0] * len(values)
    errors = [0]
    t0 = time.perf_counter()
    last = [t0]

    def report(err: Any, _msg: Any, i: int, sent: float) -> None:
        now = time.perf_counter()
        latencies[i] = (now - sent) * 1000
        last[0] = now
        if err is not None:
            errors[0] += 1

    step = max(1, round(per_second / 200)) if per_second else 0  # records per 5 ms step when paced
    for i, value in enumerate(values):
        if step and i % step == 0:  # wait for this step's time, serving delivery reports as they come
            due = t0 + i / per_second  # type: ignore[operator]
            while (pause := due - time.perf_counter()) > 0:
                producer.poll(pause)
        while True:
            try:
                producer.produce(topic, value, on_delivery=lambda e, m, i=i, s=time.perf_counter(): report(e, m, i, s))
                break
            except BufferError:  # the local queue is full: serve delivery reports, then try again
                producer.poll(0.05)
        if i % 1000 == 0:
            producer.poll(0)
    remaining = producer.flush(60)
    producer.poll(0.2)  # one more statistics callback, covering the end of the run
    producer.close()
    seconds = last[0] - t0
    payload = sum(len(v) for v in values)
    requests, batch = _produce_requests(stats, topic)
    lat = pd.Series(latencies)
    return {"records": len(values), "seconds": round(seconds, 3),
            "records_per_s": round(len(values) / seconds) if seconds else None,
            "mb_per_s": round(payload / seconds / 1e6, 2) if seconds else None,
            "p50_ms": round(float(lat.quantile(0.5)), 1), "p99_ms": round(float(lat.quantile(0.99)), 1),
            "errors": errors[0] + remaining, "requests": requests, "records_per_batch": batch}


def _produce_requests(stats: list[dict[str, Any]], topic: str) -> tuple[int | None, float | None]:
    """ProduceRequests sent (the brokers' cumulative ``req.Produce``, from the last statistics callback) and
    the average records per batch (``batchcnt``: a window that restarts at every callback, so summed over all)."""
    if not stats:
        return None, None
    requests = sum(b.get("req", {}).get("Produce", 0) for b in stats[-1].get("brokers", {}).values())
    windows = [s.get("topics", {}).get(topic, {}).get("batchcnt", {}) for s in stats]
    batches = sum(w.get("cnt", 0) for w in windows)
    records = sum(w.get("sum", 0) for w in windows)
    return requests, (round(records / batches, 1) if batches else None)


def sweep(cluster: "Cluster", topic: str, grid: Mapping[str, Iterable[Any]], values: Sequence[bytes],
          per_second: float | None = None, *, settings: Mapping[str, Any] | None = None,
          **keywords: Any) -> pd.DataFrame:
    """:func:`blast` once per combination of the `grid` settings (librdkafka's dotted names); one row per
    combination: the settings (a column each, named as in `grid`), then blast's measures. `per_second` paces
    every run (None: as fast as possible); `settings` apply to every run (the grid's values win).

    >>> sweep(cluster, topic, {"linger.ms": [0, 5, 50], "batch.size": [16384, 131072]}, values)
    """
    refuse_keywords("sweep", keywords)
    names = list(grid)
    rows = []
    for combo in itertools.product(*(list(grid[name]) for name in names)):
        point = dict(zip(names, combo))
        rows.append({**point, **blast(cluster, topic, values, per_second, settings={**(settings or {}), **point})})
    return pd.DataFrame(rows)


# -- payloads and bytes on disk ------------------------------------------------------------------------------
_PRODUCTS = ["espresso beans 1kg", "oat milk 6-pack", "ceramic pour-over", "burr grinder", "paper filters x100",
             "travel mug", "milk frother", "descaler", "gooseneck kettle", "cold brew jar"]
_CITIES = ["Lyon", "Porto", "Ghent", "Leipzig", "Bologna", "Gdansk", "Utrecht", "Aarhus"]


def order_payloads(n: int, seed: int = 7) -> list[bytes]:
    """`n` JSON order events (≈ 350–600 bytes each) shaped like a shop's: repeated field names, a few
    products and cities, realistic numbers; compressible the way real JSON events are. Same seed, same bytes.

    >>> json.loads(order_payloads(1)[0])["order_id"]
    'o-000000'
    """
    rng = random.Random(seed)
    out = []
    for i in range(n):
        items = [{"sku": f"SKU-{rng.randrange(1000, 9999)}", "name": rng.choice(_PRODUCTS),
                  "quantity": rng.randint(1, 4), "unit_price": round(rng.uniform(2, 250), 2)}
                 for _ in range(rng.randint(1, 4))]
        order = {"order_id": f"o-{i:06d}", "customer_id": f"c-{rng.randrange(50000):05d}",
                 "status": "created", "currency": "EUR", "items": items,
                 "total": round(sum(it["quantity"] * it["unit_price"] for it in items), 2),
                 "shipping": {"city": rng.choice(_CITIES), "country": "EU", "method": rng.choice(["standard", "express"])},
                 "created_at": f"2026-03-{1 + i % 28:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z"}
        out.append(json.dumps(order).encode())
    return out


def disk_bytes(cluster: "Cluster", topics: Iterable[str], timeout: float = 60.0) -> dict[str, int]:
    """Bytes each topic's log segments occupy in the brokers' log directories, summed over partitions and
    replicas, as ``kafka-log-dirs.sh --describe`` reports them (needs ``kc.connect()`` for the PATH).

    >>> disk_bytes(cluster, ["orders-none", "orders-zstd"])      # {'orders-none': 5120000, 'orders-zstd': 810000}
    """
    topics = list(topics)
    tool = shutil.which("kafka-log-dirs.sh")
    if tool is None:
        raise FileNotFoundError("kafka-log-dirs.sh is not on PATH; call kc.connect() first")
    out = subprocess.run([tool, "--bootstrap-server", cluster.bootstrap_servers, "--describe",
                          "--topic-list", ",".join(topics)], capture_output=True, text=True, timeout=timeout)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"kafka-log-dirs.sh failed:\n{(out.stdout + out.stderr)[-2000:]}")
    sizes = dict.fromkeys(topics, 0)
    for broker in json.loads(lines[-1])["brokers"]:
        for log_dir in broker["logDirs"]:
            for part in log_dir["partitions"]:
                name = part["partition"].rsplit("-", 1)[0]
                if name in sizes:
                    sizes[name] += part["size"]
    return sizes


# -- a numbered stream, and reading it back ------------------------------------------------------------------
class NumberedStream:
    """Produces ledger-numbered records at a steady pace on a background thread (a context manager).

    Each record's value comes from ``ledger.stamp(key)``; its send time and delivery report are kept:
    :meth:`frame` has one row per record (``id``, ``sent_s``, ``acked_s``, ``latency_ms``, ``error``,
    ``partition``, ``offset``; times are seconds after `t0`, a ``time.perf_counter()`` value). The client's
    log lines go to :attr:`log` instead of the notebook. `settings` (librdkafka's dotted names) configure the
    producer; with ``statistics.interval.ms`` among them, its statistics (retries, timeouts, reconnects) are
    sampled into :meth:`stats_frame`. Leaving the ``with`` block stops producing and flushes (up to
    `flush_timeout` s).

    >>> with NumberedStream(cluster, topic, per_second=300, partition=0, settings={"acks": "all"}) as stream:
    ...     time.sleep(2)
    >>> stream.frame().latency_ms.max()
    """

    def __init__(self, cluster: "Cluster", topic: str, per_second: float = 200, *, partition: int | None = None,
                 keys: int = 4, t0: float | None = None, flush_timeout: float = 60.0,
                 ledger: DeliveryLedger | None = None, settings: Mapping[str, Any] | None = None,
                 **keywords: Any) -> None:
        refuse_keywords("NumberedStream", keywords)
        self.topic, self.partition, self.keys = topic, partition, keys
        self.ledger = ledger if ledger is not None else DeliveryLedger()
        self.log: list[str] = []
        self.stats: list[dict[str, Any]] = []
        self.t0 = time.perf_counter() if t0 is None else t0
        self.flush_timeout = flush_timeout
        self.interval = 1.0 / per_second
        config: dict[str, Any] = {"logger": quiet_logger(f"stream-{topic}", self.log), **(settings or {})}
        if "statistics.interval.ms" in config:
            config["stats_cb"] = self._on_stats
        self.producer = cluster.producer(settings=config)
        self.unflushed = 0
        self._closed = False
        self._totals: dict[str, int] = {}
        self._last: dict[tuple[str, str], int] = {}
        self._rows: dict[Any, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream-{topic}", daemon=True)

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def __enter__(self) -> "NumberedStream":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "NumberedStream":
        return self.__enter__()

    def _on_stats(self, data: str) -> None:
        # The client's per-broker counters start again at 0 when it replaces a broker object (after losing
        # every connection it goes back to the bootstrap servers): add up the increments of each object.
        stats = json.loads(data)
        row: dict[str, Any] = {"t": self.now()}
        for name in COUNTERS:
            total = self._totals.get(name, 0)
            for broker, values in stats.get("brokers", {}).items():
                now, before = values.get(name, 0), self._last.get((broker, name), 0)
                total += now - before if now >= before else now
                self._last[(broker, name)] = now
            self._totals[name] = row[name] = total
        brokers = stats.get("brokers", {}).values()
        row["in_flight"] = sum(b.get("waitresp_cnt", 0) for b in brokers)
        row["queued"] = stats.get("msg_cnt", 0)
        self.stats.append(row)

    def _on_delivery(self, err: Any, msg: Any) -> None:
        self.ledger.on_delivery(err, msg)
        record_id = json.loads(msg.value())["id"]
        with self._lock:
            row = self._rows[record_id]
            row.update(acked_s=self.now(), error=str(err) if err else None,
                       error_code=err.name() if err else None, partition=msg.partition(),
                       offset=msg.offset() if err is None else None)
            row["latency_ms"] = (row["acked_s"] - row["sent_s"]) * 1000

    def _run(self) -> None:
        due = time.perf_counter()
        n = 0
        extra = {} if self.partition is None else {"partition": self.partition}
        while not self._stop.is_set():
            key = f"k{n % self.keys}"
            value = self.ledger.stamp(key)
            record_id = json.loads(value)["id"]
            with self._lock:
                self._rows[record_id] = {"id": record_id, "key": key, "sent_s": self.now()}
            while True:
                try:
                    self.producer.produce(self.topic, key=key, value=value, on_delivery=self._on_delivery, **extra)
                    break
                except BufferError:
                    self.producer.poll(0.05)
            n += 1
            self.producer.poll(0)
            due += self.interval
            pause = due - time.perf_counter()
            if pause > 0:
                self._stop.wait(pause)

    def stop(self, purge: bool = False) -> int:
        """Stop producing, flush; returns how many records are still without a delivery report (0 = all).

        With `purge` the records still queued or in flight are given up first (``Producer.purge()``: their
        delivery reports say ``_PURGE_QUEUE`` / ``_PURGE_INFLIGHT``), as an application does when it abandons a
        cluster that died instead of waiting ``message.timeout.ms`` for each."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)
        if self._thread.is_alive():  # closing a client that another thread still uses can crash the process
            raise TimeoutError("the background producer's thread did not stop within 60 s; the producer stays open")
        if purge and not self._closed:
            self.producer.purge()
        if not self._closed:
            self.unflushed = self.producer.flush(self.flush_timeout)
            self.producer.close()  # leave the brokers now: a later crash in the lesson stays out of its log
            self._closed = True
        return self.unflushed

    def frame(self) -> pd.DataFrame:
        """One row per record sent: id, key, sent_s, acked_s, latency_ms, error, error_code, partition, offset."""
        columns = ["id", "key", "sent_s", "acked_s", "latency_ms", "error", "error_code", "partition", "offset"]
        with self._lock:
            return pd.DataFrame([dict(row) for row in self._rows.values()], columns=columns)

    def stats_frame(self) -> pd.DataFrame:
        """The client's statistics over time (``statistics.interval.ms`` set): t, then counts since the start
        summed over its broker connections — tx (requests sent), txretries (requests sent again), req_timeouts
        (requests given up for lack of an answer), connects (connection attempts), disconnects — and, at that
        moment, in_flight (requests awaiting an answer) and queued (records not yet delivered)."""
        return pd.DataFrame(self.stats)


def create_topic_led_by(cluster: "Cluster", name: str, leader: int, partitions: int = 1,
                        config: dict[str, str] | None = None, timeout: float = 30.0) -> str:
    """Create `name` with every partition's replicas on every broker and broker `leader` first in each list
    (its preferred leader), and wait until `leader` leads them all. Killing `leader` then hits every partition.

    >>> create_topic_led_by(cluster3, kc.unique_name("acks"), leader=3, partitions=3)
    """
    from confluent_kafka.admin import NewTopic

    from .replication import wait_for

    brokers = sorted(int(b) for b in cluster.brokers().broker)
    if leader not in brokers:
        raise ValueError(f"broker {leader} is not among the live brokers {brokers}")
    replicas = [leader, *(b for b in brokers if b != leader)]
    topic = NewTopic(name, num_partitions=partitions, replica_assignment=[replicas] * partitions,
                     config=config or {})
    cluster.admin().create_topics([topic], request_timeout=timeout)[name].result()
    wait_for(cluster, name, lambda d: len(d) == partitions and (d.leader == leader).all(),
             f"broker {leader} leading every partition", timeout)
    return name


# -- retries that double records -----------------------------------------------------------------------------
def _one_key(producer: Any, topic: str, ledger: DeliveryLedger, n: int, pause: float = 0.0) -> None:
    """Produce `n` records of key "k", stamped by `ledger`; with `pause`, poll that long after each one."""
    for _ in range(n):
        producer.produce(topic, key="k", value=ledger.stamp("k"), on_delivery=ledger.on_delivery)
        if pause:
            producer.poll(pause)


def _flush_or_fail(producer: Any, what: str, timeout: float = 30.0) -> None:
    if producer.flush(timeout):
        raise TimeoutError(f"{what} got no delivery report in {timeout:g} s")


def _drop_then_heal(cluster: "Cluster", proxy: "FaultProxy", topic: str, settings: dict[str, Any], *,
                    direction: str, before: int, during: int, hold_s: float, after: int = 0,
                    what: str = "records of the experiment") -> DeliveryLedger:
    """The frame of both fault-proxy experiments: a producer with `settings` sends `before` records of key "k"
    through `proxy` (flushed: connection, metadata and producer id settle), the proxy drops `direction`,
    `during` records go out one request each, `hold_s` later the proxy heals, `after` more records follow;
    everything is flushed and the topic read back into the ledger."""
    ledger = DeliveryLedger()
    producer = cluster.producer(settings=settings)
    try:
        _one_key(producer, topic, ledger, before)
        _flush_or_fail(producer, f"the first {before} records through the proxy")
        proxy.drop(direction)
        try:
            _one_key(producer, topic, ledger, during, pause=0.05)  # > linger.ms: one ProduceRequest per record
            time.sleep(hold_s)
        finally:
            proxy.heal()
        _one_key(producer, topic, ledger, after, pause=0.05)
        _flush_or_fail(producer, what)
    finally:
        producer.close()
    return read_into(ledger, cluster, topic)


def reordering_under_lost_requests(cluster: "Cluster", proxy: "FaultProxy", topic: str, *, before: int = 5,
                                   lost: int = 5, after: int = 5, settings: Mapping[str, Any] | None = None,
                                   **keywords: Any) -> DeliveryLedger:
    """Produce one key through `proxy` while it swallows a few *requests*; return the read-back ledger.

    1. `before` records go through normally (connection, metadata and producer id settle).
    2. The proxy drops the ``to_broker`` direction: `lost` records are produced, one request each, and never
       reach the broker. The proxy heals.
    3. `after` records are produced (one request each); the broker stores and acknowledges them at once.
    4. After ``socket.timeout.ms`` (1000 ms here) the client gives the lost requests up, reconnects and sends
       them again.

    Without idempotence nothing stops the later requests from being stored first: the `lost` records land
    *behind* the `after` ones (``out_of_order_by_key`` > 0, unless ``max.in.flight.requests.per.connection=1``
    keeps the later records from being sent at all). With idempotence the broker refuses a batch whose
    sequence number skips one (OUT_OF_ORDER_SEQUENCE_NUMBER) and the client resends in order. `settings`
    (librdkafka's dotted names) add producer settings or override the ones above (``acks=all``,
    ``linger.ms=0``, ``socket.timeout.ms=1000``, ``delivery.timeout.ms=30000``); nothing else is set, so
    librdkafka's defaults apply (``enable.idempotence=false``, ``max.in.flight.requests.per.connection=1000000``).

    >>> reordering_under_lost_requests(cluster, proxy, topic, settings={"enable.idempotence": True}).summary()
    """
    refuse_keywords("reordering_under_lost_requests", keywords)
    config = {"bootstrap.servers": cluster.proxied_bootstrap_servers, "acks": "all", "linger.ms": 0,
              "socket.timeout.ms": 1000, "delivery.timeout.ms": 30000,
              "logger": quiet_logger(f"reorder-{topic}"), **(settings or {})}
    return _drop_then_heal(cluster, proxy, topic, config, direction="to_broker", before=before, during=lost,
                           hold_s=0.2, after=after)


def duplicates_under_lost_responses(cluster: "Cluster", proxy: "FaultProxy", topic: str, *, idempotence: bool,
                                    before: int = 10, during: int = 10, drop_s: float = 2.5,
                                    settings: Mapping[str, Any] | None = None, **keywords: Any) -> DeliveryLedger:
    """Produce through `proxy` while it swallows the broker's responses, then heal; return the read-back ledger.

    1. `before` records go through normally (connection and metadata settle).
    2. The proxy drops the ``to_client`` direction: requests still reach the broker, which appends them, but
       its responses vanish. `during` records are produced, one batch each.
    3. After ``socket.timeout.ms`` (1000 ms here) the client gives those requests up, closes the connection
       and retries them; `drop_s` (longer than that) later the proxy heals, the retries get through.
    4. Every record is delivered; the topic is read back into the ledger: without idempotence each retried
       record is stored twice; with it, the broker recognises the (producer id, sequence) and stores it once.

    Uses ``acks=all``, ``linger.ms=5`` and a long ``delivery.timeout.ms`` (30 s): the retries must happen, not
    time out. `settings` (librdkafka's dotted names) add producer settings or override those.

    >>> duplicates_under_lost_responses(cluster, proxy, topic, idempotence=True).summary()["duplicates"]
    """
    refuse_keywords("duplicates_under_lost_responses", keywords)
    config = {"bootstrap.servers": cluster.proxied_bootstrap_servers, "acks": "all",
              "enable.idempotence": idempotence, "socket.timeout.ms": 1000, "linger.ms": 5,
              "delivery.timeout.ms": 30000, "logger": quiet_logger(f"dups-{topic}"), **(settings or {})}
    return _drop_then_heal(cluster, proxy, topic, config, direction="to_client", before=before, during=during,
                           hold_s=drop_s, what="records produced while the responses were dropped")


# -- partitioners ------------------------------------------------------------------------------------------------
def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (``org.apache.kafka.common.utils.Utils.murmur2``) as an unsigned 32-bit int."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    h = (0x9747B28C ^ len(data)) & mask
    whole = len(data) - len(data) % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    rest = data[whole:]
    if len(rest) == 3:
        h ^= rest[2] << 16
    if len(rest) >= 2:
        h ^= rest[1] << 8
    if rest:
        h ^= rest[0]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h


def partition_for(key: bytes | str, partitions: int, partitioner: str = "consistent_random") -> int:
    """The partition a keyed record goes to: librdkafka's default ``consistent_random`` (CRC32 of the key) or
    ``murmur2_random`` (murmur2, the Java client's default partitioner for keyed records).

    >>> partition_for("o-0001", 6), partition_for("o-0001", 6, "murmur2_random")
    """
    import zlib

    data = key.encode() if isinstance(key, str) else key
    if partitioner in ("consistent", "consistent_random"):
        return zlib.crc32(data) % partitions
    if partitioner in ("murmur2", "murmur2_random"):
        return (murmur2(data) & 0x7FFFFFFF) % partitions
    raise ValueError(f"partitioner {partitioner!r}: use 'consistent_random' or 'murmur2_random'")
