"""FastAPI apps of Day 2 (schemas, producers, transactions, idempotency)."""
