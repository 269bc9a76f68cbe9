"""The capstone lab's harness: the learner's inventory service run inside the whole system, and the verdicts.

The learner writes two module files (the lab's ``%%writefile`` cells): ``inventory_store.py`` (``reserve`` and
``release`` on the inventory's SQLite store: the reservation and its compensation) and ``inventory_service.py``
(the service's consumer loop). :meth:`InventoryLab.run_scenario` starts the whole capstone system
(:class:`courseapps.capstone.system.System`) with ``System.replace("inventory", module="inventory_service")``
and runs, on a fresh run (topics, schemas, stores):

1. **crash points**: two orders are placed; inventory SIGKILLs itself at each (``lab_consumer``: a Consumer
   that watches the first two orders it reads): ``before-commit`` — at the commit that covers the first,
   before it reaches the broker (the order comes back: a redelivery); ``after-commit`` — once the commit of
   the second returned. Each time the harness restarts inventory.
2. **load with failures**: orders placed on the orders API at a steady rate, the payment provider declining
   a share of them, one sku too scarce for the demand; meanwhile inventory is SIGKILLed from outside and
   restarted (``faults.kill_service``) and a poison record is written to ``orders.placed`` (``faults.poison``).
3. **settle and grade**: once every order is terminal (or nothing moves any more), the system's checker
   (:mod:`courseapps.capstone.checker`) grades the invariants; :meth:`InventoryLab.problem` turns each into
   a hint (None = passed).

>>> lab = InventoryLab.create(cluster)
>>> result = lab.run_scenario()
>>> lab.problem("compensation", result)
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import sqlite3
import sys
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from courseapps.day3.inventory_runner import CrashPointConsumer
from kafkacourse.cluster import unique_name

if TYPE_CHECKING:
    from kafkacourse.cluster import Cluster

MODULE = "inventory_service"           # the learner's service module (python -m inventory_service)
STORE_MODULE = "inventory_store"
CRASH_FILE = "crash-points.json"       # in the run dir, beside the stores
FIRED_FILE = "crash-points-fired.jsonl"
CRASH_KINDS = ("before-commit", "after-commit")
STOCK = {"sku-red": 300, "sku-green": 300, "sku-blue": 300, "sku-rare": 4}
PRICES = {"sku-red": 499, "sku-green": 1250, "sku-blue": 2000, "sku-rare": 9900}
CHECKS = ("ran", "answered", "never-negative", "redelivery", "compensation", "dlq")


# -- inside the learner's service process ------------------------------------------------------------------------
class KeyedCrashConsumer(CrashPointConsumer):
    """Day 3's CrashPointConsumer whose crash points name a topic instead of an offset: each point takes the
    first record of its topic whose key no other point took (so two points hit two different orders, also
    across restarts: the fired file says which keys were taken)."""

    def __init__(self, config: dict[str, Any], crash_points: list[dict[str, Any]], fired_file: Path) -> None:
        fired = [json.loads(line) for line in (fired_file.read_text().splitlines() if fired_file.exists() else [])]
        self._taken = {p["key"] for p in fired}
        done = {p["kind"] for p in fired}
        self._open = [p for p in crash_points if p["kind"] not in done]
        super().__init__(config, [], fired_file)

    def _watch(self, msg: Any) -> None:
        if self._open and msg is not None and not msg.error() and msg.key() is not None:
            key = msg.key().decode(errors="replace")
            point = next((p for p in self._open if p["topic"] == msg.topic()), None)
            if point is not None and key not in self._taken:
                self._open.remove(point)
                self._taken.add(key)
                self._points.append({**point, "key": key, "partition": msg.partition(), "offset": msg.offset()})
        super()._watch(msg)


def lab_consumer(config: dict[str, Any], store: str | Path) -> Any:
    """The inventory's Consumer: with the lab's crash points when the run dir (the store's folder) has them,
    else a plain confluent-kafka Consumer."""
    from confluent_kafka import Consumer

    run_dir = Path(store).resolve().parent
    points = run_dir / CRASH_FILE
    if not points.exists():
        return Consumer(config)
    return KeyedCrashConsumer(config, json.loads(points.read_text()), run_dir / FIRED_FILE)


# -- in the notebook --------------------------------------------------------------------------------------------
@dataclass
class ScenarioResult:
    """What one run of the scenario left behind."""

    prefix: str
    run_dir: Path
    crash_orders: dict[str, str] = field(default_factory=dict)     # kind → order id
    fired: list[str] = field(default_factory=list)                 # crash kinds that fired
    placed: int = 0
    error: str | None = None                                       # why the scenario did not get through
    settled: bool = False
    invariants: pd.DataFrame | None = None
    orders: pd.DataFrame | None = None
    stock: pd.DataFrame | None = None
    reservations: pd.DataFrame | None = None
    dlq_keys: list[str] = field(default_factory=list)
    poison_keys: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """The invariants as the system's checker graded them."""
        return self.invariants if self.invariants is not None else pd.DataFrame()


class InventoryLab:
    """One learner's lab: a folder for their code, the runs, and the verdicts."""

    def __init__(self, cluster: "Cluster", lab_dir: Path) -> None:
        self.cluster = cluster
        self.lab_dir = Path(lab_dir)
        self.code_dir = self.lab_dir / "code"
        self.runs: list[Any] = []
        self._dashboard: Any = None

    @classmethod
    def create(cls, cluster: "Cluster", lab_dir: Path | str | None = None) -> "InventoryLab":
        """A lab with a fresh folder (default: ~/.kafka-course/labs/capstone-<unique>)."""
        from kafkacourse.stack.runtime import home

        lab = cls(cluster, Path(lab_dir) if lab_dir else home() / "labs" / unique_name("capstone-lab"))
        lab.code_dir.mkdir(parents=True, exist_ok=True)
        return lab

    # -- step 1: the store, on a scratch database --------------------------------------------------------------
    def _store_module(self):
        path = self.code_dir / f"{STORE_MODULE}.py"
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist yet: run the %%writefile cell of step 1")
        spec = importlib.util.spec_from_file_location(f"{STORE_MODULE}_{uuid.uuid4().hex[:6]}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def check_store(self) -> str | None:
        """Step 1's check: reserve and release on a scratch store; None, or what is wrong (a hint)."""
        try:
            store = self._store_module()
        except Exception as exc:
            return f"inventory_store.py does not import: {type(exc).__name__}: {exc}"
        db = sqlite3.connect(":memory:", isolation_level=None)
        db.executescript(store.SCHEMA)
        store.seed(db, {"a": 5, "b": 1})

        def order(order_id: str, *lines: tuple[str, int]) -> dict[str, Any]:
            return {"event_id": str(uuid.uuid4()), "order_id": order_id, "customer_id": "c", "total": 100,
                    "occurred_at": 0, "placed_at": 0,
                    "lines": [{"sku": s, "quantity": q, "unit_price": 10} for s, q in lines]}

        def available() -> dict[str, int]:
            return dict(db.execute("SELECT sku, available FROM stock"))

        def kinds(published) -> list[str]:
            return [suffix for suffix, _ in published]

        try:
            first = store.reserve(db, order("o1", ("a", 2)))
            if kinds(first) != ["inventory.reserved"] or available() != {"a": 3, "b": 1}:
                return (f"reserving 2 of a (5 in stock) published {kinds(first)} and left {available()}: an order "
                        "whose every line is in stock takes its units and publishes one inventory.reserved")
            again = store.reserve(db, order("o1", ("a", 2)))
            if available() != {"a": 3, "b": 1} or kinds(again) != ["inventory.reserved"]:
                return (f"the same order delivered again left {available()} and published {kinds(again)}: "
                        "a redelivered OrderPlaced must change nothing and give the same answer. What does your "
                        "store remember about the orders it has answered?")
            if again[0][1]["event_id"] != first[0][1]["event_id"]:
                return "the answer to a redelivered order has a new event_id: its consumers cannot tell it is the same event"
            short = store.reserve(db, order("o2", ("a", 1), ("b", 2)))
            if kinds(short) != ["inventory.rejected"] or available() != {"a": 3, "b": 1}:
                return (f"an order for 2 of b (1 in stock) published {kinds(short)} and left {available()}: "
                        "stock must never go negative, and an order is reserved whole or not at all")
            released = store.release(db, {"event_id": "f1", "order_id": "o1", "occurred_at": 0, "reason": "declined"})
            if kinds(released) != ["inventory.released"] or available() != {"a": 5, "b": 1}:
                return (f"a PaymentFailed for a reserved order published {kinds(released)} and left {available()}: "
                        "the compensation gives the held units back and says so")
            twice = store.release(db, {"event_id": "f1", "order_id": "o1", "occurred_at": 0, "reason": "declined"})
            if available() != {"a": 5, "b": 1}:
                return (f"the same PaymentFailed delivered twice left {available()}: a release must give the "
                        f"units back once (published {kinds(twice)})")
            none = store.release(db, {"event_id": "f2", "order_id": "o2", "occurred_at": 0, "reason": "declined"})
            if available() != {"a": 5, "b": 1} or none:
                return (f"a PaymentFailed for a rejected order published {kinds(none)} and left {available()}: "
                        "nothing was held for it, so nothing comes back")
        except NotImplementedError as exc:
            return f"{exc}"
        except Exception as exc:
            return f"your store raised {type(exc).__name__}: {exc}"
        finally:
            db.close()
        return None

    # -- the scenario ------------------------------------------------------------------------------------------
    @contextmanager
    def _code_on_path(self):
        """The learner's folder on PYTHONPATH for the services this process starts (python -m inventory_service)."""
        before = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.code_dir), before) if p)
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = before

    def run_scenario(self, progress: bool = True, orders: int = 36, rate: float = 12.0,
                     settle_timeout: float = 45.0, dashboard: bool = False) -> ScenarioResult:
        """Run the whole scenario (module docstring) against the learner's files; what it left behind.

        `dashboard`: serve the capstone dashboard of this run while it lasts and show it (an IFrame in
        JupyterLab: it keeps updating while this call runs, fed by Prometheus and the cluster)."""
        from courseapps.capstone import checker, faults
        from courseapps.capstone.system import System
        from kafkacourse.instruments.load import fire

        for name in (STORE_MODULE, MODULE):
            if not (self.code_dir / f"{name}.py").exists():
                raise FileNotFoundError(f"{self.code_dir / name}.py does not exist yet: run its %%writefile cell")
        prefix = unique_name("caplab")
        run_dir = self.lab_dir / prefix
        result = ScenarioResult(prefix, run_dir)
        for name, step in ((STORE_MODULE, 1), (MODULE, 2)):
            if "raise NotImplementedError" in (self.code_dir / f"{name}.py").read_text():
                result.error = f"step {step} is still to do ({name}.py raises NotImplementedError): the scenario needs it"
                return result
        say = print if progress else (lambda *a, **k: None)
        system = System(prefix, cluster=self.cluster, run_dir=run_dir, stock=STOCK,
                        provider={"latency_ms": 5, "decline_rate": 0.0, "error_rate": 0.0})  # 0.3 after the crash points
        system.replace("inventory", module=MODULE)
        run_dir.mkdir(parents=True)
        topic = system.topics["orders.placed"]
        (run_dir / CRASH_FILE).write_text(json.dumps([{"kind": kind, "topic": topic} for kind in CRASH_KINDS]))
        self.runs.append(system)
        started = time.monotonic()
        with self._code_on_path():
            try:
                say("starting the system with your inventory service …")
                system.start(timeout=90)
                result.seconds["start"] = time.monotonic() - started
                if dashboard:
                    self._show_dashboard(system)
                self._crash_points(system, result, say)
                result.seconds["crash points"] = time.monotonic() - started - sum(result.seconds.values())
                self._load(system, result, say, fire, faults, orders, rate)
                result.seconds["load"] = time.monotonic() - started - sum(result.seconds.values())
                say("waiting until every order is terminal …")
                result.settled = self._settle(system, result, settle_timeout)
                result.seconds["settle"] = time.monotonic() - started - sum(result.seconds.values())
                result.invariants = checker.check(system)
                result.seconds["check"] = time.monotonic() - started - sum(result.seconds.values())
            except _Stopped as stop:
                result.error = str(stop)
            finally:
                self._read_back(system, result)
                if self._dashboard is not None:
                    self._dashboard.stop()
                    self._dashboard = None
                system.stop()
                result.seconds["total"] = time.monotonic() - started
        say(f"done in {result.seconds['total']:.0f} s" + (f": {result.error}" if result.error else ""))
        return result

    def _show_dashboard(self, system: Any) -> None:
        from IPython.display import IFrame, display

        from courseapps.capstone.dashboard import create_app
        from kafkacourse.server import serve

        self._dashboard = serve(create_app(system.prefix, system.run_dir, self.cluster.bootstrap_servers))
        display(IFrame(self._dashboard.url + "/?minutes=3", width="100%", height=760))

    def _place(self, system: Any, customer: str, lines: list[dict[str, Any]]) -> str:
        import httpx

        response = httpx.post(system.url("orders") + "/orders", json={"customer_id": customer, "lines": lines},
                              headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=30)
        response.raise_for_status()
        return response.json()["order_id"]

    def _inventory_down(self, system: Any) -> str | None:
        """None while inventory runs; else why it stopped ("crash point <kind>" or the end of its log)."""
        process = system.process("inventory")
        if process.alive:
            return None
        log = process.log(this_run=True)
        marker = [line for line in log.splitlines() if line.startswith("crash point ")]
        if process.returncode == -9 and marker:
            return marker[-1].split()[2]
        return f"your inventory service exited with code {process.returncode}:\n{process.tail(12)}"

    def _supervise(self, system: Any, result: ScenarioResult) -> None:
        """Restart inventory after a crash point; a _Stopped when it died of anything else."""
        why = self._inventory_down(system)
        if why is None:
            return
        if why in CRASH_KINDS:
            result.fired.append(why)
            try:
                system.restart("inventory", timeout=60)
            except Exception as exc:
                raise _Stopped(f"your inventory service did not start again after the {why} crash point: "
                               f"{type(exc).__name__}: {str(exc)[:300]}") from None
            return
        raise _Stopped(why)

    def _crash_points(self, system: Any, result: ScenarioResult, say) -> None:
        say("crash points: two orders, inventory SIGKILLs itself at each …")
        for kind in CRASH_KINDS:
            self._place(system, f"crash-{kind}", [{"sku": "sku-red", "quantity": 1, "unit_price": PRICES["sku-red"]}])
        deadline = time.monotonic() + 120
        while True:
            self._supervise(system, result)
            if len(result.fired) >= len(CRASH_KINDS):
                break
            if time.monotonic() > deadline:
                raise _Stopped(f"the crash points {sorted(set(CRASH_KINDS) - set(result.fired))} never fired in 120 s: "
                               "does your loop take its consumer from lab_consumer(...) and commit each record "
                               "with consumer.commit(message=msg, ...)?")
            time.sleep(0.2)
        fired = system.run_dir / FIRED_FILE
        result.crash_orders = {p["kind"]: p["key"] for p in map(json.loads, fired.read_text().splitlines())}
        # the redelivered order is paid (no decline yet): had it taken its stock twice, that shows in the stock
        # of a COMPLETED order instead of being given back by a compensation
        from courseapps.capstone.checker import read_store

        redelivered = result.crash_orders["before-commit"]
        while read_store(system, "orders", f"SELECT state FROM orders WHERE order_id = '{redelivered}'").state[0] == "PLACED":
            self._supervise(system, result)
            if time.monotonic() > deadline:
                raise _Stopped("the order of the before-commit crash point got no terminal state in 120 s: did "
                               f"inventory answer it after the restart? {system.process('inventory').tail(8)}")
            time.sleep(0.3)
        system.set_provider(decline_rate=0.3)

    def _load(self, system: Any, result: ScenarioResult, say, fire, faults, orders: int, rate: float) -> None:
        say(f"load: {orders} orders at {rate:.0f}/s, 30% of payments declined, sku-rare scarce; "
            "inventory SIGKILLed and restarted, a poison record …")
        rng = random.Random(7)
        skus = list(STOCK)
        payloads = []
        for i in range(orders):
            chosen = rng.sample(skus, rng.randint(1, 2))
            if i % 3 == 0 and "sku-rare" not in chosen:
                chosen.append("sku-rare")
            payloads.append({"customer_id": f"customer-{i % 7}",
                             "lines": [{"sku": s, "quantity": rng.randint(1, 2), "unit_price": PRICES[s]} for s in chosen]})
        headers = [{"Idempotency-Key": str(uuid.uuid4())} for _ in payloads]
        half = len(payloads) // 2
        sent = fire(system.url("orders") + "/orders", payloads[:half], headers=headers[:half], concurrency=3,
                    interval_s=1 / rate, timeout=30)
        self._supervise(system, result)
        faults.kill_service(system, "inventory")
        result.poison_keys = faults.poison(system)["detail"]["keys"]
        sent = pd.concat([sent, fire(system.url("orders") + "/orders", payloads[half:], headers=headers[half:],
                                     concurrency=3, interval_s=1 / rate, timeout=30)])
        result.placed = int(sent.ok.sum())
        if result.placed != len(payloads):
            raise _Stopped(f"the orders API refused {len(payloads) - result.placed} of {len(payloads)} orders: "
                           f"{sent[~sent.ok].body.head(3).tolist()}")

    def _settle(self, system: Any, result: ScenarioResult, timeout: float) -> bool:
        """True once no order is PLACED and every group has read its topics to the end; False when nothing
        moved for 8 s although every group has read its topics to the end (an order lost on the way)."""
        from courseapps.capstone import contracts
        from courseapps.capstone.checker import read_store

        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while True:
            self._supervise(system, result)
            open_orders = int(read_store(system, "orders", "SELECT count(*) AS n FROM orders WHERE state = 'PLACED'").n[0])
            lag = sum(int(self.cluster.group_offsets(contracts.group(system.prefix, s), system.topics[t]).lag.sum())
                      for s in system.services for t in contracts.CONSUMES[s])
            if open_orders == 0 and lag == 0:
                return True
            if (open_orders, lag) != last:
                last, since = (open_orders, lag), time.monotonic()
            elif lag == 0 and time.monotonic() - since > 8:
                return False
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)

    def _read_back(self, system: Any, result: ScenarioResult) -> None:
        from courseapps.capstone import contracts
        from courseapps.capstone.checker import read_store

        try:
            result.orders = read_store(system, "orders", "SELECT order_id, customer_id, state, reason, lines FROM orders")
            result.stock = read_store(system, "inventory", "SELECT sku, available, initial FROM stock")
            result.reservations = read_store(system, "inventory", "SELECT order_id, state FROM reservations")
            dlq = contracts.dlq(system.prefix, "inventory")
            result.dlq_keys = [m.key().decode(errors="replace") for m in self.cluster.messages(dlq, timeout=30)
                               if m.key() is not None]
        except Exception as exc:  # a store the learner's schema did not create: the verdicts say so
            result.error = result.error or f"reading the stores failed: {type(exc).__name__}: {exc}"

    # -- verdicts ----------------------------------------------------------------------------------------------
    def problem(self, check: str, result: ScenarioResult) -> str | None:
        """None when `check` (one of CHECKS) passed on `result`, else what is wrong and where to look."""
        if check not in CHECKS:
            raise ValueError(f"unknown check {check!r}; the checks are {list(CHECKS)}")
        if check == "ran":
            return (f"the scenario did not get through: {result.error}" if result.error else None)
        if result.error or result.invariants is None:
            return f"the scenario did not get through: {result.error or 'no invariants were graded'}"
        return getattr(self, "_" + check.replace("-", "_"))(result)

    def _holds(self, result: ScenarioResult, invariant: str) -> tuple[bool, str]:
        row = result.invariants.loc[invariant]
        return bool(row.holds), str(row.examples)

    def _answered(self, result: ScenarioResult) -> str | None:
        holds, examples = self._holds(result, "one terminal state")
        if holds and result.settled:
            return None
        still = result.orders[result.orders.state == "PLACED"] if result.orders is not None else pd.DataFrame()
        lost = result.crash_orders.get("after-commit")
        if lost is not None and lost in set(still.order_id):
            return ("the order at the after-commit crash point never got an answer from inventory: its offset was "
                    "committed, the process died, and after the restart nobody handled it. Look at the order of "
                    "the three things your loop does with a record: store write, publish, commit")
        return (f"{len(still)} orders never reached a terminal state (e.g. {examples or list(still.order_id[:3])}): "
                "did inventory answer every OrderPlaced (reserved or rejected)? Its log is in the run folder")

    def _never_negative(self, result: ScenarioResult) -> str | None:
        holds, examples = self._holds(result, "stock never negative")
        if holds:
            return None
        return (f"stock went below zero ({examples}): an order was reserved although a line needed more units "
                "than were available. What must reserve find out about every line before it takes anything?")

    def _taken_beyond(self, result: ScenarioResult) -> dict[str, int]:
        """Per sku: units taken beyond what the orders with a RESERVED reservation hold (the completed ones, and
        any whose stock was never given back or whose saga stopped: other checks report those)."""
        held = set(result.reservations[result.reservations.state == "RESERVED"].order_id)
        expected: dict[str, int] = defaultdict(int)
        for order in result.orders.itertuples():
            if order.order_id in held:
                for line in json.loads(order.lines):
                    expected[line["sku"]] += int(line["quantity"])
        return {r.sku: int(r.initial - r.available - expected.get(r.sku, 0)) for r in result.stock.itertuples()
                if r.initial - r.available != expected.get(r.sku, 0)}

    def _redelivery(self, result: ScenarioResult) -> str | None:
        off = self._taken_beyond(result)
        if not off:
            return None
        return (f"stock taken beyond what the orders hold: {off} units. The order at the before-commit crash point "
                "(and those in hand at the SIGKILL during the load) were delivered to your service twice: what "
                "does reserve do with an order it has already answered, and does your store remember that?")

    def _compensation(self, result: ScenarioResult) -> str | None:
        holds, examples = self._holds(result, "failed payments compensated")
        if holds:
            return None
        return (f"orders whose payment failed still hold their stock ({examples}): no inventory.released, or the "
                "reservation is not RELEASED. Which event tells inventory that a payment failed, and what does the "
                "saga's compensation do then? (lesson 01's board, the policies)")

    def _dlq(self, result: ScenarioResult) -> str | None:
        holds, examples = self._holds(result, "DLQs hold only the expected")
        missing = sorted(set(result.poison_keys) - set(result.dlq_keys))
        if holds and not missing:
            return None
        if missing:
            return (f"the poison record {missing} is not in inventory's DLQ: a record that does not decode goes to "
                    "the DLQ, and its offset is committed, so it never blocks its partition")
        return (f"records in a DLQ that were not poison ({examples}): an order that can be answered must never "
                "go to the DLQ (a store error is not poison)")

    def cleanup(self) -> None:
        """Stop every run's services, delete their topics and subjects, remove the lab folder."""
        for system in self.runs:
            try:
                system.stop()
            finally:
                system.delete()
        self.runs.clear()
        shutil.rmtree(self.lab_dir, ignore_errors=True)
        sys.modules.pop(STORE_MODULE, None)


class _Stopped(Exception):
    """The scenario cannot go on; the message says why (the learner's service died, or never fired)."""
