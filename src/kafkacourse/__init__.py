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

The tree is the table of contents:

* ``cluster`` — the facade a lesson talks to; ``server`` — FastAPI apps on a background thread;
* ``stack/`` — the Docker-free local stack (profiles, services, jars);
* ``instruments/`` — the experiments' machinery (``from kafkacourse.instruments import ledger``);
* ``plots/`` — every chart;
* ``course/`` — the CLI, the doctor, the lab generator and checks, the table of contents, tool wrappers.

Importing this package starts nothing and changes no setting.
"""

from .plots.live import LiveChart
from .cluster import Cluster, unique_name
from .connection import connect
from .course.doctor import doctor
from .course.labs import LabCheckFailed, check
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
