"""Await Kafka delivery reports from asyncio code (a FastAPI ``async def`` endpoint) without blocking the loop.

`confluent_kafka.Producer.produce()` only puts a record in the client's memory; the broker's answer comes
back later as a *delivery report*, handed to a callback by ``poll()`` or ``flush()``. Both of those block, so
an ``async def`` endpoint must not call them. Two ways to await the report instead:

* :class:`AsyncProducer` — a plain Producer plus a thread that polls all the time; each delivery report
  resolves an asyncio future through ``loop.call_soon_threadsafe``. ``await send(...)`` returns as soon as
  the broker has acknowledged that one record (a few ms with the default ``linger.ms=5``).
* :meth:`AsyncProducer.submit` — the same poll thread for *plain threads* (a FastAPI ``def`` endpoint):
  it returns a ``concurrent.futures.Future`` that the delivery report resolves, so each request waits for
  its own record only (``future.result(timeout)``), never for a ``flush()`` of everybody's records.
* :func:`aio_producer` — confluent-kafka's own ``AIOProducer``. It collects records in a Python buffer and
  hands them to librdkafka in batches, when `batch_size` records are waiting or after `buffer_timeout` s
  without a new one (defaults 1000 and 1 s): built for throughput, so a lone awaited record waits for that
  timeout. Its import path moved once (``confluent_kafka.experimental.aio`` → ``confluent_kafka.aio``);
  :func:`aio_producer_class` finds it in either place.

>>> from kafkacourse.aio import AsyncProducer
>>> producer = AsyncProducer(cluster.config())          # once per app, in the lifespan
>>> msg = await producer.send("orders", key="o-1", value=b"{...}")
>>> msg.partition(), msg.offset()
>>> producer.close()                                     # stop polling, flush what is still queued
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import threading
from typing import Any

from confluent_kafka import KafkaException, Message, Producer

AIO_MODULES = ("confluent_kafka.aio", "confluent_kafka.experimental.aio")  # newest first


class AsyncProducer:
    """A confluent_kafka Producer whose delivery reports can be awaited; one instance per application.

    `config` is a librdkafka producer config (``cluster.config(...)``). A daemon thread calls
    ``poll(poll_interval)`` until :meth:`close`, which runs every delivery callback as soon as the broker
    answers. The underlying Producer is :attr:`producer` (for ``len()``, ``list_topics`` …).

    >>> async with AsyncProducer(cluster.config()) as producer:   # or create / close() in a lifespan
    ...     msg = await producer.send(topic, value=b"hello", key="k1")
    """

    def __init__(self, config: dict[str, Any], poll_interval: float = 0.05) -> None:
        self.producer = Producer(config)
        self._poll_interval = poll_interval
        self._closed = False
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="delivery-reports", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(self._poll_interval)  # runs the delivery callbacks of answered records

    def produce(self, topic: str, value: bytes | str | None = None, key: bytes | str | None = None, *,
                partition: int | None = None, headers: dict[str, Any] | list | None = None) -> asyncio.Future:
        """Queue one record and return a future of its delivery report, without waiting for it.

        The future's result is the delivered Message (partition, offset); it raises KafkaException if the
        record could not be delivered. Must be called from a running event loop. BufferError when the
        client's queue is full (``queue.buffering.max.messages``).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Message] = loop.create_future()

        def settle(err: Any, msg: Message) -> None:  # on the poll thread: hand the report to the loop
            try:
                loop.call_soon_threadsafe(_resolve, future, msg, err)
            except RuntimeError:  # the loop is closed already (shutdown): nobody awaits this any more
                pass

        self._produce(topic, value, key, partition, headers, settle)
        return future

    def submit(self, topic: str, value: bytes | str | None = None, key: bytes | str | None = None, *,
               partition: int | None = None, headers: dict[str, Any] | list | None = None,
               ) -> concurrent.futures.Future:
        """Queue one record from any thread; a ``concurrent.futures.Future`` of its delivery report.

        For synchronous code (a FastAPI ``def`` endpoint on the threadpool): ``submit(...).result(timeout)``
        blocks this thread until *this* record is acknowledged (the poll thread resolves the future), unlike
        ``flush()``, which waits for every record in the producer. The result is the delivered Message; it
        raises KafkaException if delivery failed. BufferError at once when the client's queue is full
        (``queue.buffering.max.messages`` / ``queue.buffering.max.kbytes``).

        >>> msg = producer.submit(topic, value=b"hello", key="k1").result(timeout=10)
        """
        future: concurrent.futures.Future[Message] = concurrent.futures.Future()

        def settle(err: Any, msg: Message) -> None:  # on the poll thread
            if err is not None:
                future.set_exception(KafkaException(err))
            else:
                future.set_result(msg)

        self._produce(topic, value, key, partition, headers, settle)
        return future

    def _produce(self, topic: str, value: Any, key: Any, partition: int | None, headers: Any, on_delivery: Any) -> None:
        kwargs: dict[str, Any] = {"value": value, "key": key, "on_delivery": on_delivery}
        if partition is not None:
            kwargs["partition"] = partition
        if headers:
            kwargs["headers"] = headers
        self.producer.produce(topic, **kwargs)

    async def send(self, topic: str, value: bytes | str | None = None, key: bytes | str | None = None, *,
                   partition: int | None = None, headers: dict[str, Any] | list | None = None) -> Message:
        """Queue one record and wait, without blocking the loop, until the broker acknowledged it.

        Returns the delivered Message; raises KafkaException when delivery failed (after librdkafka's own
        retries, within ``delivery.timeout.ms``).
        """
        return await self.produce(topic, value, key, partition=partition, headers=headers)

    def __len__(self) -> int:
        """Records queued or in flight, whose delivery report has not been handled yet (0 once closed)."""
        return 0 if self._closed else len(self.producer)

    def close(self, timeout: float = 10.0) -> int:
        """Stop polling, flush (wait up to `timeout` s for every queued record), close the Producer.

        Returns how many records got no delivery report in time (0 = all delivered); those are purged, so
        their futures fail with KafkaException. Calling close() again does nothing and returns 0.
        """
        if self._closed:
            return 0
        self._closed = True
        self._stop.set()
        if self._poller.is_alive():
            self._poller.join()
        left = self.producer.flush(timeout)
        if left:
            self.producer.purge()  # give up on them: their delivery reports say _PURGE_QUEUE
        self.producer.close()  # leaves the broker connections now, not whenever this object is collected
        return left

    async def aclose(self, timeout: float = 10.0) -> int:
        """:meth:`close` on a worker thread, so the event loop goes on serving meanwhile."""
        return await asyncio.to_thread(self.close, timeout)

    async def __aenter__(self) -> "AsyncProducer":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _resolve(future: asyncio.Future, msg: Message, err: Any) -> None:
    if future.done():  # the awaiting request was cancelled (client went away): nobody needs the report
        return
    if err is not None:
        future.set_exception(KafkaException(err))
    else:
        future.set_result(msg)


def aio_producer_class() -> type:
    """confluent-kafka's AIOProducer class, from ``confluent_kafka.aio`` or (older releases) ``.experimental.aio``."""
    for name in AIO_MODULES:
        try:
            return importlib.import_module(name).AIOProducer
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"this confluent-kafka has no AIOProducer (looked in {', '.join(AIO_MODULES)}): "
                      "upgrade confluent-kafka to 2.12 or newer")


def aio_producer(config: dict[str, Any], **options: Any) -> Any:
    """A new ``AIOProducer(config, **options)``; call it inside a running event loop (it keeps that loop).

    `options` are AIOProducer's own: ``batch_size`` (default 1000), ``buffer_timeout`` (s, default 1.0),
    ``max_workers`` (threads for librdkafka's blocking calls, default 4).

    >>> producer = aio_producer(cluster.config())
    >>> msg = await (await producer.produce(topic, value=b"hello"))   # queue, then await the delivery report
    >>> await producer.close()
    """
    return aio_producer_class()(dict(config), **options)
