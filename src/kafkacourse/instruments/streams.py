"""The course's Kafka Streams app (stack/streams/OrderStreams.java) as a real JVM process, and its cleanup.

>>> app = order_streams(cluster, application_id=app_id, orders=orders, customers=customers,
...                     output_prefix=out, state_dir=state_dir).start()
>>> app.wait_for("STATE RUNNING", timeout=120)
>>> internal_topics(cluster, app_id)          # its changelog and repartition topics, as the broker lists them
>>> app.kill(); app.restart()                 # SIGKILL the JVM; the restart restores its stores from changelogs
>>> delete_app(cluster, app_id, state_dir)    # internal topics, consumer group, local state: all gone

Output topics (created by the caller, like the inputs): ``<prefix>-totals`` (running count per customer, long
values), ``<prefix>-tumbling`` and ``<prefix>-hopping`` (final window counts as JSON), ``<prefix>-enriched``
(orders joined with the customers table).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from kafkacourse.stack.runtime import STREAMS_MAIN, streams_app_classpath

from .processes import ServiceProcess

__all__ = ["order_streams", "internal_topics", "delete_app", "OUTPUT_SUFFIXES"]

OUTPUT_SUFFIXES = ("totals", "tumbling", "hopping", "enriched")
# Small heap, serial GC and the C1 compiler only: a faster start on a loaded 2-core machine.
JVM_OPTIONS = ("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")


def order_streams(cluster: Any, *, application_id: str, orders: str, customers: str, output_prefix: str,
                  state_dir: str | Path, size_ms: int = 10_000, advance_ms: int = 5_000, grace_ms: int = 5_000,
                  progress=print) -> ServiceProcess:
    """A (not yet started) ServiceProcess running OrderStreams; builds the app with Maven first if needed.

    Defaults: 10 s windows, hopping by 5 s, 5 s grace. The app prints ``STATE <state>`` on each state change
    and ``RESTORED store=… changelog=… records=N`` for each store it restores.
    """
    if not (0 < advance_ms <= size_ms) or grace_ms < 0:
        raise ValueError(f"need 0 < advance_ms <= size_ms and grace_ms >= 0, got {size_ms=}, {advance_ms=}, {grace_ms=}")
    protocol = str(cluster.client_settings.get("security.protocol", "PLAINTEXT")).upper()
    if protocol != "PLAINTEXT":
        raise ValueError(f"order_streams runs against a PLAINTEXT cluster (the course's single and cluster "
                         f"profiles); this one uses security.protocol={protocol}")
    classpath = streams_app_classpath(progress=progress)
    return ServiceProcess.java(STREAMS_MAIN, cluster.bootstrap_servers, application_id, orders, customers,
                               output_prefix, str(state_dir), str(size_ms), str(advance_ms), str(grace_ms),
                               classpath=classpath, name=application_id, jvm_options=JVM_OPTIONS)


def internal_topics(cluster: Any, application_id: str) -> list[str]:
    """The topics Kafka Streams created for `application_id` (``<id>-<name>-changelog`` / ``-repartition``)."""
    return sorted(t for t in cluster.topics(prefix=f"{application_id}-")
                  if t.endswith("-changelog") or t.endswith("-repartition"))


def delete_app(cluster: Any, application_id: str, state_dir: str | Path | None = None) -> list[str]:
    """Delete the app's internal topics, its consumer group and its local state dir; the topics deleted."""
    topics = internal_topics(cluster, application_id)
    for topic in topics:
        cluster.delete_topic(topic)
    futures = cluster.admin().delete_consumer_groups([application_id], request_timeout=15)
    for future in futures.values():
        try:
            future.result()
        except Exception as exc:  # noqa: BLE001 - a group that never committed does not exist
            if "GROUP_ID_NOT_FOUND" not in str(exc):
                raise
    if state_dir is not None:
        shutil.rmtree(state_dir, ignore_errors=True)
    return topics
