"""Issue 12, item 11: a lesson that does not control local brokers runs unchanged against a remote cluster, and
a lesson that does says so in its first cell.

"Remote" is played by the local `secure` profile (SASL_SSL, SCRAM-SHA-512, ACLs) reached *only* through
environment variables, as a learner's company cluster or Confluent Cloud would be: ``KAFKA_BOOTSTRAP_SERVERS``
and ``KAFKA_CLIENT_*``, nothing else. Then ``kc.connect()`` finds no local stack to start or inspect
(``cluster.stack is None``) and every client the library makes carries those settings.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest

import kafkacourse as kc
from kafkacourse.course.toc import without_navigation

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted((REPO / "notebooks").rglob("*.ipynb"))

# Code that needs the course's own local processes: killing or starting a broker, the stack object and its files,
# the fault proxy in front of a local broker's extra listener, another local profile, reading segment files.
LOCAL_CONTROL = re.compile(r"\b(?:kill_broker|start_broker|stop_broker)\(|\.stack\.|\bLocalStack\(|\bFaultProxy\b"
                           r"|kafka-dump-log|kc\.connect\([^)]*\bprofile=")
# The sentence such a lesson opens with (its first cell), followed by what to do on a remote cluster.
REMOTE_NOTE = "**On a remote cluster:**"

# Run against the "remote" cluster: three short lessons that do not control local brokers, one per day 1-3, each
# reaching the secured cluster through a different path the environment must configure — the library's clients
# and an upstream Java tool cell (`!kafka-consumer-groups.sh`, given --command-config by the wrapper) in day1/01,
# the schema registry's serializers beside a secured cluster in day2/02, course apps started as child processes
# (`python -m courseapps.day3.retry_worker --bootstrap-servers …`, the DLQ replay tool) in day3/05. day1/02
# and day1/04 also run remotely but take longer (day1/04: 38 s locally against day1/01's 14 s; day1/02: 61 s).
REMOTE_RUN = ["day1/01-why-event-driven.ipynb", "day2/02-avro-protobuf-and-evolution.ipynb",
              "day3/05-retries-dlq-and-circuit-breakers.ipynb"]


def controls_local_brokers(path: Path) -> list[str]:
    """What in the notebook's code needs the local stack (empty when nothing does)."""
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return sorted({m.group(0) for m in LOCAL_CONTROL.finditer(code)})


def first_cell(path: Path) -> str:
    return without_navigation(nbformat.read(path, as_version=4).cells)[0].source


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: str(p.relative_to(REPO / "notebooks")))
def test_a_lesson_that_controls_local_brokers_says_so_first(path):
    needs = controls_local_brokers(path)
    opening = first_cell(path)
    if needs:
        assert REMOTE_NOTE in opening, (f"{path.name} uses {needs}: its first cell must say {REMOTE_NOTE!r} and "
                                        "what to do on a remote cluster")
        assert len(opening.split(REMOTE_NOTE, 1)[1].split()) >= 12, "…and explain what to do there"
    else:
        assert REMOTE_NOTE not in opening, f"{path.name} runs unchanged on a remote cluster: drop {REMOTE_NOTE!r}"


def test_the_remote_run_lessons_are_lessons_that_run_remotely():
    for name in REMOTE_RUN:
        assert (REPO / "notebooks" / name).exists(), name
        assert not controls_local_brokers(REPO / "notebooks" / name), name


def remote_environment(secure: kc.Cluster) -> dict[str, str]:
    """This process's environment with the course's own cluster variables removed and the secure profile's
    admin settings (a super user, as a learner's API key with topic rights would be) given as variables only."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KAFKA_CLIENT_", "SCHEMA_REGISTRY_")) and not k.endswith("_BOOTSTRAP_SERVERS")}
    settings = secure.config()
    env["KAFKA_BOOTSTRAP_SERVERS"] = settings.pop("bootstrap.servers")
    for key, value in settings.items():
        env["KAFKA_CLIENT_" + key.upper().replace(".", "_")] = str(value)
    env["SCHEMA_REGISTRY_URL"] = secure.schema_registry_url
    env["PATH"] = f"{REPO / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.secure
@pytest.mark.slow
def test_lessons_run_unchanged_against_a_cluster_given_by_environment_variables(tmp_path):
    from nbclient import NotebookClient

    secure = kc.connect(profile="secure")            # as its admin
    env = remote_environment(secure)
    assert env["KAFKA_CLIENT_SECURITY_PROTOCOL"] == "SASL_SSL" and "KAFKA_CLIENT_SASL_PASSWORD" in env
    times = {}
    for name in REMOTE_RUN:
        path = REPO / "notebooks" / name
        nb = nbformat.read(path, as_version=4)
        # The same first code cell as the lesson's, then a check that it really talks to the "remote" cluster.
        nb.cells.append(nbformat.v4.new_code_cell(
            "import kafkacourse as kc\n"
            "probe = kc.connect()\n"
            "print(probe.stack is None, probe.bootstrap_servers, probe.config()['security.protocol'])"))
        started = time.monotonic()
        NotebookClient(nb, timeout=240, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute(env=env)
        times[name] = round(time.monotonic() - started, 1)
        probe = nb.cells[-1].outputs[0]["text"].split()
        assert probe == ["True", env["KAFKA_BOOTSTRAP_SERVERS"], "SASL_SSL"], (name, probe)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors, (name, errors)
    (tmp_path / "times.json").write_text(json.dumps(times))
    print("remote run, seconds per lesson:", times)


def test_the_tools_take_the_client_settings_from_the_environment(tmp_path):
    from kafkacourse.course.tools import with_environment_config

    env = {"KAFKA_CLIENT_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_CLIENT_SASL_MECHANISM": "PLAIN",
           "KAFKA_CLIENT_SASL_USERNAME": "KEY", "KAFKA_CLIENT_SASL_PASSWORD": "SECRET"}
    args = with_environment_config("kafka-topics.sh", ["--bootstrap-server", "b:9092", "--list"], env)
    assert args[:3] == ["--bootstrap-server", "b:9092", "--list"] and args[3] == "--command-config"
    properties = Path(args[4]).read_text()
    assert "security.protocol=SASL_SSL" in properties and "sasl.mechanism=PLAIN" in properties
    assert 'PlainLoginModule required username="KEY" password="SECRET";' in properties
    assert with_environment_config("kafka-console-consumer.sh", ["--topic", "t"], env)[2] == "--consumer.config"
    mine = ["--list", "--command-config", str(tmp_path / "own.properties")]
    assert with_environment_config("kafka-topics.sh", mine, env) == mine, "the caller's own file wins"
    assert with_environment_config("kafka-topics.sh", ["--list"], {}) == ["--list"], "no settings, no file"
    Path(args[4]).unlink()
