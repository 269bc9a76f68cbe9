"""kafkacourse — the helper library of the Kafka & FastAPI course.

A small surface; every name is documented where it is defined:

* ``connect(brokers=1)`` → :class:`Cluster` — find (or start) the cluster; topics, produce, consume, chaos.
* ``unique_name(prefix)`` — names that never collide with an earlier run.
* ``serve(app)`` → :class:`BackgroundServer` — a FastAPI app on a background uvicorn thread.
* ``LiveChart`` — a chart fed from a loop; static when executed headless; ``progress`` — a tqdm.auto bar.
* ``check(condition, what, hint)`` — a lab check that says what is still wrong; ``ToDo`` — a lab step not written yet.
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
from .plots.progress import progress
from .cluster import Cluster, connect, unique_name
from .course.doctor import doctor
from .course.labs import LabCheckFailed, ToDo, check
from .server import BackgroundServer, serve
from .stack import LocalStack, StackError

__all__ = [
    "connect", "Cluster", "unique_name",
    "serve", "BackgroundServer",
    "LiveChart", "progress",
    "check", "LabCheckFailed", "ToDo",
    "doctor",
    "LocalStack", "StackError",
]
