"""The course's naming conventions for topics and event types, and a lint that says what breaks them.

**Topics**: ``<domain>.<entity>.<event>.v<N>``, e.g. ``shop.order.placed.v1``: four dot-separated segments,
each lowercase kebab-case (``a-z``, digits, single hyphens), the event a past-tense verb, and ``v<N>`` the
*major* version of the event's schema (a breaking change gets a new topic, ``.v2``). One event type per topic.

**Event types**: PascalCase ``<Entity><PastTenseVerb>``, e.g. ``OrderPlaced``, ``PaymentRefundIssued``:
something that happened, named in the past tense; no ``Event`` suffix, no imperative (``PlaceOrder`` is a
command, not an event). The topic and the event type name each other: ``shop.order.placed.v1`` ↔ ``OrderPlaced``.

>>> topic_problems("Orders_Topic")          # a list of reasons, empty when the name is fine
['has 1 segment(s), the convention <domain>.<entity>.<event>.v<N> needs 4', ...]
>>> check_topic("shop.order.placed.v1")      # returns the name, or raises NamingError with every reason
'shop.order.placed.v1'
>>> topic_for("shop", "OrderPlaced", version=2)
'shop.order.placed.v2'
>>> event_type_for("shop.payment-refund.issued.v1")
'PaymentRefundIssued'
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

TOPIC_CONVENTION = "<domain>.<entity>.<event>.v<N>"
EVENT_TYPE_CONVENTION = "<Entity><PastTenseVerb> in PascalCase"
MAX_TOPIC_LENGTH = 249                      # Kafka's own limit
KAFKA_LEGAL = re.compile(r"^[a-zA-Z0-9._-]+$")  # the characters Kafka itself accepts in a topic name
KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
VERSION = re.compile(r"^v[1-9][0-9]*$")
PASCAL = re.compile(r"^([A-Z][a-z0-9]+)+$")
PASCAL_WORD = re.compile(r"[A-Z][a-z0-9]*")

# Past participles that do not end in -ed (the regular ones do); extend when the domain needs another verb.
IRREGULAR_PAST = frozenset("""
    bought brought built caught chosen done drawn found frozen given held hidden kept left lost made met paid
    put read reset run seen sent set shown sold spent split taken undone withdrawn won written
""".split())


class NamingError(ValueError):
    """A name that breaks the course's convention; ``problems`` lists every reason."""

    def __init__(self, name: str, kind: str, problems: list[str]):
        self.name, self.kind, self.problems = name, kind, problems
        super().__init__(f"{kind} {name!r} breaks the convention: " + "; ".join(problems))


def is_past_tense(word: str) -> bool:
    """Whether a (lowercase) verb reads as a past participle: ends in -ed, or is a known irregular one.

    >>> is_past_tense("placed"), is_past_tense("paid"), is_past_tense("place")
    (True, True, False)
    """
    word = word.lower()
    return (word.endswith("ed") and len(word) > 3) or word in IRREGULAR_PAST


def topic_problems(name: str) -> list[str]:
    """Every reason why `name` breaks ``<domain>.<entity>.<event>.v<N>``; an empty list when it is fine."""
    problems: list[str] = []
    if not name:
        return ["is empty"]
    if len(name) > MAX_TOPIC_LENGTH:
        problems.append(f"is {len(name)} characters long, Kafka allows at most {MAX_TOPIC_LENGTH}")
    if not KAFKA_LEGAL.match(name):
        bad = sorted(set(re.sub(r"[a-zA-Z0-9._-]", "", name)))
        problems.append(f"contains characters Kafka rejects: {''.join(bad)!r} (allowed: a-z A-Z 0-9 . _ -)")
    if name.startswith("__"):
        problems.append("starts with '__', which Kafka reserves for internal topics")
    if "_" in name:
        problems.append("contains '_': the convention uses '.' between segments and '-' inside them "
                        "(Kafka warns that '.' and '_' collide in metric names)")
    if name != name.lower():
        problems.append("has uppercase letters: segments are lowercase kebab-case")
    segments = name.split(".")
    if len(segments) != 4:
        problems.append(f"has {len(segments)} segment(s), the convention {TOPIC_CONVENTION} needs 4")
        return problems
    domain, entity, event, version = segments
    for label, segment in (("domain", domain), ("entity", entity), ("event", event)):
        # uppercase and '_' are reported once above, not again for each segment
        if not KEBAB.match(segment.lower().replace("_", "-")):
            problems.append(f"{label} segment {segment!r} is not lowercase kebab-case (like 'order' or 'refund-issued')")
    event = event.lower().replace("_", "-")
    if KEBAB.match(event) and not is_past_tense(event.split("-")[-1]):
        problems.append(f"event segment {event!r} is not in the past tense (like 'placed', 'paid'): "
                        "a topic of events names something that happened")
    if not VERSION.match(version):
        problems.append(f"version segment {version!r} is not v<N> with N >= 1 (like 'v1')")
    return problems


def event_type_problems(name: str) -> list[str]:
    """Every reason why `name` breaks ``<Entity><PastTenseVerb>`` in PascalCase; empty when it is fine."""
    if not name:
        return ["is empty"]
    if not PASCAL.match(name):
        return ["is not PascalCase (words of letters and digits, each starting with one capital, like 'OrderPlaced')"]
    problems: list[str] = []
    words = PASCAL_WORD.findall(name)
    if words[-1] == "Event":
        problems.append("ends in 'Event': every event type is an event, the suffix adds nothing")
        words = words[:-1]
    if len(words) < 2:
        problems.append("needs an entity and a verb (like 'OrderPlaced'), found one word")
    elif not is_past_tense(words[-1]):
        problems.append(f"last word {words[-1]!r} is not a past-tense verb: an event names something that "
                        f"happened ('OrderPlaced'), not a command ('PlaceOrder') or a thing ('Order')")
    return problems


def check_topic(name: str) -> str:
    """`name` when it follows the topic convention; else NamingError listing every problem."""
    problems = topic_problems(name)
    if problems:
        raise NamingError(name, "topic", problems)
    return name


def check_event_type(name: str) -> str:
    """`name` when it follows the event-type convention; else NamingError listing every problem."""
    problems = event_type_problems(name)
    if problems:
        raise NamingError(name, "event type", problems)
    return name


def topic_for(domain: str, event_type: str, version: int = 1) -> str:
    """The topic that carries `event_type` in `domain`: ``topic_for("shop", "OrderPlaced")`` → ``shop.order.placed.v1``.

    Raises NamingError when the event type or the resulting topic breaks the convention.
    """
    words = [w.lower() for w in PASCAL_WORD.findall(check_event_type(event_type))]
    return check_topic(f"{domain}.{'-'.join(words[:-1])}.{words[-1]}.v{version}")


def event_type_for(topic: str) -> str:
    """The event type a conventional topic carries: ``shop.order.placed.v1`` → ``OrderPlaced``."""
    _domain, entity, event, _version = check_topic(topic).split(".")
    return "".join(word.capitalize() for word in (*entity.split("-"), *event.split("-")))


def lint(names: Iterable[str], kind: str = "topic") -> pd.DataFrame:
    """One row per name: ``name``, ``ok`` and ``problems`` (reasons joined by '; '); `kind` is topic or event type."""
    check = {"topic": topic_problems, "event type": event_type_problems}[kind]
    rows = [{"name": name, "ok": not (problems := check(name)), "problems": "; ".join(problems)} for name in names]
    return pd.DataFrame(rows, columns=["name", "ok", "problems"])


def lint_report(names: Iterable[str], kind: str = "topic") -> str:
    """:func:`lint` as text: ``✓ name`` for a good name, ``✗ name`` and one indented line per problem otherwise.

    >>> print(lint_report(["shop.order.placed.v1", "orders"]))
    ✓ shop.order.placed.v1
    ✗ orders
        has 1 segment(s), the convention <domain>.<entity>.<event>.v<N> needs 4
    """
    check = {"topic": topic_problems, "event type": event_type_problems}[kind]
    lines = []
    for name in names:
        problems = check(name)
        lines.append(f"{'✗' if problems else '✓'} {name}")
        lines.extend(f"    {problem}" for problem in problems)
    return "\n".join(lines)
