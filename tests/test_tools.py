"""The upstream-named wrappers run the real tool classes from the stack's jars."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kafkacourse.course.tools import TOOL_CLASSES

BIN = Path(__file__).resolve().parents[1] / "bin"


def run(tool: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / tool), *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_every_tool_has_its_wrapper():
    assert {p.name for p in BIN.iterdir() if p.is_symlink()} == set(TOOL_CLASSES)


def test_topics_producer_consumer_and_groups_round_trip(cluster, topic):
    listed = run("kafka-topics.sh", "--bootstrap-server", cluster.bootstrap_servers, "--list")
    assert topic in listed.stdout.split(), listed.stderr
    produced = run("kafka-console-producer.sh", "--bootstrap-server", cluster.bootstrap_servers, "--topic", topic,
                   "--reader-property", "parse.key=true", "--reader-property", "key.separator=:", stdin="a:1\nb:2\nc:3\n")
    assert produced.returncode == 0, produced.stderr
    consumed = run("kafka-console-consumer.sh", "--bootstrap-server", cluster.bootstrap_servers, "--topic", topic,
                   "--from-beginning", "--group", "cli-test-group", "--max-messages", "3",
                   "--formatter-property", "print.key=true", "--formatter-property", "key.separator=:", "--timeout-ms", "20000")
    assert sorted(consumed.stdout.split()) == ["a:1", "b:2", "c:3"], consumed.stderr
    groups = run("kafka-consumer-groups.sh", "--bootstrap-server", cluster.bootstrap_servers,
                 "--describe", "--group", "cli-test-group")
    assert topic in groups.stdout and "cli-test-group" in groups.stdout, groups.stderr


def test_configs_tool_reads_the_broker_settings(cluster):
    out = run("kafka-configs.sh", "--bootstrap-server", cluster.bootstrap_servers, "--describe", "--all",
              "--entity-type", "brokers", "--entity-name", "1")
    assert "auto.create.topics.enable=false" in out.stdout, out.stderr


@pytest.mark.parametrize("tool", ["kafka-producer-perf-test.sh", "kafka-consumer-perf-test.sh"])
def test_perf_tools_start(tool):
    out = run(tool, "--help")
    assert "usage" in (out.stdout + out.stderr).lower()


def test_unknown_tool_is_refused():
    out = subprocess.run(["python", "-m", "kafkacourse.course.tools", "kafka-nonsense.sh"], capture_output=True, text=True)
    assert out.returncode != 0 and "unknown tool 'kafka-nonsense.sh'" in out.stderr


def test_cli_passes_unknown_options_to_pytest_and_refuses_them_elsewhere():
    from kafkacourse.course import cli
    with pytest.raises(SystemExit):
        cli.main(["status", "--bogus"])
    assert cli.main(["test", "--collect-only", "-q", "tests/test_naming.py"]) == 0
