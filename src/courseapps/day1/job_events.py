"""A job API that publishes each job as an event; a separate worker process (`job_worker`) does the work.

``POST /jobs`` validates the job (422 otherwise, nothing produced), produces it keyed by job id, waits for
the broker's acknowledgement (``acks=all``, so it is stored before the caller hears "accepted") and answers
202. The job now outlives this process and the worker: it stays in the topic until a consumer group has
committed past it.

>>> import kafkacourse as kc
>>> jobs = kc.serve(create_app(cluster.config(), topic))
>>> httpx.post(jobs.url + "/jobs", json={"job_id": "j-1", "seconds": 0.2})   # 202 {..., "offset": 0}
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

from confluent_kafka import KafkaException
from fastapi import FastAPI, HTTPException, Request

from kafkacourse.instruments.aio import AsyncProducer

from .models import Job

# acks=all: stored on every in-sync replica; idempotence: retries add no duplicates.
PRODUCER_SETTINGS = {"acks": "all", "enable.idempotence": True}


def create_app(kafka_config: dict[str, Any], topic: str) -> FastAPI:
    """A job API publishing to `topic`; `kafka_config` is a producer config (bootstrap.servers …)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.producer = AsyncProducer({**kafka_config, **PRODUCER_SETTINGS})  # one per app
        try:
            yield
        finally:
            await app.state.producer.aclose()  # flush before the process ends

    app = FastAPI(title="jobs (events)", lifespan=lifespan)

    @app.post("/jobs", status_code=202)
    async def submit_job(job: Job, request: Request) -> dict:
        try:
            msg = await request.app.state.producer.send(topic, key=job.job_id, value=job.model_dump_json())
        except KafkaException as exc:
            raise HTTPException(503, f"could not record the job: {exc.args[0].str()}")
        return {"job_id": job.job_id, "status": "accepted", "partition": msg.partition(), "offset": msg.offset()}

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "topic": topic}

    return app
