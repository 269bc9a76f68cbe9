"""The flaky downstream of lesson 05: healthy, unhealthy, planned transient failures, rejected ids."""

from __future__ import annotations

import httpx

import kafkacourse as kc
from courseapps.day3.flaky_downstream import create_app


def test_it_answers_200_503_or_422_as_told_and_writes_every_call_down():
    with kc.serve(create_app()) as server:
        post = lambda i: httpx.post(server.url + "/process", json={"id": i, "key": "k", "seq": i}).status_code
        assert post(1) == 200
        httpx.put(server.url + "/control", json={"fail": {"2": 2}, "reject": [3]}).raise_for_status()
        assert [post(2), post(2), post(2)] == [503, 503, 200], "two planned failures, then success"
        assert [post(3), post(3)] == [422, 422], "a rejected id is rejected every time"
        httpx.put(server.url + "/control", json={"healthy": False}).raise_for_status()
        assert post(1) == 503 and httpx.get(server.url + "/health").status_code == 503
        httpx.put(server.url + "/control", json={"healthy": True}).raise_for_status()
        assert post(4) == 200

        calls = httpx.get(server.url + "/calls").json()
        accepted = httpx.get(server.url + "/accepted").json()
        assert [c["status"] for c in calls] == [200, 503, 503, 200, 422, 422, 503, 200]
        assert [a["id"] for a in accepted] == [1, 2, 4]
        httpx.put(server.url + "/control", json={"reset": True}).raise_for_status()
        assert httpx.get(server.url + "/calls").json() == []
