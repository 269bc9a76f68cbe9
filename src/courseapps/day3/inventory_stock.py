"""The inventory lab's stock database (Day 3, lab 08): one SQLite file, two tables.

``stock(sku TEXT PRIMARY KEY, quantity INTEGER)`` holds what is on the shelf; ``applied_events(event_id TEXT
PRIMARY KEY)`` is there for a consumer that wants to remember which events it has applied. `connect` opens
the file with a short busy timeout (0.2 s), so while another connection holds the write lock a statement fails
fast with ``sqlite3.OperationalError: database is locked`` — the lab's *transient* stock-service error, made
on purpose by `locked`.

>>> create(path, {"mug": 100, "tea": 50})
>>> with locked(path):        # for a moment nobody else can read or write the stock
...     ...
>>> levels(path)              # {'mug': 100, 'tea': 50}
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

BUSY_TIMEOUT_S = 0.2


class UnknownProduct(Exception):
    """An order line names a sku the stock table does not have: a permanent error."""


def connect(path: str | Path, timeout: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """A connection to the stock database that gives up on a locked database after `timeout` s."""
    return sqlite3.connect(str(path), timeout=timeout)


def create(path: str | Path, stock: dict[str, int]) -> Path:
    """A fresh stock database at `path` (an existing file is replaced) holding `stock`."""
    path = Path(path)
    path.unlink(missing_ok=True)
    db = sqlite3.connect(str(path))
    try:
        with db:
            db.execute("CREATE TABLE stock (sku TEXT PRIMARY KEY, quantity INTEGER NOT NULL)")
            db.execute("CREATE TABLE applied_events (event_id TEXT PRIMARY KEY)")
            db.executemany("INSERT INTO stock VALUES (?, ?)", sorted(stock.items()))
    finally:
        db.close()
    return path


def levels(path: str | Path) -> dict[str, int]:
    """sku → quantity now (waits up to 10 s for a lock held by someone else)."""
    db = sqlite3.connect(str(path), timeout=10)
    try:
        return dict(db.execute("SELECT sku, quantity FROM stock ORDER BY sku").fetchall())
    finally:
        db.close()


@contextmanager
def locked(path: str | Path) -> Iterator[float]:
    """Hold an exclusive lock on the database (no reader, no writer gets in) for the ``with`` block;
    yields the time it was taken (time.time())."""
    db = sqlite3.connect(str(path), timeout=10, isolation_level=None)
    try:
        db.execute("BEGIN EXCLUSIVE")
        yield time.time()
        db.execute("ROLLBACK")
    finally:
        db.close()
