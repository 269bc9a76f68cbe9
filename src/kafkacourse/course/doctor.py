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


def _tcpdump() -> Finding:
    """Day 5 captures a listener's traffic with tcpdump (instruments.capture), which needs root or capabilities."""
    from ..instruments import capture

    try:
        found = capture.version()
    except capture.CaptureError as exc:
        return Finding("tcpdump (Day 5)", False, "not installed", str(exc).split(": ", 1)[-1])
    who = "as root" if os.geteuid() == 0 else "needs root or CAP_NET_RAW + CAP_NET_ADMIN to capture"
    return Finding("tcpdump (Day 5)", True, f"{found} ({who})")


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
    return [_python(), _java(), _maven(), *_client(), _tcpdump(), _packages(), *_ports_and_services()]


OK, NOT_YET = "✅ OK", "❌ NOT YET"  # the word carries the meaning where no emoji font draws the symbol


def status(ok: bool) -> str:
    return OK if ok else NOT_YET


class Findings(pd.DataFrame):
    """The doctor's table: a DataFrame whose display never cuts a cell (URLs and fixes stay whole, wrapped)."""

    @property
    def _constructor(self):
        return pd.DataFrame  # anything computed from it is a plain DataFrame

    def _repr_html_(self) -> str:
        """Every cell whole and left-aligned, long values wrapped (pandas' own HTML cuts at 50 characters)."""
        import html

        cell = 'style="text-align: left; white-space: normal; overflow-wrap: anywhere; vertical-align: top"'
        columns = [c for c in self.columns if self[c].astype(str).str.len().any()]  # no empty "fix" column
        head = "".join(f"<th {cell}>{html.escape(str(c))}</th>" for c in columns)
        nowrap = 'style="text-align: left; white-space: nowrap; vertical-align: top"'  # "❌ NOT YET" stays whole
        rows = "".join("<tr>" + "".join(f"<td {nowrap if c == 'status' else cell}>{html.escape(str(row[c]))}</td>"
                                        for c in columns) + "</tr>"
                       for _, row in self.iterrows())
        return f'<table class="dataframe"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'

    def __repr__(self) -> str:
        with pd.option_context("display.max_colwidth", None, "display.width", 1000, "display.max_columns", None):
            return super().__repr__()


def report_lines(findings: list[Finding], width: int = 100) -> list[str]:
    """The CLI's lines: symbol and word, check, then the whole detail and fix wrapped (never cut)."""
    import textwrap

    name_width = max((len(f.check) for f in findings), default=10)
    indent = " " * (len(NOT_YET) + 2 + name_width + 2)
    lines = []
    for f in findings:
        head = f"{status(f.ok):<{len(NOT_YET)}}  {f.check:<{name_width}}  "
        body = textwrap.wrap(f.detail, max(30, width - len(head)), break_long_words=False, break_on_hyphens=False)
        lines.append(head + (body[0] if body else ""))
        lines.extend(indent + more for more in body[1:])
        if f.fix:
            fix = textwrap.wrap(f"fix: {f.fix}", max(30, width - len(indent)), break_long_words=False,
                                break_on_hyphens=False)
            lines.extend(indent + line for line in fix)
    return lines


def doctor() -> Findings:
    """Run the checks, print what is wrong and how to fix it, and return them all as a table.

    >>> kc.doctor()      # in a notebook: the table, each row "✅ OK" or "❌ NOT YET", nothing cut
    """
    findings = diagnose()
    for finding in findings:
        if not finding.ok:
            print(f"{NOT_YET} {finding.check}: {finding.detail}\n   fix: {finding.fix}")
    if all(f.ok for f in findings):
        print(f"{OK}: everything the course needs is here")
    return Findings([{"status": status(f.ok), "check": f.check, "detail": f.detail, "fix": f.fix}
                     for f in findings])
