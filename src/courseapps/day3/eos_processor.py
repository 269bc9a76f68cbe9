"""The consume-transform-produce processor of Day 3 lesson 02: one Kafka transaction per batch.

Per batch of ``--batch`` input records: ``begin_transaction()``, produce one output record per input record
(the input's ledger fields plus ``processed_by``), ``send_offsets_to_transaction()`` with the consumer's group
metadata (the input offsets commit *inside* the transaction), ``commit_transaction()``. The consumer never
commits on its own (``enable.auto.commit=false``) and reads its input ``read_committed``.

    python -m courseapps.day3.eos_processor --bootstrap-servers localhost:9092 --input IN --output OUT \\
        --group G --transactional-id T --instance-id I --name first [--stall-at 35 --stall-seconds 600]

Lines it prints: ``ready (transactional.id T)`` after ``init_transactions()`` (which fences an older producer
with the same id and aborts the transaction it left open), ``assigned [0]``, ``committed <n> records``
per transaction, ``caught up <n>`` when every partition is read to its end. ``--stall-at OFFSET``: mid-batch,
after the outputs up to that input offset are *flushed to the broker* inside the open transaction, it prints
``in transaction at offset <offset>`` and sleeps ``--stall-seconds`` before going on (or until it is
resumed with SIGCONT after a SIGSTOP, like a process waking from a long pause). A producer that was
fenced meanwhile prints ``fenced: <error name>: <reason> (fatal=True)`` and exits with code 3. SIGTERM: finish the batch
in hand, close, print ``stopped``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from .consuming import BatchReader, say
from .ledger_values import with_fields
from kafkacourse.client_env import env_client_settings


FENCED_EXIT = 3
FENCING_ERRORS = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH,
                  KafkaError.FENCED_INSTANCE_ID, KafkaError.UNKNOWN_MEMBER_ID}


def transform(value: bytes, name: str) -> bytes:
    """The output value for one input value: its ledger fields plus ``processed_by``."""
    return with_fields(value, processed_by=name)


def run(bootstrap_servers: str, input_topic: str, output_topic: str, group: str, transactional_id: str, *,
        name: str = "processor", instance_id: str | None = None, batch: int = 10, stall_at: int | None = None,
        stall_seconds: float = 600.0, transaction_timeout_ms: int = 60000,
        stop: threading.Event | None = None) -> int:
    """Process `input_topic` into `output_topic` until `stop`; returns the input records committed by this run."""
    stop = stop or threading.Event()
    consumer_config: dict[str, Any] = {
        **env_client_settings(), "bootstrap.servers": bootstrap_servers, "group.id": group, "auto.offset.reset": "earliest",
        "enable.auto.commit": False, "isolation.level": "read_committed", "enable.partition.eof": True}
    if instance_id:
        consumer_config["group.instance.id"] = instance_id
    producer = Producer({**env_client_settings(), "bootstrap.servers": bootstrap_servers, "transactional.id": transactional_id,
                         "transaction.timeout.ms": transaction_timeout_ms, "linger.ms": 5})
    consumer = Consumer(consumer_config)
    reader = BatchReader(consumer)
    committed = 0
    resumed = threading.Event()     # set by SIGCONT: a paused process carries on where it was
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGCONT, lambda *_: resumed.set())

    def on_assign(_c: Consumer, partitions: list[TopicPartition]) -> None:
        reader.assigned(partitions)
        say(f"assigned {sorted(reader.partitions)}")

    try:
        producer.init_transactions(60)
        say(f"ready (transactional.id {transactional_id})")
        consumer.subscribe([input_topic], on_assign=on_assign, on_revoke=lambda _c, ps: reader.revoked(ps))
        while not stop.is_set():
            messages = reader.next_batch(batch, stop)
            if messages:
                producer.begin_transaction()
                next_offsets: dict[tuple[str, int], int] = {}
                for msg in messages:
                    producer.produce(output_topic, key=msg.key(), value=transform(msg.value(), name))
                    next_offsets[(msg.topic(), msg.partition())] = msg.offset() + 1
                    if msg.offset() == stall_at:
                        producer.flush(30)    # the outputs so far are in the output log, uncommitted
                        say(f"in transaction at offset {msg.offset()}")
                        resumed.wait(stall_seconds)
                offsets = [TopicPartition(t, p, o) for (t, p), o in next_offsets.items()]
                producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), 30)
                producer.commit_transaction(30)
                committed += len(messages)
                say(f"committed {committed} records")
            if reader.newly_caught_up(messages):
                say(f"caught up {committed}")
    except KafkaException as exc:
        error = exc.args[0]
        if error.code() in FENCING_ERRORS or error.fatal():
            say(f"fenced: {error.name()}: {error.str()} (fatal={error.fatal()})")
            sys.exit(FENCED_EXIT)
        raise
    finally:
        consumer.close()
    say("stopped")
    return committed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--transactional-id", required=True)
    parser.add_argument("--instance-id", default=None, help="group.instance.id (static membership)")
    parser.add_argument("--name", default="processor", help="written into each output record (processed_by)")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--stall-at", type=int, default=None)
    parser.add_argument("--stall-seconds", type=float, default=600.0)
    parser.add_argument("--transaction-timeout-ms", type=int, default=60000, help="librdkafka's default: 60000")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    run(args.bootstrap_servers, args.input, args.output, args.group, args.transactional_id, name=args.name,
        instance_id=args.instance_id, batch=args.batch, stall_at=args.stall_at, stall_seconds=args.stall_seconds,
        transaction_timeout_ms=args.transaction_timeout_ms, stop=stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
