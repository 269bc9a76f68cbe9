"""The checks of the Day 1 lab (the command-line tools), one function per step.

Each check reads the cluster itself (and, for step 3, what the console consumer printed) and calls
:func:`kafkacourse.check`: a ✅ line, or LabCheckFailed whose hint names the mistake and says where to look
(the tool's ``--help``, the lesson text), never the command. tests/test_day1_lab.py feeds each of them the
wrong answers learners write and expects these hints.

>>> from kafkacourse.course import day1_lab
>>> day1_lab.check_topic(cluster, topic)                           # step 1
>>> day1_lab.check_orders(cluster, topic, ORDERS)                  # step 2
>>> day1_lab.check_read_all(cluster, topic, group, consumed)       # step 3: consumed = !kafka-console-consumer.sh ...
>>> day1_lab.check_current_offsets(cluster, topic, group, current_offsets)   # step 4
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .labs import check, topic_records

if TYPE_CHECKING:
    from ..cluster import Cluster

PARTITIONS = 3
START_OVER = "re-run the setup cell for fresh names and redo the steps"


def check_topic(cluster: "Cluster", topic: str, partitions: int = PARTITIONS) -> None:
    """Step 1: `topic` exists with `partitions` partitions."""
    exists = topic in cluster.topics()
    check(exists, f"topic {topic} exists",
          hint=f"the cluster has no topic named {topic}. kafka-topics.sh --help lists the option that creates a "
               "topic and the one that names it; write the name as {topic} so that IPython puts in the "
               "value of the Python variable")
    count = len(cluster.describe_topic(topic))
    check(count == partitions, f"{topic} has {partitions} partitions",
          hint=(f"it has {count}: that is the broker's default (num.partitions) when the command does not say how "
                f"many. Find the option that sets the partition count in kafka-topics.sh --help; an existing "
                f"topic can also be given more partitions (look at --alter)") if count < partitions
          else f"it has {count}, and a topic never loses partitions: {START_OVER}")


def _by_key(pairs: Iterable[tuple[Any, Any]]) -> dict[Any, list[Any]]:
    out: dict[Any, list[Any]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def check_orders(cluster: "Cluster", topic: str, orders: Sequence[tuple[str, str]]) -> None:
    """Step 2: the topic holds exactly `orders` as keyed records, each key's values in the order of `orders`.

    Only the order per key can be checked (each key has its own partition; there is no order across them).
    """
    records = topic_records(cluster, topic)
    if not records.empty:
        records = records.sort_values(["partition", "offset"])
    found = list(zip(records.key.where(records.key.notna(), None), records.value))
    got, want = _by_key(found), _by_key(orders)
    if topic not in cluster.topics():
        problem = "the topic does not exist yet: do step 1"
    elif records.empty:
        problem = ("it holds no record. Did the producer print an error? Once the line reader parses keys, every "
                   "line needs the key separator, and that is a tab unless you set another one (see the default "
                   "reader properties in kafka-console-producer.sh --help)")
    elif records.key.isna().all():
        problem = (f"its records have no key (the values are {[v for _, v in found][:3]}…): the console producer "
                   "makes the whole line the value unless its line reader is told to parse a key and which "
                   "separator to split at (kafka-console-producer.sh --help, --reader-property; step 2's text)")
    elif sorted(found, key=repr) == sorted(orders, key=repr) and got != want:
        wrong = {k: got[k] for k in want if got.get(k) != want[k]}
        problem = (f"the right records, in another order: per key the topic has {wrong}, ORDERS has "
                   f"{ {k: want[k] for k in wrong} }. A partition keeps records in the order they were written: "
                   f"write the lines in the order of ORDERS; {START_OVER}")
    elif len(found) > len(orders) and all(found.count(o) >= 1 for o in orders):
        problem = (f"it holds {len(found)} records, more than the {len(orders)} orders (did you produce twice?). "
                   f"A topic is append-only: {START_OVER}")
    else:
        problem = f"it holds {found}, not the records of ORDERS; {START_OVER}"
    check(got == want and len(found) == len(orders), f"{topic} holds the {len(orders)} keyed orders, in order",
          hint=problem)


_PRINTED = re.compile(r"^Partition:(?P<partition>\d+)\t(?P<key>[^\t]*)\t(?P<value>.*)$")


def printed_records(lines: Iterable[str] | None) -> list[tuple[int, str, str]]:
    """The (partition, key, value) of each record line a console consumer printed with print.partition and
    print.key (``Partition:0<TAB>alice<TAB>pizza``); other lines (notices, "Processed a total of …") are skipped."""
    out = []
    for line in lines or []:
        match = _PRINTED.match(line.rstrip("\n"))
        if match:
            out.append((int(match["partition"]), match["key"], match["value"]))
    return out


def check_read_all(cluster: "Cluster", topic: str, group: str, consumed: Sequence[str] | None,
                   orders: Sequence[tuple[str, str]]) -> None:
    """Step 3: the group committed the end of every partition AND the consumer printed every record
    (with its partition and key). A consumer that starts at the log end commits the end too, having read nothing:
    the printed lines tell the two apart."""
    offsets = cluster.group_offsets(group, topic)
    behind = offsets[offsets.lag > 0] if not offsets.empty else offsets
    printed = printed_records(consumed)
    values = {value for _, value in orders}
    bare = [line for line in (consumed or []) if line.strip() in values]   # values printed without key/partition
    expected = len(orders)
    if offsets.empty:
        problem = "the topic does not exist yet: do step 1"
    elif consumed is None:
        problem = ("consumed is None: keep what the consumer prints by assigning the ! line "
                   "(consumed = !kafka-console-consumer.sh …), as step 3 says")
    elif offsets.committed.isna().all():
        problem = (f"group {group} has committed no offset on {topic}: without a group name the console consumer "
                   "reads in a throw-away group of its own (kafka-console-consumer.sh --help: which option names "
                   "the group? write it as {group})")
    elif not behind.empty:
        problem = (f"its lag is {behind.set_index('partition').lag.to_dict()} (partition: records not read): the "
                   "consumer stopped before the end of the topic (how many messages did you let it read?)")
    elif not printed and not bare:
        problem = (f"the group committed the end of every partition, but the consumer printed none of the "
                   f"{expected} records: a new group starts at the log end unless told otherwise "
                   "(kafka-console-consumer.sh --help: which option starts at the earliest offset?). This group "
                   "has committed the end now, so that option no longer applies to it: run "
                   "group = kc.unique_name('lab-readers') and read again with the new group")
    elif not printed:
        problem = ("the printed lines show no partition or no key, only values: the console consumer's formatter "
                   "prints both when asked (--formatter-property; see step 3's text)")
    elif len(printed) < expected:
        problem = f"it printed {len(printed)} of the {expected} records"
    else:
        problem = ""
    check(problem == "", f"group {group} has read all of {topic}", hint=problem)


def check_current_offsets(cluster: "Cluster", topic: str, group: str, current_offsets: Any) -> None:
    """Step 4: `current_offsets` is the group's committed offset per partition, as {partition: offset} ints."""
    offsets = cluster.group_offsets(group, topic)
    committed = offsets.set_index("partition").committed.to_dict() if not offsets.empty else {}
    if all(offset is None for offset in committed.values()):
        problem = "the group has committed no offset yet: do step 3 first"
    elif current_offsets is None:
        problem = ("current_offsets is None: describe your group with kafka-consumer-groups.sh (its --help: "
                   "--describe, --group) and copy the CURRENT-OFFSET column as {partition: offset, ...}")
    elif not isinstance(current_offsets, dict):
        problem = f"current_offsets is a {type(current_offsets).__name__}: write a dict {{partition: offset, ...}}"
    elif any(not isinstance(k, int) or not isinstance(v, int) for k, v in current_offsets.items()):
        problem = (f"current_offsets is {current_offsets!r}: partitions and offsets are numbers, "
                   "write them without quotes")
    elif set(current_offsets) != set(committed):
        problem = (f"current_offsets names partitions {sorted(current_offsets)}, the topic has "
                   f"{sorted(committed)}: one entry per partition (one row per partition in the tool's table)")
    elif current_offsets != committed and all(v == 0 for v in current_offsets.values()):
        problem = "these are zeros: is that the LAG column? Copy CURRENT-OFFSET"
    else:
        problem = (f"current_offsets is {current_offsets!r}, which is not what the group committed; copy the "
                   "CURRENT-OFFSET column of kafka-consumer-groups.sh --describe, partition by partition")
    check(current_offsets == committed, "current_offsets holds the group's committed offsets", hint=problem)
