"""docker-compose.yml, environment.yml, pyproject.toml and the pom agree (no Docker engine runs here)."""

from __future__ import annotations

import re
import tomllib
import xml.etree.ElementTree as ET
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
    assert set(images) == {"kafka", "kafka-1", "kafka-2", "kafka-3", "kafka-dr", "kafka-secure", "kafka-secure-users"}
    assert set(images.values()) == {f"apache/kafka:{runtime.versions().kafka}"}


def test_the_streams_app_builds_against_the_stacks_kafka_version():
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    pom = ET.parse(runtime.STREAMS_PROJECT / "pom.xml").getroot()
    assert pom.find("m:properties/m:kafka.version", ns).text == runtime.versions().kafka


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


def test_compose_runs_the_dr_cluster_on_the_dr_profiles_ports():
    node = profiles.get("dr", offset=0).nodes[0]
    service = COMPOSE["services"]["kafka-dr"]
    env = service["environment"]
    assert service["profiles"] == ["dr"] and published_port("kafka-dr") == node.broker_port
    assert f"EXTERNAL://localhost:{node.broker_port}" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert f"PROXIED://localhost:{node.proxy_port}" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert f"CONTROLLER://:{node.controller_port}" in env["KAFKA_LISTENERS"]
    assert env["CLUSTER_ID"] != COMPOSE["services"]["kafka-1"]["environment"]["CLUSTER_ID"], "an independent cluster"


def test_compose_runs_the_secure_broker_from_the_secure_profile(tmp_path):
    from kafkacourse.stack.local import LocalStack
    from kafkacourse.stack.services.broker import write_compose_config

    secure = profiles.get("secure", offset=0)
    node = secure.nodes[0]
    service = COMPOSE["services"]["kafka-secure"]
    assert service["profiles"] == ["secure"]
    assert service["ports"] == [f"{l.port}:{l.port}" for l in node.listeners if l.name != "CONTROLLER"]
    assert "./.compose/secure:/mnt/shared/config:ro" in service["volumes"]  # where compose-config writes
    users = " ".join(COMPOSE["services"]["kafka-secure-users"]["command"])
    scram = [p for p in secure.principals if p.mechanism == "SCRAM-SHA-512"]
    assert [word.split(":")[0] for word in users.split() if ":" in word and "-secret" in word] == [p.name for p in scram]
    assert all(f"{p.name}:{p.password}" in users for p in scram)

    written = write_compose_config(LocalStack(profile="secure").context, secure, tmp_path / "secure")
    properties = dict(line.split("=", 1) for line in (written / "server.properties").read_text().splitlines()
                      if "=" in line and not line.startswith("#"))
    assert properties["listeners"] == "SASL_SSL://:9592,CONTROLLER://localhost:9593,SSL://:9594"
    assert properties["advertised.listeners"] == "SASL_SSL://localhost:9592,SSL://localhost:9594"
    assert properties["ssl.keystore.location"] == "/mnt/shared/config/broker-keystore.pem"
    assert all(properties[key] == value for key, value in secure.broker_settings.items())
    assert not (written / "ca-key.pem").exists(), "the CA's key is not handed to containers"


def test_compose_runs_the_day4_services_on_the_local_stacks_ports_and_versions():
    from kafkacourse.stack.services import connect, postgres, prometheus

    services = COMPOSE["services"]
    assert all(services[name]["profiles"] == ["day4"] for name in ("postgres", "connect", "prometheus"))
    assert services["postgres"]["ports"] == [f"{postgres.PORT}:5432"]
    assert services["postgres"]["image"] == "postgres:15"  # the local stack's Debian postgresql-15
    assert "wal_level=logical" in services["postgres"]["command"]
    init = COMPOSE["configs"]["course-database"]["content"]
    assert f"CREATE ROLE {postgres.USER} LOGIN REPLICATION PASSWORD '{postgres.PASSWORD}'" in init
    assert f"CREATE PUBLICATION {postgres.PUBLICATION} FOR ALL TABLES" in init
    assert published_port("connect") == connect.REST_PORT
    assert services["connect"]["image"].endswith(f"/connect:{runtime.versions().debezium}")
    env = services["connect"]["environment"]
    assert (env["CONFIG_STORAGE_TOPIC"], env["OFFSET_STORAGE_TOPIC"], env["STATUS_STORAGE_TOPIC"]) == (
        connect.CONFIG_TOPIC, connect.OFFSET_TOPIC, connect.STATUS_TOPIC)
    assert env["GROUP_ID"] == connect.GROUP_ID
    assert published_port("prometheus") == prometheus.PORT
    scrape = yaml.safe_load(COMPOSE["configs"]["prometheus-config"]["content"])
    assert scrape["global"]["scrape_interval"] == prometheus.SCRAPE_INTERVAL
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == [f"kafka:{SINGLE.nodes[0].jmx_port}"]


def test_compose_brokers_exporter_is_the_pinned_one_on_the_profiles_port():
    version = runtime.versions().jmx_exporter
    kafka = COMPOSE["services"]["kafka"]
    jmx = SINGLE.nodes[0].jmx_port
    assert f"jmx_prometheus_javaagent-{version}.jar={jmx}:" in kafka["environment"]["KAFKA_OPTS"]
    assert f"{jmx}:{jmx}" in kafka["ports"]
    assert f"io.prometheus.jmx:jmx_prometheus_javaagent:{version}" in " ".join(COMPOSE["services"]["jmx-exporter"]["command"])
    assert "./src/kafkacourse/stack/jmx-exporter-kafka.yaml:/opt/jmx-exporter/kafka.yaml:ro" in kafka["volumes"]


def test_every_exporter_rule_is_cached():
    from kafkacourse.stack.services.metrics import RULES

    for name, path in RULES.items():
        rules = yaml.safe_load(path.read_text())["rules"]
        assert rules and all(rule.get("cache") is True for rule in rules), name


def test_environment_brings_postgresql_and_prometheus():
    conda = [d for d in ENVIRONMENT["dependencies"] if isinstance(d, str)]
    assert "postgresql=15" in conda and any(d.split("=")[0] == "prometheus" for d in conda)
