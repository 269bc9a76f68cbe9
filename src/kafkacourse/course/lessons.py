"""Which topics and groups a lesson made, so that `kafkacourse reset --lesson <notebook>` removes only those.

The convention: lessons name every topic and group with ``kc.unique_name(prefix)`` (a random suffix). When
that runs inside a notebook, the name is recorded under the notebook's path in
``~/.kafka-course/lessons/names.tsv`` (one ``<notebook path>\\t<name>`` line each). JupyterLab tells the kernel
its notebook (``JPY_SESSION_NAME``, the notebook's full path); anywhere else ``KAFKA_COURSE_LESSON`` may name
it; with neither (nbval, plain scripts) nothing is recorded.

A lesson's resources are then the topics and consumer groups whose name is a recorded name, or starts with
one followed by ``-``, ``.`` or ``_`` (``orders-3f9a1c-dlq``): the random suffix makes a name from another
lesson impossible. Nothing else on the cluster is touched.

>>> kafkacourse reset --lesson notebooks/day1/02-log-vs-queue.ipynb
"""

from __future__ import annotations

import os
from pathlib import Path

from ..stack import runtime

LESSON_ENV = ("JPY_SESSION_NAME", "KAFKA_COURSE_LESSON")


def ledger() -> Path:
    return runtime.home() / "lessons" / "names.tsv"


def lesson_key(path: str | os.PathLike) -> str:
    """The key a notebook's names are recorded under: its absolute, resolved path."""
    return str(Path(path).expanduser().resolve())


def current_lesson() -> str | None:
    """The notebook this process runs for, when a kernel was told (see the module docstring)."""
    for name in LESSON_ENV:
        value = os.environ.get(name)
        if value and value.endswith(".ipynb"):
            return lesson_key(value)
    return None


def remember(name: str) -> None:
    """Record `name` for the current lesson (nothing outside a lesson; never fails the caller)."""
    lesson = current_lesson()
    if lesson is None:
        return
    try:
        ledger().parent.mkdir(parents=True, exist_ok=True)
        with ledger().open("a", encoding="utf-8") as f:
            f.write(f"{lesson}\t{name}\n")
    except OSError:
        pass  # a read-only home only loses the ability to reset this lesson


def names_of(lesson: str | os.PathLike) -> set[str]:
    """Every name recorded for `lesson` (a notebook path)."""
    key = lesson_key(lesson)
    if not ledger().exists():
        return set()
    rows = (line.rstrip("\n").split("\t", 1) for line in ledger().read_text(encoding="utf-8").splitlines())
    return {row[1] for row in rows if len(row) == 2 and row[0] == key}


def belongs(name: str, recorded: set[str]) -> bool:
    return any(name == r or name.startswith((f"{r}-", f"{r}.", f"{r}_")) for r in recorded)


def reset_lesson(lesson: str | os.PathLike, bootstrap_servers: list[str], timeout: float = 30.0) -> dict[str, list[str]]:
    """Delete `lesson`'s topics and consumer groups on each cluster; return {"topics": […], "groups": […]}.

    Forgets the lesson's recorded names afterwards, so a second reset finds nothing.
    """
    from confluent_kafka.admin import AdminClient

    recorded = names_of(lesson)
    deleted: dict[str, list[str]] = {"topics": [], "groups": []}
    if not recorded:
        return deleted
    for servers in bootstrap_servers:
        admin = AdminClient({"bootstrap.servers": servers})
        groups = [g.group_id for g in admin.list_consumer_groups(request_timeout=timeout).result(timeout).valid
                  if belongs(g.group_id, recorded)]
        if groups:
            for group, future in admin.delete_consumer_groups(groups, request_timeout=timeout).items():
                future.result(timeout)
                deleted["groups"].append(group)
        topics = [t for t in admin.list_topics(timeout=timeout).topics if belongs(t, recorded)]
        if topics:
            for topic, future in admin.delete_topics(topics, operation_timeout=timeout).items():
                future.result(timeout)
                deleted["topics"].append(topic)
    forget(lesson)
    return deleted


def forget(lesson: str | os.PathLike) -> None:
    """Drop `lesson`'s recorded names from the ledger."""
    if not ledger().exists():
        return
    key = lesson_key(lesson)
    kept = [line for line in ledger().read_text(encoding="utf-8").splitlines() if line.split("\t", 1)[0] != key]
    ledger().write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
