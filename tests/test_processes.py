"""ServiceProcess: a real child process, killed, terminated and restarted, its log kept across runs."""

from __future__ import annotations

import signal

import pytest

from kafkacourse.instruments.processes import ServiceDied, ServiceProcess

# A tiny service: prints "ready", then a tick a second; on SIGTERM prints "bye" and exits 0.
SERVICE = """
import signal, sys, time
def bye(*_):
    print("bye"); sys.exit(0)
signal.signal(signal.SIGTERM, bye)
print("ready", sys.argv[1:])
print('{"event": "started", "n": 1}')
print('{not json')
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def module(tmp_path, monkeypatch):
    (tmp_path / "tiny_service.py").write_text(SERVICE)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return "tiny_service"


def test_kill_is_a_crash_and_terminate_runs_the_shutdown_path(module, tmp_path):
    service = ServiceProcess(module, "--topic", "t1", log_dir=tmp_path / "logs").start()
    assert "['--topic', 't1']" in service.wait_for("ready")
    assert service.kill() == -signal.SIGKILL and not service.alive
    assert "bye" not in service.log(), "SIGKILL gives the process no chance to run its handler"
    service.restart().wait_for("ready")
    assert service.terminate() == 0 and "bye" in service.log(this_run=True)
    assert service.log().count("ready") == 2 and service.starts == 2, "one log across both runs"
    assert service.events() == [{"event": "started", "n": 1}] * 2, "JSON lines parsed, other lines skipped"
    assert service.events(this_run=True) == [{"event": "started", "n": 1}]


def test_waiting_for_a_line_a_dead_service_never_prints_says_so(tmp_path, monkeypatch):
    (tmp_path / "broken_service.py").write_text("import sys; print('starting'); sys.exit(3)")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    service = ServiceProcess("broken_service", log_dir=tmp_path)
    with service:
        with pytest.raises(ServiceDied, match=r"(?s)exited \(code 3\).*starting"):
            service.wait_for("ready", timeout=30)
    with pytest.raises(RuntimeError, match="never started"):
        ServiceProcess("broken_service").kill()


def test_context_manager_kills_what_still_runs(module, tmp_path):
    with ServiceProcess(module, log_dir=tmp_path) as service:
        service.wait_for("ready")
        with pytest.raises(RuntimeError, match="already running"):
            service.start()
    assert not service.alive and service.returncode == -signal.SIGKILL


def test_a_service_in_a_new_session_leads_its_own_session(tmp_path):
    import os

    service = ServiceProcess("http.server", "0", "--bind", "127.0.0.1", log_dir=tmp_path, new_session=True).start()
    plain = ServiceProcess("http.server", "0", "--bind", "127.0.0.1", log_dir=tmp_path, name="plain").start()
    try:
        assert os.getsid(service.pid) == service.pid, "setsid: the child leads a session of its own"
        assert os.getsid(plain.pid) == os.getsid(0), "by default the child stays in this session"
    finally:
        service.kill()
        plain.kill()
