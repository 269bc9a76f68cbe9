"""courseapps.day1.background_work: BackgroundTasks do the job after the 202, and die with the process."""

import os
import socket
import subprocess
import sys
import time

import httpx
from fastapi.testclient import TestClient

from courseapps.day1 import background_work


def test_job_is_done_after_the_response(tmp_path):
    done = tmp_path / "done.txt"
    with TestClient(background_work.create_app(done)) as client:
        response = client.post("/jobs", json={"job_id": "j-1", "seconds": 0})
        assert response.status_code == 202
        assert response.json() == {"job_id": "j-1", "status": "scheduled"}
    # TestClient runs the background task before post() returns; a real server runs it after the response.
    assert done.read_text().split() == ["j-1"]


def test_invalid_jobs_get_422_and_nothing_runs(tmp_path):
    done = tmp_path / "done.txt"
    with TestClient(background_work.create_app(done)) as client:
        for payload in ({"seconds": 1}, {"job_id": "j", "seconds": -1}, {"job_id": "j", "seconds": 99},
                        {"job_id": "j", "seconds": 0, "priority": 1}):
            assert client.post("/jobs", json=payload).status_code == 422, payload
    assert not done.exists()


def test_killing_the_process_loses_scheduled_work(tmp_path):
    done = tmp_path / "done.txt"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "courseapps.day1.background_work:app", "--port", str(port),
         "--log-level", "warning"], env={**os.environ, background_work.DONE_FILE_ENV: str(done)})
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                assert httpx.get(url + "/health").json()["pid"] == proc.pid
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        quick = httpx.post(url + "/jobs", json={"job_id": "quick", "seconds": 0})
        slow = httpx.post(url + "/jobs", json={"job_id": "slow", "seconds": 3})
        assert quick.status_code == slow.status_code == 202
        time.sleep(0.5)
    finally:
        proc.kill()
        proc.wait(10)
    time.sleep(0.2)
    assert done.read_text().split() == ["quick"], "the slow job was accepted (202) and is lost"
