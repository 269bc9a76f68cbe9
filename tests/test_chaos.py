"""kafkacourse.instruments.chaos: experiments (no broker needed), the split cluster's wiring (pure data),
and the health probes on the live three-broker cluster (nothing is broken there)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import kafkacourse as kc  # noqa: E402
from kafkacourse.instruments import chaos  # noqa: E402
from kafkacourse.plots.chaos import plot_timeline  # noqa: E402
from kafkacourse.stack.runtime import home  # noqa: E402
from kafkacourse.stack.services.base import Context  # noqa: E402
from kafkacourse.stack.services.broker import BrokerNode  # noqa: E402


def test_checks_record_passes_and_failures_and_the_verdict():
    e = chaos.Experiment("e", "h", verbose=False)
    assert e.verdict() == "not run"
    assert e.check("returns what it saw", lambda: chaos.expect(1 + 1 == 2, "two"))
    assert not e.check("fails with its message", lambda: chaos.expect(False, "0 lost expected, 3 lost"))
    rows = e.frame()
    assert rows.passed.tolist() == [True, False]
    assert rows.observed.tolist() == ["two", "0 lost expected, 3 lost"]
    assert e.verdict() == "refuted: fails with its message" and not e.held


def test_a_broken_probe_raises_instead_of_becoming_a_verdict():
    e = chaos.Experiment("e", "h", verbose=False)
    with pytest.raises(ZeroDivisionError):
        e.check("typo", lambda: 1 / 0)
    assert e.checks == []


def test_the_fault_heals_in_finally_and_rechecks_the_steady_state():
    healed, healthy = [], iter([True, True])
    e = chaos.Experiment("e", "h", steady_state=lambda: chaos.expect(next(healthy), "ok"), verbose=False)
    with pytest.raises(RuntimeError):
        with e.fault("boom", heal=lambda: healed.append(True)):
            raise RuntimeError("the experiment's own code failed")
    assert healed == [True]
    assert [c["phase"] for c in e.checks] == ["before", "after"]
    assert e.windows[0]["end"] is not None and e.windows[0]["healed"] >= e.windows[0]["end"]
    row = chaos.table([e]).loc["e"]
    assert row.checks == "2/2" and row.verdict == "held" and row.fault == "boom"


def test_no_fault_is_injected_while_the_steady_state_does_not_hold():
    injected, healed = [], []
    e = chaos.Experiment("e", "h", steady_state=lambda: chaos.expect(False, "broker 2 down"), verbose=False)
    with pytest.raises(chaos.SteadyStateViolated, match="broker 2 down"):
        with e.fault("kill", heal=lambda: healed.append(True)):
            injected.append(True)
    assert injected == [] and healed == [] and e.windows == []


def test_experiment_needs_a_name():
    with pytest.raises(ValueError, match="name"):
        chaos.Experiment("", "h")


def test_split_profile_routes_every_cross_link_through_the_proxy():
    profile = chaos.split_profile(offset=3000)
    by_id = {n.node_id: n for n in profile.nodes}
    b = {i: by_id[i].broker_port for i in by_id}
    assert by_id[3].settings["inter.broker.listener.name"] == "ISOLATED"
    assert by_id[1].settings["inter.broker.listener.name"] == "REPLICATION"
    # The majority lists node 3's controller at a proxy port, node 3 the majority's; each side its own directly.
    assert by_id[1].settings["controller.quorum.voters"] == (
        f"1@localhost:{b[1] + chaos.QUORUM_STEP},2@localhost:{b[2] + chaos.QUORUM_STEP},"
        f"3@localhost:{b[3] + chaos.CONTROLLER_PROXY}")
    assert by_id[3].settings["controller.quorum.voters"] == (
        f"1@localhost:{b[1] + chaos.CONTROLLER_PROXY},2@localhost:{b[2] + chaos.CONTROLLER_PROXY},"
        f"3@localhost:{b[3] + chaos.QUORUM_ISOLATED_STEP}")
    # What the majority fetches from node 3, and what node 3 fetches from the majority, is advertised at a proxy.
    assert by_id[3].listener("REPLICATION").advertised == b[3] + chaos.REPLICATION_PROXY
    assert by_id[1].listener("ISOLATED").advertised == b[1] + chaos.ISOLATED_PROXY
    assert by_id[1].listener("REPLICATION").advertised == b[1] + chaos.REPLICATION_STEP   # 1 ↔ 2: direct
    routes = {(r.listen_port, r.target_port) for r in chaos.split_routes(profile)}
    assert (b[3] + chaos.REPLICATION_PROXY, b[3] + chaos.REPLICATION_STEP) in routes
    assert (b[2] + chaos.ISOLATED_PROXY, b[2] + chaos.ISOLATED_STEP) in routes
    assert {(b[i] + chaos.CONTROLLER_PROXY, b[i] + chaos.QUORUM_ISOLATED_STEP) for i in (1, 2)} <= routes
    assert (b[3] + chaos.CONTROLLER_PROXY, b[3] + chaos.QUORUM_STEP) in routes
    assert len(routes) == 6


def test_split_profile_cuts_the_quorum_whichever_node_leads_it():
    """A KRaft follower fetches from the endpoint the quorum leader advertises for the follower's own first
    controller listener (KIP-853), not from controller.quorum.voters: for every leader and follower, that
    endpoint is a proxy port exactly when the two are on opposite sides of the split."""
    profile = chaos.split_profile(offset=3000)
    proxied = {r.listen_port for r in chaos.split_routes(profile)}
    for follower in profile.nodes:
        first = follower.settings["controller.listener.names"].split(",")[0]
        for leader in profile.nodes:
            if leader is not follower:
                crosses = (leader.node_id == 3) != (follower.node_id == 3)
                assert (leader.listener(first).advertised in proxied) == crosses, (follower.node_id, leader.node_id)
    assert profile.broker_settings["replica.lag.time.max.ms"] == "3000" and profile.services == ()


def test_a_nodes_own_settings_win_in_its_server_properties():
    profile = chaos.split_profile(offset=3000)
    text = BrokerNode(Context(home(), profile), profile.nodes[2]).server_properties(home() / "unused")
    lines = [line for line in text.splitlines() if line.startswith("inter.broker.listener.name=")]
    assert lines == ["inter.broker.listener.name=PLAINTEXT", "inter.broker.listener.name=ISOLATED"]  # last wins
    assert "ISOLATED://localhost:" in text and "broker.session.timeout.ms=3000" in text


def test_split_profile_refuses_an_unknown_node():
    with pytest.raises(ValueError, match="node 5"):
        chaos.split_profile(offset=3000, isolated=5)


@pytest.mark.needs_cluster
def test_health_of_the_live_cluster(cluster3):
    chaos.wait_healthy(cluster3, timeout=180)  # another lesson may have a broker down for a moment
    topic = chaos.create_topic_with_leaders(cluster3, kc.unique_name("test-chaos"), leaders=[3, 1])
    try:
        assert cluster3.describe_topic(topic).leader.tolist() == [3, 1]
        description = chaos.wait_healthy(cluster3, [topic], timeout=60)
        assert description == "3 brokers, 2 partitions, all ISRs full"
        with pytest.raises(AssertionError, match="expected 4"):
            chaos.assert_healthy(cluster3, [topic], brokers=4)
        with pytest.raises(chaos.ClusterUnhealthy):
            chaos.wait_healthy(kc.Cluster(cluster3.bootstrap_servers, "", expected_brokers=4), [topic], timeout=1)
    finally:
        cluster3.delete_topic(topic)
    with pytest.raises(ValueError, match="live brokers"):
        chaos.create_topic_with_leaders(cluster3, kc.unique_name("test-chaos"), leaders=[7])


def test_timeline_draws_lanes_for_each_experiment():
    e = chaos.Experiment("e", "h", verbose=False)
    with e.fault("f", heal=lambda: None):
        e.mark("m")
        e.check("c", lambda: True)
    fig = plot_timeline([e, chaos.Experiment("empty", "h", verbose=False)])
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["empty\n(not run)", "e\n(held)"]
    plt.close(fig)


def test_zones_reach_every_node_through_their_own_listener():
    net = chaos.NetworkSplit(offset=3000)
    zones = net.zones()
    by_id = {n.node_id: n for n in net.profile.nodes}
    near_b = [(r.listen_port, r.target_port) for r in zones["B"]["near"].routes]
    assert near_b == [(by_id[3].listener("ZONE_B").advertised, by_id[3].listener("ZONE_B").port)]
    assert [r.listen_port for r in zones["A"]["far"].routes] == [by_id[3].proxy_port]
    assert zones["A"]["bootstrap"].split(",") == [f"localhost:{by_id[i].proxy_port}" for i in (1, 2, 3)]
    ports = {r.listen_port for z in zones.values() for p in (z["near"], z["far"]) for r in p.routes}
    assert len(ports) == 6 and not ports & {r.listen_port for r in net.proxy.routes}
