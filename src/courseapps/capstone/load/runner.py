"""Locust against the orders API as its own process: start, stop, and what it measured.

>>> from courseapps.capstone.load.runner import Load
>>> with Load(system, rate=10) as load:       # 10 orders/s, headless
...     time.sleep(20)
>>> load.stats()                              # locust's own table: requests, failures, HTTP latency percentiles
>>> Load(system, rate=10, web=True).start().web_url    # its web UI, for learners

`rate` is orders per second in all: ``users = ceil(rate / per_user)`` locust users of `per_user` orders/s
each (``constant_throughput``). Locust writes its CSV statistics (``--csv``) into the system's run dir; the
end-to-end latency (placed → terminal) is not locust's to see: :func:`courseapps.capstone.report.e2e` reads
it from the orders store.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from kafkacourse.instruments.processes import ServiceProcess, free_port

if TYPE_CHECKING:
    from ..system import System

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


class Load:
    def __init__(self, system: "System", rate: float = 10.0, per_user: float = 2.0, web: bool = False,
                 repeat_every: int = 10) -> None:
        if rate <= 0 or per_user <= 0:
            raise ValueError(f"rate and per_user are orders per second, > 0 (not {rate}, {per_user})")
        self.system, self.rate, self.web = system, rate, web
        self.users = max(1, math.ceil(rate / per_user))
        self.csv = system.run_dir / f"locust-{free_port()}"
        self.web_port = free_port() if web else None
        args = ["-f", str(LOCUSTFILE), "--host", system.url("orders"), "-u", self.users, "-r", self.users,
                "--csv", self.csv, "--loglevel", "WARNING", "--stop-timeout", "5"]
        args += ["--web-host", "127.0.0.1", "--web-port", self.web_port, "--autostart"] if web else \
            ["--headless", "--only-summary"]
        env = {"CAPSTONE_ORDERS_PER_USER_S": str(rate / self.users), "CAPSTONE_REPEAT_EVERY": str(repeat_every),
               "CAPSTONE_SKUS": ",".join(system.stock)}
        self.process = ServiceProcess("locust", *map(str, args), env=env, name="locust", log_dir=system.run_dir)

    @property
    def web_url(self) -> str | None:
        return f"http://127.0.0.1:{self.web_port}" if self.web_port else None

    def start(self) -> "Load":
        self.process.start()
        return self

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM locust: its users stop, it writes its CSV statistics and exits."""
        return self.process.terminate(timeout) if self.process.alive else (self.process.returncode or 0)

    def stats(self) -> pd.DataFrame:
        """Locust's statistics per request name (after stop()): requests, failures, median/p95/p99 ms, per s."""
        path = Path(f"{self.csv}_stats.csv")
        if not path.exists():
            raise FileNotFoundError(f"locust wrote no statistics ({path}); its log:\n{self.process.tail()}")
        frame = pd.read_csv(path)
        columns = {"Name": "request", "Request Count": "requests", "Failure Count": "failures",
                   "50%": "p50_ms", "95%": "p95_ms", "99%": "p99_ms", "Requests/s": "per_s"}
        return frame[list(columns)].rename(columns=columns).set_index("request")

    def __enter__(self) -> "Load":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
