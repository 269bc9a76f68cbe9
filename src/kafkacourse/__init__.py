"""kafkacourse — the helper library of the Kafka & FastAPI course.

A small surface; every name is documented where it is defined:

* ``connect(brokers=1, profile=None, as_user=None)`` → :class:`Cluster` — find (or start) the cluster (a local
  profile: single, cluster, secure, dr; or a remote one from the environment); topics, produce, consume, chaos.
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

Importing this package starts nothing, changes no setting, and imports the names above only when first used.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

# name -> the module that defines it; imported on first use, so `import kafkacourse.instruments.retry` in a
# consumer service does not pay for pandas, matplotlib and the stack (PEP 562 module __getattr__).
_PUBLIC = {
    "connect": ".connection", "Cluster": ".cluster", "unique_name": ".cluster",
    "serve": ".server", "BackgroundServer": ".server",
    "LiveChart": ".plots.live", "progress": ".plots.progress",
    "check": ".course.labs", "LabCheckFailed": ".course.labs", "ToDo": ".course.labs",
    "doctor": ".course.doctor",
    "LocalStack": ".stack", "StackError": ".stack",
}

__all__ = [
    "connect", "Cluster", "unique_name",
    "serve", "BackgroundServer",
    "LiveChart", "progress",
    "check", "LabCheckFailed", "ToDo",
    "doctor",
    "LocalStack", "StackError",
]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(import_module(_PUBLIC[name], __name__), name)
    else:
        try:  # a submodule: `kafkacourse.cluster`, `kafkacourse.instruments`, …
            value = import_module(f".{name}", __name__)
        except ModuleNotFoundError:
            raise AttributeError(f"module 'kafkacourse' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from .cluster import Cluster, unique_name
    from .connection import connect
    from .course.doctor import doctor
    from .course.labs import LabCheckFailed, check
    from .plots.live import LiveChart
    from .server import BackgroundServer, serve
    from .stack import LocalStack, StackError
