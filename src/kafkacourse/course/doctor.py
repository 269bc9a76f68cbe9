"""The doctor: checks what the course needs, and says how to fix each thing that is wrong.

From a shell: ``kafkacourse doctor``; in a notebook's first cell: ``kc.doctor()``.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys

import pandas as pd

from ..stack import all_services, all_stacks, runtime
from ..stack.errors import JavaNotFoundError
from ..stack.processes import SILENT
from ..stack.services import Finding  # noqa: F401 - one Finding for the doctor and the services


def _python() -> Finding:
    ok = sys.version_info >= (3, 11)
    return Finding("Python ≥ 3.11", ok, sys.version.split()[0],
                   "" if ok else "use the conda env (`conda env create -f environment.yml`) or Python 3.11+")


def _java() -> Finding:
    try:
        java = runtime.java_executable()
        return Finding("Java ≥ 17", True, f"{java} (Java {runtime.java_major_version(java)})")
    except JavaNotFoundError as exc:
        return Finding("Java ≥ 17", False, "not found", str(exc))


def _maven() -> Finding:
    if runtime.jars_ready():
        return Finding("Kafka jars", True, f"cached in {runtime.kafka_libs().parent.parent}")
    mvn = shutil.which("mvn")
    if mvn:
        return Finding("Kafka jars", True, f"not resolved yet; `kafkacourse up` resolves them once with {mvn}")
    return Finding("Kafka jars", False, "not resolved yet, and Maven is missing", runtime.INSTALL_MAVEN_HINT)


def _client() -> list[Finding]:
    import confluent_kafka
    from confluent_kafka import Producer

    version = f"confluent-kafka {confluent_kafka.__version__}, librdkafka {confluent_kafka.libversion()[0]}"
    findings = [Finding("confluent-kafka", True, version)]
    try:  # librdkafka refuses the config at once when it was built without SSL/SASL-SCRAM
        Producer({"bootstrap.servers": "localhost:1", "security.protocol": "SASL_SSL",
                  "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "u", "sasl.password": "p",
                  "logger": SILENT})
        findings.append(Finding("client SSL + SASL/SCRAM (Day 5)", True, "supported"))
    except Exception as exc:  # noqa: BLE001 - any refusal means the feature is missing
        findings.append(Finding("client SSL + SASL/SCRAM (Day 5)", False, str(exc),
                                "pip install the PyPI wheel: `pip install --force-reinstall confluent-kafka==2.16.1`"))
    return findings


def _packages() -> Finding:
    needed = ["fastavro", "fastapi", "uvicorn", "nest-asyncio", "matplotlib", "pandas", "ipywidgets", "jupyterlab"]
    missing = []
    for name in needed:
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    return Finding("Python packages", not missing, "all present" if not missing else f"missing: {', '.join(missing)}",
                   "" if not missing else "run `./course open` (installs them), or `pip install -e .`")


def _ports_and_services() -> list[Finding]:
    """Each profile's brokers, then every other service the stack knows: installed, ports, answering."""
    findings = []
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        findings.append(Finding("cluster address", True, f"KAFKA_BOOTSTRAP_SERVERS={external} (not the local stack)"))
    for stack in all_stacks():
        findings.append(stack.doctor()[0])
    for service in all_services():
        findings.extend(service.doctor())
    return findings


def diagnose() -> list[Finding]:
    """Run every check and return the findings (nothing is started or changed)."""
    return [_python(), _java(), _maven(), *_client(), _packages(), *_ports_and_services()]


def doctor() -> pd.DataFrame:
    """Run the checks, print what is wrong and how to fix it, and return them all as a table."""
    findings = diagnose()
    for finding in findings:
        if not finding.ok:
            print(f"❌ {finding.check}: {finding.detail}\n   fix: {finding.fix}")
    if all(f.ok for f in findings):
        print("✅ everything the course needs is here")
    return pd.DataFrame([{"check": f.check, "ok": "✅" if f.ok else "❌", "detail": f.detail} for f in findings])
