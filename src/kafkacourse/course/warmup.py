"""`kafkacourse warmup --day N`: start and pre-load everything a day of the course needs, before the class.

What each day needs is data (`NEEDS`): the stack profiles it uses, each with the extra services started with
it. Adding a day's needs is one line. Warm-up then, in order: resolves the jars (Maven, once), starts each
profile with its services and waits until they answer, warms the upstream tools' JVM on each plaintext
profile (`kafka-metadata-quorum.sh … describe --status`), and warms the Python side in a child process
(matplotlib's font cache, pandas, the Kafka client, FastAPI) so that nothing waits in class. Safe to run
twice: whatever already runs is left as it is.

>>> kafkacourse warmup --day 2
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field

from ..stack import LocalStack, runtime


@dataclass(frozen=True)
class Need:
    """One stack profile a day uses, and the services it must run with (e.g. ``("connect", "postgres")``)."""

    profile: str
    services: tuple[str, ...] = field(default=())


# day → what it uses. Profiles and services are the stack's names (`kafkacourse up --profile NAME --with S`).
NEEDS: dict[int, tuple[Need, ...]] = {
    1: (Need("single"), Need("cluster")),
    2: (Need("single"), Need("cluster")),
    3: (Need("single"), Need("cluster")),
    4: (Need("single", ("connect", "postgres", "prometheus")), Need("cluster")),
    5: (Need("single", ("connect", "prometheus")), Need("cluster"), Need("secure"), Need("dr")),   # + the capstone
}
LEGACY_BROKERS = {"single": 1, "cluster": 3}  # profiles a checkout without named profiles can still start
PYTHON_WARMUP = ("import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt; "
                 "plt.figure(); plt.plot([0, 1]); plt.savefig('/dev/null', format='png'); "
                 "import pandas, confluent_kafka, fastapi, httpx, ipywidgets, kafkacourse")


def needs(day: int) -> tuple[Need, ...]:
    """What `day` needs; a clear error for a day the course does not have."""
    if day not in NEEDS:
        raise ValueError(f"the course has days {', '.join(map(str, NEEDS))}, not {day}")
    return NEEDS[day]


def stack_for(need: Need) -> LocalStack:
    """The LocalStack of a need: a named profile with its services, or (older stack API) a broker count."""
    try:
        return LocalStack(profile=need.profile, with_services=need.services)
    except TypeError:  # a stack that knows only broker counts
        if need.profile not in LEGACY_BROKERS or need.services:
            raise ValueError(f"this checkout's stack cannot start profile {need.profile!r} with "
                             f"{list(need.services) or 'no extra services'}") from None
        return LocalStack(LEGACY_BROKERS[need.profile])


def warm_tools(stack: LocalStack, progress) -> None:
    """One upstream tool run against `stack`, so the first `!kafka-…sh` in class does not wait for a cold JVM."""
    if getattr(stack, "certificates", None):
        return  # a secured profile needs client settings; its own lessons run the tools with them
    progress(f"Warming the Kafka tools against {stack.name}…")
    from .tools import java_command

    out = subprocess.run(java_command("kafka-metadata-quorum.sh",
                                      ["--bootstrap-server", stack.bootstrap_servers, "describe", "--status"]),
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0 or "LeaderId" not in out.stdout:
        raise RuntimeError(f"kafka-metadata-quorum.sh against {stack.name} failed:\n{out.stderr[-2000:]}")


def warm_python(progress) -> None:
    progress("Warming Python: matplotlib's font cache, pandas, the Kafka client, FastAPI…")
    subprocess.run([sys.executable, "-c", PYTHON_WARMUP], check=True, timeout=300)


def warmup(day: int, progress=print) -> list[LocalStack]:
    """Start and pre-load everything `day` needs (see the module docstring); return the stacks started."""
    wanted = needs(day)
    started = time.monotonic()
    stacks = [stack_for(need) for need in wanted]  # validate every need before starting anything
    runtime.resolve_jars(progress)
    for stack in stacks:
        stack.up(progress=progress)
    for stack in stacks:
        warm_tools(stack, progress)
    warm_python(progress)
    names = ", ".join(f"{need.profile}" + (f" + {', '.join(need.services)}" if need.services else "")
                      for need in wanted)
    progress(f"Day {day} is ready ({names}) after {time.monotonic() - started:.0f} s.")
    return stacks
