"""The Day 1 lab's checks (kafkacourse.course.day1_lab) against the wrong answers learners really write.

Each wrong answer leaves its real state on the live single broker: the upstream CLI tools run it where the
mistake is the tool's own behaviour (no --from-beginning, parse.key without a separator, no formatter properties,
the right answers); the Python client makes the same state where a tool would only be slower (a topic of 1
partition, records without keys or in another order, offsets committed part way). The check must then fail with
LabCheckFailed whose hint names the mistake, and never contain the command that would fix it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kafkacourse as kc
from kafkacourse.course import day1_lab
from kafkacourse.course.labs import LabCheckFailed

pytestmark = pytest.mark.slow  # executes whole notebooks: left out of `./course test --fast`

REPO = Path(__file__).resolve().parents[1]
ORDERS = [("alice", "pizza"), ("dave", "curry"), ("carol", "tacos"),
          ("alice", "salad"), ("carol", "ramen"), ("alice", "soup")]
LINES = "".join(f"{k}:{v}\n" for k, v in ORDERS)
ENV = dict(os.environ, PATH=os.pathsep.join([str(REPO / "bin"), str(Path(sys.executable).parent), os.environ["PATH"]]))


def tool(*args: str, stdin: str | None = None) -> list[str]:
    """Run an upstream tool from bin/ as a `!` line would; its output lines (stdout, then stderr)."""
    done = subprocess.run(list(args), input=stdin, capture_output=True, text=True, env=ENV, timeout=90)
    return done.stdout.splitlines() + done.stderr.splitlines()


def fails_with(check, *args, pattern: str) -> str:
    with pytest.raises(LabCheckFailed) as failed:
        check(*args)
    message = str(failed.value)
    assert re.search(pattern, message), f"{pattern!r} not in {message!r}"
    assert not re.search(r"--from-beginning|--partitions \d|parse\.key=true|print\.key=true", message), \
        f"the hint gives the answer away: {message!r}"
    return message


@pytest.fixture
def lab(cluster):
    """A fresh topic name (not created) and group, the topic deleted afterwards if a test made it."""
    topic, group = kc.unique_name("lab-orders"), kc.unique_name("lab-readers")
    yield topic, group
    if topic in cluster.topics():
        cluster.delete_topic(topic)


def create(cluster, topic, partitions=3):
    cluster.create_topic(topic, partitions=partitions)


def produce_python(cluster, topic, orders):
    """Write `orders` ((key, value) pairs, in order) the way the console producer would, with the Python client."""
    sent = cluster.produce(topic, orders)
    assert sent.error.isna().all(), sent


def produce_right(cluster, topic):
    tool("kafka-console-producer.sh", "--bootstrap-server", cluster.bootstrap_servers, "--topic", topic,
         "--reader-property", "parse.key=true", "--reader-property", "key.separator=:", stdin=LINES)


def consume(cluster, topic, group, *extra: str, timeout_ms: int = 30000) -> list[str]:
    return tool("kafka-console-consumer.sh", "--bootstrap-server", cluster.bootstrap_servers, "--topic", topic,
                "--group", group, "--formatter-property", "print.key=true", "--formatter-property",
                "print.partition=true", "--max-messages", "6", "--timeout-ms", str(timeout_ms), *extra)


# -- step 1 ----------------------------------------------------------------------------------------------------

def test_step1_a_missing_topic_and_a_topic_without_partitions_option_fail_with_what_to_look_up(cluster, lab):
    topic, _ = lab
    fails_with(day1_lab.check_topic, cluster, topic, pattern=r"no topic named .*kafka-topics\.sh --help")
    cluster.create_topic(topic, partitions=1)   # what --create without --partitions makes: num.partitions=1 here
    fails_with(day1_lab.check_topic, cluster, topic, pattern=r"it has 1: .*num\.partitions.*--help")
    from confluent_kafka.admin import NewPartitions
    cluster.admin().create_partitions([NewPartitions(topic, 3)])[topic].result()
    deadline = time.monotonic() + 30
    while len(cluster.describe_topic(topic)) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    day1_lab.check_topic(cluster, topic)


# -- step 2 ----------------------------------------------------------------------------------------------------

def test_step2_lines_without_parse_key_are_values_without_keys(cluster, lab):
    topic, _ = lab
    create(cluster, topic)
    produce_python(cluster, topic, [(None, f"{k}:{v}") for k, v in ORDERS])   # no parse.key: whole lines as values
    fails_with(day1_lab.check_orders, cluster, topic, ORDERS, pattern=r"have no key \(the values are \['\w+:\w+'.*--reader-property")


def test_step2_parse_key_without_the_separator_produces_nothing(cluster, lab):
    topic, _ = lab
    create(cluster, topic)
    tool("kafka-console-producer.sh", "--bootstrap-server", cluster.bootstrap_servers, "--topic", topic,
         "--reader-property", "parse.key=true", stdin=LINES)
    fails_with(day1_lab.check_orders, cluster, topic, ORDERS, pattern=r"holds no record.*separator")


def test_step2_the_right_records_in_another_order_fail_the_order_check(cluster, lab):
    topic, _ = lab
    create(cluster, topic)
    swapped = [o for o in ORDERS if o != ("alice", "pizza")]
    swapped.insert(swapped.index(("alice", "salad")) + 1, ("alice", "pizza"))
    produce_python(cluster, topic, swapped)
    fails_with(day1_lab.check_orders, cluster, topic, ORDERS,
               pattern=r"another order: per key the topic has \{'alice': \['salad', 'pizza', 'soup'\]\}")


def test_step2_producing_twice_is_named_and_the_right_answer_passes(cluster, lab):
    topic, _ = lab
    create(cluster, topic)
    produce_right(cluster, topic)
    day1_lab.check_orders(cluster, topic, ORDERS)
    produce_python(cluster, topic, ORDERS)
    fails_with(day1_lab.check_orders, cluster, topic, ORDERS, pattern=r"12 records.*produce twice")


# -- step 3 ----------------------------------------------------------------------------------------------------

@pytest.fixture
def orders_topic(cluster, lab):
    topic, group = lab
    create(cluster, topic)
    produce_python(cluster, topic, ORDERS)
    return topic, group


def commit(cluster, topic, group, offsets):
    """Commit {partition: offset} for `group`, as a consumer that read that far would have."""
    from confluent_kafka import TopicPartition
    cluster.commit_offsets(group, [TopicPartition(topic, p, o) for p, o in offsets.items()])


def test_step3_without_from_beginning_the_group_commits_the_end_but_the_check_sees_nothing_read(cluster, orders_topic):
    topic, group = orders_topic
    # No --from-beginning: a new group starts at the log end and waits for records that never come (until the
    # timeout; 10 s is long enough to join, be assigned and commit that end, which the premise checks).
    consumed = consume(cluster, topic, group, timeout_ms=10000)
    offsets = cluster.group_offsets(group, topic)
    assert offsets.lag.eq(0).all(), "the premise: the console consumer committed the log end having read nothing"
    fails_with(day1_lab.check_read_all, cluster, topic, group, consumed, ORDERS,
               pattern=r"printed none of the 6 records: a new group starts at the log end.*--help")


def test_step3_without_group_nothing_is_committed_and_without_capture_consumed_is_none(cluster, orders_topic):
    topic, group = orders_topic
    printed = [f"Partition:{p}\t{k}\t{v}" for p, k, v in [(0, *o) for o in ORDERS]]   # it read, in its own group
    fails_with(day1_lab.check_read_all, cluster, topic, group, printed, ORDERS,
               pattern=r"committed no offset.*which option names the group")
    commit(cluster, topic, group, cluster.end_offsets(topic))
    fails_with(day1_lab.check_read_all, cluster, topic, group, None, ORDERS, pattern=r"consumed is None")


def test_step3_without_the_formatter_properties_the_lines_show_no_key(cluster, orders_topic):
    topic, group = orders_topic
    consumed = tool("kafka-console-consumer.sh", "--bootstrap-server", cluster.bootstrap_servers, "--topic", topic,
                    "--group", group, "--from-beginning", "--max-messages", "6", "--timeout-ms", "30000")
    fails_with(day1_lab.check_read_all, cluster, topic, group, consumed, ORDERS,
               pattern=r"show no partition or no key.*--formatter-property")


def test_step3_stopping_early_leaves_lag_and_the_right_answer_passes(cluster, orders_topic):
    topic, group = orders_topic
    ends = cluster.end_offsets(topic)
    commit(cluster, topic, group, {p: min(1, end) for p, end in ends.items()})   # --max-messages too small
    early = [f"Partition:{p}\tx\ty" for p in ends]
    fails_with(day1_lab.check_read_all, cluster, topic, group, early, ORDERS, pattern=r"its lag is \{.*stopped before")
    right_group = kc.unique_name("lab-readers")
    consumed = consume(cluster, topic, right_group, "--from-beginning")
    day1_lab.check_read_all(cluster, topic, right_group, consumed, ORDERS)
    assert sorted((k, v) for _, k, v in day1_lab.printed_records(consumed)) == sorted(ORDERS)


# -- step 4 ----------------------------------------------------------------------------------------------------

def test_step4_each_wrong_copy_of_the_table_is_named(cluster, orders_topic):
    topic, group = orders_topic
    fails_with(day1_lab.check_current_offsets, cluster, topic, group, None, pattern=r"do step 3 first")
    commit(cluster, topic, group, cluster.end_offsets(topic))   # what step 3 leaves
    committed = cluster.group_offsets(group, topic).set_index("partition").committed.to_dict()
    check = day1_lab.check_current_offsets
    fails_with(check, cluster, topic, group, None, pattern=r"current_offsets is None.*CURRENT-OFFSET")
    fails_with(check, cluster, topic, group, {str(p): str(o) for p, o in committed.items()},
               pattern=r"numbers, write them without quotes")
    fails_with(check, cluster, topic, group, {0: committed[0]}, pattern=r"one entry per partition")
    fails_with(check, cluster, topic, group, {p: 0 for p in committed}, pattern=r"LAG column")
    fails_with(check, cluster, topic, group, {p: o + 1 for p, o in committed.items()},
               pattern=r"not what the group committed")
    check(cluster, topic, group, committed)
