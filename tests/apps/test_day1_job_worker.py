"""courseapps.day1.job_worker: work, then commit; killed and restarted, it finishes every job; with
librdkafka's default auto-commit a job killed mid-work can be lost, with stored offsets it cannot."""

import subprocess
import sys
import threading
import time

import pytest
from confluent_kafka import TopicPartition

import kafkacourse as kc
from courseapps.day1 import job_worker


@pytest.fixture
def topic(make_topic):
    return make_topic(partitions=2, prefix="test-work")


def lines(path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def committed_total(cluster, group, topic) -> int:
    consumer = cluster.consumer(group_id=group)
    try:
        parts = consumer.committed([TopicPartition(topic, p) for p in (0, 1)], timeout=10)
        return sum(max(p.offset, 0) for p in parts)
    finally:
        consumer.close()


def test_does_every_job_skips_invalid_ones_and_commits(cluster, topic, tmp_path):
    done = tmp_path / "done.txt"
    jobs = [(f"j-{i}", f'{{"job_id": "j-{i}", "seconds": 0}}') for i in range(4)] + [("bad", "not json")]
    cluster.produce(topic, jobs)
    group, stop = kc.unique_name("workers"), threading.Event()
    thread = threading.Thread(target=job_worker.run, args=(cluster.config(), topic, group, done),
                              kwargs={"stop": stop}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(lines(done)) == 4, 20, "the worker did not do the 4 jobs")
        wait_until(lambda: committed_total(cluster, group, topic) == 5, 10,
                   "the worker did not commit all 5 records (4 jobs + 1 skipped invalid)")
    finally:
        stop.set()
        thread.join(10)
    assert sorted(lines(done)) == [f"j-{i}" for i in range(4)]


def test_killed_worker_restarted_in_the_same_group_finishes_every_job(cluster, topic, tmp_path):
    done, n = tmp_path / "done.txt", 8
    cluster.produce(topic, [(f"j-{i}", f'{{"job_id": "j-{i}", "seconds": 0.2}}') for i in range(n)])
    group = kc.unique_name("workers")
    command = [sys.executable, "-m", "courseapps.day1.job_worker", "--bootstrap-servers", cluster.bootstrap_servers,
               "--topic", topic, "--group", group, "--done-file", str(done), "--instance-id", "w1",
               "--idle-exit", "20"]
    worker = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(lines(done)) >= 2, 30, "the first worker did no job")
    finally:
        worker.kill()
        worker.wait(10)
    assert len(set(lines(done))) < n, "killed mid-work"
    worker = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(set(lines(done))) == n, 30, "the restarted worker did not finish the jobs")
        wait_until(lambda: committed_total(cluster, group, topic) == n, 10, "not all offsets committed")
    finally:
        worker.terminate()
        assert worker.wait(15) == 0, "SIGTERM: the worker finishes its job and exits cleanly"
    assert set(lines(done)) == {f"j-{i}" for i in range(n)}


@pytest.mark.parametrize("commit, loses", [("auto", True), ("stored", False)])
def test_auto_commit_can_commit_a_job_before_it_is_done_and_stored_offsets_cannot(cluster, make_topic, tmp_path,
                                                                                  commit, loses):
    """--commit auto (librdkafka's defaults): killed mid-job after the background commit, the job is lost.
    --commit stored (enable.auto.offset.store=false + store_offsets after the job): the same kill loses nothing."""
    import re

    from kafkacourse.instruments.processes import ServiceProcess

    topic, done, n = make_topic(partitions=1, prefix=f"test-{commit}"), tmp_path / "done.txt", 4
    cluster.produce(topic, [(f"j-{i}", f'{{"job_id": "j-{i}", "seconds": 1.0}}') for i in range(n)])
    group = kc.unique_name("workers")
    worker = ServiceProcess("courseapps.day1.job_worker", "--bootstrap-servers", cluster.bootstrap_servers,
                            "--topic", topic, "--group", group, "--done-file", done, "--commit", commit,
                            "--auto-commit-interval-ms", 200, "--instance-id", "w1", "--idle-exit", 20,
                            log_dir=tmp_path)
    in_hand = None
    try:
        worker.start()
        deadline = time.monotonic() + 40
        while in_hand is None:
            assert time.monotonic() < deadline, worker.tail()
            started = re.findall(r"start (\S+) \(partition 0 offset (\d+)\)", worker.log(this_run=True))
            committed = cluster.group_offsets(group, topic).committed.iloc[0]
            if started and committed is not None:
                job, offset = started[-1][0], int(started[-1][1])
                if job not in lines(done) and (committed > offset if commit == "auto" else committed == offset):
                    worker.kill()
                    in_hand = job if job not in lines(done) else None
                    if in_hand is None:
                        worker.restart()
            time.sleep(0.05)
        worker.restart()
        wait_until(lambda: cluster.group_offsets(group, topic).lag.iloc[0] == 0, 40, "never reached the end")
        assert worker.terminate(15) == 0
    finally:
        if worker.alive:
            worker.kill()
    missing = {f"j-{i}" for i in range(n)} - set(lines(done))
    assert missing == ({in_hand} if loses else set()), (in_hand, missing, worker.log())
