"""The secure profile against its live broker: SCRAM-SHA-512 over SASL_SSL, client certificates over SSL,
ACLs under StandardAuthorizer. Each refusal is the client's real error; each has an accepted twin beside it."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType, ResourcePatternType,
                                  ResourceType)

import kafkacourse as kc
from kafkacourse.cluster import quiet_logger
from kafkacourse.stack import certificates

pytestmark = pytest.mark.secure


@pytest.fixture(scope="module")
def secure() -> kc.Cluster:
    return kc.connect(profile="secure")  # as the admin (super user)


@pytest.fixture
def secure_topic(secure):
    name = secure.create_topic(kc.unique_name("test-secure"))
    yield name
    secure.delete_topic(name)  # ACLs outlive their topic (they are kept by name): delete them too
    everything = AclBindingFilter(ResourceType.TOPIC, name, ResourcePatternType.LITERAL, None, None,
                                  AclOperation.ANY, AclPermissionType.ANY)
    for future in secure.admin().delete_acls([everything]).values():
        future.result()


def _acl(topic: str, principal: str, operation: AclOperation) -> AclBinding:
    return AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, f"User:{principal}", "*", operation,
                      AclPermissionType.ALLOW)


def _allow_write(secure: kc.Cluster, topic: str, principal: str) -> None:
    binding = _acl(topic, principal, AclOperation.WRITE)
    secure.admin().create_acls([binding])[binding].result()


def _client_errors(config: dict, timeout: float = 15.0) -> list[KafkaError]:
    """The errors a producer with `config` reports (error_cb) while it tries to connect."""
    errors: list[KafkaError] = []
    producer = Producer({**config, "error_cb": errors.append, "logger": quiet_logger("refused")})
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not errors:
            producer.poll(0.2)
    finally:
        producer.flush(0)
    return errors


def test_each_principal_connects_through_its_own_listener(secure):
    assert secure.principal == "admin" and secure.config()["sasl.username"] == "admin"
    alice, carol = secure.as_principal("alice"), secure.as_principal("carol")
    assert alice.config()["security.protocol"] == "SASL_SSL" and alice.config()["sasl.mechanism"] == "SCRAM-SHA-512"
    assert carol.config()["security.protocol"] == "SSL" and "sasl.username" not in carol.config()
    assert alice.bootstrap_servers != carol.bootstrap_servers
    with pytest.raises(ValueError, match="not 'mallory'"):
        secure.as_principal("mallory")


def test_a_principal_without_an_acl_is_refused(secure, secure_topic):
    _allow_write(secure, secure_topic, "alice")
    bob = secure.as_principal("bob").produce(secure_topic, ["from bob"], settings={"message.timeout.ms": 10000})
    assert "TOPIC_AUTHORIZATION_FAILED" in bob.error[0], bob.error[0]
    alice = secure.as_principal("alice").produce(secure_topic, ["from alice"])
    assert alice.error.isna().all(), "the ACL lets alice write"
    assert [m.value() for m in secure.messages(secure_topic)] == [b"from alice"]


def test_a_client_certificate_of_the_course_ca_is_its_principal(secure, secure_topic):
    refused = secure.as_principal("carol").produce(secure_topic, ["before the ACL"],
                                                   settings={"message.timeout.ms": 10000})
    assert "TOPIC_AUTHORIZATION_FAILED" in refused.error[0], "User:carol (the certificate's CN) has no ACL yet"
    _allow_write(secure, secure_topic, "carol")
    assert secure.as_principal("carol").produce(secure_topic, ["with the ACL"]).error.isna().all()


def test_scram_with_a_wrong_password_is_refused(secure):
    right = _client_errors(secure.as_principal("alice").config(), timeout=3)
    assert not [e for e in right if e.code() == KafkaError._AUTHENTICATION], right
    wrong = _client_errors(secure.as_principal("alice").config(settings={"sasl.password": "not-alices"}))
    assert wrong and wrong[0].code() == KafkaError._AUTHENTICATION, wrong
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in wrong[0].str()


def test_a_certificate_from_a_foreign_ca_is_refused(secure, tmp_path):
    certificates.ensure(tmp_path, clients=["carol"])  # same CN, another CA
    foreign = secure.as_principal("carol").config(settings={"ssl.certificate.location": str(tmp_path / "carol.pem"),
                                                            "ssl.key.location": str(tmp_path / "carol-key.pem")})
    errors = _client_errors(foreign)
    assert errors and errors[0].code() == KafkaError._TRANSPORT, errors
    assert "certificate unknown" in errors[0].str(), "the broker's TLS alert: it does not trust that CA"
    assert not _client_errors(secure.as_principal("carol").config(), timeout=3), "the course CA's carol connects"


def test_the_secure_profile_through_environment_variables_only(secure, monkeypatch, tmp_path):
    """As a remote cluster would be configured: no profile, no stack, only the environment."""
    settings = secure.as_principal("alice").config()
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", settings.pop("bootstrap.servers"))
    for key, value in settings.items():
        monkeypatch.setenv("KAFKA_CLIENT_" + key.upper().replace(".", "_"), value)
    remote = kc.connect()
    assert remote.stack is None and remote.config()["sasl.username"] == "alice"
    assert remote.brokers().broker.tolist() == [1], "authenticated as alice over SASL_SSL"

    monkeypatch.setenv("KAFKA_CLIENT_SASL_PASSWORD", "not-alices")
    started = time.monotonic()
    with pytest.raises(KafkaException, match="invalid credentials with SASL mechanism SCRAM-SHA-512") as refused:
        kc.connect(timeout=60)
    assert refused.value.args[0].code() == KafkaError._AUTHENTICATION
    assert time.monotonic() - started < 30, "refused at the first answer, not after the whole timeout"


def test_the_secure_profile_through_a_properties_file(secure, monkeypatch, tmp_path):
    settings = secure.as_principal("carol").config()
    properties = tmp_path / "client.properties"
    properties.write_text("# like kafka-console-producer.sh --command-config\n"
                          + "".join(f"{key}={value}\n" for key, value in settings.items())
                          + f"schema.registry.url={secure.schema_registry_url}\n"
                          + "schema.registry.basic.auth.user.info=carol:unused\n")
    monkeypatch.setenv("KAFKA_CLIENT_CONFIG", str(properties))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    remote = kc.connect()
    assert remote.stack is None and remote.bootstrap_servers == settings["bootstrap.servers"]
    assert remote.registry_config() == {"url": secure.schema_registry_url, "basic.auth.user.info": "carol:unused"}
    assert remote.config()["ssl.certificate.location"].endswith("carol.pem")
    assert remote.brokers().broker.tolist() == [1]


def test_the_java_tools_connect_as_a_principal_through_tool_config(secure, secure_topic):
    import subprocess
    from pathlib import Path

    acls = Path(__file__).resolve().parents[1] / "bin" / "kafka-acls.sh"
    _allow_write(secure, secure_topic, "alice")
    for who, listed in (("admin", True), ("bob", False)):
        out = subprocess.run([str(acls), "--bootstrap-server", secure.as_principal(who).bootstrap_servers,
                              "--command-config", str(secure.stack.tool_config(who)), "--list", "--topic", secure_topic],
                             capture_output=True, text=True, timeout=120)
        assert ("User:alice" in out.stdout) is listed, (who, out.stdout, out.stderr[-500:])
    topics = Path(acls).with_name("kafka-topics.sh")
    out = subprocess.run([str(topics), "--bootstrap-server", secure.as_principal("carol").bootstrap_servers,
                          "--command-config", str(secure.stack.tool_config("carol")), "--list"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and secure_topic not in out.stdout.split(), "carol (mTLS) connects, sees no topic"


@pytest.mark.slow
def test_the_controller_listener_lets_only_the_broker_alter_acls(secure, tmp_path):
    """The controller listener is mTLS: no client reaches it without a certificate of the course CA, and a
    certificate that is not the broker's is only a principal like any other (no ALTER on the cluster). The
    Java tools can talk to it directly (``--bootstrap-controller``, KIP-919), so this is where ACLs could leak."""
    import subprocess
    from pathlib import Path

    acls = Path(__file__).resolve().parents[1] / "bin" / "kafka-acls.sh"
    certs = secure.stack.certificates
    controller = f"localhost:{secure.stack.nodes[0].controller_port}"
    topic = kc.unique_name("test-controller-acl")

    def add_acl(who: str, tls: bool) -> subprocess.CompletedProcess:
        config = tmp_path / f"{who}.properties"
        # A refused connection is retried until default.api.timeout.ms: short without TLS (it can only time out),
        # long enough with it for a loaded machine.
        timeout_ms = 30000 if tls else 8000
        config.write_text(f"default.api.timeout.ms={timeout_ms}\nrequest.timeout.ms={timeout_ms // 2}\n" + (f"security.protocol=SSL\nssl.keystore.type=PEM\n"
                                   f"ssl.keystore.location={certs / f'{who}-keystore.pem'}\n"
                                   f"ssl.truststore.type=PEM\nssl.truststore.location={certs / 'ca.pem'}\n"
                                   if tls else ""))
        return subprocess.run([str(acls), "--bootstrap-controller", controller, "--command-config", str(config),
                               "--add", "--allow-principal", "User:bob", "--operation", "All", "--topic", topic],
                              capture_output=True, text=True, timeout=120)

    anonymous = add_acl("anonymous", tls=False)
    assert anonymous.returncode != 0 and "TimeoutException" in anonymous.stderr + anonymous.stdout, \
        "a PLAINTEXT client gets no answer from the TLS controller listener"
    carol = add_acl("carol", tls=True)
    assert carol.returncode != 0 and "ClusterAuthorizationException" in carol.stderr + carol.stdout, (carol.stdout + carol.stderr)[-800:]
    broker = add_acl("broker", tls=True)
    try:
        assert broker.returncode == 0 and "principal=User:bob" in broker.stdout, (broker.stdout + broker.stderr)[-800:]
    finally:
        everything = AclBindingFilter(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, None, None,
                                      AclOperation.ANY, AclPermissionType.ANY)
        for future in secure.admin().delete_acls([everything]).values():
            future.result()


def _java_hashmap_bucket(name: str) -> int:
    """The bucket of `name` in a small java.util.HashMap (16 buckets): the order the broker iterates users."""
    h = 0
    for char in name:
        h = (31 * h + ord(char)) & 0xFFFFFFFF
    return (h ^ (h >> 16)) & 15


@pytest.mark.slow
def test_a_restarted_broker_gets_back_the_scram_users_kafka_dropped(scratch_home, port_offset):
    """Kafka 4.3.1 drops every SCRAM user when a broker starts from a metadata log in which a deleted user comes
    first in HashMap order (broker.restore_scram_users says why); `up` restores the profile's users."""
    from kafkacourse.instruments import security
    from kafkacourse.stack import LocalStack, processes
    from kafkacourse.stack.services.broker import restore_scram_users

    stack = LocalStack(profile="secure")
    stack.up(progress=lambda _msg: None)
    try:
        admin = kc.connect(profile="secure").admin()
        first = min(_java_hashmap_bucket(p.name) for p in stack.profile.principals)
        doomed = next(name for name in (kc.unique_name("gone") for _ in range(1000))
                      if _java_hashmap_bucket(name) < first)
        security.upsert_scram_user(admin, doomed, "gone-secret")
        security.delete_scram_user(admin, doomed)
        stack.down(progress=lambda _msg: None)

        node = stack.brokers[0]
        node.start(progress=lambda _msg: None)        # the process alone: no repair yet
        restored: list[str] = []

        def asked() -> bool:
            try:
                restored.extend(restore_scram_users(stack.profile, stack.certificates, timeout=5))
                return True
            except KafkaException:                    # the mTLS listener does not answer yet
                return False

        processes.wait_until(asked, node.process, what="the broker's mTLS listener", timeout=90)
        assert restored == ["admin", "alice", "bob"]  # Kafka had lost all three; the broker's cert put them back
        node.wait_ready()
        for who in ("admin", "alice", "bob"):
            security.connect(stack.client_settings(who), timeout=10)
        assert restore_scram_users(stack.profile, stack.certificates) == []  # nothing missing any more
    finally:
        stack.reset(progress=lambda _msg: None)
