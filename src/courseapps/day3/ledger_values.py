"""The ledger's record values, read and extended without importing the course library.

A lesson stamps each input record with ``kafkacourse.instruments.ledger`` (``{"id": 7, "seq": 3, ...}`` as
UTF-8 JSON). The Day 3 services only need to read the id or add a field; doing it with ``json`` here keeps
their start-up fast (the library pulls in pandas and matplotlib: seconds on a busy 2-core machine, paid on
every restart a lesson makes).
"""

from __future__ import annotations

import json


def record_id(value: bytes) -> int:
    """The ledger id of a record value: ``record_id(b'{"id": 7, "seq": 3}') == 7``."""
    return json.loads(value)["id"]


def with_fields(value: bytes, **fields: object) -> bytes:
    """The same value with extra fields: ``with_fields(b'{"id": 7}', processed_by="a")`` → ``b'{"id": 7, "processed_by": "a"}'``."""
    return json.dumps({**json.loads(value), **fields}).encode()
