"""The inventory lab's harness (Day 3, lab 08): set-up, the crash scenario, and the checks' verdicts.

The learner's consumer is two module files the lab's cells write (``inventory_store.py``,
``inventory_consumer.py``); :meth:`InventoryLab.run_scenario` starts it as a real process through
``courseapps.day3.inventory_runner`` (``ServiceProcess``), feeds it ``OrderPlaced`` events (Avro, through the
registry), kills it, restarts it, and reads back what happened: the stock table, the DLQ, the retry topic, the
group's committed offsets. :meth:`InventoryLab.problem` turns that into one hint per check (None = passed).

The scenario, on fresh topics, group and database each run:

1. **orders**: 24 orders for mug and tea, 2 malformed values, 2 orders for an unknown sku (one also has a
   mug line), and one order each for the skus ``crash-in-hand``, ``crash-before-commit``,
   ``crash-after-commit``, at whose records the process SIGKILLs itself (see ``inventory_runner``); each
   time it is restarted.
2. **locked stock**: the stock table is locked (``inventory_stock.locked``) while 6 lamp orders arrive, until
   one of them reached the retry topic; then it is released.
3. **random kill**: 80 orders for pen and cup; once a fifth of their units are applied the process gets a
   SIGKILL from outside, and is restarted.

>>> lab = InventoryLab.create(cluster)
>>> result = lab.run_scenario()
>>> lab.problem("dlq", result)     # None, or what to look at
"""

from __future__ import annotations

import json
import random
import re
import runpy
import shutil
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from courseapps.day3 import inventory_stock as stock
from kafkacourse.cluster import unique_name
from kafkacourse.instruments.processes import ServiceProcess
from kafkacourse.instruments.retry import headers_of, wait_until_consumed
from kafkacourse.instruments.schemas import delete_subjects, load_avro

if TYPE_CHECKING:
    from kafkacourse.cluster import Cluster

INITIAL_STOCK = {"mug": 500, "tea": 500, "lamp": 100, "pen": 500, "cup": 500,
                 "crash-in-hand": 10, "crash-before-commit": 10, "crash-after-commit": 10}
CRASH_KINDS = ("in-hand", "before-commit", "after-commit")
REQUIRED_HEADERS = ("error.reason", "error.exception", "error.original.topic", "error.original.partition",
                    "error.original.offset")
CHECKS = ("ran", "in-hand", "before-commit", "after-commit", "random-kill", "stock", "dlq", "retry", "offsets")


@dataclass
class ScenarioResult:
    """What one scenario run left behind, read from the database, the topics and the group."""

    topic: str
    retry_topic: str
    dlq_topic: str
    group: str
    initial: dict[str, int]
    final: dict[str, int] = field(default_factory=dict)
    ordered: Counter = field(default_factory=Counter)        # sku -> units of valid orders
    poison: dict[tuple[int, int], str] = field(default_factory=dict)   # (partition, offset) -> expected reason
    lamp_orders: set[tuple[int, int]] = field(default_factory=set)
    fired: list[str] = field(default_factory=list)            # crash kinds that fired
    starts: int = 0
    external_kill: bool = False
    killed_after: tuple[int, int] | None = None                # (units applied, units ordered) in phase 3 at the kill
    dlq: list[dict[str, Any]] = field(default_factory=list)   # per DLQ record: its headers + partition/offset
    retry: list[dict[str, Any]] = field(default_factory=list)
    lag: dict[str, dict[int, int]] = field(default_factory=dict)
    error: str | None = None                                   # why the scenario could not finish
    seconds: dict[str, float] = field(default_factory=dict)    # how long each phase took
    log: str = ""

    def expected(self) -> dict[str, int]:
        return {sku: qty - self.ordered.get(sku, 0) for sku, qty in self.initial.items()}

    def table(self):
        """sku, initial, ordered, expected, final: the stock as a DataFrame."""
        import pandas as pd

        expected = self.expected()
        return pd.DataFrame([{"sku": sku, "initial": self.initial[sku], "ordered": self.ordered.get(sku, 0),
                              "expected": expected[sku], "final": self.final.get(sku)} for sku in self.initial])


class InventoryLab:
    """Everything the lab's check cells need; see the module docstring."""

    def __init__(self, cluster: "Cluster", lab_dir: Path) -> None:
        self.cluster = cluster
        self.lab_dir = Path(lab_dir)
        self.code_dir = self.lab_dir / "code"
        self.code_dir.mkdir(parents=True, exist_ok=True)
        self.registry = SchemaRegistryClient({"url": cluster.schema_registry_url})
        self.schema = load_avro("OrderPlaced")
        self.domain = unique_name("lab")
        self.runs = 0
        self._topics: list[str] = []
        self._subjects: list[str] = []
        self.process: ServiceProcess | None = None

    @classmethod
    def create(cls, cluster: "Cluster", lab_dir: Path | str | None = None) -> "InventoryLab":
        """A lab with its own folder (default: a fresh one under the course home) for code and database."""
        if lab_dir is None:
            from kafkacourse.stack import runtime
            lab_dir = runtime.home() / "labs" / unique_name("inventory")
        return cls(cluster, Path(lab_dir))

    # -- events --------------------------------------------------------------------------------------------------
    def event(self, lines: list[tuple[str, int]], order_id: str | None = None) -> dict[str, Any]:
        """An OrderPlaced event with these (sku, quantity) lines."""
        order_id = order_id or f"o-{uuid.uuid4().hex[:10]}"
        items = [{"sku": sku, "quantity": qty, "unit_price_cents": 250} for sku, qty in lines]
        return {"event_id": str(uuid.uuid4()), "order_id": order_id, "customer_id": "c-1", "lines": items,
                "total_cents": sum(i["quantity"] * 250 for i in items), "currency": "EUR",
                "placed_at": datetime.now(timezone.utc)}

    def _produce(self, topic: str, records: list[tuple[str, bytes]]) -> list[tuple[int, int]]:
        """Produce (key, value) records in order; their (partition, offset), in the same order."""
        where: dict[int, tuple[int, int]] = {}
        producer = self.cluster.producer(settings={"acks": "all", "enable.idempotence": True})
        try:
            for index, (key, value) in enumerate(records):
                producer.produce(topic, key=key, value=value,
                                 on_delivery=lambda err, msg, i=index: where.__setitem__(i, (msg.partition(), msg.offset())))
            if producer.flush(30):
                raise TimeoutError(f"orders to {topic} not acknowledged within 30 s")
        finally:
            producer.flush(5)
        return [where[i] for i in range(len(records))]

    # -- the in-kernel check of step 1 -----------------------------------------------------------------------------
    def check_store(self) -> str | None:
        """Run the learner's apply_order (inventory_store.py) against a scratch database; a hint or None."""
        path = self.code_dir / "inventory_store.py"
        if not path.exists():
            return "inventory_store.py does not exist yet: run the cell of step 1 (it writes the file)"
        try:
            apply_order = runpy.run_path(str(path))["apply_order"]
        except Exception as exc:
            return f"inventory_store.py does not load: {type(exc).__name__}: {exc}"
        scratch = stock.create(self.lab_dir / "scratch.db", {"mug": 10, "tea": 10})
        db = stock.connect(scratch)
        try:
            order = self.event([("mug", 2), ("tea", 1)])
            apply_order(db, order)
            if stock.levels(scratch) != {"mug": 8, "tea": 9}:
                return f"after one order for 2 mug and 1 tea the stock reads {stock.levels(scratch)}, expected mug 8, tea 9"
            apply_order(db, order)
            if stock.levels(scratch) != {"mug": 8, "tea": 9}:
                return ("the same event applied a second time decremented the stock again "
                        f"({stock.levels(scratch)}): a redelivered event must change nothing. How can apply_order "
                        "tell that it has seen this event before, even after a restart?")
            try:
                apply_order(db, self.event([("mug", 1), ("unicorn", 1)]))
                raised: BaseException | None = None
            except Exception as exc:
                raised = exc
            if not isinstance(raised, stock.UnknownProduct):
                return (f"an order with the unknown sku 'unicorn' {'raised ' + type(raised).__name__ if raised else 'raised nothing'}"
                        ": apply_order should raise UnknownProduct (look at what UPDATE tells you about the rows it changed)")
            db.commit()  # what the next order's transaction would do with anything left pending
            if stock.levels(scratch)["mug"] != 8:
                return ("an order for 1 mug and 1 unknown sku still took the mug off the shelf: an order is applied "
                        "with all its lines or not at all (what makes several statements one unit in SQLite?)")
        except NotImplementedError as exc:
            return f"apply_order still raises NotImplementedError ({exc}): write its body"
        except Exception as exc:
            return f"apply_order failed: {type(exc).__name__}: {exc}"
        finally:
            db.close()
        return None

    # -- the scenario ----------------------------------------------------------------------------------------------
    def _fresh_run(self) -> tuple[ScenarioResult, dict[str, Any]]:
        for topic in self._topics:
            self.cluster.delete_topic(topic)
        self.runs += 1
        base = f"{self.domain}.inventory.run{self.runs}"
        topic, retry_topic, dlq_topic = f"{base}.orders", f"{base}.orders.retry", f"{base}.orders.dlq"
        for name in (topic, retry_topic, dlq_topic):
            self.cluster.create_topic(name, partitions=3 if name != dlq_topic else 1)
        self._topics = [topic, retry_topic, dlq_topic]
        subject = f"{topic}-value"
        self.registry.register_schema(subject, Schema(json.dumps(self.schema), "AVRO"))
        self._subjects.append(subject)
        self.serializer = AvroSerializer(self.registry, json.dumps(self.schema), conf={"auto.register.schemas": False})
        self.context = SerializationContext(topic, MessageField.VALUE)
        db_path = stock.create(self.lab_dir / "stock.db", INITIAL_STOCK)
        fired = self.lab_dir / "crash-points-fired.jsonl"
        fired.unlink(missing_ok=True)
        config = {"topic": topic, "retry_topic": retry_topic, "dlq_topic": dlq_topic,
                  "group": unique_name(f"{self.domain}-inventory"), "instance_id": unique_name("inventory"),
                  "db_path": str(db_path), "bootstrap_servers": self.cluster.bootstrap_servers,
                  "schema_registry_url": self.cluster.schema_registry_url, "fired_file": str(fired),
                  "crash_points": []}
        result = ScenarioResult(topic, retry_topic, dlq_topic, config["group"], dict(INITIAL_STOCK))
        return result, config

    def _serialized(self, lines: list[tuple[str, int]], result: ScenarioResult) -> tuple[str, bytes]:
        event = self.event(lines)
        for sku, qty in lines:
            result.ordered[sku] += qty
        return event["order_id"], self.serializer(event, self.context)

    def run_scenario(self, progress: bool = True, timeout: float = 40.0) -> ScenarioResult:
        """Run the whole scenario against the learner's code; never raises for the learner's mistakes (they
        end up in ``result.error`` and the checks' hints)."""
        from tqdm.auto import tqdm

        result, config = self._fresh_run()
        rng = random.Random(8)
        bar = tqdm(total=6, desc="scenario", leave=False, disable=not progress)
        try:
            # phase 1: orders, poison, crash points
            records: list[tuple[str, bytes]] = []
            kinds: list[str] = []
            for i in range(24):
                records.append(self._serialized([(rng.choice(["mug", "tea"]), rng.randint(1, 3))], result))
                kinds.append("order")
                if i in (3, 11):
                    records.append((f"o-bad-{i}", b'{"order_id": "o-json", "sku": "mug"}' if i == 3 else
                                    self.serializer(self.event([("mug", 1)]), self.context)[:14]))
                    kinds.append("malformed")
                if i in (6, 17):
                    event = self.event([("mug", 1), ("unicorn", 1)] if i == 6 else [("unicorn", 2)])
                    records.append((event["order_id"], self.serializer(event, self.context)))
                    kinds.append("unknown-product")
                if i in (8, 14, 20):
                    kind = CRASH_KINDS[(8, 14, 20).index(i)]
                    records.append(self._serialized([(f"crash-{kind}", 1)], result))
                    kinds.append(kind)
            where = self._produce(result.topic, records)
            for kind, (partition, offset) in zip(kinds, where):
                if kind in ("malformed", "unknown-product"):
                    result.poison[(partition, offset)] = kind
                elif kind in CRASH_KINDS:
                    config["crash_points"].append({"kind": kind, "topic": result.topic, "partition": partition,
                                                   "offset": offset})
            config_path = self.lab_dir / "lab-config.json"
            config_path.write_text(json.dumps(config, indent=1))
            self.process = ServiceProcess("courseapps.day3.inventory_runner", str(config_path), str(self.code_dir),
                                          name="inventory-consumer", log_dir=self.lab_dir / "logs")
            self.process.start()
            result.starts = 1
            bar.update()
            started = time.monotonic()
            self._drain(result, timeout, restart_on_crash=True)
            result.seconds["orders and crash points"] = time.monotonic() - started
            bar.update()

            # phase 2: the stock table is locked while lamp orders arrive
            started = time.monotonic()
            with stock.locked(config["db_path"]):
                lamp = [self._serialized([("lamp", rng.randint(1, 2))], result) for _ in range(6)]
                result.lamp_orders = set(self._produce(result.topic, lamp))
                deadline = time.monotonic() + 8
                held_from = time.monotonic()
                while time.monotonic() < deadline and (time.monotonic() - held_from < 0.6 or
                                                       not sum(self.cluster.end_offsets(result.retry_topic).values())):
                    self._alive_or_raise()
                    time.sleep(0.1)
            bar.update()
            self._drain(result, timeout)
            result.seconds["locked stock"] = time.monotonic() - started
            bar.update()

            # phase 3: a SIGKILL from outside at a random moment
            started = time.monotonic()
            before = stock.levels(config["db_path"])
            ordered_before = sum(result.ordered[s] for s in ("pen", "cup"))
            batch = [self._serialized([(rng.choice(["pen", "cup"]), rng.randint(1, 3))], result) for _ in range(80)]
            units = sum(result.ordered[s] for s in ("pen", "cup")) - ordered_before
            self._produce(result.topic, batch)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                self._alive_or_raise()
                now = stock.levels(config["db_path"])
                if sum(before[s] - now[s] for s in ("pen", "cup")) >= units / 5:
                    break
                time.sleep(0.03)
            self.process.kill()
            now = stock.levels(config["db_path"])
            result.killed_after = (sum(before[s] - now[s] for s in ("pen", "cup")), units)
            result.external_kill = True
            self.process.restart()
            result.starts += 1
            bar.update()
            self._drain(result, timeout)
            result.seconds["random kill"] = time.monotonic() - started
            started = time.monotonic()
            self.process.terminate(timeout=20)
            result.seconds["SIGTERM"] = time.monotonic() - started
            bar.update()
        except _ScenarioStopped as stop:
            result.error = str(stop)
        finally:
            bar.close()
            if self.process is not None and self.process.alive:
                self.process.kill()
            self._read_back(result, config)
        return result

    def _alive_or_raise(self) -> None:
        assert self.process is not None
        if not self.process.alive:
            raise _ScenarioStopped(self._exit_story())

    def _exit_story(self) -> str:
        assert self.process is not None
        lines = [line for line in self.process.log(this_run=True).splitlines() if line.strip()]
        tail = "\n".join(lines[-4:]) or "(it printed nothing)"
        return f"your consumer exited with code {self.process.returncode}; the end of its log:\n{tail}"

    def _drain(self, result: ScenarioResult, timeout: float, restart_on_crash: bool = False) -> None:
        """Wait until the group committed the end of the orders and retry topics; restart after crash points."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            if not self.process.alive:
                crashed = self.process.returncode == -9 and "crash point" in self.process.log(this_run=True)
                if not (restart_on_crash and crashed):
                    raise _ScenarioStopped(self._exit_story())
                kind = re.search(r"crash point (\S+)", self.process.log(this_run=True)).group(1)
                result.fired.append(kind)
                self.process.restart()
                result.starts += 1
            try:
                wait_until_consumed(self.cluster, result.group, [result.topic, result.retry_topic],
                                    timeout=1.0, settle=0.6, check=self._alive_or_raise)
                return
            except TimeoutError:
                pass
            except _ScenarioStopped:
                if not restart_on_crash:
                    raise
            if time.monotonic() > deadline:
                lag = {t: self.cluster.group_offsets(result.group, t).lag.sum() for t in (result.topic, result.retry_topic)}
                raise _ScenarioStopped(f"your consumer did not commit everything within {timeout:.0f} s (records "
                                       f"not committed: {lag}); the end of its log:\n"
                                       + "\n".join(self.process.log(this_run=True).splitlines()[-3:]))

    def _read_back(self, result: ScenarioResult, config: dict[str, Any]) -> None:
        result.final = stock.levels(config["db_path"])
        for topic, rows in ((result.dlq_topic, result.dlq), (result.retry_topic, result.retry)):
            for msg in self.cluster.messages(topic, timeout=20):
                rows.append({"partition": msg.partition(), "offset": msg.offset(), **headers_of(msg)})
        for topic in (result.topic, result.retry_topic):
            offsets = self.cluster.group_offsets(result.group, topic)
            result.lag[topic] = {int(p): int(lag) for p, lag in zip(offsets.partition, offsets.lag) if lag}
        result.log = self.process.log() if self.process else ""

    # -- verdicts -------------------------------------------------------------------------------------------------
    def problem(self, check: str, result: ScenarioResult) -> str | None:
        """The hint for one check (see CHECKS), or None when it passes."""
        if check not in CHECKS:
            raise ValueError(f"unknown check {check!r}; the checks are {CHECKS}")
        if check == "ran":
            return result.error
        if result.error:
            return f"the scenario did not get through: {result.error.splitlines()[0]} (see the first check)"
        return getattr(self, "_" + check.replace("-", "_"))(result)

    def _crash(self, result: ScenarioResult, kind: str, lost: str, doubled: str) -> str | None:
        sku = f"crash-{kind}"
        if kind not in result.fired:
            return (f"the {kind} crash point never fired: make your consumer with ctx.consumer(...), read with its "
                    "poll() and commit with its commit(), so the checks can kill it at the right moment")
        change = result.initial[sku] - result.final[sku]
        if change == 0:
            return lost
        if change > 1:
            return doubled
        return None

    def _in_hand(self, result: ScenarioResult) -> str | None:
        return self._crash(result, "in-hand",
                           lost=("the order for crash-in-hand was lost: your consumer died while it still worked on "
                                 "it, and after the restart the group's committed offset was already past it. Your "
                                 "code had not committed it: who else commits offsets in a librdkafka consumer, "
                                 "and when? (lesson 01; librdkafka's defaults)"),
                           doubled="the order for crash-in-hand was applied twice (see the before-commit check)")

    def _before_commit(self, result: ScenarioResult) -> str | None:
        return self._crash(result, "before-commit",
                           lost="the order for crash-before-commit was lost: look at what your loop does before it commits",
                           doubled=("the order for crash-before-commit was applied twice: the process died after the "
                                    "stock write and before the commit, so the restarted consumer got the same event "
                                    "again and decremented again. What does your consumer remember about the events it "
                                    "has applied, and does that memory survive a crash? (lesson 07)"))

    def _after_commit(self, result: ScenarioResult) -> str | None:
        return self._crash(result, "after-commit",
                           lost=("the order for crash-after-commit was lost: its offset was committed, the process "
                                 "died, and its stock was never decremented. Look at the order of the stock write "
                                 "and the commit in your loop"),
                           doubled="the order for crash-after-commit was applied twice: see the before-commit check")

    def _off_by(self, result: ScenarioResult, skus: list[str]) -> dict[str, int]:
        expected = result.expected()
        return {sku: result.final[sku] - expected[sku] for sku in skus if result.final[sku] != expected[sku]}

    def _random_kill(self, result: ScenarioResult) -> str | None:
        off = self._off_by(result, ["pen", "cup"])
        if not off:
            return None
        return (f"after a SIGKILL at a random moment the stock is off by {off} (positive: orders missed, negative: "
                "applied twice). Check when you commit, and that a redelivered event changes nothing")

    def _stock(self, result: ScenarioResult) -> str | None:
        off = self._off_by(result, list(result.initial))
        if not off:
            return None
        return (f"final stock minus expected stock: {off} (positive: units never taken off the shelf, negative: "
                "taken off twice). result.table() shows every product")

    def _dlq(self, result: ScenarioResult) -> str | None:
        if not result.dlq:
            return (f"the DLQ ({result.dlq_topic}) is empty: the {len(result.poison)} poison events (2 malformed values, "
                    "2 orders for an unknown sku) should each be written there, then committed")
        missing = sorted({h for row in result.dlq for h in REQUIRED_HEADERS if h not in row})
        if missing:
            return (f"DLQ records lack the headers {missing}: a dead letter must say why it failed and where it "
                    "came from (topic, partition, offset), so someone can find the cause and replay it (lesson 05, "
                    "section 4)")
        seen = Counter((int(r["error.original.partition"]), int(r["error.original.offset"])) for r in result.dlq
                       if r["error.original.topic"] == result.topic)
        extra = sorted(set(seen) - set(result.poison))
        if extra:
            lamp = [where for where in extra if where in result.lamp_orders]
            return ((f"{len(lamp)} lamp orders went to the DLQ: a locked stock table is a transient error, for the "
                     "retry topic" if lamp else
                     f"the DLQ holds records that are not poison (partition, offset): {extra[:5]}"))
        absent = sorted(set(result.poison) - set(seen))
        if absent:
            return f"these poison events never reached the DLQ (partition, offset): {absent}"
        reasons = {(int(r["error.original.partition"]), int(r["error.original.offset"])): r["error.reason"]
                   for r in result.dlq}
        wrong = {where: reasons[where] for where, reason in result.poison.items() if reasons[where] != reason}
        if wrong:
            return (f"error.reason says {sorted(set(wrong.values()))} where it should say 'malformed' (bytes that are not "
                    "an OrderPlaced event) or 'unknown-product' (a sku the stock table does not know)")
        return None

    def _retry(self, result: ScenarioResult) -> str | None:
        if not result.retry:
            return ("nothing reached the retry topic while the stock table was locked: what does SQLite raise when "
                    "another connection holds the lock, and where does your handler send the order then?")
        off = self._off_by(result, ["lamp"])
        if off:
            return (f"the lamp orders that met the locked table were not all applied later (lamp off by {off['lamp']}): "
                    "does your consumer read the retry topic too, and try them again once they are due?")
        return None

    def _offsets(self, result: ScenarioResult) -> str | None:
        behind = {topic: lag for topic, lag in result.lag.items() if lag}
        if behind:
            return f"records left uncommitted (topic: partition → lag): {behind}"
        return None

    # -- clean up ---------------------------------------------------------------------------------------------------
    def cleanup(self) -> None:
        """Stop the consumer, delete the topics and subjects of every run, remove the lab folder."""
        if self.process is not None and self.process.alive:
            self.process.kill()
        for topic in self._topics:
            self.cluster.delete_topic(topic)
        delete_subjects(self.registry, self._subjects)
        shutil.rmtree(self.lab_dir, ignore_errors=True)


class _ScenarioStopped(Exception):
    """The learner's consumer exited or stalled: the scenario ends early and the checks say why."""
