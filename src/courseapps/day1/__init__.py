"""Day 1 apps.

Lesson 01 (why event-driven): `downstream` (a service with a delay / failure switch), `order_sync` (an order
API calling three downstream services in turn), `order_events` (the same API publishing an "order placed"
event instead) and `forwarder` (a consumer-group member handing each event to a downstream service).

Lesson 07 (background tasks vs consumers): `background_work` (FastAPI BackgroundTasks), `job_events` (a job
API that publishes events), `job_worker` (the consumer process doing the jobs) and `blocking` (what a blocking
call inside ``async def`` does to the event loop). Both event APIs produce through
`kafkacourse.instruments.aio.AsyncProducer`, whose delivery reports an ``async def`` endpoint can await.
"""
