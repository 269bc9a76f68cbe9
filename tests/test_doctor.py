"""The doctor on this machine (all green with the stack up) and with Java missing (a finding with its fix)."""

from __future__ import annotations

import subprocess
import sys

from kafkacourse.course.doctor import diagnose
from kafkacourse.stack import runtime


def test_everything_is_green_with_the_stack_running(cluster):
    findings = {f.check: f for f in diagnose()}
    assert all(f.ok for f in findings.values()), [f for f in findings.values() if not f.ok]
    assert findings["client SSL + SASL/SCRAM (Day 5)"].detail == "supported"
    assert "answering" in findings["schema registry"].detail


def test_missing_java_is_a_finding_with_a_fix(tmp_path, monkeypatch):
    runtime.java_major_version.cache_clear()
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    java = next(f for f in diagnose() if f.check.startswith("Java"))
    runtime.java_major_version.cache_clear()
    assert not java.ok and "openjdk-17" in java.fix


def test_cli_doctor_exits_zero_when_green(cluster):
    out = subprocess.run([sys.executable, "-m", "kafkacourse.course.cli", "doctor"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "❌" not in out.stdout and "✅ schema registry" in out.stdout
