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

from .. import profiles
from ..errors import StackError
from .base import Finding, ProcessService
from .common import get_json

PORT = 9090
SCRAPE_INTERVAL = "2s"
BIN_ENV = "KAFKA_COURSE_PROMETHEUS"
INSTALL_HINT = (
    "Install Prometheus: run `./course up --with prometheus` as root (it installs Debian's prometheus package), "
    "or `sudo apt-get install --no-install-recommends prometheus`, or `conda env create -f environment.yml` "
    f"(prometheus from conda-forge); or point {BIN_ENV} at the binary."
)


class PrometheusNotFoundError(StackError):
    """No prometheus binary was found."""


def executable() -> str:
    """The prometheus binary, or a PrometheusNotFoundError that says how to install it."""
    found = os.environ.get(BIN_ENV) or shutil.which("prometheus")
    if not found or not Path(found).exists():
        raise PrometheusNotFoundError(f"Prometheus is not installed (no `prometheus` on PATH). {INSTALL_HINT}")
    return found


def exporter_targets(offset: int) -> list[dict]:
    """Static scrape groups: every broker of every profile (job kafka, labels profile and node) and the Connect
    worker (job connect), at their exporters' ports moved by `offset`."""
    from .connect import METRICS_PORT

    groups = [{"targets": [f"localhost:{node.jmx_port}"],
               "labels": {"job": "kafka", "profile": profile.name, "node": str(node.node_id)}}
              for profile in profiles.all_profiles(offset) for node in profile.nodes]
    groups.append({"targets": [f"localhost:{METRICS_PORT + offset}"], "labels": {"job": "connect"}})
    return groups


class PrometheusService(ProcessService):
    """The course's Prometheus server on localhost:9090 (``kafkacourse up --with prometheus``)."""

    name = "prometheus"
    title = "Prometheus"
    process_name = "prometheus"
    default_port = PORT

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def rules_dir(self) -> Path:
        return self.data_dir / "rules"

    @property
    def targets_dir(self) -> Path:
        return self.data_dir / "targets"

    def ports(self) -> dict[int, str]:
        return {self.port: "Prometheus"}

    def _where(self) -> str:
        return f" at {self.url}"

    def installed(self) -> Finding | None:
        try:
            binary = executable()
        except PrometheusNotFoundError as exc:
            return Finding("Prometheus (Day 4)", False, "not installed", str(exc))
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
        first = (out.stdout + out.stderr).strip().splitlines()
        return Finding("Prometheus installed", True, f"{first[0] if first else 'prometheus'} ({binary})")

    def prepare(self, progress) -> None:
        """(Re)write prometheus.yml; rule files and extra target files are kept."""
        executable()  # a clear error before anything else when it is missing
        for folder in (self.rules_dir, self.targets_dir):
            folder.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "prometheus.yml").write_text(f"""# Written by kafkacourse on every start (kafkacourse/stack/services/prometheus.py).
global:
  scrape_interval: {SCRAPE_INTERVAL}
  scrape_timeout: {SCRAPE_INTERVAL}
  evaluation_interval: {SCRAPE_INTERVAL}
rule_files:
  - {self.rules_dir}/*.yml
scrape_configs:
  - job_name: course
    static_configs: {json.dumps(exporter_targets(self.context.offset))}
  - job_name: extra
    file_sd_configs:
      - files: ["{self.targets_dir}/*.json"]
        refresh_interval: 5s
""")

    def command(self) -> list[str]:
        return [
            executable(), f"--config.file={self.data_dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.data_dir / 'tsdb'}", f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle", "--storage.tsdb.retention.time=2d", "--log.level=warn",
        ]

    def answering(self) -> bool:
        """True once the server answers queries (/-/ready). Its first scrapes follow within ~5 s: Prometheus's
        service discovery hands new targets to the scrapers on a 5 s tick."""
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def doctor(self) -> list[Finding]:
        findings = super().doctor()
        if self.running():
            targets = get_json(f"{self.url}/api/v1/targets?state=active")
            if targets is not None:
                active = targets["data"]["activeTargets"]
                up = sum(t["health"] == "up" for t in active)
                findings.append(Finding("Prometheus targets", True, f"{up} of {len(active)} scrape targets up"))
        return findings
