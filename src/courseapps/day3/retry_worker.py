"""A consumer service that calls a downstream for every record, and what it does when the call fails (lesson 05).

    python -m courseapps.day3.retry_worker --topic T --group G --downstream URL --mode blocking

Each record's value is a ledger value (``{"id": .., "seq": ..}``); processing it is ``POST <downstream>/process``.
A value that is not such JSON, or a 4xx answer, is a **permanent** error: the record goes to the DLQ at once.
A 5xx/429, a timeout or a refused connection is **transient**. What happens then is the `--mode`:

* ``blocking``    — retry in place after each delay of ``--delays`` (the partition waits), then the DLQ;
* ``nonblocking`` — write the record to the next retry topic (``<topic>.retry.<delay>s``) and move on; the
  same process reads the retry topics and holds back records that are not due yet (``DelayGate``:
  pause/seek, polling goes on), then the DLQ;
* ``breaker``     — a pybreaker circuit breaker around the call: after ``--fail-max`` transient failures it
  opens, the worker seeks back to the record, pauses its whole assignment and keeps polling; after
  ``--reset-timeout`` s it resumes and lets one trial call through (half-open): success closes the breaker,
  a failure opens it again. Nothing is skipped, nothing goes to a retry topic.

Offsets are committed (synchronously) after each record is done: processed, or written to a retry topic or
the DLQ. Lines it prints: ``assigned [...]``, ``done <id> ...``, ``retry <id> -> <topic>``,
``dlq <id> <reason>``, ``breaker <old> -> <new> at <unix time>``, ``paused at <t>``, ``resumed at <t> after
<n> polls``. SIGTERM stops it after the record in hand.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import Any

import httpx
import pybreaker
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from kafkacourse.instruments.ledger import decode_value
from kafkacourse.instruments.retry import (DelayGate, PermanentError, RetryRoute, RetryRouter, TransientError,
                                           attempt_of, is_transient)
from kafkacourse.client_env import env_client_settings


def say(*parts: Any) -> None:
    print(*parts, flush=True)


def call_downstream(client: httpx.Client, url: str, msg: Any) -> dict:
    """Process one record: POST it to the downstream; raise TransientError / PermanentError on failure."""
    try:
        fields = decode_value(msg.value())
    except ValueError as exc:
        raise PermanentError(f"malformed record: {exc}") from None
    work = {"id": fields["id"], "key": _text(msg.key()), "seq": fields.get("seq"), "attempt": attempt_of(msg)}
    try:
        answer = client.post(url + "/process", json=work)
    except (httpx.TimeoutException, httpx.TransportError) as exc:
        raise TransientError(f"{type(exc).__name__}: {exc}") from None
    if answer.status_code >= 500 or answer.status_code == 429:
        raise TransientError(f"HTTP {answer.status_code} from the downstream")
    if answer.status_code >= 400:
        raise PermanentError(f"HTTP {answer.status_code} from the downstream: {answer.text[:100]}")
    return fields


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode(errors="replace")


def _label(msg: Any) -> str:
    try:
        return str(decode_value(msg.value())["id"])
    except ValueError:
        return f"?@{msg.topic()}/{msg.partition()}/{msg.offset()}"


class StateLog(pybreaker.CircuitBreakerListener):
    """Prints every state change of the breaker, with the time, and remembers when it last opened."""

    def __init__(self) -> None:
        self.opened_at = 0.0

    def state_change(self, cb, old_state, new_state) -> None:
        now = time.time()
        if new_state.name == "open":
            self.opened_at = now
        say(f"breaker {old_state.name if old_state else 'none'} -> {new_state.name} at {now:.3f}")


class Worker:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.route = RetryRoute(args.topic, delays=tuple(args.delays))
        self.stopping = False
        self.consumer = Consumer({**env_client_settings(), "bootstrap.servers": args.bootstrap_servers, "group.id": args.group,
                                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        self.producer = Producer({**env_client_settings(), "bootstrap.servers": args.bootstrap_servers, "acks": "all",
                                  "enable.idempotence": True})
        self.router = RetryRouter(self.producer, self.route)
        self.client = httpx.Client(timeout=args.http_timeout)
        self.gate = DelayGate(self.consumer)
        self.states = StateLog()
        self.breaker = pybreaker.CircuitBreaker(fail_max=args.fail_max, reset_timeout=args.reset_timeout,
                                                exclude=[PermanentError], listeners=[self.states])
        self.paused_at: float | None = None
        self.polls_while_paused = 0

    # -- the loop --------------------------------------------------------------------------------------------
    def run(self) -> None:
        topics = self.route.topics[:-1] if self.args.mode == "nonblocking" else [self.route.base]
        self.consumer.subscribe(topics, on_assign=self._assigned, on_revoke=self._revoked)
        try:
            while not self.stopping:
                if self.args.mode == "nonblocking":
                    self.gate.resume_due()
                if self.paused_at is not None and not self._try_resume():
                    self._poll_while_paused()
                    continue
                msg = self.consumer.poll(0.2)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(msg.error())
                if self.handle(msg):
                    self.consumer.commit(message=msg, asynchronous=False)
        finally:
            self.consumer.close()
            self.producer.flush(10)
            self.client.close()
            say("closed")

    def handle(self, msg: Any) -> bool:
        """Process one record in this mode; False when it is held back (to be polled again), else True."""
        mode = self.args.mode
        if mode == "nonblocking" and not self.gate.due(msg):
            return False
        if mode == "breaker":
            return self._through_breaker(msg)
        for attempt in range(attempt_of(msg) + 1, attempt_of(msg) + 2 + (len(self.route.delays) if mode == "blocking" else 0)):
            try:
                fields = call_downstream(self.client, self.args.downstream, msg)
                say(f"done {fields['id']} from {msg.topic()} attempt {attempt}")
                return True
            except (TransientError, PermanentError) as exc:
                if not is_transient(exc):
                    self.router.dead_letter(msg, exc, reason=_reason(exc), attempt=attempt)
                    say(f"dlq {_label(msg)} {_reason(exc)}")
                    return True
                if mode == "nonblocking":
                    topic = self.router.send(msg, exc)
                    say(f"retry {_label(msg)} -> {topic}" if topic != self.route.dlq
                        else f"dlq {_label(msg)} retries-exhausted")
                    return True
                if attempt <= len(self.route.delays):  # blocking: wait in place, the partition waits too
                    say(f"wait {_label(msg)} {self.route.delays[attempt - 1]:g}s after attempt {attempt}")
                    time.sleep(self.route.delays[attempt - 1])
                else:
                    self.router.dead_letter(msg, exc, reason="retries-exhausted", attempt=attempt)
                    say(f"dlq {_label(msg)} retries-exhausted")
        return True

    # -- the circuit breaker ---------------------------------------------------------------------------------
    def _through_breaker(self, msg: Any) -> bool:
        try:
            fields = self.breaker.call(call_downstream, self.client, self.args.downstream, msg)
        except PermanentError as exc:
            self.router.dead_letter(msg, exc, reason=_reason(exc), attempt=1)
            say(f"dlq {_label(msg)} {_reason(exc)}")
            return True
        except (TransientError, pybreaker.CircuitBreakerError) as exc:
            self._pause(msg, exc)
            return False
        say(f"done {fields['id']} from {msg.topic()}")
        return True

    def _pause(self, msg: Any, exc: BaseException) -> None:
        """Keep the record for later (seek back to it) and stop fetching the whole assignment."""
        self.consumer.seek(TopicPartition(msg.topic(), msg.partition(), msg.offset()))
        if self.breaker.current_state == "open":
            assignment = self.consumer.assignment()
            self.consumer.pause(assignment)
            self.paused_at = time.time()
            self.polls_while_paused = 0
            say(f"paused at {self.paused_at:.3f} ({type(exc).__name__}) {len(assignment)} partitions")

    def _try_resume(self) -> bool:
        if time.time() < self.states.opened_at + self.args.reset_timeout:
            return False
        self.consumer.resume(self.consumer.assignment())
        say(f"resumed at {time.time():.3f} after {self.polls_while_paused} polls")
        self.paused_at = None
        return True

    def _poll_while_paused(self) -> None:
        """poll() keeps the member alive in its group; a record fetched before the pause is put back."""
        msg = self.consumer.poll(0.1)
        self.polls_while_paused += 1
        if msg is not None and not msg.error():
            self.consumer.seek(TopicPartition(msg.topic(), msg.partition(), msg.offset()))

    # -- rebalances ------------------------------------------------------------------------------------------
    def _assigned(self, consumer: Any, partitions: list) -> None:
        say("assigned", sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions))

    def _revoked(self, consumer: Any, partitions: list) -> None:
        self.gate.forget(partitions)


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith("malformed"):
        return "malformed"
    if "HTTP 4" in text:
        return "rejected"
    return "transient" if is_transient(exc) else "permanent"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--topic", required=True, help="the base topic; retry topics and the DLQ are named after it")
    parser.add_argument("--group", required=True)
    parser.add_argument("--downstream", required=True, help="base URL of the downstream service")
    parser.add_argument("--mode", choices=("blocking", "nonblocking", "breaker"), default="blocking")
    parser.add_argument("--delays", type=lambda s: [float(x) for x in s.split(",")], default=[1.0, 3.0],
                        help="retry delays in seconds, comma-separated (default 1,3)")
    parser.add_argument("--fail-max", type=int, default=3, help="breaker: failures before it opens")
    parser.add_argument("--reset-timeout", type=float, default=1.5, help="breaker: seconds open before a trial call")
    parser.add_argument("--http-timeout", type=float, default=2.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    worker = Worker(parse_args(argv))
    signal.signal(signal.SIGTERM, lambda *_: setattr(worker, "stopping", True))
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
