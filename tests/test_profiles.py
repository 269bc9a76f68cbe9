"""Profiles are data, services one list: ports, offsets, the JVM-args hook, the cluster id, and a scratch stack
run on shifted ports beside the shared one."""

from __future__ import annotations

import pytest

import kafkacourse as kc
from kafkacourse.stack import LocalStack, profiles, services
from kafkacourse.stack.services import broker


def test_every_profile_runs_on_ports_of_its_own():
    owners: dict[int, str] = {}
    for profile in profiles.all_profiles(offset=0):
        for node in profile.nodes:
            for port in [*node.ports, node.jmx_port]:
                assert port not in owners, f"port {port} of {profile.name} is also {owners[port]}'s"
                owners[port] = profile.name
    assert profiles.get("cluster", offset=0).bootstrap_servers == "localhost:9192,localhost:9292,localhost:9392"
    secure = profiles.get("secure", offset=0)
    assert {l.name: (l.protocol, l.port) for l in secure.nodes[0].listeners} == {
        "SASL_SSL": ("SASL_SSL", 9592), "CONTROLLER": ("SSL", 9593), "SSL": ("SSL", 9594)}
    assert profiles.get("dr", offset=0).bootstrap_servers == "localhost:9692"


def test_a_port_offset_moves_every_port(monkeypatch):
    monkeypatch.setenv(profiles.PORT_OFFSET_ENV, "-2000")
    stack = LocalStack(profile="cluster")
    assert stack.bootstrap_servers == "localhost:7192,localhost:7292,localhost:7392"
    assert [b.jmx_port for b in stack.brokers] == [7196, 7296, 7396]
    assert stack.proxied_bootstrap_servers == "localhost:7194,localhost:7294,localhost:7394"
    assert stack.schema_registry_url.startswith("http://localhost:6081/")
    monkeypatch.setenv(profiles.PORT_OFFSET_ENV, "ten")
    with pytest.raises(ValueError, match="must be an integer"):
        LocalStack()


def test_unknown_names_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="single, cluster, secure, dr"):
        LocalStack(profile="prod")
    with pytest.raises(ValueError, match="1 or 3 brokers"):
        LocalStack(brokers=2)
    with pytest.raises(ValueError, match="the stack knows registry"):
        LocalStack(with_services=["zookeeper"])


def test_jvm_args_hooks_reach_the_broker_command_line(monkeypatch):
    seen = []

    def agent(service):
        seen.append(service.name)
        return [f"-Dcourse.test.jmx={service.jmx_port}"] if service.kind == "broker" else []

    monkeypatch.setattr(services, "JVM_ARGS", (agent,))
    stack = LocalStack(profile="cluster")
    command = stack.broker(2).command()
    assert "-Dcourse.test.jmx=9296" in command and command.index("-Dcourse.test.jmx=9296") < command.index("kafka.Kafka")
    assert not any(arg.startswith("-Dcourse.test") for arg in stack.registry.command())
    assert seen == ["cluster/broker-2", "registry"]


def test_new_cluster_ids_never_start_with_a_dash():
    ids = [broker.new_cluster_id() for _ in range(3000)]  # without the check, ~47 of them would
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(i) == 22 for i in ids) and len(set(ids)) == len(ids)


@pytest.mark.slow
def test_an_id_starting_with_a_dash_formats_and_a_stored_one_is_repaired(scratch_home, port_offset):
    stack = LocalStack()
    node = stack.broker(1)
    node.data_dir.mkdir(parents=True)
    properties = node.data_dir / "server.properties"
    properties.write_text(node.server_properties(node.data_dir / "data"))
    dashed = "-" + broker.new_cluster_id()[1:]
    broker.format_storage(properties, dashed, node.data_dir / "format.log", standalone=True)  # --cluster-id=-…
    assert f"cluster.id={dashed}" in (node.data_dir / "data" / "meta.properties").read_text()

    stack.reset(progress=lambda _msg: None)
    stack.root.mkdir(parents=True)
    (stack.root / "cluster-id").write_text(dashed)  # what older versions of the course could store
    stack.up(registry=False, progress=lambda _msg: None)
    try:
        repaired = (stack.root / "cluster-id").read_text().strip()
        assert not repaired.startswith("-")
        assert f"cluster.id={repaired}" in (node.data_dir / "data" / "meta.properties").read_text()
        assert stack.brokers_answering() == {1}
    finally:
        stack.reset(progress=lambda _msg: None)


@pytest.mark.slow
def test_up_down_status_iterate_the_profiles_services(scratch_home, port_offset):
    stack = LocalStack()
    names = [svc.name for svc in stack.services()]
    assert names == ["single/broker-1", "registry"]
    stack.up(progress=lambda _msg: None)
    try:
        assert all(svc.running() and svc.answering() for svc in stack.services())
        assert [row.state for svc in stack.services() for row in svc.status()] == ["running", "running"]
        assert all(f.ok for f in stack.doctor()), stack.doctor()
        cluster = kc.Cluster(stack.bootstrap_servers, stack.schema_registry_url, stack=stack)
        assert cluster.brokers().port.tolist() == [9092 + port_offset]
    finally:
        stack.down(progress=lambda _msg: None)
    assert not any(svc.running() for svc in stack.services())
    assert (scratch_home / "registry").exists() and stack.root.exists(), "down keeps every service's data"


@pytest.mark.slow
def test_the_dr_profile_is_a_second_independent_cluster(cluster):
    dr = kc.connect(profile="dr")
    assert dr.bootstrap_servers == profiles.get("dr").bootstrap_servers != cluster.bootstrap_servers
    ids = {c.bootstrap_servers: c.admin().describe_cluster(request_timeout=10).result().cluster_id for c in (cluster, dr)}
    assert len(set(ids.values())) == 2, f"two clusters, two cluster ids: {ids}"
    topic = dr.create_topic(kc.unique_name("test-dr"))
    try:
        assert topic in dr.topics() and topic not in cluster.topics()
        assert dr.produce(topic, ["replicated later by MirrorMaker 2"]).error.isna().all()
    finally:
        dr.delete_topic(topic)
