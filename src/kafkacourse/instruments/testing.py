"""Run a pytest file from a notebook as a learner would from a shell, and read back each test's outcome.

>>> run = run_pytest("tests/apps/test_day4_order_feed.py")      # python -m pytest, in a child process
>>> run.outcomes          # {'test_double_sees_key_value_and_event_timestamp': 'passed', ...}
>>> run.properties        # record_property() values per test, e.g. {'test_round_trip': {'backend': '...'}}
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PytestRun", "run_pytest"]


@dataclass
class PytestRun:
    """What one pytest run said: its exit code, each test's outcome, duration and recorded properties, its output."""

    returncode: int
    outcomes: dict[str, str] = field(default_factory=dict)
    properties: dict[str, dict[str, str]] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)   # s per test, as pytest timed it
    output: str = ""

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes.values() if o == outcome)


def run_pytest(*args: str, env: dict[str, str] | None = None, cwd: str | Path | None = None,
               timeout: float = 300.0) -> PytestRun:
    """``python -m pytest -q <args>`` with this interpreter and environment (plus `env`), in `cwd` (default: the
    current folder); outcomes are read from its JUnit XML report ('passed', 'failed', 'error', 'skipped')."""
    if not args:
        raise ValueError("name at least one test file or node id")
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                              f"--junitxml={report}", *args], capture_output=True, text=True, timeout=timeout,
                             cwd=cwd, env={**os.environ, **(env or {})})
        run = PytestRun(out.returncode, output=out.stdout + out.stderr)
        if not report.exists():
            raise RuntimeError(f"pytest wrote no report (exit code {out.returncode}):\n{run.output[-2000:]}")
        for case in ET.parse(report).getroot().iter("testcase"):
            name = case.get("name", "?")
            outcome = "passed"
            for tag in ("failure", "error", "skipped"):
                if case.find(tag) is not None:
                    outcome = {"failure": "failed"}.get(tag, tag)
            run.outcomes[name] = outcome
            run.durations[name] = float(case.get("time") or 0)
            run.properties[name] = {p.get("name"): p.get("value") for p in case.iter("property")}
    return run
