"""AssignmentRecorder against the live single broker: real consumer groups, real rebalances, no mocks."""

from __future__ import annotations

import pytest

import kafkacourse as kc
from kafkacourse.instruments.rebalance import STRATEGIES, AssignmentRecorder, plot_timelines, summarize

PARTITIONS = 6


@pytest.fixture(scope="module")
def cluster():
    return kc.connect(progress=False)


@pytest.fixture(scope="module")
def topic(cluster):
    name = cluster.create_topic(kc.unique_name("test-rebalance"), partitions=PARTITIONS)
    yield name
    cluster.delete_topic(name)


@pytest.fixture(scope="module")
def runs(cluster, topic):
    """For each strategy: m1, m2, m3 join one at a time, then m1 leaves; plus the coordinator's view at 3 members."""
    results = {}
    for strategy in STRATEGIES:
        with AssignmentRecorder(cluster, [topic], strategy) as rec:
            for _ in range(3):
                rec.add_member(timeout=30)
            group = cluster.admin().describe_consumer_groups([rec.group_id], request_timeout=10)[rec.group_id].result()
            coordinator = {m.client_id: sorted(tp.partition for tp in m.assignment.topic_partitions)
                           for m in group.members}
            rec.remove_member(timeout=30)
        results[strategy] = (rec, coordinator)
    return results


def test_every_stable_state_covers_every_partition_exactly_once(runs):
    for strategy, (rec, _) in runs.items():
        assert [s.label for s in rec.steps] == ["m1 joins", "m2 joins", "m3 joins", "m1 leaves"]
        for step in rec.steps:
            assert step.after is not None, f"{strategy}: {step.label} never became stable"
            owned = sorted(p for parts in step.after.values() for p in parts)
            assert owned == list(range(PARTITIONS)), f"{strategy} after {step.label}: {step.after}"
        three = rec.steps[2].after
        assert sorted(len(parts) for parts in three.values()) == [2, 2, 2], f"{strategy}: unbalanced {three}"


def test_the_coordinator_reports_the_same_assignment_as_the_callbacks(runs):
    for strategy, (rec, coordinator) in runs.items():
        assert coordinator == rec.steps[2].after, f"{strategy}: coordinator {coordinator} vs callbacks"


def test_cooperative_sticky_revokes_fewer_partitions_when_a_member_joins(runs):
    table = summarize(rec for rec, _ in runs.values()).set_index(["strategy", "step"])
    events = {strategy: rec.events().to_string() for strategy, (rec, _) in runs.items()}
    for join in ("m2 joins", "m3 joins"):
        cooperative = table.loc[("cooperative-sticky", join)]
        for eager in ("range", "roundrobin"):
            # eager: at each rebalance every member revokes everything it owned (6 partitions in all)
            assert table.loc[(eager, join), "revoked"] == PARTITIONS * table.loc[(eager, join), "rebalances"], \
                f"{table}\n{events[eager]}"
            assert cooperative.revoked < table.loc[(eager, join), "revoked"], table
        # cooperative: only what changes owner is revoked (6→3+3: 3; 3+3→2+2+2: 2), over at least two rebalances
        assert cooperative.revoked == cooperative.moved, f"{table}\n{events['cooperative-sticky']}"
        assert cooperative.rebalances >= 2, f"{table}\n{events['cooperative-sticky']}"
    assert table.loc[("cooperative-sticky", "m2 joins"), "revoked"] == 3, table
    assert table.loc[("cooperative-sticky", "m3 joins"), "revoked"] == 2, table


def test_a_leaving_members_partitions_are_reassigned(runs):
    for strategy, (rec, _) in runs.items():
        leave = rec.steps[-1]
        had = set(leave.before["m1"])
        assert had and "m1" not in leave.after, leave
        taken_over = {p for member, parts in leave.after.items() for p in parts if p in had}
        assert taken_over == had, f"{strategy}: m1 had {had}, now {leave.after}"
        table = rec.rebalances()
        last = table[table.member == "m1"].iloc[-1]
        assert set(last.revoked) == had and last.owned_after == [], last
        assert table.generation.notna().all(), table


def test_generations_increase_and_a_cooperative_join_takes_two_rebalances(runs):
    for strategy, (rec, _) in runs.items():
        events = rec.events()
        joined = events.query("kind == 'joined'")
        assert joined.generation.notna().all(), events
        assert joined.generation.is_monotonic_increasing, events
        assert rec.rebalances().generation.notna().all(), events   # every callback belongs to a generation
        per_step = rec.summary().set_index("step").rebalances
        if strategy == "cooperative-sticky":   # give up what moves, then hand it over
            assert (per_step[["m2 joins", "m3 joins"]] >= 2).all(), f"{per_step}\n{events}"
        assert (per_step >= 1).all(), f"{per_step}\n{events}"


def test_wait_stable_raises_a_clear_timeout(cluster, topic):
    rec = AssignmentRecorder(cluster, [topic], "range")
    try:
        rec.add_member(wait=False)
        with pytest.raises(TimeoutError, match="not stable after 0 s: waiting for \\['m1'\\]"):
            rec.wait_stable(timeout=0)
        assert rec.wait_stable(timeout=30) == {"m1": list(range(PARTITIONS))}
    finally:
        rec.close()
    with pytest.raises(RuntimeError, match="closed"):
        rec.add_member()


def test_range_is_uneven_across_two_topics_roundrobin_is_not(cluster):
    topics = [cluster.create_topic(kc.unique_name(f"test-two-{n}"), partitions=3) for n in "ab"]
    try:
        counts = {}
        for strategy in ("range", "roundrobin"):
            with AssignmentRecorder(cluster, topics, strategy) as rec:
                rec.add_member()
                rec.add_member()
                counts[strategy] = sorted(rec.owners().member.value_counts())
                per_topic = rec.owners().groupby(["member", "topic"]).size()
            if strategy == "range":  # per topic: 2 partitions for one member, 1 for the other, the same one twice
                assert sorted(per_topic.tolist()) == [1, 1, 2, 2], per_topic
        assert counts == {"range": [2, 4], "roundrobin": [3, 3]}, counts
    finally:
        for name in topics:
            cluster.delete_topic(name)


def test_timeline_draws_headless(runs, tmp_path):
    fig = plot_timelines([rec for rec, _ in runs.values()])
    assert len(fig.axes) == len(STRATEGIES)
    path = tmp_path / "timeline.png"
    fig.savefig(path)
    assert path.stat().st_size > 10_000


def test_unknown_strategy_is_refused(cluster, topic):
    with pytest.raises(ValueError, match="strategy must be one of"):
        AssignmentRecorder(cluster, [topic], "sticky")
