"""Consumer-driven message contracts with pact-python (4.x, message pacts offline: no broker, no Pact Broker).

The consumer states the message it needs, with matchers (types, not values), and its handler is run on an
example of it; the contract is written to a pact file. The provider is then verified against that file with
the messages it really produces.

>>> pact_file = message_pact("inventory", "order-api", "an order placed", body, handler, directory)
>>> verification = verify_provider("order-api", directory, {"an order placed": message_bytes})
>>> verification.passed, verification.output        # the verifier's report, mismatches included
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

__all__ = ["message_pact", "verify_provider", "Verification"]


def message_pact(consumer: str, provider: str, description: str, body: dict[str, Any],
                 handler: Callable[[bytes | str | None, dict[str, Any]], None], directory: Path | str) -> Path:
    """Run `handler` (the consumer's own message handling) on the example of `body` and write the pact file.

    `body` may hold ``pact.match`` matchers. Raises pact's error when the handler fails on the example.
    Returns the pact file's path (``<directory>/<consumer>-<provider>.json``, overwritten)."""
    from pact import Pact

    pact = Pact(consumer, provider).with_specification("V4")
    pact.upon_receiving(description, "Async").with_body(body, "application/json")
    pact.verify(handler, "Async")
    pact.write_file(directory, overwrite=True)
    return Path(directory) / f"{consumer}-{provider}.json"


@dataclass
class Verification:
    """A provider verification: `passed`, and the verifier's report (`output`, ANSI colours removed)."""

    passed: bool
    output: str

    def mismatches(self) -> list[str]:
        """The report's mismatch lines (the "-" expected / "+" actual lines of each failed body)."""
        return [line.strip() for line in self.output.splitlines() if re.match(r"\s*[-+]\s+\"", line)]


def verify_provider(provider: str, directory: Path | str, messages: dict[str, bytes | dict[str, Any]]) -> Verification:
    """Verify `provider` against every pact in `directory`: `messages` maps each interaction's description to
    the message the provider produces for it (bytes, or a dict serialized as JSON)."""
    from pact import Verifier

    handlers = {name: {"contents": body if isinstance(body, bytes) else json.dumps(body).encode(),
                       "metadata": None, "content_type": "application/json"} for name, body in messages.items()}
    verifier = Verifier(provider).message_handler(handlers).add_source(directory)
    verifier.set_coloured_output(enabled=False)
    try:
        verifier.verify()
        passed = True
    except RuntimeError:
        passed = False
    return Verification(passed, verifier.output(strip_ansi=True))
