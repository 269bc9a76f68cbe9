"""The scale-and-monitor lab's harness (Day 4, lab 07): the scenario, the benchmark, and the checks' verdicts.

The learner writes two module files from the lab's cells: ``lab_consumer.py`` (a consumer whose every record
costs ``ctx.work_ms``, exposing its own counter ``lab_records_processed_total`` with prometheus-client on
``ctx.metrics_port``) and ``lab_plan.py`` (``consumers()``: how many of them to run). :meth:`ScaleLab.run_scenario`
starts that many processes (``courseapps.day4.scale_lab_runner``) in one group on a fresh 6-partition topic,
registers each with the course's Prometheus (a file_sd target per member, label ``lab``), produces at
:data:`RATE` records/s for :data:`RUN_S` s while sampling the group's lag from the broker, and then reads
Prometheus. :meth:`ScaleLab.problem` turns that into one hint per check (None = passed).

:meth:`ScaleLab.benchmark` compares the learner's ``kafka-consumer-perf-test.sh`` run (its output, in the
group :attr:`Benchmark.java_group`) with their own consumer (one process, no per-record cost, timed by its own
counter) on the same topic and records.

>>> lab = ScaleLab.create(cluster)
>>> result = lab.run_scenario()
>>> lab.problem("slo", result)     # None, or what to look at
"""

from __future__ import annotations

import json
import runpy
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from kafkacourse.cluster import unique_name
from kafkacourse.instruments.perf import PerfToolError, parse_consumer_output
from kafkacourse.instruments.processes import ServiceProcess, free_port
from kafkacourse.instruments.scaling import LagSampler, group_assignment
from kafkacourse.prometheus import Prometheus, PrometheusError

if TYPE_CHECKING:
    from kafkacourse.cluster import Cluster

PARTITIONS = 6
RATE = 120            # records/s the scenario's producer writes
WORK_MS = 25          # each record's fixed cost in the learner's consumer
RUN_S = 12            # how long the producer writes
SLO = 250             # the lag (records, summed over partitions, read from the broker) never to exceed
DRAIN_S = 15          # after the producer stops, how long the group gets to reach lag 0
METRIC = "lab_records_processed_total"
BENCH_RECORDS = 20_000
CHECKS = ("ran", "slo", "partitions", "metrics", "counted")
RUNNER = "courseapps.day4.scale_lab_runner"


@dataclass
class ScenarioResult:
    """What one scenario run left behind: the group's lag and assignment (broker), the metrics (Prometheus)."""

    topic: str
    group: str
    job: str
    consumers: int | None = None
    produced: int = 0
    lag: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["t", "epoch", "lag", "end", "committed"]))
    drained: bool = False
    committed: int = 0
    owners: pd.DataFrame = field(default_factory=pd.DataFrame)  # member, partitions (the coordinator's)
    up: dict[str, float] = field(default_factory=dict)          # member job -> up (1/0) in Prometheus
    scrape_errors: dict[str, str] = field(default_factory=dict)
    counted: dict[str, float] = field(default_factory=dict)     # member job -> lab_records_processed_total
    series: list[str] = field(default_factory=list)             # metric names Prometheus has from the members
    exited: dict[str, str] = field(default_factory=dict)        # member -> its log's tail, if it exited early
    error: str | None = None                                    # why the scenario could not run

    @property
    def max_lag(self) -> int:
        return int(self.lag.lag.max()) if len(self.lag) else 0


@dataclass
class Benchmark:
    """The benchmark's topic and the group the Java tool is to read it in; then what both consumers did."""

    topic: str
    records: int
    java_group: str
    python_group: str
    java: pd.DataFrame | None = None          # parse_consumer_output of the learner's run
    java_committed: dict[int, int | None] = field(default_factory=dict)
    end: dict[int, int] = field(default_factory=dict)
    python: dict[str, Any] | None = None      # first_t, last_t, records (the learner's counter), error
    error: str | None = None

    @property
    def java_rate(self) -> float:
        return float(self.java.fetch_records_per_s.iloc[0]) if self.java is not None else float("nan")

    @property
    def python_rate(self) -> float:
        p = self.python or {}
        if not p.get("last_t") or not p.get("first_t") or p["last_t"] <= p["first_t"]:
            return float("nan")
        return float(p["records"]) / (p["last_t"] - p["first_t"])

    def table(self) -> pd.DataFrame:
        """records/s of kafka-consumer-perf-test.sh and of your consumer, and the ratio."""
        return pd.DataFrame([{"consumer": "kafka-consumer-perf-test.sh (Java)", "records_per_s": self.java_rate},
                             {"consumer": "yours (Python, no per-record cost)", "records_per_s": self.python_rate},
                             {"consumer": "yours / Java", "records_per_s": self.python_rate / self.java_rate}])


class ScaleLab:
    """Everything the lab's check cells need; see the module docstring."""

    def __init__(self, cluster: "Cluster", lab_dir: Path, prometheus: Prometheus | None = None) -> None:
        self.cluster = cluster
        self.lab_dir = Path(lab_dir)
        self.code_dir = self.lab_dir / "code"
        self.code_dir.mkdir(parents=True, exist_ok=True)
        self.prom = prometheus or Prometheus()
        self.domain = unique_name("lab")
        self.runs = 0
        self._topics: list[str] = []
        self._jobs: list[str] = []
        self._processes: list[ServiceProcess] = []
        self._bench: Benchmark | None = None

    @classmethod
    def create(cls, cluster: "Cluster", lab_dir: Path | str | None = None) -> "ScaleLab":
        """A lab with its own folder (default: a fresh one under the course home) for the learner's code."""
        if lab_dir is None:
            from kafkacourse.stack import runtime
            lab_dir = runtime.home() / "labs" / unique_name("scale")
        return cls(cluster, Path(lab_dir))

    # -- the learner's plan --------------------------------------------------------------------------------------
    def planned_consumers(self) -> tuple[int | None, str | None]:
        """(consumers() from lab_plan.py, None) or (None, what is wrong)."""
        path = self.code_dir / "lab_plan.py"
        if not path.exists():
            return None, "lab_plan.py does not exist yet: run the cell of step 2 (it writes the file)"
        try:
            value = runpy.run_path(str(path))["consumers"]()
        except NotImplementedError as exc:
            return None, f"consumers() still raises NotImplementedError ({exc})"
        except Exception as exc:
            return None, f"lab_plan.py failed: {type(exc).__name__}: {exc}"
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 20:
            return None, f"consumers() returned {value!r}: a whole number of consumer processes, 1 to 20"
        return value, None

    # -- the scenario ----------------------------------------------------------------------------------------------
    def _member(self, name: str, topic: str, group: str, port: int, work_ms: float, **extra: Any) -> ServiceProcess:
        config = {"topic": topic, "group": group, "name": name, "metrics_port": port, "work_ms": work_ms,
                  "bootstrap_servers": self.cluster.bootstrap_servers, **extra}
        path = self.lab_dir / f"{group}-{name}.json"
        path.write_text(json.dumps(config))
        process = ServiceProcess(RUNNER, str(path), str(self.code_dir), name=name, log_dir=self.lab_dir / group)
        self._processes.append(process)
        return process.start()

    def _fresh(self, kind: str) -> tuple[str, str, str]:
        self.runs += 1
        base = f"{self.domain}.{kind}{self.runs}"
        topic = self.cluster.create_topic(f"{base}.orders", partitions=PARTITIONS)
        self._topics.append(topic)
        return topic, f"{base}.group", f"{self.domain.replace('.', '-')}-{kind}{self.runs}"

    def run_scenario(self, progress: bool = True, run_s: float = RUN_S) -> ScenarioResult:
        """Run lab_plan.consumers() copies of lab_consumer.py against a producer at RATE records/s for `run_s`
        seconds (see the module docstring); about 25 s."""
        topic, group, job = self._fresh("run")
        result = ScenarioResult(topic=topic, group=group, job=job)
        n, problem = self.planned_consumers()
        if problem:
            result.error = problem
            return result
        result.consumers = n
        members: dict[str, ServiceProcess] = {}
        bar = _progress(progress, total=4, desc="scenario")
        try:
            for i in range(n):
                name, port = f"m{i + 1}", free_port()
                members[f"{job}-{name}"] = self._member(name, topic, group, port, WORK_MS)
                self.prom.add_target(f"{job}-{name}", f"localhost:{port}", labels={"lab": job})
                self._jobs.append(f"{job}-{name}")
            if not self._wait_group(result, members):
                return result
            bar.update()
            with LagSampler(self.cluster, group, topic, interval=0.5) as sampler:
                result.produced = self._produce(topic, run_s)
                bar.update()
                try:
                    sampler.wait_for_zero(timeout=DRAIN_S, end_at_least=result.produced)
                    result.drained = True
                except TimeoutError:
                    result.drained = False
            drained_at = time.time()
            result.lag = sampler.frame()
            offsets = self.cluster.group_offsets(group, topic)
            result.committed = int(sum(c for c in offsets.committed if c is not None))
            result.owners = group_assignment(self.cluster, group)[1]
            result.exited = {name: p.tail() for name, p in members.items() if not p.alive}
            bar.update()
            self._read_metrics(result, list(members), after=drained_at)
            bar.update()
        finally:
            bar.close()
            for name, process in members.items():
                if process.alive:
                    try:
                        process.terminate(timeout=15)
                    except TimeoutError:
                        process.kill()
                self.prom.remove_target(name)
        return result

    def _wait_group(self, result: ScenarioResult, members: dict[str, ServiceProcess], timeout: float = 90) -> bool:
        """Wait until the coordinator lists every member in a stable group; False (and result.error) if not."""
        deadline = time.monotonic() + timeout
        state, owners = "not asked yet", pd.DataFrame()
        while time.monotonic() < deadline:
            dead = {name: p for name, p in members.items() if not p.alive}
            if dead:
                name, process = next(iter(dead.items()))
                result.exited = {n: p.tail() for n, p in dead.items()}
                last = [line for line in process.tail(40).splitlines() if line.strip()]
                result.error = (f"your consumer {name.rsplit('-', 1)[-1]} exited with code {process.returncode} before "
                                f"the group was formed: {last[-1] if last else '(no output)'}")
                return False
            try:
                state, owners = group_assignment(self.cluster, result.group)
            except Exception:
                state = "not known yet"
            if state == "STABLE" and len(owners) == len(members):
                return True
            time.sleep(0.3)
        result.error = (f"the coordinator did not show your {len(members)} consumers in one stable group within "
                        f"{timeout:.0f} s (state {state}, members {len(owners)}): does each one subscribe to "
                        "ctx.topic with ctx.settings()?")
        return False

    def _produce(self, topic: str, run_s: float) -> int:
        """RATE records/s for `run_s` seconds, paced by the clock (a late tick catches up); the count sent."""
        producer = self.cluster.producer(settings={"linger.ms": 50})   # few requests: a busy broker answers each late
        total = int(RATE * run_s)
        sent = 0
        try:
            start = time.monotonic()
            while sent < total:
                due = min(total, int((time.monotonic() - start) * RATE) + 1)
                while sent < due:
                    producer.produce(topic, key=f"k{sent % 60}", value=json.dumps({"id": sent}).encode())
                    sent += 1
                producer.poll(0)
                time.sleep(0.01)
            if producer.flush(60):
                raise TimeoutError(f"records to {topic} not acknowledged within 60 s")
        finally:
            producer.flush(5)
        return sent

    def _read_metrics(self, result: ScenarioResult, jobs: list[str], after: float, timeout: float = 20) -> None:
        """Wait until Prometheus has scraped every member once after `after`, then read up, the metric, names."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                targets = self.prom.targets()
            except PrometheusError:
                time.sleep(0.5)
                continue
            mine = targets[targets.job.isin(jobs)] if len(targets) and "job" in targets else targets.iloc[0:0]
            scraped = [_epoch(t) > after for t in mine.get("last_scrape", [])]
            if len(mine) == len(jobs) and all(scraped):
                result.scrape_errors = {row.job: row.last_error for row in mine.itertuples() if row.last_error}
                break
            time.sleep(0.5)
        up = self.prom.query(f'up{{lab="{result.job}"}}')
        result.up = dict(zip(up.job, up.value)) if len(up) else {}
        counted = self.prom.query(f'{METRIC}{{lab="{result.job}"}}')
        result.counted = dict(zip(counted.job, counted.value)) if len(counted) else {}
        names = self.prom.query(f'count by (__name__) ({{lab="{result.job}"}})')
        result.series = sorted(n for n in (names.get("__name__", []) if len(names) else [])
                               if not n.startswith(("up", "scrape_", "python_", "process_")))

    # -- the verdicts ----------------------------------------------------------------------------------------------
    def problem(self, check: str, result: ScenarioResult) -> str | None:
        """None when `check` passes on `result`, else a hint: what to look for, not the answer."""
        if check not in CHECKS:
            raise ValueError(f"no check named {check!r}; the checks are {CHECKS}")
        if result.error:
            return f"the scenario did not get through: {result.error}"
        n = result.consumers
        if check == "ran":
            if result.exited:
                name, tail = next(iter(result.exited.items()))
                last = [line for line in tail.splitlines() if line.strip()]
                return f"your consumer {name.rsplit('-', 1)[-1]} exited during the run: {last[-1] if last else ''}"
            if result.committed == 0:
                return "your consumers committed nothing: do they poll ctx.topic with ctx.settings()?"
            return None
        if check == "slo":
            if result.max_lag > SLO or not result.drained:
                end = int(result.lag.lag.iloc[-1]) if len(result.lag) else None
                return (f"the lag reached {result.max_lag} records (the SLO is {SLO}) and was {end} when the scenario "
                        f"ended: your {n} consumer(s) together process fewer records per second than the producer "
                        f"writes ({RATE}/s). How many records per second can one consumer process when each record "
                        f"costs {WORK_MS} ms, and how many does that make for {RATE}/s?")
            return None
        if check == "partitions":
            idle = result.owners[result.owners.partitions.map(len) == 0] if len(result.owners) else result.owners
            if len(idle):
                return (f"{len(idle)} of your {n} consumers own no partition (the coordinator's assignment: "
                        f"{dict(zip(result.owners.member, result.owners.partitions))}): they cost a process and add "
                        "nothing. What caps how many members of one group can work at once?")
            return None
        if check == "metrics":
            down = sorted(job for job, value in result.up.items() if value != 1)
            if down or len(result.up) < n:
                error = next((result.scrape_errors[j] for j in down if j in result.scrape_errors), "")
                return (f"Prometheus could not scrape {len(down) or n - len(result.up)} of your {n} consumers "
                        f"({error or 'no answer'}): is each one serving /metrics on ctx.metrics_port? "
                        "(look at what prometheus-client offers to serve a registry over HTTP)")
            if len(result.counted) < n:
                return (f"Prometheus scrapes your consumers but finds {METRIC} on {len(result.counted)} of {n}; the "
                        f"series it finds: {result.series or 'none besides the client library defaults'}. Look at the "
                        "name the lab asks for, and at what prometheus-client adds to a Counter's name")
            return None
        if check == "counted":
            if len(result.counted) < n:
                return f"Prometheus has no {METRIC} from every consumer to compare: make the metrics check pass first"
            total = sum(result.counted.values())
            if total == 0:
                return (f"{METRIC} is 0 on every consumer while the group committed {result.committed} records: "
                        "where in your loop is a record done, and is the counter incremented there?")
            if not result.committed <= total <= result.committed * 1.01:
                return (f"{METRIC} adds up to {total:.0f} over your consumers, but the group processed "
                        f"{result.committed} records (its committed offsets on the broker): what exactly does your "
                        "counter count? Only records, once each, after their work")
            return None
        raise AssertionError(check)

    # -- the benchmark -------------------------------------------------------------------------------------------
    def bench(self) -> Benchmark:
        """The benchmark's topic (made once: BENCH_RECORDS records of 100 bytes in 6 partitions) and groups."""
        if self._bench is None:
            topic = self.cluster.create_topic(f"{self.domain}.bench", partitions=PARTITIONS)
            self._topics.append(topic)
            self.cluster.produce(topic, [{"value": b"x" * 100, "partition": i % PARTITIONS}
                                         for i in range(BENCH_RECORDS)])
            self._bench = Benchmark(topic, BENCH_RECORDS, f"{self.domain}.java-bench", f"{self.domain}.py-bench")
        return self._bench

    def benchmark(self, java_output: Any, progress: bool = True) -> Benchmark:
        """Read the learner's kafka-consumer-perf-test.sh output (text or IPython's list of lines) and the broker's
        offsets of :attr:`Benchmark.java_group`, then time the learner's consumer (one process, work_ms 0) on the
        same topic and records by its own counter."""
        bench = self.bench()
        bench.java, bench.python, bench.error = None, None, None
        bench.end = self.cluster.end_offsets(bench.topic)
        offsets = self.cluster.group_offsets(bench.java_group, bench.topic)
        bench.java_committed = dict(zip(offsets.partition, offsets.committed)) if len(offsets) else {}
        if java_output is None:
            bench.error = "there is no output of kafka-consumer-perf-test.sh yet: run the tool in the cell of step 3"
            return bench
        text = java_output if isinstance(java_output, str) else "\n".join(map(str, java_output))
        try:
            bench.java = parse_consumer_output("\n".join(line for line in text.splitlines()
                                                         if not line.strip().startswith("WARNING")))
        except PerfToolError as exc:
            bench.error = f"no summary line in what you captured from kafka-consumer-perf-test.sh ({exc})"
            return bench
        if self.benchmark_problem(bench):   # the Java side did other work: no need to time yours
            return bench
        group = f"{bench.python_group}{self.runs}"
        self.runs += 1
        process = self._member("bench", bench.topic, group, free_port(), 0, bench=bench.records, bench_timeout=60)
        try:
            process.wait(timeout=120)
        except TimeoutError:
            process.kill()
        lines = [e for e in process.events() if "bench" in e]
        bench.python = lines[-1]["bench"] if lines else {"error": process.tail(5), "records": 0}
        return bench

    def benchmark_problem(self, bench: Benchmark) -> str | None:
        """None when the benchmark compared like with like, else a hint."""
        if bench.error:
            return bench.error
        committed = sum(c for c in bench.java_committed.values() if c is not None)
        if committed == 0:
            return (f"the group {bench.java_group} committed nothing on {bench.topic}: the Java tool must read "
                    "that topic in that group (look at the tool's --topic and --group in your command)")
        if committed != sum(bench.end.values()) or int(bench.java.records.iloc[0]) != bench.records:
            return (f"the Java tool read {int(bench.java.records.iloc[0])} records ({committed} committed) of the "
                    f"{bench.records} your consumer reads from {bench.topic}: a benchmark compares the same work "
                    "(look at the tool's options for how many records to read)")
        if bench.python is None:
            return None   # only the Java side looked at yet (benchmark() times yours next)
        if bench.python.get("last_t") is None:
            return (f"your consumer's {METRIC} did not reach {bench.records} in the benchmark "
                    f"(it counted {bench.python.get('records') or 0:.0f}): make the metrics checks pass first")
        return None

    # -- clean up --------------------------------------------------------------------------------------------------
    def cleanup(self) -> None:
        """Stop every process, remove the Prometheus targets, delete the topics, remove the lab folder."""
        for process in self._processes:
            if process.alive:
                process.kill()
        for job in self._jobs:
            self.prom.remove_target(job)
        for topic in self._topics:
            self.cluster.delete_topic(topic)
        self._topics = []
        shutil.rmtree(self.lab_dir, ignore_errors=True)


def _epoch(value: Any) -> float:
    """Prometheus's lastScrape (RFC 3339, nanoseconds) as epoch seconds; 0 for none."""
    if not value:
        return 0.0
    text = str(value)
    if "." in text:  # Python parses at most microseconds
        head, tail = text.split(".", 1)
        digits = "".join(ch for ch in tail if ch.isdigit())
        zone = tail[len(digits):]
        text = f"{head}.{digits[:6]}{zone}"
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(show: bool, **kwargs: Any):
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm
    return tqdm(**kwargs)
