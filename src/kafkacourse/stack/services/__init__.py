"""The services of the local stack, one module each, and the one list `up`, `down`, `status`, `logs`,
`reset`, `doctor` and the tests iterate.

A profile's broker nodes are services too (:class:`~.broker.BrokerNode`, one per node of the profile); every
other service is named here. To add one: write a module with a :class:`~.base.Service` subclass (usually a
:class:`~.base.ProcessService` or :class:`~.base.JvmService`) taking a :class:`~.base.Context`, and add one
entry to SERVICES. `kafkacourse up --with NAME` starts it; a profile starts the names in its ``services``.
"""

from __future__ import annotations

from collections.abc import Callable

from .base import Context, Finding, JvmService, ProcessService, Service, StatusRow, quiet
from .broker import BrokerNode
from .connect import KafkaConnectService
from .metrics import broker_exporter
from .postgres import Postgres
from .prometheus import PrometheusService
from .registry import SchemaRegistry

# name → Service class. Order matters: `up` starts in this order, `down` stops in reverse.
SERVICES: dict[str, type[Service]] = {
    "registry": SchemaRegistry,
    "postgres": Postgres,
    "connect": KafkaConnectService,
    "prometheus": PrometheusService,
}

# Extra JVM arguments for every JvmService (brokers, registry, …): functions service → list of arguments,
# e.g. a -javaagent serving the service's metrics. A hook decides per service (brokers have `jmx_port`).
JVM_ARGS: tuple[Callable[[JvmService], list[str]], ...] = (broker_exporter,)


def service(name: str, context: Context) -> Service:
    """The service called `name` (a key of SERVICES), for `context`."""
    if name not in SERVICES:
        raise ValueError(f"no service {name!r}; the stack knows {', '.join(SERVICES)}")
    return SERVICES[name](context)


__all__ = ["SERVICES", "JVM_ARGS", "service", "Context", "Service", "ProcessService", "JvmService", "BrokerNode",
           "SchemaRegistry", "StatusRow", "Finding", "quiet"]
