"""instruments.security against the live secure profile: each helper's refusal is the client's real error,
beside an accepted twin; users, ACLs and certificates the tests make are removed again."""

from __future__ import annotations

import datetime as dt

import pytest

import kafkacourse as kc
from kafkacourse.instruments import security
from kafkacourse.stack import certificates

pytestmark = pytest.mark.secure


@pytest.fixture(scope="module")
def secure() -> kc.Cluster:
    return kc.connect(profile="secure")


@pytest.fixture
def user(secure):
    name = kc.unique_name("test-user")
    security.upsert_scram_user(secure.admin(), name, "pw-1")
    yield name
    security.delete_acls(secure.admin(), f"User:{name}")
    security.delete_scram_user(secure.admin(), name)


def test_attempt_keeps_the_clients_error_name_and_message(secure, user):
    config = security.scram_config(secure.as_principal("alice").config(), user, "pw-1")
    security.wait_for_login(config)
    right = security.attempt("right", lambda: security.connect(config))
    wrong = security.attempt("wrong", lambda: security.connect({**config, "sasl.password": "nope"}))
    plain = security.attempt("plain", lambda: security.connect({"bootstrap.servers": config["bootstrap.servers"]}))
    assert right == {"situation": "right", "outcome": "accepted", "error": "", "message": ""}
    assert wrong["outcome"] == "refused" and wrong["error"] == "_AUTHENTICATION"
    assert "invalid credentials" in wrong["message"] and "after" not in wrong["message"].split("SCRAM-SHA-512")[-1]
    assert plain["error"] == "_ALL_BROKERS_DOWN" and "connection closed by peer" in plain["message"], plain
    assert list(security.catalogue([right, wrong]).columns) == ["situation", "outcome", "error", "message"]
    with pytest.raises(ValueError, match="until"):
        security.attempt("x", lambda: None, until="maybe")
    with pytest.raises(ValueError, match="SASL"):
        security.scram_config(secure.as_principal("carol").config(), user, "pw")


def test_scram_users_are_created_rotated_and_deleted(secure, user):
    admin = secure.admin()
    assert user in set(security.scram_users(admin).user)
    old = security.scram_config(secure.as_principal("alice").config(), user, "pw-1")
    security.wait_for_login(old)
    security.upsert_scram_user(admin, user, "pw-2")
    security.wait_for_login({**old, "sasl.password": "pw-2"})
    assert security.attempt("old", lambda: security.connect(old))["error"] == "_AUTHENTICATION"
    security.delete_scram_user(admin, user)
    security.delete_scram_user(admin, user)  # a second time: nothing to delete, no error
    assert user not in set(security.scram_users(admin).user)


def test_acls_grant_and_revoke_exactly_what_they_name(secure, user):
    admin, principal = secure.admin(), f"User:{user}"
    topic = secure.create_topic(kc.unique_name("test-acl"))
    config = security.scram_config(secure.as_principal("alice").config(), user, "pw-1")
    security.wait_for_login(config)
    try:
        before = security.attempt("no ACL", lambda: security.produce_one(config, topic))
        assert before["error"] == "TOPIC_AUTHORIZATION_FAILED", before
        allow = security.acl(principal, "topic", topic, "write")
        security.create_acls(admin, [allow, security.acl(principal, "TOPIC", topic, "READ")])
        assert security.attempt("ACL", lambda: security.produce_one(config, topic), until="accepted")["outcome"] == "accepted"
        group = security.attempt("no group ACL", lambda: security.consume_one(config, topic, kc.unique_name("g")))
        assert group["error"] == "GROUP_AUTHORIZATION_FAILED", group
        table = security.acl_table(admin, principal)
        assert sorted(table.operation) == ["READ", "WRITE"] and set(table.name) == {topic}
        assert security.delete_acl(admin, allow) == 1 and list(security.acl_table(admin, principal).operation) == ["READ"]
        roles = security.role_acls([("GROUP", "g-", "PREFIXED", "READ")], principal)
        assert roles[0].resource_pattern_type.name == "PREFIXED" and roles[0].principal == principal
        assert security.delete_acls(admin, principal) == 1 and security.acl_table(admin, principal).empty
    finally:
        secure.delete_topic(topic)
    for bad in ("", "*", "alice"):
        with pytest.raises(ValueError, match="principal"):
            security.delete_acls(admin, bad)
    with pytest.raises(ValueError, match="unknown ACL word"):
        security.acl(principal, "TOPIC", topic, "SCRIBBLE")


def test_issued_certificates_say_what_they_were_made_with(secure, tmp_path):
    now = dt.datetime.now(dt.timezone.utc)
    cert, key = certificates.issue(secure.stack.certificates, "old", into=tmp_path, dns_names=("kafka.example",),
                                   not_before=now - dt.timedelta(days=2), not_after=now - dt.timedelta(days=1))
    assert key.exists() and (tmp_path / "old-keystore.pem").exists()
    assert not (secure.stack.certificates / "old.pem").exists(), "written into the given folder only"
    row = security.certificate_row(cert)
    assert row["SAN"] == "kafka.example" and not row["valid now"] and not row["CA"]
    assert row["issuer"] == security.certificate_row(secure.stack.certificates / "ca.pem")["subject"]
    table = security.certificate_table([secure.stack.certificates / "ca.pem", cert])
    assert list(table.CA) == [True, False]
