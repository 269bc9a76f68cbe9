"""A fake payment provider: an HTTP API with a configurable latency, decline rate and error rate.

    python -m courseapps.capstone.payments.provider --port 8700 --store provider.db \
        --latency-ms 20 --decline-rate 0.1 --error-rate 0

``POST /charges`` with header ``Idempotency-Key: <order id>`` and ``{"order_id", "amount"}`` answers
``200 {"charge_id", "status": "charged"}``, ``402 {"status": "declined"}`` (a business answer: the saga
compensates), or ``503`` (an outage: the caller retries). Like a real provider it honours the idempotency
key: the same key charges once and answers the first answer again, so a caller that crashed after the charge
and asks again is not charged twice. Every charge it made is a row of its store (``charges``), which the
invariants checker reads. Whether an order is declined is decided by its id (a hash), so a retry of a
declined order is declined again. ``POST /config`` changes latency_ms / decline_rate / error_rate at run time
(the "slow payment provider" fault); ``GET /config`` shows them.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import sqlite3
import time
import uuid
from typing import Any

from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..service import connect_store, http_app, say, serve_http

SCHEMA = """
CREATE TABLE IF NOT EXISTS charges (idempotency_key TEXT PRIMARY KEY, order_id TEXT NOT NULL, amount INTEGER NOT NULL,
                                    status TEXT NOT NULL, charge_id TEXT, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS calls (n INTEGER PRIMARY KEY AUTOINCREMENT, idempotency_key TEXT, at INTEGER);
"""


class Charge(BaseModel):
    order_id: str
    amount: int = Field(ge=0)


class Config(BaseModel):
    latency_ms: float | None = Field(default=None, ge=0)
    decline_rate: float | None = Field(default=None, ge=0, le=1)
    error_rate: float | None = Field(default=None, ge=0, le=1)


def declined(order_id: str, rate: float) -> bool:
    """Whether `order_id` is one the provider declines at `rate` (a hash of the id: the same answer every time)."""
    return int(hashlib.sha256(order_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < rate


def create_app(store: str, latency_ms: float = 20, decline_rate: float = 0.1, error_rate: float = 0.0) -> FastAPI:
    db = connect_store(store, SCHEMA)
    config = {"latency_ms": latency_ms, "decline_rate": decline_rate, "error_rate": error_rate}
    app = FastAPI(title="fake payment provider")

    @app.post("/charges")
    async def charge(body: Charge, idempotency_key: str = Header(...)) -> Any:
        await asyncio.sleep(config["latency_ms"] / 1000)
        db.execute("INSERT INTO calls (idempotency_key, at) VALUES (?, ?)", (idempotency_key, int(time.time() * 1000)))
        if random.random() < config["error_rate"]:
            raise HTTPException(503, "provider unavailable")
        try:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT status, charge_id FROM charges WHERE idempotency_key = ?",
                             (idempotency_key,)).fetchone()
            if row is None:
                status = "declined" if declined(body.order_id, config["decline_rate"]) else "charged"
                charge_id = f"ch_{uuid.uuid4().hex[:12]}" if status == "charged" else None
                db.execute("INSERT INTO charges VALUES (?, ?, ?, ?, ?, ?)", (idempotency_key, body.order_id,
                           body.amount, status, charge_id, int(time.time() * 1000)))
                row = (status, charge_id)
            db.execute("COMMIT")
        except sqlite3.Error:
            db.execute("ROLLBACK")
            raise
        if row[0] == "declined":
            return JSONResponse({"status": "declined", "order_id": body.order_id}, status_code=402)
        return {"status": "charged", "charge_id": row[1], "order_id": body.order_id}

    @app.get("/config")
    def get_config() -> dict[str, float]:
        return config

    @app.post("/config")
    def set_config(change: Config) -> dict[str, float]:
        config.update({k: v for k, v in change.model_dump().items() if v is not None})
        say("config", **config)
        return config

    return http_app("provider", lambda: {"config": config}, app)


def main() -> None:
    parser = argparse.ArgumentParser(description="the capstone's fake payment provider")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--store", required=True)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--decline-rate", type=float, default=0.1)
    parser.add_argument("--error-rate", type=float, default=0.0)
    args = parser.parse_args()
    server = serve_http(create_app(args.store, args.latency_ms, args.decline_rate, args.error_rate), args.port)
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()
    say("closed", service="provider")


if __name__ == "__main__":
    main()
