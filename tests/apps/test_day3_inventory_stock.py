"""The inventory lab's stock database: created fresh, read back, and locked so that writers fail fast."""

from __future__ import annotations

import sqlite3
import time

import pytest

from courseapps.day3 import inventory_stock as stock


def test_create_levels_and_a_lock_that_makes_writers_fail_within_the_busy_timeout(tmp_path):
    path = stock.create(tmp_path / "s.db", {"mug": 5, "tea": 2})
    assert stock.levels(path) == {"mug": 5, "tea": 2}
    db = stock.connect(path)
    try:
        with stock.locked(path):
            started = time.monotonic()
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                with db:
                    db.execute("UPDATE stock SET quantity = quantity - 1 WHERE sku = 'mug'")
            waited = time.monotonic() - started
        with db:
            db.execute("UPDATE stock SET quantity = quantity - 1 WHERE sku = 'mug'")
    finally:
        db.close()
    assert waited >= stock.BUSY_TIMEOUT_S * 0.9, "it waited for the busy timeout first"
    assert stock.levels(path) == {"mug": 4, "tea": 2}
    assert stock.create(path, {"pen": 1}) == path and stock.levels(path) == {"pen": 1}, "a fresh database"
