"""The doctor on this machine (all green with the stack up) and with Java missing (a finding with its fix)."""

from __future__ import annotations

import re
import subprocess
import sys

from kafkacourse.course.doctor import Finding, Findings, diagnose, report_lines
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
    assert "❌" not in out.stdout and "NOT YET" not in out.stdout
    assert re.search(r"^✅ OK +schema registry +answering at http://localhost:8081/apis/ccompat/v7$", out.stdout, re.M), \
        out.stdout


def test_the_words_carry_the_meaning_and_nothing_is_cut():
    findings = [Finding("schema registry", True, "answering at http://localhost:8081/apis/ccompat/v7"),
                Finding("Kafka jars", False, "not resolved yet, and Maven is missing " * 3, "install maven " * 8)]
    lines = report_lines(findings, width=60)
    text = " ".join(" ".join(lines).split())
    assert lines[0].startswith("✅ OK") and any(line.startswith("❌ NOT YET") for line in lines)
    assert "http://localhost:8081/apis/ccompat/v7" in text, "a URL is never broken or cut"
    assert text.count("Maven is missing") == 3 and text.count("install maven") == 8
    assert all(len(line) <= 60 for line in lines if "http" not in line)
    table = Findings([{"status": "✅ OK", "check": "schema registry", "detail": "x" * 80 + " http://a.example/very/long"}])
    assert "http://a.example/very/long" in table._repr_html_() and "..." not in table._repr_html_()

