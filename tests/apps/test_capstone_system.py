"""The capstone's System handle and `./course capstone`: bad input refused clearly, a run's state file read back
(a process that is gone counts as stopped). Starting, killing and restarting run in tests/test_capstone_e2e.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from courseapps.capstone import system as capstone
from courseapps.capstone.system import System


def test_bad_input_is_refused_with_the_names_that_exist(tmp_path):
    with pytest.raises(ValueError, match="unknown services"):
        System("run-x", services=["orders", "billing"], run_dir=tmp_path)
    with pytest.raises(ValueError, match="brokers is 1"):
        System("run-x", brokers=2, run_dir=tmp_path)
    s = System("run-x", services=["orders"], run_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown service"):
        s.replace("billing", module="x")
    assert s.replace("inventory", module="my_inventory").modules["inventory"] == "my_inventory"
    with pytest.raises(ValueError, match="not part of this system"):
        s.url("orders")  # not started: no port handed out yet
    entry = s.record_fault("poison", {"keys": ["k"]}, at=12.5)
    assert s.faults() == [entry] and entry["at"] == 12.5


def test_a_state_file_whose_processes_are_gone_is_not_a_running_system(tmp_path, monkeypatch):
    monkeypatch.setenv("KAFKA_COURSE_HOME", str(tmp_path))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    run = tmp_path / "capstone" / "run-y"
    run.mkdir(parents=True)
    (run / "system.json").write_text(json.dumps({"prefix": "run-y", "run_dir": str(run), "processes": {
        "orders": {"pid": gone.pid, "url": "http://127.0.0.1:1"}}}))
    assert capstone.running_systems() == []
    out = subprocess.run([sys.executable, "-m", "kafkacourse.course.cli", "capstone", "status"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "no capstone system runs" in out.stdout
