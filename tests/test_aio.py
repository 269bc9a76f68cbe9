"""kafkacourse.instruments.aio on the live broker: awaited delivery reports, failures, flush on close, AIOProducer shim."""

from __future__ import annotations

import asyncio
import time

import pytest
from confluent_kafka import KafkaException

import kafkacourse as kc
from kafkacourse.instruments.aio import AIO_MODULES, AsyncProducer, aio_producer, aio_producer_class


def test_send_returns_the_delivered_message_and_the_record_is_on_the_topic(cluster, topic):
    async def main():
        async with AsyncProducer(cluster.config()) as producer:
            return await asyncio.gather(*[producer.send(topic, value=f"v{i}", key=f"k{i % 3}") for i in range(9)])

    messages = asyncio.run(main())
    assert [m.error() for m in messages] == [None] * 9
    assert sorted(m.offset() for m in messages if m.partition() == messages[0].partition())[0] == 0
    records = cluster.consume(topic, n=9, timeout=5)
    assert sorted(records.value) == sorted(f"v{i}" for i in range(9))
    placed = {(m.key().decode(), m.value().decode()): (m.partition(), m.offset()) for m in messages}
    assert placed == {(r.key, r.value): (r.partition, r.offset) for r in records.itertuples()}


def test_send_respects_partition_and_headers(cluster, topic):
    async def main():
        async with AsyncProducer(cluster.config()) as producer:
            return await producer.send(topic, value=b"x", partition=2, headers={"source": "test"})

    msg = asyncio.run(main())
    assert msg.partition() == 2
    consumer = cluster.consumer()
    try:
        consumer.subscribe([topic])
        got = None
        deadline = time.monotonic() + 10
        while got is None and time.monotonic() < deadline:
            got = consumer.poll(0.5)
    finally:
        consumer.close()
    assert got is not None and got.headers() == [("source", b"test")]


def test_the_event_loop_keeps_running_while_a_delivery_is_awaited(cluster, topic):
    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        async with AsyncProducer(cluster.config(settings={"linger.ms": 300})) as producer:  # the report takes >= 300 ms
            started = time.perf_counter()
            await producer.send(topic, value=b"slow")
            waited = time.perf_counter() - started
        task.cancel()
        return waited, ticks

    waited, ticks = asyncio.run(main())
    assert waited >= 0.25, f"linger.ms=300 should hold the record ~300 ms, got {waited:.3f} s"
    # a blocked loop ticks at most once; a free one many times (fewer when the machine is loaded)
    assert ticks >= 5, f"the loop ran only {ticks} ticks while a delivery was awaited: it was blocked"


def test_a_failed_delivery_raises_kafka_exception(cluster):
    missing = kc.unique_name("no-such-topic")  # auto.create.topics.enable=false: never delivered

    async def main():
        async with AsyncProducer(cluster.config(settings={"message.timeout.ms": 1500})) as producer:
            await producer.send(missing, value=b"lost")

    with pytest.raises(KafkaException):
        asyncio.run(main())


def test_close_flushes_records_nobody_awaited(cluster, topic):
    async def main():
        producer = AsyncProducer(cluster.config(settings={"linger.ms": 5000}))  # held 5 s unless flushed
        futures = [producer.produce(topic, value=f"f{i}") for i in range(5)]
        queued = len(producer)
        left = await producer.aclose()
        await asyncio.sleep(0.05)  # let the loop run the delivery callbacks the flush scheduled
        return queued, left, futures

    queued, left, futures = asyncio.run(main())
    assert queued == 5 and left == 0
    assert sorted(cluster.consume(topic, n=5, timeout=5).value) == [f"f{i}" for i in range(5)]
    assert all(f.done() and f.exception() is None for f in futures)


def test_aio_producer_comes_from_confluent_kafka_and_delivers(cluster, topic):
    cls = aio_producer_class()
    assert cls.__name__ == "AIOProducer" and cls.__module__.startswith(AIO_MODULES)

    async def main():
        producer = aio_producer(cluster.config(), buffer_timeout=0.1)
        try:
            return await (await producer.produce(topic, value=b"from-aio"))
        finally:
            await producer.close()

    msg = asyncio.run(main())
    assert msg.error() is None and msg.topic() == topic
    assert cluster.consume(topic, n=1, timeout=5).value.tolist() == ["from-aio"]


def test_close_purges_what_it_could_not_deliver_in_time_and_is_idempotent(cluster):
    missing = kc.unique_name("no-such-topic")  # never delivered: waits for the topic until message.timeout.ms

    async def main():
        producer = AsyncProducer(cluster.config(settings={"message.timeout.ms": 60_000}))
        future = producer.produce(missing, value=b"stuck")
        left = producer.close(timeout=0.5)
        again = producer.close()
        await asyncio.sleep(0.05)  # the purged record's report reaches the loop
        return left, again, future, len(producer)

    left, again, future, length = asyncio.run(main())
    assert (left, again, length) == (1, 0, 0)
    assert future.done() and isinstance(future.exception(), KafkaException)


def test_submit_gives_a_thread_a_future_of_its_own_record(cluster, topic):
    from concurrent.futures import ThreadPoolExecutor

    producer = AsyncProducer(cluster.config())
    try:
        with ThreadPoolExecutor(4) as pool:
            messages = list(pool.map(lambda i: producer.submit(topic, value=f"v{i}", key=f"k{i}").result(10), range(8)))
        assert sorted(m.key() for m in messages) == [f"k{i}".encode() for i in range(8)]
        assert len({(m.partition(), m.offset()) for m in messages}) == 8
        missing = producer.submit(kc.unique_name("no-such-topic"), value=b"x")
    finally:
        producer.close(timeout=1)
    with pytest.raises(KafkaException):
        missing.result(5)
