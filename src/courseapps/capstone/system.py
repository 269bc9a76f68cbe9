"""The whole capstone system as OS processes: one per service, plus the fake payment provider.

>>> from courseapps.capstone.system import System
>>> with System() as system:                        # a fresh run: topics <prefix>.*, schemas, every service
...     system.url("orders")                        # 'http://127.0.0.1:41231' (POST /orders)
...     system.kill("payments"); system.restart("payments")   # SIGKILL, then start again (same port, same store)
...     system.record_fault("service-kill", "payments")       # a marker in <run dir>/faults.jsonl
>>> System(services=["orders", "inventory"])        # only some services (the others' events just wait)
>>> System().replace("inventory", module="my_inventory")    # the lab: the learner's module instead

Starting (``start()`` or ``with``): connects to the cluster (``kc.connect(brokers=…)``, which starts the
stack if it is not running), creates the run's topics (3 partitions, key = order id) and DLQs, registers the
schemas schema-first with BACKWARD per subject, starts the provider and every service (each a
``ServiceProcess`` with its log and SQLite store in ``run_dir``) and waits until each listens and its consumer
has its partitions. Payments reaches the provider through a fault-injection proxy (``system.provider_proxy``,
``kafkacourse.instruments.faults.FaultProxy``) living in this process, so a lesson can cut that link.
When the course's Prometheus is installed the services are written into its file-based discovery
(``targets/capstone-<prefix>.json``: job ``capstone``, label ``service``). ``run_dir/system.json`` says what
runs where (``./course capstone status`` reads it). Stopping SIGTERMs every service (their graceful path)
and removes the Prometheus targets; ``delete()`` also deletes the run's topics and subjects.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from kafkacourse.instruments.processes import ServiceProcess, free_port

from . import contracts

PROVIDER = "provider"
DASHBOARD = "dashboard"   # the live web page (courseapps.capstone.dashboard), started with dashboard=True
MODULES = {name: f"courseapps.capstone.{name}.service" for name in contracts.SERVICES}
MODULES[PROVIDER] = "courseapps.capstone.payments.provider"
DEFAULT_STOCK = {"sku-red": 200, "sku-green": 200, "sku-blue": 100, "sku-rare": 5}


def runs_dir() -> Path:
    """Where every run's folder lives: ``~/.kafka-course/capstone/`` ($KAFKA_COURSE_HOME moves it)."""
    from kafkacourse.stack.runtime import home

    return home() / "capstone"


class System:
    """The capstone system of one run `prefix` (default: a fresh ``kc.unique_name("capstone")``).

    `services`: the services to start ("all", or a list of names of contracts.SERVICES; the provider starts
    with payments). `brokers`: 1 (the shared single broker) or 3 (the 3-broker cluster, which a broker-kill
    fault needs). `stock`: the inventory's initial stock. `provider`: the fake provider's latency_ms,
    decline_rate, error_rate. `fault_proxy`: route payments → provider through a FaultProxy in this process.
    `dashboard`: also serve the live dashboard (its own process; ``system.url("dashboard")``), fed by the
    course's Prometheus and the cluster.
    """

    def __init__(self, prefix: str | None = None, services: str | Iterable[str] = "all", *, brokers: int = 1,
                 stock: dict[str, int] | None = None, provider: dict[str, float] | None = None,
                 fault_proxy: bool = True, modules: dict[str, str] | None = None, cluster: Any = None,
                 run_dir: str | Path | None = None, dashboard: bool = False) -> None:
        import kafkacourse as kc

        chosen = list(contracts.SERVICES) if services == "all" else list(services)
        unknown = sorted(set(chosen) - set(contracts.SERVICES))
        if unknown:
            raise ValueError(f"unknown services {unknown}; the capstone's are {list(contracts.SERVICES)}")
        if brokers not in (1, 3):
            raise ValueError(f"brokers is 1 (the single broker) or 3 (the cluster), not {brokers}")
        self.prefix = prefix or kc.unique_name("capstone")
        self.topics = contracts.topics(self.prefix)
        self.services = chosen
        self.brokers, self.cluster = brokers, cluster
        self.stock = dict(DEFAULT_STOCK if stock is None else stock)
        self.provider_settings = {"latency_ms": 20, "decline_rate": 0.1, "error_rate": 0.0, **(provider or {})}
        self.fault_proxy = fault_proxy
        self.dashboard = dashboard
        self.modules = {**MODULES, **(modules or {})}
        self.run_dir = Path(run_dir) if run_dir else runs_dir() / self.prefix
        self.processes: dict[str, ServiceProcess] = {}
        self.ports: dict[str, int] = {}
        self.provider_proxy = None
        self.started_at: float | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self, timeout: float = 120.0, progress: Any = None) -> "System":
        """Create topics and subjects, start the provider and the services, wait until all are ready.

        `progress` (e.g. ``print``) is called with a short line after each step."""
        say = progress or (lambda _line: None)
        import kafkacourse as kc
        from confluent_kafka.schema_registry import SchemaRegistryClient

        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.cluster is None:
            self.cluster = kc.connect(brokers=self.brokers)
        self._create_topics()
        say(f"{len(contracts.all_topics(self.prefix))} topics created ({contracts.PARTITIONS} partitions each)")
        contracts.register_schemas(SchemaRegistryClient(self.cluster.registry_config()), self.prefix)
        say(f"{len(self.topics)} schemas registered, BACKWARD per subject")
        names = ([PROVIDER] if "payments" in self.services else []) + self.services
        for name in names:
            self.ports.setdefault(name, free_port())
            self.processes[name] = self._process(name)
        for name in names:  # all at once: on 2 cores each takes seconds to import its libraries
            self.processes[name].start()
        for name in names:
            self._wait_ready(name, timeout)
            say(f"{name} ready (pid {self.processes[name].pid}, {self.url(name)})")
        if self.dashboard:
            self.ports.setdefault(DASHBOARD, free_port())
            self.processes[DASHBOARD] = self._process(DASHBOARD)
            self.processes[DASHBOARD].start()
            self.processes[DASHBOARD].wait_for("dashboard on http", timeout=timeout)
            say(f"dashboard ready ({self.url(DASHBOARD)})")
        self.started_at = time.time()
        self._write_state()
        self._write_targets()
        return self

    def stop(self, timeout: float = 30.0) -> dict[str, int | None]:
        """SIGTERM every service (their graceful shutdown), then the provider; their exit codes. The dashboard
        (if any) goes first; its code is not among them (uvicorn re-raises SIGTERM after its graceful shutdown)."""
        codes: dict[str, int | None] = {}
        if self.processes.get(DASHBOARD) is not None and self.processes[DASHBOARD].alive:
            self.processes[DASHBOARD].terminate(timeout)
        for name in [*reversed(self.services), PROVIDER]:
            process = self.processes.get(name)
            if process is not None and process.alive:
                try:
                    codes[name] = process.terminate(timeout)
                except TimeoutError:
                    codes[name] = process.kill()
        if self.provider_proxy is not None:
            self.provider_proxy.stop()
            self.provider_proxy = None
        self._targets_file().unlink(missing_ok=True)
        self._write_state()
        return codes

    def delete(self) -> None:
        """Delete the run's topics and subjects (after stop())."""
        from confluent_kafka.schema_registry import SchemaRegistryClient

        from kafkacourse.instruments.schemas import delete_subjects

        if self.cluster is None:
            return
        names = [t for t in contracts.all_topics(self.prefix) if t in set(self.cluster.topics(self.prefix))]
        if names:
            for future in self.cluster.admin().delete_topics(names, request_timeout=30).values():
                future.result()
        for topic in names:
            self.cluster.delete_topic(topic)  # already deleted: waits until the metadata says so
        delete_subjects(SchemaRegistryClient(self.cluster.registry_config()),
                        [contracts.subject(t) for t in self.topics.values()])

    def __enter__(self) -> "System":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one service -----------------------------------------------------------------------------------------
    def url(self, service: str) -> str:
        """The base URL of a service's HTTP side (/health, /metrics; orders also /orders)."""
        return f"http://127.0.0.1:{self._port(service)}"

    def store(self, service: str) -> Path:
        """A service's SQLite store (``provider`` too: the charges it made)."""
        self._port(service)
        return self.run_dir / f"{service}.db"

    def process(self, service: str) -> ServiceProcess:
        self._port(service)
        return self.processes[service]

    def kill(self, service: str) -> int:
        """SIGKILL a service (a crash: no commit, no LeaveGroup, no outbox drain)."""
        return self.process(service).kill()

    def terminate(self, service: str, timeout: float = 30.0) -> int:
        """SIGTERM a service and wait for its graceful shutdown; its exit code."""
        return self.process(service).terminate(timeout)

    def restart(self, service: str, timeout: float = 60.0) -> ServiceProcess:
        """Start a killed or stopped service again (same port, same store) and wait until it is ready."""
        process = self.process(service)
        if process.alive:
            raise RuntimeError(f"{service} still runs (pid {process.pid}): kill() or terminate() it first")
        process.restart()
        self._wait_ready(service, timeout)
        self._write_state()
        return process

    def replace(self, service: str, module: str) -> "System":
        """Run `module` (``python -m module``, the same command line) as `service` instead of the built-in one;
        before start(), or on a running system (the service restarts with the new module)."""
        if service not in contracts.SERVICES:
            raise ValueError(f"unknown service {service!r}; the capstone's are {list(contracts.SERVICES)}")
        self.modules[service] = module
        if service in self.processes:
            running = self.processes[service].alive
            if running:
                self.processes[service].terminate()
            self.processes[service] = self._process(service)
            if running:
                self.processes[service].start()
                self._wait_ready(service, 60)
        return self

    def health(self) -> dict[str, Any]:
        """Each process's GET /health answer, or its error."""
        answers = {}
        for name in self.processes:
            try:
                answers[name] = httpx.get(self.url(name) + "/health", timeout=5).json()
            except httpx.HTTPError as exc:
                answers[name] = {"status": "down", "error": type(exc).__name__}
        return answers

    def set_provider(self, **settings: float) -> dict[str, float]:
        """Change the fake provider's latency_ms / decline_rate / error_rate now (POST /config)."""
        response = httpx.post(self.url(PROVIDER) + "/config", json=settings, timeout=10)
        response.raise_for_status()
        return response.json()

    # -- faults ----------------------------------------------------------------------------------------------
    @property
    def faults_file(self) -> Path:
        return self.run_dir / "faults.jsonl"

    def record_fault(self, name: str, detail: Any = None, at: float | None = None) -> dict[str, Any]:
        """Append ``{"at": epoch s (default: now), "fault": name, "detail": detail}`` to run_dir/faults.jsonl
        (the dashboard's markers; the checker reads the poison keys from it)."""
        entry = {"at": time.time() if at is None else at, "fault": name, "detail": detail}
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.faults_file, "a") as f:
            f.write(json.dumps(entry) + "\n")
        return entry

    def faults(self) -> list[dict[str, Any]]:
        if not self.faults_file.exists():
            return []
        return [json.loads(line) for line in self.faults_file.read_text().splitlines() if line.strip()]

    # -- internals -------------------------------------------------------------------------------------------
    def _port(self, service: str) -> int:
        if service not in self.ports:
            raise ValueError(f"{service!r} is not part of this system; it runs {sorted(self.ports)}")
        return self.ports[service]

    def _process(self, name: str) -> ServiceProcess:
        store = str(self.run_dir / f"{name}.db")
        if name == DASHBOARD:
            return ServiceProcess("courseapps.capstone.dashboard", "--prefix", self.prefix, "--run-dir",
                                  str(self.run_dir), "--port", str(self.ports[name]),
                                  "--bootstrap-servers", self.cluster.bootstrap_servers, name=name, log_dir=self.run_dir)
        if name == PROVIDER:
            s = self.provider_settings
            args = ["--port", self.ports[name], "--store", store, "--latency-ms", s["latency_ms"],
                    "--decline-rate", s["decline_rate"], "--error-rate", s["error_rate"]]
        else:
            args = ["--prefix", self.prefix, "--bootstrap-servers", self.cluster.bootstrap_servers,
                    "--registry-url", self.cluster.schema_registry_url, "--port", self.ports[name], "--store", store]
            if name == "inventory":
                args += ["--stock", json.dumps(self.stock)]
            if name == "payments":
                args += ["--provider", self._provider_url()]
        return ServiceProcess(self.modules[name], *map(str, args), name=name, log_dir=self.run_dir)

    def _provider_url(self) -> str:
        if not self.fault_proxy:
            return self.url(PROVIDER)
        if self.provider_proxy is None:
            from kafkacourse.instruments.faults import FaultProxy, Route

            self.provider_proxy = FaultProxy([Route(free_port(), self.ports[PROVIDER])]).start()
        return f"http://127.0.0.1:{self.provider_proxy.routes[0].listen_port}"

    def _create_topics(self) -> None:
        """Every topic of the run in one admin request (one by one takes a metadata round trip each), then
        Cluster.create_topic on each, which finds it and waits until its partitions have leaders."""
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import NewTopic

        names = contracts.all_topics(self.prefix)
        missing = [t for t in names if t not in set(self.cluster.topics(self.prefix))]
        if missing:
            futures = self.cluster.admin().create_topics(
                [NewTopic(t, num_partitions=contracts.PARTITIONS, replication_factor=-1) for t in missing],
                request_timeout=30)
            for future in futures.values():
                try:
                    future.result()
                except KafkaException as exc:
                    if "already exists" not in str(exc).lower():
                        raise
        for topic in names:
            self.cluster.create_topic(topic, partitions=contracts.PARTITIONS)

    def _wait_ready(self, name: str, timeout: float) -> None:
        process = self.processes[name]
        process.wait_for('"event": "listening"', timeout=timeout)
        if name in contracts.CONSUMES:
            process.wait_for('"event": "assigned"', timeout=timeout)

    def _targets_file(self) -> Path:
        from kafkacourse.stack.services.common import default_context
        from kafkacourse.stack.services.prometheus import PrometheusService

        return PrometheusService(default_context()).targets_dir / f"capstone-{self.prefix}.json"

    def _write_targets(self) -> None:
        """Tell the course's Prometheus (if it has a data folder) to scrape every service (file_sd)."""
        path = self._targets_file()
        if not path.parent.parent.is_dir():
            return  # Prometheus never ran here: nothing to tell
        path.parent.mkdir(parents=True, exist_ok=True)
        groups = [{"targets": [f"127.0.0.1:{self.ports[name]}"],
                   "labels": {"job": "capstone", "service": name, "run": self.prefix}}
                  for name in self.processes if name != DASHBOARD]
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(groups))
        tmp.replace(path)

    def _write_state(self) -> None:
        state = {"prefix": self.prefix, "brokers": self.brokers, "run_dir": str(self.run_dir),
                 "bootstrap_servers": self.cluster.bootstrap_servers if self.cluster else None,
                 "processes": {name: {"pid": p.pid, "alive": p.alive, "url": self.url(name), "log": str(p.log_file),
                                      "module": p.module} for name, p in self.processes.items()}}
        (self.run_dir / "system.json").write_text(json.dumps(state, indent=1))

    def __repr__(self) -> str:
        alive = [n for n, p in self.processes.items() if p.alive]
        return f"System({self.prefix!r}, running={alive})"


# -- the command line's side: a system started by `./course capstone up`, found again by status / down --------
def running_systems() -> list[dict[str, Any]]:
    """The system.json of every run whose processes still run (any of them)."""
    found = []
    for path in sorted(runs_dir().glob("*/system.json")):
        try:
            state = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        for process in state["processes"].values():
            process["alive"] = _ours(process)
        if any(p["alive"] for p in state["processes"].values()):
            found.append(state)
    return found


def stop_running(state: dict[str, Any], timeout: float = 30.0) -> list[str]:
    """SIGTERM each live process of a system.json (services first, provider last), wait; the names stopped."""
    order = [n for n in [DASHBOARD, *reversed(contracts.SERVICES), PROVIDER] if n in state["processes"]]
    stopped = []
    for name in order:
        pid = state["processes"][name].get("pid")
        if not _ours(state["processes"][name]):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        stopped.append(name)
    System(state["prefix"], run_dir=state["run_dir"])._targets_file().unlink(missing_ok=True)
    return stopped


def health_of(url: str) -> str:
    """``ok`` when GET <url>/health answers 200, else what went wrong (for `capstone status`)."""
    try:
        response = httpx.get(url + "/health", timeout=5)
    except httpx.HTTPError as exc:
        return f"not answering ({type(exc).__name__})"
    return "ok" if response.status_code == 200 else f"HTTP {response.status_code}"


def _ours(process: dict[str, Any]) -> bool:
    """Whether the pid of a system.json entry still runs *that* service (its module on the command line):
    a pid the OS handed to another process since is not ours to signal."""
    pid = process.get("pid")
    if not _pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return process.get("module", "courseapps.capstone").encode() in f.read()
    except OSError:
        return False


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not reaped) counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
