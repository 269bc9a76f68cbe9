"""docker-compose.yml, environment.yml, pyproject.toml and the pom agree (no Docker engine runs here)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from kafkacourse.stack import profiles, runtime
from kafkacourse.stack.services import registry

REPO = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
ENVIRONMENT = yaml.safe_load((REPO / "environment.yml").read_text())
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def published_port(service: str) -> int:
    return int(COMPOSE["services"][service]["ports"][0].split(":")[0])


def test_compose_runs_the_pinned_kafka_version_everywhere():
    images = {name: svc["image"] for name, svc in COMPOSE["services"].items() if name.startswith("kafka")}
    assert set(images) == {"kafka", "kafka-1", "kafka-2", "kafka-3"}
    assert set(images.values()) == {f"apache/kafka:{runtime.versions().kafka}"}


SINGLE, CLUSTER = profiles.get("single", offset=0), profiles.get("cluster", offset=0)


def test_compose_ports_match_the_local_stack():
    assert published_port("kafka") == SINGLE.nodes[0].broker_port
    assert [published_port(f"kafka-{n.node_id}") for n in CLUSTER.nodes] == [n.broker_port for n in CLUSTER.nodes]
    assert published_port("schema-registry") == registry.PORT
    single_env = COMPOSE["services"]["kafka"]["environment"]
    assert f"EXTERNAL://localhost:{SINGLE.nodes[0].broker_port}" in single_env["KAFKA_ADVERTISED_LISTENERS"]
    assert single_env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    for service, spec in [("kafka", SINGLE.nodes[0])] + [(f"kafka-{n.node_id}", n) for n in CLUSTER.nodes]:
        env = COMPOSE["services"][service]["environment"]
        assert f"PROXIED://localhost:{spec.proxy_port}" in env["KAFKA_ADVERTISED_LISTENERS"], service
        assert f"PROXIED://:{spec.proxy_target_port}" in env["KAFKA_LISTENERS"], service
        assert f"{spec.proxy_target_port}:{spec.proxy_target_port}" in COMPOSE["services"][service]["ports"], service
    cluster_env = COMPOSE["services"]["kafka-1"]["environment"]
    assert (cluster_env["KAFKA_DEFAULT_REPLICATION_FACTOR"], cluster_env["KAFKA_MIN_INSYNC_REPLICAS"]) == (3, 2)


def test_environment_pins_equal_pyproject_pins():
    pip = next(item["pip"] for item in ENVIRONMENT["dependencies"] if isinstance(item, dict))
    project = PYPROJECT["project"]
    assert sorted(pip) == sorted(project["dependencies"] + project["optional-dependencies"]["test"])
    conda = [d for d in ENVIRONMENT["dependencies"] if isinstance(d, str)]
    assert "openjdk=17" in conda and f"python={project['requires-python'].lstrip('>=')}" in conda


def test_readme_gives_the_two_commands_ci_runs():
    readme = (REPO / "README.md").read_text()
    assert "./course open" in readme and "./course test" in readme
    assert re.search(r"^\./course test$", (REPO / ".ci" / "run").read_text(), re.M)
