"""A client's settings from the environment, as a remote cluster is given to the course: a properties file named
by ``KAFKA_CLIENT_CONFIG`` (as the Java tools' ``--command-config``) and ``KAFKA_CLIENT_<NAME>`` variables, which
win over the file (``KAFKA_CLIENT_SECURITY_PROTOCOL=SASL_SSL`` → ``security.protocol``); ``schema.registry.*`` keys
and ``SCHEMA_REGISTRY_<NAME>`` variables for the registry client.

Light on purpose (the standard library only): the course's apps import it in every process they start, without
the stack, pandas or matplotlib. `kc.connect()` (kafkacourse.connection) uses the same functions.

>>> from kafkacourse.client_env import env_client_settings
>>> Producer({**env_client_settings(), "bootstrap.servers": args.bootstrap_servers, "acks": "all"})
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CONFIG_FILE_ENV = "KAFKA_CLIENT_CONFIG"
CLIENT_ENV_PREFIX = "KAFKA_CLIENT_"
REGISTRY_ENV_PREFIX = "SCHEMA_REGISTRY_"
REGISTRY_KEY_PREFIX = "schema.registry."


def read_properties(path: str | Path) -> dict[str, str]:
    """A Java-style .properties file (``key=value`` or ``key: value``; ``#`` and ``!`` comments) as a dict."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{CONFIG_FILE_ENV} names {file}, which is not a file")
    values: dict[str, str] = {}
    for number, raw in enumerate(file.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        sep = min((i for i in (line.find("="), line.find(":")) if i > 0), default=-1)
        if sep < 0:
            raise ValueError(f"{file}:{number}: expected key=value, got {raw!r}")
        values[line[:sep].strip()] = line[sep + 1:].strip()
    return values


def environment_settings(env: Mapping[str, str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(client settings, registry client settings) from KAFKA_CLIENT_CONFIG and the KAFKA_CLIENT_* /
    SCHEMA_REGISTRY_* variables; both empty when none is set."""
    env = os.environ if env is None else env
    client: dict[str, str] = {}
    registry: dict[str, str] = {}
    if env.get(CONFIG_FILE_ENV):
        for key, value in read_properties(env[CONFIG_FILE_ENV]).items():
            if key.startswith(REGISTRY_KEY_PREFIX):
                registry[key[len(REGISTRY_KEY_PREFIX):]] = value
            else:
                client[key] = value
    for name, value in env.items():
        if name.startswith(CLIENT_ENV_PREFIX) and name != CONFIG_FILE_ENV:
            client[name[len(CLIENT_ENV_PREFIX):].lower().replace("_", ".")] = value
        elif name.startswith(REGISTRY_ENV_PREFIX):
            registry[name[len(REGISTRY_ENV_PREFIX):].lower().replace("_", ".")] = value
    return client, registry


def env_client_settings(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment's client settings (security protocol, SASL, CA file …; see the module docstring), for an
    app to put *under* its own: ``Consumer({**env_client_settings(), "bootstrap.servers": …, "group.id": …})``,
    so an app given only ``--bootstrap-servers`` reaches a secured cluster too. Empty when no variable is set."""
    return environment_settings(env)[0]


JAAS_MODULES = {"PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
                "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
                "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule"}


def java_client_properties(settings: Mapping[str, Any]) -> list[str]:
    """librdkafka security settings as the Java clients' properties lines (for the tools' ``--command-config``):
    security.protocol; ssl.ca.location → a PEM truststore; sasl.mechanism with sasl.username/password → the
    PLAIN or SCRAM ``sasl.jaas.config``. Client certificates (a PEM keystore) are the caller's to add.

    >>> java_client_properties({"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", ...})
    """
    lines = [f"security.protocol={settings['security.protocol']}"] if "security.protocol" in settings else []
    if "ssl.ca.location" in settings:
        lines += ["ssl.truststore.type=PEM", f"ssl.truststore.location={settings['ssl.ca.location']}"]
    mechanism = settings.get("sasl.mechanism") or settings.get("sasl.mechanisms")
    if mechanism:
        lines.append(f"sasl.mechanism={mechanism}")
        if mechanism in JAAS_MODULES and "sasl.username" in settings:
            lines.append(f"sasl.jaas.config={JAAS_MODULES[mechanism]} required "
                         f'username="{settings["sasl.username"]}" password="{settings.get("sasl.password", "")}";')
    return lines
