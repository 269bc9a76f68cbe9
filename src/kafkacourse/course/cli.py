"""`kafkacourse` — the course's command line (the repo's `./course` script installs, then runs it).

    kafkacourse up [--profile P] [--with S,…]   start a profile (single, cluster, secure, dr; --brokers 3 is
                                     cluster) and its services, plus S (registry, …); idempotent; waits until ready
    kafkacourse down [--profile P] [--with S,…] stop what runs (everything, by default; data stays)
    kafkacourse status               what runs, on which port, with which pid and log
    kafkacourse logs [--profile P] [--node N | --service S] [-n 50]
    kafkacourse reset [--profile P] [--with S,…] [--yes]   delete a profile's (and S's) data (the only command
                                     that deletes)
    kafkacourse reset --lesson NOTEBOOK       delete only the topics and groups that lesson made
    kafkacourse warmup [--day N]     instructors: start every profile and service day N needs, pre-load the rest
    kafkacourse doctor               check Python, Java, the client library, every profile and service
    kafkacourse compose-config       write .compose/secure/ (certificates, server.properties) for docker compose
    kafkacourse toc [--check]        regenerate START.ipynb, notebooks/README.md, every navigation cell and labs/
                                     from solutions/, and normalize every notebook (`labs` is the same command)
    kafkacourse book [notebook…] [--no-execute]   execute the notebooks, build the HTML book in build/book/
    kafkacourse open [jupyter args]  start the stack and JupyterLab on the course's home page (START.ipynb)
    kafkacourse test [--fast] [pytest args]   start the stack, run the whole test suite, stop what it started
    kafkacourse capstone up [--brokers 3]|down|status   the capstone system: every service as its own process
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..stack import (SERVICES, LocalStack, StackError, all_services, all_stacks, down_everything, profiles,
                    running_services, running_stacks)
from ..stack.local import stop_brokers
from .progress import Steps
from .toc import HOME

REPO = Path(__file__).resolve().parents[3]


def course_env() -> dict[str, str]:
    """This environment with the tool wrappers and the venv's scripts first on PATH, and the course's JupyterLab
    defaults (jupyter/labconfig) on JUPYTER_CONFIG_PATH."""
    path = [str(REPO / "bin"), str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    config = [str(REPO / "jupyter"), *filter(None, [os.environ.get("JUPYTER_CONFIG_PATH")])]  # jupyter/README.md
    return dict(os.environ, PATH=os.pathsep.join(path), JUPYTER_CONFIG_PATH=os.pathsep.join(config))


def _stack(args: argparse.Namespace) -> LocalStack:
    """The stack the options name: --profile, else --brokers (1 → single, 3 → cluster), plus --with services."""
    name = args.profile or profiles.for_brokers(args.brokers)
    return LocalStack(profile=name, with_services=args.with_services)


def cmd_up(args: argparse.Namespace) -> int:
    with Steps() as steps:
        _stack(args).up(progress=steps)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    profile_named = args.profile is not None or args.brokers != 1
    if not profile_named and not args.with_services:
        down_everything()
        print("The local stack is stopped: every profile and service (data kept; `kafkacourse reset` deletes it).")
        return 0
    for service in reversed([s for s in all_services() if s.name in args.with_services]):
        service.stop(print)
    if profile_named:
        stop_brokers(_stack(args).brokers, print)
    print("Stopped " + ", ".join(([f"the {_stack(args).name} brokers"] if profile_named else []) + args.with_services)
          + " (data kept).")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    rows = [row for stack in all_stacks() for row in stack.status()]
    rows += [row for service in all_services() for row in service.status()]
    print(f"{'process':<18} {'state':<9} {'port':<6} {'pid':<8} log")
    for row in rows:
        print(f"{row.name:<18} {row.state:<9} {row.port:<6} {row.pid or '-':<8} {row.log_file}")
    for stack in all_stacks():
        if any(b.running() for b in stack.brokers):
            print(f"{stack.name}: bootstrap.servers={stack.bootstrap_servers}; "
                  f"answering: {sorted(stack.brokers_answering()) or 'none'}")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    stack = _stack(args)
    service = "registry" if args.registry else args.service
    if service:
        print(next(s for s in all_services() if s.name == service).logs(args.lines))
    else:
        print(stack.logs(args.node, args.lines))
    return 0


def cmd_reset_lesson(args: argparse.Namespace) -> int:
    from .lessons import names_of, reset_lesson

    lesson = Path(args.lesson)
    if not lesson.exists() and (REPO / lesson).exists():
        lesson = REPO / lesson
    if not names_of(lesson):
        print(f"Nothing recorded for {args.lesson}: its topics and groups are recorded when it runs in JupyterLab "
              "(kc.unique_name), and it has not run since the last reset.")
        return 0
    servers = [stack.bootstrap_servers for stack in running_stacks()]
    servers += [os.environ[v] for v in ("KAFKA_BOOTSTRAP_SERVERS",) if os.environ.get(v)]
    deleted = reset_lesson(lesson, servers)
    print(f"Deleted {len(deleted['topics'])} topic(s) and {len(deleted['groups'])} group(s) of {args.lesson}"
          + (f": {', '.join(deleted['topics'] + deleted['groups'])}" if deleted["topics"] or deleted["groups"] else "")
          + ". Nothing else was touched.")
    return 0


def cmd_warmup(args: argparse.Namespace) -> int:
    from .warmup import warmup

    with Steps() as steps:
        warmup(args.day, progress=steps)
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    if args.lesson:
        return cmd_reset_lesson(args)
    stack = _stack(args)
    extra = f" and of {', '.join(args.with_services)}" if args.with_services else ""
    if not args.yes:
        if not sys.stdin.isatty():
            print("reset deletes every topic and offset of the stack; pass --yes to confirm.", file=sys.stderr)
            return 2
        if input(f"Delete all data of the {stack.name} stack in {stack.root}{extra}? [y/N] ").strip().lower() != "y":
            print("Nothing deleted.")
            return 1
    for service in reversed(stack.extras):
        if service.name in args.with_services:
            service.reset()
    stack.reset()
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import diagnose, report_lines

    findings = diagnose()
    width = shutil.get_terminal_size((120, 24)).columns if sys.stdout.isatty() else 120
    print("\n".join(report_lines(findings, width)))
    return 0 if all(f.ok for f in findings) else 1


def cmd_compose_config(args: argparse.Namespace) -> int:
    from ..stack.services.broker import write_compose_config

    stack = LocalStack(profile="secure")
    folder = write_compose_config(stack.context, profiles.get("secure", offset=0), REPO / ".compose" / "secure")
    print(f"wrote {folder.relative_to(REPO)}/ (the course CA from {stack.certificates}); now "
          "`docker compose --profile secure up -d`")
    return 0


def cmd_toc(args: argparse.Namespace) -> int:
    """Contents, home page, navigation cells, labs from solutions, and every notebook normalized."""
    from . import toc

    if args.check:
        stale = toc.stale(REPO)
        print("\n".join(f"out of date: {p}" for p in stale) or "every generated file is up to date")
        orphans = toc.orphan_labs(REPO)
        print("\n".join(f"no solution generates: {p}" for p in orphans), end="\n" if orphans else "")
        return 1 if stale or orphans else 0
    written = toc.sync(REPO)
    print("\n".join(f"wrote {p}" for p in written) or "every generated file was already up to date")
    for orphan in toc.orphan_labs(REPO):
        print(f"warning: no solution generates {orphan} (delete it, or add its solution)", file=sys.stderr)
    return 0


def lab_command(rest: list[str], root: Path = REPO) -> list[str]:
    """The JupyterLab command `open` runs: the repo as root folder, the course's home page opened first."""
    command = [sys.executable, "-m", "jupyter", "lab", f"--notebook-dir={root}", *rest]
    if not any(a.startswith("--LabApp.default_url") for a in rest):
        command.append(f"--LabApp.default_url=/lab/tree/{HOME.as_posix()}")
    if os.geteuid() == 0 and "--allow-root" not in command:  # containers and cloud shells often run as root
        command.append("--allow-root")
    return command


def cmd_open(args: argparse.Namespace) -> int:
    with Steps() as steps:
        LocalStack().up(progress=steps)
    command = lab_command(args.rest)
    print("Opening JupyterLab; the stack keeps running after it closes (`kafkacourse down` stops it).")
    os.execve(command[0], command, course_env())
    return 0  # not reached


def notebook_env(figures: bool = False) -> dict[str, str]:
    """The environment notebooks run in under `test` (and, with `figures`, `book`): headless charts (one static
    figure each), no deprecation noise; `figures` keeps IPython's inline backend so figures become PNGs."""
    backend = "module://matplotlib_inline.backend_inline" if figures else "Agg"
    return dict(course_env(), KAFKA_COURSE_HEADLESS="1", MPLBACKEND=backend, PYTHONWARNINGS="ignore::DeprecationWarning")


def cmd_book(args: argparse.Namespace) -> int:
    from .book import main as build_book

    if not args.no_execute:
        with Steps() as steps:
            LocalStack().up(progress=steps)
    return build_book(REPO, args.notebooks, not args.no_execute, notebook_env(figures=True))


def cmd_capstone(args: argparse.Namespace) -> int:
    """`capstone up` starts the stack it needs and every capstone service (courseapps.capstone.system); `down`
    SIGTERMs the services of every run started so; `status` lists them with their health."""
    from courseapps.capstone import system as capstone  # the course's apps, imported only for this command

    if args.action == "up":
        running = capstone.running_systems()
        if running:
            print(f"a capstone system runs already ({running[0]['prefix']}): `capstone down` first")
            return 1
        LocalStack(profile="single" if args.brokers == 1 else "cluster", with_services=["prometheus"]).up()
        started = capstone.System(brokers=args.brokers, fault_proxy=False, dashboard=True).start()
        print(f"capstone {started.prefix} runs (logs and stores in {started.run_dir}):")
        for name in started.processes:
            print(f"  {name:<14} {started.url(name)}")
        print(f"the live dashboard: {started.url('dashboard')}")
        print(f"place orders: POST {started.url('orders')}/orders; load with its web UI: locust -f "
              f"{REPO / 'src/courseapps/capstone/load/locustfile.py'} --host {started.url('orders')}")
        return 0
    states = capstone.running_systems()
    if args.action == "down":
        for state in states:
            print(f"capstone {state['prefix']}: stopped {', '.join(capstone.stop_running(state))}")
        if not states:
            print("no capstone system runs")
        return 0
    if not states:
        print("no capstone system runs (`capstone up` starts one)")
    for state in states:
        print(f"capstone {state['prefix']} ({state['run_dir']})")
        for name, process in state["processes"].items():
            health = capstone.health_of(process["url"]) if process["alive"] else "-"
            print(f"  {name:<14} {'running' if process['alive'] else 'stopped':<8} pid {process['pid']:<8} "
                  f"{process['url']:<24} {health}")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    before = {service.name for service in running_services()}
    env = notebook_env()
    try:
        LocalStack().up()
        # --fast: the library and apps only (tests/), without notebook cells and slow tests; CI runs everything.
        lane = ["tests", "-m", "not slow and not notebook"] if args.fast else []
        code = subprocess.call([sys.executable, "-m", "pytest", *lane, *args.rest], cwd=REPO, env=env)
    finally:  # stop what this command (or the tests) started; leave what was running before
        for service in reversed(running_services()):
            if service.name not in before:
                service.stop()
    if code == 5:
        print("pytest collected no test: that is a failure here.", file=sys.stderr)
        return 1
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kafkacourse", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def services_list(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in SERVICES]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown service {', '.join(unknown)}; known: {', '.join(SERVICES)}")
        return names

    def with_brokers(p: argparse.ArgumentParser, services: bool = True) -> argparse.ArgumentParser:
        p.add_argument("--profile", choices=profiles.NAMES, help="the stack profile (default: single)")
        p.add_argument("--brokers", type=int, choices=(1, 3), default=1, help="1 or 3 (= --profile cluster)")
        if services:
            p.add_argument("--with", dest="with_services", type=services_list, default=[], metavar="S,…",
                           help=f"also these services ({', '.join(SERVICES)})")
        else:
            p.set_defaults(with_services=[])
        return p

    with_brokers(sub.add_parser("up", help="start the local stack")).set_defaults(run=cmd_up)
    with_brokers(sub.add_parser("down", help="stop the local stack (keeps data)")).set_defaults(run=cmd_down)
    sub.add_parser("status", help="show the stack's processes").set_defaults(run=cmd_status)
    logs = with_brokers(sub.add_parser("logs", help="print the end of the broker logs"), services=False)
    logs.add_argument("--node", type=int, help="one broker's log only")
    logs.add_argument("--service", choices=list(SERVICES), help="a service's log instead of the brokers'")
    logs.add_argument("--registry", action="store_true", help="the schema registry's log (= --service registry)")
    logs.add_argument("-n", "--lines", type=int, default=50)
    logs.set_defaults(run=cmd_logs)
    reset = with_brokers(sub.add_parser("reset", help="delete a stack's data"))
    reset.add_argument("--yes", action="store_true", help="do not ask")
    reset.add_argument("--lesson", metavar="NOTEBOOK",
                       help="delete only the topics and groups this lesson made (nothing else; no question asked)")
    reset.set_defaults(run=cmd_reset)
    sub.add_parser("doctor", help="check the environment").set_defaults(run=cmd_doctor)
    for name in ("toc", "labs"):  # one generator: labs need the contents for their navigation
        p = sub.add_parser(name, help="regenerate the contents, home page, navigation cells and labs/; "
                                      "normalize every notebook")
        p.add_argument("--check", action="store_true", help="only report what is out of date (exit 1)")
        p.set_defaults(run=cmd_toc)
    warm = sub.add_parser("warmup", help="instructors: start and pre-load everything a day needs")
    warm.add_argument("--day", type=int, default=1, help="the course day (default 1)")
    warm.set_defaults(run=cmd_warmup)
    book = sub.add_parser("book", help="execute the notebooks and build the course as HTML pages in build/book/")
    book.add_argument("notebooks", nargs="*", help="execute only these (repo-relative paths); default: all")
    book.add_argument("--no-execute", action="store_true", help="build from build/executed/ as it is")
    book.set_defaults(run=cmd_book)
    cap = sub.add_parser("capstone", help="start, stop or list the capstone system (every service a process)")
    cap.add_argument("action", choices=("up", "down", "status"))
    cap.add_argument("--brokers", type=int, choices=(1, 3), default=1, help="on the single broker or the cluster")
    cap.set_defaults(run=cmd_capstone)
    sub.add_parser("compose-config", help="write docker compose's secure broker config").set_defaults(
        run=cmd_compose_config)
    for name, run, what in (("open", cmd_open, "JupyterLab"), ("test", cmd_test, "pytest")):
        p = sub.add_parser(name, help=f"start the stack and {what}")
        p.add_argument("rest", nargs=argparse.REMAINDER, help=f"passed on to {what}")
        p.set_defaults(run=run, fast=False)
        if name == "test":
            p.add_argument("--fast", action="store_true",
                           help="developers' lane: tests/ without notebooks and slow tests (CI runs everything)")

    # open and test pass every argument they do not know on to JupyterLab / pytest (`test -x --durations=5`)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        if args.command not in ("open", "test"):
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        args.rest = unknown + args.rest
    try:
        return args.run(args)
    except (StackError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
