"""kafkacourse — the helper library of the Kafka & FastAPI course.

A small surface; every name is documented where it is defined:

* ``connect(brokers=1, profile=None, as_user=None)`` → :class:`Cluster` — find (or start) the cluster (a local
  profile: single, cluster, secure, dr; or a remote one from the environment); topics, produce, consume, chaos.
* ``unique_name(prefix)`` — names that never collide with an earlier run.
* ``serve(app)`` → :class:`BackgroundServer` — a FastAPI app on a background uvicorn thread.
* ``LiveChart`` — a chart fed from a loop; static when executed headless.
* ``check(condition, what, hint)`` — a lab check that says what is still wrong.
* ``doctor()`` — what the course needs and how to fix what is missing.
* ``LocalStack`` — the Docker-free stack itself (the CLI `kafkacourse` drives it).

One module per concept, imported by name where a lesson needs it (``from kafkacourse import ledger``):
``ledger`` (losses, duplicates, reordering), ``crash`` (consume-process-commit crashes), ``rebalance``
(assignment recorder and timelines), ``replication`` (leaders, ISR, chaos sampling), ``load`` (concurrent
HTTP load), ``latency`` (latency distributions), ``aio`` (asyncio producer bridge), ``faults`` (fault-injection
proxy), ``producer_bench`` (producer setting sweeps), ``naming`` (topic and event-type lint), ``schemas``
(the repo's schema files, registered schema-first), ``evolution`` (the live compatibility matrix), ``labs``
(lab checks and the lab generator).

Importing this package starts nothing and changes no setting.
"""

from .charts import LiveChart
from .cluster import Cluster, unique_name
from .connection import connect
from .doctor import doctor
from .labs import LabCheckFailed, check
from .server import BackgroundServer, serve
from .stack import LocalStack, StackError

__all__ = [
    "connect", "Cluster", "unique_name",
    "serve", "BackgroundServer",
    "LiveChart",
    "check", "LabCheckFailed",
    "doctor",
    "LocalStack", "StackError",
]
