"""The course database (Day 4): PostgreSQL on localhost:55432, database/user/password ``course``.

Start it with ``kafkacourse up --with postgres``. Queries go through psycopg 3; results come back as pandas.

>>> from kafkacourse import postgres
>>> postgres.execute("CREATE TABLE IF NOT EXISTS customers (id serial PRIMARY KEY, name text)")
>>> postgres.execute("INSERT INTO customers (name) VALUES (%s)", ["Ada"])
1
>>> postgres.query("SELECT * FROM customers")           # a DataFrame
>>> postgres.replication_slots()                         # Debezium's slots and the WAL each one holds back
>>> postgres.debezium_settings()                         # connection settings for a Debezium connector
"""

from __future__ import annotations

import os
import time

import pandas as pd

from .stack.services import postgres as service
from .stack.services.common import default_context

CONNECT_ADDRESS_ENV = "POSTGRES_ADDRESS_FOR_CONNECT"


def settings() -> dict[str, str | int]:
    """host, port, dbname, user, password of the course database."""
    return {"host": "localhost", "port": default_context().port(service.PORT), "dbname": service.DATABASE,
            "user": service.USER, "password": service.PASSWORD}


def connect(autocommit: bool = True, **overrides):
    """A psycopg 3 connection to the course database (autocommit by default; use it in a `with` block).

    `overrides` replace connection settings (e.g. ``dbname="postgres"``)."""
    import psycopg

    try:
        return psycopg.connect(**{**settings(), **overrides}, autocommit=autocommit, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise ConnectionError(f"the course database on localhost:{settings()['port']} does not answer "
                              f"({str(exc).strip()}); start it with `kafkacourse up --with postgres`.") from None


def execute(sql: str, params=None) -> int:
    """Run one statement (with %s parameters) in its own transaction; return the number of rows it touched."""
    with connect() as conn:
        return conn.execute(sql, params).rowcount


def query(sql: str, params=None) -> pd.DataFrame:
    """Run a query and return its rows as a DataFrame (columns named as in the result)."""
    with connect() as conn:
        cursor = conn.execute(sql, params)
        if cursor.description is None:
            raise ValueError(f"this statement returns no rows (use execute()): {sql[:80]!r}")
        return pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description])


def replication_slots() -> pd.DataFrame:
    """Every replication slot: its plugin, whether a client streams from it, and `retained_wal_bytes`: how much
    WAL the server keeps because the slot's consumer has not confirmed it yet (grows while a connector is paused)."""
    return query("""
        SELECT slot_name, plugin, database, active, restart_lsn::text, confirmed_flush_lsn::text,
               pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint AS retained_wal_bytes
        FROM pg_replication_slots ORDER BY slot_name""")


def drop_replication_slot(name: str, missing_ok: bool = True, timeout: float = 30.0) -> bool:
    """Drop a replication slot (after deleting its connector: a forgotten slot keeps WAL forever); True when
    one was dropped. Waits up to `timeout` s for the slot's client (a connector task shutting down) to let go."""
    deadline = time.monotonic() + timeout
    while True:
        slots = replication_slots()
        slot = slots[slots.slot_name == name]
        if slot.empty:
            if missing_ok:
                return False
            raise ValueError(f"there is no replication slot {name!r}")
        if not slot.active.iloc[0]:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"replication slot {name!r} is still in use after {timeout:.0f} s: stop its client")
        time.sleep(0.2)
    execute("SELECT pg_drop_replication_slot(%s)", [name])
    return True


def debezium_settings(overrides: dict | None = None) -> dict[str, str]:
    """The settings a Debezium PostgreSQL connector needs to reach the course database from the course's
    Connect worker (pgoutput decoding, the course's publication), merged with `overrides`.

    Where the worker reaches the database: localhost and the course's port, or $POSTGRES_ADDRESS_FOR_CONNECT
    (``host:port``; ``postgres:5432`` for the Connect container of docker compose)."""
    db = settings()
    host, port = db["host"], db["port"]
    if os.environ.get(CONNECT_ADDRESS_ENV):
        host, _, port = os.environ[CONNECT_ADDRESS_ENV].rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"{CONNECT_ADDRESS_ENV} is host:port, not {os.environ[CONNECT_ADDRESS_ENV]!r}")
    base = {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": host, "database.port": str(port),
        "database.user": db["user"], "database.password": db["password"], "database.dbname": db["dbname"],
        "plugin.name": "pgoutput",
        "publication.name": service.PUBLICATION,
        "publication.autocreate.mode": "disabled",  # the course's publication covers all tables already
        # The brokers never create topics on their own: Connect creates the connector's topics (RF 1, single).
        "topic.creation.default.replication.factor": "1",
        "topic.creation.default.partitions": "1",
    }
    return {**base, **{k: str(v) for k, v in (overrides or {}).items()}}
