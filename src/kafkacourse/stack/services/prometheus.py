"""Prometheus for Day 4's monitoring: scrapes every JMX exporter of the stack every 2 s, evaluates rule files.

Its configuration is generated into its data folder on every start:

* ``prometheus.yml`` — a 2 s scrape and evaluation interval; the exporter of every broker of every profile
  and of the Connect worker, labelled ``job``/``profile``/``node`` (a profile that is not running shows as
  ``up == 0``); more targets from ``targets/*.json`` (file-based discovery: Prometheus rereads them when they
  change, no restart; ``kafkacourse.prometheus.Prometheus.add_target``); rules from ``rules/*.yml``;
* ``rules/`` — alerting and recording rules a lesson writes (``kafkacourse.prometheus.Prometheus.add_rules``),
  loaded by ``POST /-/reload`` (the lifecycle API is enabled).

The binary: $KAFKA_COURSE_PROMETHEUS, else ``prometheus`` on PATH (Debian's package, or conda-forge's).
The time series stay in ``tsdb/`` until :meth:`PrometheusService.reset`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx

from .. import processes, runtime
from ..errors import StackError
from ..local import ManagedProcess, wait_until
from .common import Finding, ServiceStatus, get_json, port, port_finding

PORT = 9090
SCRAPE_INTERVAL = "2s"
BIN_ENV = "KAFKA_COURSE_PROMETHEUS"
START_TIMEOUT_S = 30.0
INSTALL_HINT = (
    "Install Prometheus: run `./course up --with prometheus` as root (it installs Debian's prometheus package), "
    "or `sudo apt-get install --no-install-recommends prometheus`, or `conda env create -f environment.yml` "
    f"(prometheus from conda-forge); or point {BIN_ENV} at the binary."
)
# Where the JMX exporters listen (base ports; every port moves with $KAFKA_COURSE_PORT_OFFSET).
# profile -> [(node, port)]; the Connect worker is job "connect".
BROKER_EXPORTERS = {
    "single": [(1, 9096)],
    "cluster": [(1, 9196), (2, 9296), (3, 9396)],
    "secure": [(1, 9596)],
    "dr": [(1, 9696)],
}
CONNECT_EXPORTER = 8085


class PrometheusNotFoundError(StackError):
    """No prometheus binary was found."""


def executable() -> str:
    """The prometheus binary, or a PrometheusNotFoundError that says how to install it."""
    found = os.environ.get(BIN_ENV) or shutil.which("prometheus")
    if not found or not Path(found).exists():
        raise PrometheusNotFoundError(f"Prometheus is not installed (no `prometheus` on PATH). {INSTALL_HINT}")
    return found


def exporter_targets() -> list[dict]:
    """file_sd groups: every broker exporter (job kafka, labels profile/node) and the Connect worker's."""
    groups = [{"targets": [f"localhost:{port(p)}"], "labels": {"job": "kafka", "profile": profile, "node": str(node)}}
              for profile, nodes in BROKER_EXPORTERS.items() for node, p in nodes]
    groups.append({"targets": [f"localhost:{port(CONNECT_EXPORTER)}"], "labels": {"job": "connect"}})
    return groups


class PrometheusService:
    """The course's Prometheus server on localhost:9090.

    >>> prom = PrometheusService()
    >>> prom.start(); prom.wait_ready()      # idempotent
    >>> prom.stop()                          # time series stay until prom.reset()
    """

    name = "prometheus"

    def __init__(self) -> None:
        self.port = port(PORT)
        self.process = ManagedProcess("prometheus", runtime.home() / "prometheus",
                                      {self.port: "Prometheus"})

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def root(self) -> Path:
        return self.process.workdir

    @property
    def rules_dir(self) -> Path:
        return self.root / "rules"

    @property
    def targets_dir(self) -> Path:
        return self.root / "targets"

    @property
    def log_file(self) -> Path:
        return self.process.log_file

    def write_config(self) -> None:
        """(Re)write prometheus.yml (rule files and extra target files are kept)."""
        for folder in (self.root, self.rules_dir, self.targets_dir):
            folder.mkdir(parents=True, exist_ok=True)
        (self.root / "prometheus.yml").write_text(f"""# Written by kafkacourse on every start (kafkacourse/stack/services/prometheus.py).
global:
  scrape_interval: {SCRAPE_INTERVAL}
  scrape_timeout: {SCRAPE_INTERVAL}
  evaluation_interval: {SCRAPE_INTERVAL}
rule_files:
  - {self.rules_dir}/*.yml
scrape_configs:
  - job_name: course
    static_configs: {json.dumps(exporter_targets())}
  - job_name: extra
    file_sd_configs:
      - files: ["{self.targets_dir}/*.json"]
        refresh_interval: 5s
""")

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self, progress=print) -> None:
        if self.process.pid() is not None:
            return
        binary = executable()
        self.write_config()
        progress(f"Starting Prometheus on :{self.port}…")
        self.process.start([
            binary, f"--config.file={self.root / 'prometheus.yml'}", f"--storage.tsdb.path={self.root / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=2d", "--log.level=warn",
        ])

    def answers(self) -> bool:
        """True once the server answers queries (/-/ready). Its first scrapes follow within ~5 s: Prometheus's
        service discovery hands new targets to the scrapers on a 5 s tick."""
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        watched = [self.process] if self.process.pid() is not None else []
        wait_until(self.answers, *watched, what=f"Prometheus on :{self.port}", timeout=timeout)

    def stop(self, progress=print) -> bool:
        if self.process.stop(timeout=20):
            progress("Stopped Prometheus.")
            return True
        return False

    def reset(self, progress=print) -> None:
        """Stop Prometheus and delete its folder: time series, rules, extra targets. The only call that deletes."""
        self.stop(progress)
        shutil.rmtree(self.root, ignore_errors=True)
        progress(f"Deleted Prometheus's data ({self.root}).")

    # -- observing -------------------------------------------------------------------------------------------
    def status(self) -> ServiceStatus:
        return ServiceStatus(self.name, self.process.pid(), self.port, processes.port_accepts(self.port),
                             self.log_file)

    def logs(self, lines: int = 50) -> str:
        return self.process.tail(lines)

    def doctor(self) -> list[Finding]:
        try:
            binary = executable()
            out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
            version = (out.stdout + out.stderr).splitlines()[0] if (out.stdout + out.stderr) else binary
            findings = [Finding("Prometheus", True, f"{version} ({binary})")]
        except PrometheusNotFoundError as exc:
            return [Finding("Prometheus (Day 4)", False, "not installed", str(exc))]
        pid = self.process.pid()
        findings.append(port_finding("Prometheus", self.port, pid))
        if pid is not None:
            targets = get_json(f"{self.url}/api/v1/targets?state=active")
            if targets is None:
                findings.append(Finding("Prometheus answers", False, "no answer", f"see {self.log_file}"))
            else:
                active = targets["data"]["activeTargets"]
                up = sum(t["health"] == "up" for t in active)
                findings.append(Finding("Prometheus answers", True, f"{up} of {len(active)} targets up"))
        return findings
