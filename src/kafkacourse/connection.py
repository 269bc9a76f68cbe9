"""Finding the cluster a lesson talks to, and the ONE place where a cluster's client settings (bootstrap
servers, security) are merged into every client config the library makes.

Where the cluster is, in order:

1. **The environment** (a remote cluster, docker compose): ``KAFKA_BOOTSTRAP_SERVERS`` (``connect()``),
   ``KAFKA_CLUSTER_BOOTSTRAP_SERVERS`` (``connect(brokers=3)``), ``KAFKA_<PROFILE>_BOOTSTRAP_SERVERS`` for the
   other profiles; the client settings from a properties file named by ``KAFKA_CLIENT_CONFIG`` (as the Java
   tools' ``--command-config``; ``schema.registry.*`` keys go to the registry client) and from
   ``KAFKA_CLIENT_<NAME>`` variables (``KAFKA_CLIENT_SECURITY_PROTOCOL=SASL_SSL`` → ``security.protocol``),
   which win over the file; the registry from ``SCHEMA_REGISTRY_URL`` and ``SCHEMA_REGISTRY_<NAME>``
   (``SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO=user:password`` → ``basic.auth.user.info``). A bootstrap.servers in
   the file counts as ``KAFKA_BOOTSTRAP_SERVERS``.
2. **The local stack** of that profile, started (with progress) when it is not running.

>>> cluster = kc.connect()                                   # single
>>> secure = kc.connect(profile="secure", as_user="alice")   # clients of alice over SASL_SSL (SCRAM-SHA-512)
>>> secure.as_principal("carol").producer()                  # the same cluster, as carol (mTLS)

Client settings use librdkafka's dotted names everywhere (``{"enable.idempotence": True}``), as
confluent-kafka takes them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .client_env import (CLIENT_ENV_PREFIX, CONFIG_FILE_ENV, JAAS_MODULES, REGISTRY_ENV_PREFIX,  # noqa: F401
                         REGISTRY_KEY_PREFIX, environment_settings, java_client_properties, read_properties)
from .stack import LocalStack, StackError, profiles

if TYPE_CHECKING:
    from .cluster import Cluster

BOOTSTRAP_ENV = {1: "KAFKA_BOOTSTRAP_SERVERS", 3: "KAFKA_CLUSTER_BOOTSTRAP_SERVERS"}
REGISTRY_ENV = "SCHEMA_REGISTRY_URL"
# confluent-kafka's own (Python) settings keep their underscores; every other key is librdkafka's dotted name.
PYTHON_ONLY_KEYS = {"error_cb", "throttle_cb", "stats_cb", "oauth_cb", "on_commit", "on_delivery", "logger"}
BIN_DIR = Path(__file__).resolve().parents[2] / "bin"  # the upstream-named tool wrappers (repo checkout)


def bootstrap_env(profile: str) -> str:
    """The variable that points a profile's connection at a remote cluster."""
    if profile == "single":
        return BOOTSTRAP_ENV[1]
    if profile == "cluster":
        return BOOTSTRAP_ENV[3]
    return f"KAFKA_{profile.upper()}_BOOTSTRAP_SERVERS"


def client_config(cluster_settings: Mapping[str, Any], settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The config of a client of a cluster: the cluster's settings (bootstrap.servers, security.protocol,
    sasl.*, ssl.*), then `settings` (librdkafka's dotted names, and confluent-kafka's own Python settings such
    as ``logger``, ``error_cb``, ``stats_cb``). Every client the library makes is configured here."""
    if settings is not None and not isinstance(settings, Mapping):
        raise TypeError(f"client settings are a dict of librdkafka's dotted names, e.g. {{'linger.ms': 5}}; "
                        f"got a {type(settings).__name__}: {settings!r}")
    config: dict[str, Any] = dict(cluster_settings)
    config.update(settings or {})
    return config


def dotted(keywords: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword names turned into librdkafka's dotted names (``linger_ms`` → ``linger.ms``), confluent-kafka's
    own Python settings (``logger``, ``error_cb``, ``on_delivery`` …) kept as they are.

    >>> dotted({"enable_idempotence": True, "logger": log})    # {'enable.idempotence': True, 'logger': log}
    """
    return {key if key in PYTHON_ONLY_KEYS else key.replace("_", "."): value for key, value in keywords.items()}


def refuse_keywords(method: str, keywords: Mapping[str, Any]) -> None:
    """A clear TypeError for client settings given as keywords (``linger_ms=5``): they are one dict of
    librdkafka's dotted names (``settings={"linger.ms": 5}``), the way confluent-kafka itself takes them."""
    if keywords:
        raise TypeError(f"{method}() takes client settings as one dict of librdkafka's dotted names, "
                        f"settings={dotted(keywords)!r}, not as keywords ({', '.join(f'{k}=' for k in keywords)})")


def connect(brokers: int = 1, *, profile: str | None = None, as_user: str | None = None, start: bool = True,
            progress: bool = True, timeout: float = 30.0) -> Cluster:
    """Find the Kafka cluster a lesson talks to, starting the local stack if need be.

    `profile` is one of the local stack's profiles (single, cluster, secure, dr); `brokers=3` is the shorthand
    for ``profile="cluster"``. `as_user` picks who the clients connect as on a secured profile (default: its
    admin); see :meth:`Cluster.as_principal`. Where the address and settings come from: see this module's
    docstring. Also puts the upstream tool wrappers (``kafka-topics.sh`` …) on this process's PATH.
    Raises TimeoutError when the cluster does not answer within `timeout` seconds.

    >>> cluster = kc.connect()                         # localhost:9092, or $KAFKA_BOOTSTRAP_SERVERS
    >>> secure = kc.connect(profile="secure", as_user="bob")
    """
    from .cluster import Cluster

    name = profile or profiles.for_brokers(brokers)
    if BIN_DIR.is_dir() and str(BIN_DIR) not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}"
    stack = LocalStack(profile=name)
    client, registry = environment_settings()
    remote = os.environ.get(bootstrap_env(name)) or (client.get("bootstrap.servers") if name == "single" else None)
    registry_url = registry.pop("url", None) or stack.schema_registry_url
    if remote:
        if as_user is not None:
            raise ValueError("as_user picks a principal of the local stack; for a remote cluster, put its "
                             f"credentials in {CONFIG_FILE_ENV} or the {CLIENT_ENV_PREFIX}* variables")
        client["bootstrap.servers"] = remote
        cluster = Cluster(remote, registry_url, len(stack.nodes), stack=None, client_settings=client,
                          registry_settings=registry)
    else:
        stack.profile.principal(as_user)  # an unknown principal fails before anything starts
        if not stack.running() or not all(svc.running() for svc in stack.extras):
            if not start:
                raise StackError(f"the local {name} stack is not running: run `kafkacourse up"
                                 f"{'' if name == profiles.DEFAULT else ' --profile ' + name}`, or connect(start=True)")
            stack.up(progress=print if progress else (lambda _msg: None))
        settings = stack.client_settings(as_user)
        cluster = Cluster(settings["bootstrap.servers"], registry_url, len(stack.nodes), stack=stack,
                          client_settings=settings, principal=stack.profile.principal(as_user).name)
    cluster.wait_until_answering(timeout)
    return cluster
