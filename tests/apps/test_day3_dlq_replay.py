"""The DLQ replay tool as a command: replays chosen dead letters to their original topic, each only once."""

from __future__ import annotations

import subprocess
import sys

import kafkacourse as kc
from kafkacourse.instruments.retry import PermanentError, RetryRoute, RetryRouter, headers_of


def run_tool(cluster, *args):
    done = subprocess.run([sys.executable, "-m", "courseapps.day3.dlq_replay", "--bootstrap-servers",
                           cluster.bootstrap_servers, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_it_replays_all_but_the_skipped_reasons_once(cluster):
    route = RetryRoute(kc.unique_name("test-replay-tool"), delays=(1,))
    route.create(cluster, partitions=1)
    try:
        cluster.produce(route.base, [("a", "fixable"), ("b", "garbage")])
        fixable, garbage = cluster.messages(route.base)
        router = RetryRouter(cluster.producer(), route)
        router.dead_letter(fixable, PermanentError("422"), reason="rejected")
        router.dead_letter(garbage, PermanentError("not JSON"), reason="malformed")
        group = kc.unique_name("test-replayer")

        first = run_tool(cluster, "--dlq", route.dlq, "--group", group, "--skip-reason", "malformed")
        again = run_tool(cluster, "--dlq", route.dlq, "--group", group)

        assert first[-1] == "replayed 1 of 2 DLQ records" and "(malformed) skipped" in first[1], first
        assert again == ["replayed 0 of 0 DLQ records"], again
        replayed = cluster.messages(route.base)[2:]
        assert [(m.key(), m.value()) for m in replayed] == [(b"a", b"fixable")]
        assert headers_of(replayed[0])["replay.of"] == f"{route.dlq}/0/0"
    finally:
        route.delete(cluster)
