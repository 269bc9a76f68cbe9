"""The course's PostgreSQL service and the postgres facade, on the real server (localhost:55432)."""

from __future__ import annotations

import os
import pwd

import pytest

import kafkacourse as kc
from kafkacourse import postgres
from kafkacourse.stack.services import postgres as service


@pytest.fixture
def table(postgres_server):
    name = kc.unique_name("t").replace("-", "_")
    postgres.execute(f"CREATE TABLE {name} (id serial PRIMARY KEY, name text NOT NULL)")
    yield name
    postgres.execute(f"DROP TABLE IF EXISTS {name}")


def test_server_runs_with_logical_decoding_and_the_course_database(postgres_server):
    postgres_server.start()  # idempotent: a second start finds the running server
    postgres_server.wait_ready(timeout=5)
    settings = postgres.query("SELECT current_setting('wal_level') AS wal_level, current_database() AS db, "
                              "current_user AS who, (SELECT rolreplication FROM pg_roles "
                              "WHERE rolname = current_user) AS replication")
    assert settings.to_dict("records") == [{"wal_level": "logical", "db": "course", "who": "course",
                                            "replication": True}]
    assert postgres.query("SELECT puballtables FROM pg_publication WHERE pubname = %s",
                          [service.PUBLICATION]).puballtables.tolist() == [True]
    findings = postgres_server.doctor()
    assert all(f.ok for f in findings) and "answering at localhost" in findings[-1].detail


def test_server_runs_as_the_postgres_user_under_root(postgres_server):
    owner = pwd.getpwuid(os.stat(postgres_server.data_dir).st_uid).pw_name
    assert owner == ("postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name)
    assert [row.state for row in postgres_server.status()] == ["running"]


def test_execute_and_query_round_trip(table):
    assert postgres.execute(f"INSERT INTO {table} (name) VALUES (%s), (%s)", ["ada", "grace"]) == 2
    rows = postgres.query(f"SELECT id, name FROM {table} ORDER BY id")
    assert rows.name.tolist() == ["ada", "grace"] and rows.id.tolist() == [1, 2]
    with pytest.raises(ValueError, match="returns no rows"):
        postgres.query(f"DELETE FROM {table} WHERE id = 1")


def test_a_replication_slot_retains_wal_until_dropped(table):
    slot = table + "_slot"
    postgres.execute("SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", [slot])
    try:
        before = postgres.replication_slots().set_index("slot_name").loc[slot, "retained_wal_bytes"]
        postgres.execute(f"INSERT INTO {table} (name) SELECT 'row ' || g FROM generate_series(1, 2000) g")
        after = postgres.replication_slots().set_index("slot_name").loc[slot, "retained_wal_bytes"]
        assert after > before + 2000 * 20  # no client confirmed anything: every new WAL byte is kept
    finally:
        assert postgres.drop_replication_slot(slot)
    assert slot not in postgres.replication_slots().slot_name.tolist()
    assert postgres.drop_replication_slot(slot) is False


def test_wrong_password_is_refused_by_the_server(postgres_server):
    with pytest.raises(ConnectionError, match="password authentication failed"):
        postgres.connect(password="wrong")


def test_missing_postgres_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(service, "DEBIAN_BIN", tmp_path / "none")
    monkeypatch.setenv(service.BIN_ENV, str(tmp_path / "empty"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(service.PostgresNotFoundError, match="apt-get install postgresql-15"):
        service.bin_dir()
    from kafkacourse.stack.services.common import default_context

    findings = service.Postgres(default_context()).doctor()
    assert not findings[0].ok and "environment.yml" in findings[0].fix

