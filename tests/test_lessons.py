"""`reset --lesson`: a lesson's topics and groups (recorded by kc.unique_name inside its notebook) are deleted,
and nothing else is; `warmup`'s table of needs per day."""

from __future__ import annotations

import subprocess
import sys

import pytest
from confluent_kafka import TopicPartition

import kafkacourse as kc
from kafkacourse.course import lessons, warmup


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A ledger of its own (the stack's data stays where it is)."""
    monkeypatch.setattr(lessons, "ledger", lambda: tmp_path / "names.tsv")
    return tmp_path


def test_names_are_recorded_only_inside_a_lesson(home, monkeypatch):
    for name in lessons.LESSON_ENV:
        monkeypatch.delenv(name, raising=False)
    kc.unique_name("outside")
    assert not (home / "names.tsv").exists(), "nbval and scripts record nothing"
    monkeypatch.setenv("JPY_SESSION_NAME", str(home / "day9" / "01-x.ipynb"))  # what JupyterLab sets
    name = kc.unique_name("orders")
    assert lessons.names_of(home / "day9" / "01-x.ipynb") == {name}
    assert lessons.belongs(f"{name}-dlq", {name}) and not lessons.belongs("orders-000000", {name})


def test_reset_lesson_deletes_its_topics_and_groups_and_nothing_else(home, monkeypatch, cluster):
    lesson, other = home / "day9" / "01-mine.ipynb", home / "day9" / "02-other.ipynb"
    monkeypatch.setenv("KAFKA_COURSE_LESSON", str(lesson))
    mine, group = kc.unique_name("reset-mine"), kc.unique_name("reset-readers")
    monkeypatch.setenv("KAFKA_COURSE_LESSON", str(other))
    theirs = kc.unique_name("reset-theirs")
    monkeypatch.delenv("KAFKA_COURSE_LESSON")
    try:
        for topic in (mine, f"{mine}-dlq", theirs):
            cluster.create_topic(topic, partitions=1)
        cluster.produce(mine, [("k", "v")])
        cluster.commit_offsets(group, [TopicPartition(mine, 0, 1)])

        deleted = lessons.reset_lesson(lesson, [cluster.bootstrap_servers])

        assert sorted(deleted["topics"]) == sorted([mine, f"{mine}-dlq"]) and deleted["groups"] == [group]
        remaining = cluster.topics()
        assert theirs in remaining and mine not in remaining and f"{mine}-dlq" not in remaining
        assert lessons.names_of(lesson) == set() and lessons.names_of(other) == {theirs}
        assert lessons.reset_lesson(lesson, [cluster.bootstrap_servers]) == {"topics": [], "groups": []}
    finally:
        for topic in (mine, f"{mine}-dlq", theirs):
            if topic in cluster.topics():
                cluster.delete_topic(topic)


def test_every_day_has_its_needs_and_an_unknown_day_is_a_clear_error():
    assert sorted(warmup.NEEDS) == [1, 2, 3, 4, 5]
    assert {need.profile for need in warmup.needs(1)} == {"single", "cluster"}
    with pytest.raises(ValueError, match="the course has days 1, 2, 3, 4, 5, not 9"):
        warmup.needs(9)
    out = subprocess.run([sys.executable, "-m", "kafkacourse.course.cli", "warmup", "--day", "9"],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "not 9" in out.stderr
