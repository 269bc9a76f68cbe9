"""Measure what linger.ms does to delivery latency and request counts at a steady rate (not a test).

    PYTHONPATH=src .venv/bin/python benchmarks/producer_linger.py [--rate 4000] [--records 2000] [--runs 3]

On the course's single broker (started if needed), a fresh topic, a paced stream of 100-byte records per
linger.ms setting, `--runs` times, interleaved so that the machine's load hits every setting alike. Prints
p50/p99 latency and produce requests per setting and run. Latency depends on the machine's load (a
linger 0 p50 of 68.6 ms vs 27.2 ms for linger 50 was once measured on a busy 2-core runner), which is why
tests/ assert request counts and leave latency to this script.
"""

from __future__ import annotations

import argparse

import pandas as pd

import kafkacourse as kc
from kafkacourse.instruments import producers as bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=4000)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--linger", type=int, nargs="+", default=[0, 5, 50])
    args = parser.parse_args()
    cluster = kc.connect()
    topic = cluster.create_topic(kc.unique_name("bench-linger"), partitions=1)
    try:
        runs = [bench.sweep(cluster, topic, {"linger.ms": args.linger}, [b"x" * 100] * args.records,
                            per_second=args.rate).assign(run=run) for run in range(args.runs)]
    finally:
        cluster.delete_topic(topic)
    frame = pd.concat(runs, ignore_index=True)
    print(frame[["run", "linger.ms", "p50_ms", "p99_ms", "requests", "records_per_batch", "errors"]]
          .round(1).to_string(index=False))
    print(frame.groupby("linger.ms")[["p50_ms", "p99_ms", "requests"]].median().round(1).to_string())


if __name__ == "__main__":
    main()
