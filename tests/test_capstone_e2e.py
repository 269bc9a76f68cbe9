"""The capstone end to end on the 3-broker cluster: locust load, and under it each failure in turn — a
service SIGKILLed and restarted, a poison message, the payments → provider link cut through the fault
proxy, a slow provider, a broker SIGKILLed and restarted. After each the system settles and every invariant
of the checker holds; the recovery times, end-to-end latency percentiles and throughput are printed (-s)."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from courseapps.capstone import checker, faults, report
from courseapps.capstone.load.runner import Load
from courseapps.capstone.system import System
from kafkacourse.stack.processes import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.needs_cluster]

RATE = 5  # orders per second
RECOVERIES: list[dict] = []


@pytest.fixture(scope="module")
def system(cluster3):
    started = System(brokers=3, cluster=cluster3, provider={"latency_ms": 10, "decline_rate": 0.15}).start()
    yield started
    started.stop()
    started.delete()


def placed(system: System) -> int:
    return int(checker.read_store(system, "orders", "SELECT count(*) AS n FROM orders").n[0])


def under_load(system: System, inject, after: float = 4.0) -> dict:
    """Run the load, wait until its orders arrive, inject the fault, keep the load on for `after` s, stop it;
    then the fault's recovery, the system settled, and every invariant asserted."""
    before = placed(system)
    with Load(system, rate=RATE, repeat_every=3) as load:
        deadline = time.monotonic() + 60
        while placed(system) < before + RATE and time.monotonic() < deadline:
            time.sleep(0.2)
        assert placed(system) >= before + RATE, f"locust placed no orders:\n{load.process.tail()}"
        fault = inject()
        time.sleep(after)
    stats = load.stats()
    assert stats.loc["POST /orders", "requests"] > 0 and stats.failures.sum() == 0, stats  # incl. repeated keys
    recovered = faults.recovery(system, fault, timeout=120)
    checker.settle(system, timeout=120)
    table = checker.check(system)
    assert table.holds.all(), f"after {fault['fault']}:\n{table}"
    RECOVERIES.append(recovered)
    return recovered


def test_a_service_sigkilled_and_restarted(system):
    recovered = under_load(system, lambda: faults.kill_service(system, "inventory"))
    assert system.process("inventory").starts == 2
    assert recovered["first_terminal_s"] > 0


def test_a_poison_message_goes_to_the_dlq_and_only_it(system):
    recovered = under_load(system, lambda: faults.poison(system), after=2)
    assert recovered["dlq_s"] >= 0
    assert checker.check(system).loc["DLQs hold only the expected", "checked"] == 1


def test_the_provider_link_cut_opens_the_breaker_and_charges_nobody_twice(system):
    under_load(system, lambda: faults.cut_provider(system, seconds=6))
    changes = [e for e in system.process("payments").events() if e["event"] == "breaker"]
    assert [e["new"] for e in changes][:1] == ["open"], "the breaker opened while the link was cut"
    assert changes[-1]["new"] == "closed", "and closed again once the provider answered"


def test_a_slow_provider(system):
    under_load(system, lambda: faults.slow_provider(system, latency_ms=600, seconds=3))
    assert system.set_provider()["latency_ms"] == 10, "its latency is back"


def test_a_broker_sigkilled_and_restarted(system):
    under_load(system, lambda: faults.kill_broker(system, node_id=2))
    # Back in every ISR, yet on a starved machine the next metadata answer can still leave it out for a moment
    # (seen with a second suite running beside this one): wait for it to be listed, rather than ask once.
    stack = system.cluster.stack
    wait_until(lambda: 2 in stack.brokers_answering(), *(b.process for b in stack.brokers),
               what="broker 2 listed again", timeout=30)


def test_every_saga_outcome_happened_and_the_numbers(system):
    orders = report.e2e(system)
    assert len(orders) == placed(system), "every order placed reached a terminal state"
    summary = report.summary(orders)
    assert {"completed", "cancelled_out_of_stock", "cancelled_payment_failed"} <= set(summary.index)
    assert (report.lag(system).lag == 0).all()
    with pd.option_context("display.width", 160, "display.max_columns", 10):
        print("\n" + summary.round(1).to_string())
        print(pd.DataFrame(RECOVERIES).round(2).to_string())
    print(json.dumps({"recoveries": RECOVERIES}, default=str))
