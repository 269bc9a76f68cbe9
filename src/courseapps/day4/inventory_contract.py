"""The Day 3 inventory consumer's side of its contract with the order producer (lesson 06).

`order_placed_contract()` is what the inventory consumer reads from an order event (the lab's ``apply_order`` in
solutions/day3: ``event["event_id"]``, and each of ``event["lines"]`` with its ``sku`` and ``quantity``) —
stated with pact matchers, i.e. by type, not by value. `handle_order_placed` is that consumer's handling of one
message against the Day 3 stock database (``courseapps.day3.inventory_stock``), used by pact as the handler.

>>> handler = StockHandler(db_path)               # a stock database made with inventory_stock.create
>>> handler(b'{"event_id": "e-1", "order_id": "o-1", "lines": [{"sku": "mug", "quantity": 2}]}', {})
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from courseapps.day3 import inventory_stock

__all__ = ["order_placed_contract", "StockHandler"]


def order_placed_contract() -> dict[str, Any]:
    """The message body the inventory consumer needs, with pact matchers (import of pact deferred)."""
    from pact import match

    return {"event_id": match.str("e-1"), "order_id": match.str("o-1"),
            "lines": match.each_like({"sku": match.str("mug"), "quantity": match.int(2)})}


class StockHandler:
    """Apply one order event's lines to the stock database at `db_path`, all lines or none."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        self.applied: list[str] = []

    def __call__(self, body: bytes | str | None, metadata: dict[str, Any]) -> None:
        event = json.loads(body or b"null")
        if not isinstance(event, dict) or not isinstance(event.get("lines"), list) or "event_id" not in event:
            raise ValueError(f"not an order event with event_id and lines: {body!r}")
        db = inventory_stock.connect(self.db_path)
        try:
            with db:  # one transaction: an unknown sku rolls every line back
                for line in event["lines"]:
                    changed = db.execute("UPDATE stock SET quantity = quantity - ? WHERE sku = ?",
                                         (int(line["quantity"]), line["sku"])).rowcount
                    if changed == 0:
                        raise inventory_stock.UnknownProduct(line["sku"])
        finally:
            db.close()
        self.applied.append(event["event_id"])

