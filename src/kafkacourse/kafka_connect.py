"""Kafka Connect's REST API from Python: create, configure, watch, pause, resume, restart and delete connectors.

The course's worker runs on http://localhost:8083 (``kafkacourse up --with connect``); any other worker works
too: ``KafkaConnect("http://host:8083")`` or $KAFKA_CONNECT_URL.

>>> from kafkacourse.kafka_connect import KafkaConnect
>>> connect = KafkaConnect()
>>> connect.put_config("inventory-cdc", postgres.debezium_settings({"topic.prefix": "shop"}))
>>> connect.wait_running("inventory-cdc")       # raises ConnectError with the task's stack trace if it failed
>>> connect.pause("inventory-cdc"); connect.wait_state("inventory-cdc", "PAUSED")
>>> connect.delete("inventory-cdc")

Every error Connect answers with is raised as :class:`ConnectError` carrying Connect's own message.
"""

from __future__ import annotations

import os
import time
from urllib.parse import quote

import httpx
import pandas as pd

from .stack.services.common import default_context
from .stack.services.connect import REST_PORT

URL_ENV = "KAFKA_CONNECT_URL"


class ConnectError(RuntimeError):
    """Kafka Connect refused a request (or a connector failed); `status` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def default_url() -> str:
    """$KAFKA_CONNECT_URL, else the course's worker (localhost:8083, moved by $KAFKA_COURSE_PORT_OFFSET)."""
    return os.environ.get(URL_ENV) or f"http://localhost:{default_context().port(REST_PORT)}"


class KafkaConnect:
    """A client of one Kafka Connect worker's REST API (`url`, default :func:`default_url`)."""

    def __init__(self, url: str | None = None, timeout: float = 30.0) -> None:
        self.url = (url or default_url()).rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"KafkaConnect({self.url!r})"

    # -- plugins and connectors ------------------------------------------------------------------------------
    def plugins(self) -> pd.DataFrame:
        """The connector plugins the worker loaded: class, type (source/sink), version."""
        return pd.DataFrame(self._request("GET", "/connector-plugins"), columns=["class", "type", "version"])

    def connectors(self) -> list[str]:
        return sorted(self._request("GET", "/connectors"))

    def create(self, name: str, config: dict) -> dict:
        """Create connector `name` (ConnectError 409 if it exists; see put_config to create or update)."""
        return self._request("POST", "/connectors", json={"name": name, "config": _strings(config)})

    def put_config(self, name: str, config: dict) -> dict:
        """Create connector `name`, or replace its whole config (idempotent: safe to run twice)."""
        return self._request("PUT", f"/connectors/{_q(name)}/config", json=_strings(config))

    def config(self, name: str) -> dict:
        return self._request("GET", f"/connectors/{_q(name)}/config")

    def validate(self, plugin_class: str, config: dict) -> list[str]:
        """What Connect says is wrong with `config` for `plugin_class` ("field: message" lines; [] when valid)."""
        short = plugin_class.rsplit(".", 1)[-1]
        answer = self._request("PUT", f"/connector-plugins/{_q(short)}/config/validate",
                               json=_strings({"name": "validation", **config, "connector.class": plugin_class}))
        values = [c["value"] for c in answer.get("configs", []) if c.get("value")]
        return [f"{v['name']}: {err}" for v in values for err in v.get("errors", [])]

    # -- state -----------------------------------------------------------------------------------------------
    def status(self, name: str) -> dict:
        """Connect's status document: {"connector": {"state", "worker_id"}, "tasks": [{"id", "state", …}]}."""
        return self._request("GET", f"/connectors/{_q(name)}/status")

    def state(self, name: str) -> str:
        """The connector's state: UNASSIGNED, RUNNING, PAUSED, STOPPED or FAILED."""
        return self.status(name)["connector"]["state"]

    def offsets(self, name: str) -> list[dict]:
        """The source positions (or consumer offsets, for a sink) the connector has committed (KIP-875)."""
        return self._request("GET", f"/connectors/{_q(name)}/offsets")["offsets"]

    def pause(self, name: str) -> None:
        """Pause the connector and its tasks (asynchronous: wait_state(name, "PAUSED") to see it done)."""
        self._request("PUT", f"/connectors/{_q(name)}/pause")

    def resume(self, name: str) -> None:
        self._request("PUT", f"/connectors/{_q(name)}/resume")

    def restart(self, name: str, include_tasks: bool = True, only_failed: bool = False) -> None:
        """Restart the connector (and by default its tasks; `only_failed` restarts only the FAILED ones)."""
        flags = f"includeTasks={str(include_tasks).lower()}&onlyFailed={str(only_failed).lower()}"
        self._request("POST", f"/connectors/{_q(name)}/restart?{flags}")

    def delete(self, name: str, missing_ok: bool = False) -> None:
        """Delete the connector (its committed source offsets stay in the worker's offsets topic)."""
        try:
            self._request("DELETE", f"/connectors/{_q(name)}")
        except ConnectError as exc:
            if not (missing_ok and exc.status == 404):
                raise

    def wait_state(self, name: str, state: str, timeout: float = 60.0, tasks: bool = True) -> dict:
        """Wait until the connector (and, with `tasks`, each of its tasks) is in `state`; return the status.

        Raises ConnectError at once when the connector or a task FAILED (with its trace's first lines), and
        TimeoutError with the last status after `timeout` s."""
        deadline = time.monotonic() + timeout
        last: dict = {}
        while True:
            try:
                last = self.status(name)
            except ConnectError as exc:
                if exc.status != 404:  # 404: just created, not assigned yet
                    raise
            else:
                parts = [last["connector"], *last.get("tasks", [])]
                failed = next((part for part in parts if part.get("state") == "FAILED"), None)
                if failed is not None and state != "FAILED":
                    trace = (failed.get("trace") or "").strip().splitlines()[:4]
                    which = f"task {failed['id']}" if "id" in failed else "the connector"
                    raise ConnectError(f"connector {name!r}: {which} FAILED:\n" + "\n".join(trace), 0)
                states = [last["connector"]["state"]] + ([t["state"] for t in last.get("tasks", [])] if tasks else [])
                if states[0] == state and (not tasks or (len(states) > 1 and set(states[1:]) == {state})):
                    return last
            if time.monotonic() > deadline:
                raise TimeoutError(f"connector {name!r} was not {state} within {timeout:.0f} s; last status: {last}")
            time.sleep(0.25)

    def wait_running(self, name: str, timeout: float = 60.0) -> dict:
        """Wait until the connector and all its tasks are RUNNING (see wait_state)."""
        return self.wait_state(name, "RUNNING", timeout=timeout)

    # -- HTTP ------------------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, json: dict | None = None):
        try:
            response = httpx.request(method, self.url + path, json=json, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise ConnectError(f"Kafka Connect at {self.url} does not answer ({exc}); start it with "
                               "`kafkacourse up --with connect`.") from None
        if response.is_success:
            return response.json() if response.content else None
        try:
            message = response.json().get("message") or response.text
        except ValueError:
            message = response.text
        raise ConnectError(f"{method} {path}: {response.status_code} {message}", response.status_code)


def _q(name: str) -> str:
    if not name or not isinstance(name, str):
        raise ValueError(f"a connector name is a non-empty string, not {name!r}")
    return quote(name, safe="")


def _strings(config: dict) -> dict[str, str]:
    """Connect takes every config value as a string; say so for values that are not simple."""
    if not isinstance(config, dict):
        raise TypeError(f"a connector config is a dict of settings, not {type(config).__name__}")
    out = {}
    for key, value in config.items():
        if isinstance(value, bool):
            out[key] = str(value).lower()
        elif isinstance(value, (str, int, float)):
            out[key] = str(value)
        else:
            raise TypeError(f"connector setting {key!r} must be a string, number or bool, not {type(value).__name__}")
    return out
