"""The DLQ replay tool (lesson 05): send dead letters back to the topic they came from, once their cause is fixed.

    python -m courseapps.day3.dlq_replay --dlq orders.dlq --group orders-replayer [--skip-reason malformed]

Reads the DLQ in its own consumer group from its committed offsets to the end, writes each record (same key
and value, a ``replay.of`` header instead of the ``error.*`` ones) to its ``error.original.topic``, waits for
the acks and commits (``kafkacourse.instruments.retry.replay``). Run it again and it replays only records that
reached the DLQ since. Prints one line per DLQ record read, then ``replayed N of M DLQ records``.
"""

from __future__ import annotations

import argparse
import sys

from kafkacourse.client_env import env_client_settings
from kafkacourse.cluster import Cluster
from kafkacourse.instruments.retry import replay


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--dlq", required=True, help="the dead letter topic")
    parser.add_argument("--group", required=True, help="the replayer's consumer group (remembers what was replayed)")
    parser.add_argument("--skip-reason", action="append", default=[], metavar="REASON",
                        help="leave records with this error.reason in the DLQ (repeatable)")
    args = parser.parse_args(argv)
    done = replay(Cluster(args.bootstrap_servers, "", client_settings=env_client_settings()), args.dlq, args.group,
                  where=lambda headers: headers.get("error.reason") not in args.skip_reason)
    for row in done.itertuples():
        action = f"-> {row.original_topic}" if row.replayed else "skipped"
        print(f"{args.dlq}/{row.partition}/{row.offset} ({row.reason}) {action}")
    print(f"replayed {int(done.replayed.sum())} of {len(done)} DLQ records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
