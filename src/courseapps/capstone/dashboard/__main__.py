"""Run the capstone dashboard as its own process (the system starts it so; a notebook may use kc.serve instead).

    python -m courseapps.capstone.dashboard --prefix capstone-1a2b --run-dir RUN_DIR --port 8700 \\
        [--bootstrap-servers localhost:9092] [--prometheus-url http://localhost:9090] [--selector 'job="capstone",run="<prefix>"']

Prints ``dashboard on http://127.0.0.1:<port>`` once it accepts requests; SIGTERM stops it.
"""

from __future__ import annotations

import argparse

import uvicorn

from .app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", required=True, help="the run's name: its topics and groups start with it")
    parser.add_argument("--run-dir", default=None, help="the folder holding faults.jsonl")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--prometheus-url", default=None)
    parser.add_argument("--selector", default=None,
                        help='label matchers picking the run\'s series (default: job="capstone",run="<prefix>")')
    args = parser.parse_args(argv)
    app = create_app(args.prefix, args.run_dir, args.bootstrap_servers, args.prometheus_url, args.selector)

    class Announcing(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets)
            print(f"dashboard on http://127.0.0.1:{args.port}", flush=True)

    Announcing(uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning")).run()


if __name__ == "__main__":
    main()
