"""The doctor on a stack this module controls (its own KAFKA_COURSE_HOME and port offset, so another lesson's
killed broker never shows up here): green while it runs, a finding with its fix while its broker hangs; and with
Java missing (a finding with its fix)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from kafkacourse.course.doctor import Finding, Findings, diagnose, report_lines
from kafkacourse.stack import LocalStack, profiles, runtime


@pytest.fixture(scope="module")
def scratch_stack(tmp_path_factory):
    """The single profile (broker and registry) in a private home at a free port offset; stopped afterwards."""
    jars = runtime.home() / "jars"
    with pytest.MonkeyPatch.context() as env:
        home = tmp_path_factory.mktemp("doctor-home")
        (home / "jars").symlink_to(jars)
        env.setenv("KAFKA_COURSE_HOME", str(home))
        env.setenv(profiles.PORT_OFFSET_ENV, str(profiles.free_offset()))
        env.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
        stack = LocalStack(profile="single")
        try:
            stack.up(progress=lambda _line: None)
            yield stack
        finally:
            stack.down(progress=lambda _line: None)


@pytest.mark.slow  # starts a stack of its own
def test_everything_is_green_with_the_stack_running(scratch_stack):
    findings = {f.check: f for f in diagnose()}
    assert all(f.ok for f in findings.values()), [f for f in findings.values() if not f.ok]
    assert findings["single stack"].detail == "brokers answering: [1] of 1"
    assert findings["client SSL + SASL/SCRAM (Day 5)"].detail == "supported"
    assert findings["schema registry"].detail == f"answering at {scratch_stack.schema_registry_url}"


@pytest.mark.slow  # starts a stack of its own
def test_a_hung_broker_is_a_finding_with_its_fix(scratch_stack):
    """SIGSTOP: the process runs and its port accepts connections, but it answers nothing (a hung JVM)."""
    pid = scratch_stack.process(1).pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        single = next(f for f in diagnose() if f.check == "single stack")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert not single.ok and single.detail == "brokers answering: [] of 1", single
    assert "kafkacourse logs" in single.fix
    scratch_stack.wait_ready(60)
    assert next(f for f in diagnose() if f.check == "single stack").ok, "answering again once resumed"


def test_missing_java_is_a_finding_with_a_fix(tmp_path, monkeypatch):
    runtime.java_major_version.cache_clear()
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    java = next(f for f in diagnose() if f.check.startswith("Java"))
    runtime.java_major_version.cache_clear()
    assert not java.ok and "openjdk-17" in java.fix


@pytest.mark.slow  # starts a stack of its own
def test_cli_doctor_exits_zero_when_green(scratch_stack):
    out = subprocess.run([sys.executable, "-m", "kafkacourse.course.cli", "doctor"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "❌" not in out.stdout and "NOT YET" not in out.stdout
    url = re.escape(scratch_stack.schema_registry_url)
    assert re.search(rf"^✅ OK +schema registry +answering at {url}$", out.stdout, re.M), out.stdout


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

