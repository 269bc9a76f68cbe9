"""The Day 4 lab (scale a consumer group, collect its metrics, benchmark it) against the live stack.

- wrong answers learners really write, put into the solution's files and run through the lab's scenario (real
  processes in one group, scraped by the course's Prometheus): the
  matching check fails with its hint, read from the broker and from Prometheus;
- the benchmark with the Java tool pointed at another topic, or at fewer records: its check fails with its hint;
- the generated lab, untouched: every check cell fails with LabCheckFailed and a hint (never a NameError).
The solution itself passes under nbval (pyproject's testpaths include solutions/); tests/test_labs.py checks
that labs/ is what the solutions generate.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from test_labs import assert_checks_fail_with_their_hints, error_of, execute, written_files

import kafkacourse as kc
from courseapps.day4.scale_lab import CHECKS, ScaleLab

pytestmark = pytest.mark.slow  # runs real consumer groups and Prometheus scrapes: left out of `./course test --fast`

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "day4" / "07-solution-scale-and-monitor.ipynb"
LAB = REPO / "labs" / "day4" / "07-lab-scale-and-monitor.ipynb"


def solution_files() -> dict[str, str]:
    files = written_files(SOLUTION)
    assert set(files) == {"lab_consumer.py", "lab_plan.py"}, files.keys()
    return files


def consumers(n: int):
    return "lab_plan.py", lambda s: re.sub(r"return \d+\n", f"return {n}\n", s)


def consumer(a: str, b: str):
    return "lab_consumer.py", lambda s: s.replace(a, b)


COUNT = ("            time.sleep(ctx.work_ms / 1000)   # the record's work: a call downstream\n"
         "            processed.inc()\n")
POLL = "            msg = consumer.poll(0.5)\n"

# wrong answer -> (changes to the solution's files, {check: hint pattern} that must fail, checks that pass,
# seconds of production: only the too-few run needs the full 12 s for its lag to pass the SLO)
WRONG_ANSWERS = {
    "too few consumers, metrics never served": (
        [consumers(2), consumer("    start_http_server(ctx.metrics_port)\n", "")],
        {"slo": r"the lag reached \d+ records \(the SLO is 250\).*fewer records per second than the producer writes"
                r".*How many records per second can one consumer",
         "metrics": r"Prometheus could not scrape 2 of your 2 consumers.*serving /metrics on ctx.metrics_port",
         "counted": r"no lab_records_processed_total from every consumer"},
        ["ran", "partitions"], 12),
    "more consumers than partitions, a metric of another name": (
        [consumers(7), consumer('Counter("lab_records_processed"', 'Counter("records_processed"')],
        {"partitions": r"1 of your 7 consumers own no partition.*What caps how many members",
         "metrics": r"finds lab_records_processed_total on 0 of 7.*'records_processed_total'.*the name the lab asks for"},
        ["ran"], 3),
    "counter never incremented": (
        [consumer("            processed.inc()\n", "            pass\n")],
        {"counted": r"lab_records_processed_total is 0 on every consumer while the group committed \d+ records"},
        ["ran", "partitions", "metrics"], 3),
    "counting polls, not records": (
        [consumer(COUNT, COUNT.replace("            processed.inc()\n", "")),
         consumer(POLL, POLL + "            processed.inc()\n")],
        {"counted": r"adds up to \d+ over your consumers, but the group processed \d+ records.*what exactly does your counter count"},
        ["ran", "partitions", "metrics"], 3),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("wrong", WRONG_ANSWERS)
def test_a_wrong_answer_fails_its_check_with_its_hint(cluster, prometheus_server, tmp_path, wrong):
    changes, failing, passing, run_s = WRONG_ANSWERS[wrong]
    files = solution_files()
    for filename, change in changes:
        changed = change(files[filename])
        assert changed != files[filename], f"the wrong answer {wrong!r} no longer applies to {filename}"
        files[filename] = changed
    lab = ScaleLab.create(cluster, tmp_path / "lab")
    try:
        for name, source in files.items():
            (lab.code_dir / name).write_text(source)
        result = lab.run_scenario(progress=False, run_s=run_s)
        got = {name: lab.problem(name, result) for name in CHECKS}
    finally:
        lab.cleanup()
    for check, pattern in failing.items():
        assert got[check] is not None and re.search(pattern, got[check], re.S), (check, got)
    for check in passing:
        assert got[check] is None, (check, got)


@pytest.mark.timeout(240)
def test_a_benchmark_of_other_work_fails_its_check(cluster, tmp_path):
    lab = ScaleLab.create(cluster, tmp_path / "lab")
    other = cluster.create_topic(kc.unique_name("lab-other"), partitions=1)
    try:
        for name, source in solution_files().items():
            (lab.code_dir / name).write_text(source)
        bench = lab.bench()
        cluster.produce(other, [b"x" * 100] * 500)

        def java(topic: str, records: int) -> str:
            return subprocess.run(["kafka-consumer-perf-test.sh", "--bootstrap-server", cluster.bootstrap_servers,
                                   "--topic", topic, "--num-records", str(records), "--group", bench.java_group,
                                   "--timeout", "60000"], capture_output=True, text=True, timeout=180).stdout

        wrong_topic = lab.benchmark_problem(lab.benchmark(java(other, 500)))
        assert wrong_topic and re.search(r"committed nothing on .*bench.*--topic and --group", wrong_topic), wrong_topic
        fewer = lab.benchmark_problem(lab.benchmark(java(bench.topic, 1000)))
        assert fewer and re.search(r"the Java tool read \d+ records .* of the 20000 your consumer reads", fewer), fewer
        assert lab.benchmark_problem(lab.benchmark(None)).startswith("there is no output of kafka-consumer-perf-test")
    finally:
        lab.cleanup()
        cluster.delete_topic(other)


UNTOUCHED = [r"consumers\(\) still raises NotImplementedError"] * len(CHECKS) + \
    [r"no output of kafka-consumer-perf-test.sh yet"]


@pytest.mark.timeout(240)
def test_the_untouched_lab_fails_each_check_with_its_hint(tmp_path):
    cells = execute(LAB, tmp_path)

    todo = [c for c in cells if "raise NotImplementedError" in c.source or "kc.ToDo(" in c.source]
    assert len(todo) == 3 and sum(c.source.startswith("%%writefile") for c in todo) == 2, [c.source[:40] for c in todo]
    writefiles = [c for c in todo if c.source.startswith("%%writefile")]
    assert all(error_of(c) is None for c in writefiles), "writing a file with TODOs works; running it does not"
    assert_checks_fail_with_their_hints(cells, UNTOUCHED, todo)
