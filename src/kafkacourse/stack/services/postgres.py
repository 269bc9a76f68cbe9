"""PostgreSQL 15 for Day 4's change data capture: a cluster of its own, initialised in the stack's data folder.

* port 55432 on localhost (never the system's 5432), its own socket folder, ``wal_level=logical`` with
  replication slots and WAL senders, so Debezium's ``pgoutput`` decoding works;
* a database ``course`` owned by the user ``course`` (password ``course``, with REPLICATION) and a publication
  ``dbz_publication FOR ALL TABLES`` (the name Debezium uses by default), created by the superuser once;
* run as the ``postgres`` OS user when the course runs as root (``initdb`` refuses root), else as you.

The binaries: $KAFKA_COURSE_PG_BIN, else Debian's /usr/lib/postgresql/15/bin, else ``pg_ctl`` on PATH (the
conda env's). The data stays until :meth:`Postgres.reset`.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from .. import processes
from ..errors import NotReadyError, ProcessDiedError, StackError
from .base import Finding, Service, StatusRow, quiet

PORT = 55432
DATABASE = USER = PASSWORD = "course"  # a demo database on loopback: never real credentials
SUPERUSER = "postgres"
PUBLICATION = "dbz_publication"
DEBIAN_BIN = Path("/usr/lib/postgresql/15/bin")
BIN_ENV = "KAFKA_COURSE_PG_BIN"
START_TIMEOUT_S = 30.0

INSTALL_HINT = (
    "Install PostgreSQL 15: run `./course up --with postgres` as root (it installs Debian's postgresql-15), "
    "or `sudo apt-get install postgresql-15`, or `conda env create -f environment.yml` (postgresql from "
    f"conda-forge); or point {BIN_ENV} at a folder with initdb and pg_ctl."
)


class PostgresNotFoundError(StackError):
    """No PostgreSQL binaries (initdb, pg_ctl) were found."""


def bin_dir() -> Path:
    """The folder holding initdb, pg_ctl and postgres, or a PostgresNotFoundError that says how to install them."""
    candidates = []
    if os.environ.get(BIN_ENV):
        candidates.append(Path(os.environ[BIN_ENV]))
    candidates.append(DEBIAN_BIN)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise PostgresNotFoundError(f"PostgreSQL is not installed (looked in {', '.join(map(str, candidates))}). "
                                f"{INSTALL_HINT}")


def server_version(folder: Path) -> str:
    out = subprocess.run([str(folder / "postgres"), "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


class Postgres(Service):
    """The course's PostgreSQL server (``kafkacourse up --with postgres``).

    Not a ProcessService: pg_ctl starts the postmaster detached, so its pid comes from postmaster.pid."""

    name = "postgres"
    title = "PostgreSQL"
    default_port = PORT

    def ports(self) -> dict[int, str]:
        return {self.port: "PostgreSQL"}

    def _where(self) -> str:
        return f" at localhost:{self.port} (database {DATABASE})"

    # -- where and as whom -----------------------------------------------------------------------------------
    def _as_server_user(self, command: list[str]) -> list[str]:
        """`command` run as the `postgres` OS user under root (initdb refuses root), else as you."""
        if os.geteuid() != 0:
            return command
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            raise PostgresNotFoundError(f"running as root, PostgreSQL must run as the `{SUPERUSER}` OS user, and "
                                        f"there is none. {INSTALL_HINT}") from None
        return ["runuser", "-u", SUPERUSER, "--", *command]

    @functools.cached_property
    def root(self) -> Path:
        """home()/postgres; under root, when the `postgres` user cannot reach the course's home (root's home is
        mode 700), a folder of its own under /var/lib/kafka-course instead."""
        home = self.context.home
        if os.geteuid() != 0 or self._reachable(home):
            return home / "postgres"
        digest = hashlib.sha1(str(home.resolve()).encode()).hexdigest()[:10]
        return Path("/var/lib/kafka-course") / f"postgres-{digest}"

    def _reachable(self, folder: Path) -> bool:
        while not folder.exists() and folder.parent != folder:  # a folder made later inherits its parent's reach
            folder = folder.parent
        out = subprocess.run(["runuser", "-u", SUPERUSER, "--", "test", "-x", str(folder)], capture_output=True)
        return out.returncode == 0

    @property
    def data_dir(self) -> Path:
        """The service's folder (reset deletes it): the cluster in data/, its socket folder and its log."""
        return self.root

    @property
    def cluster_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://{USER}:{PASSWORD}@localhost:{self.port}/{DATABASE}"

    # -- lifecycle -------------------------------------------------------------------------------------------
    def running(self) -> bool:
        return self.pid() is not None

    def answering(self) -> bool:
        return self._probe().startswith("wal_level=logical")

    def pid(self) -> int | None:
        """The postmaster's pid (from postmaster.pid) while it runs, else None."""
        try:
            pid = int((self.cluster_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        if processes.is_alive(pid) and str(self.cluster_dir) in processes.command_line(pid):
            return pid
        return None

    def start(self, progress=print) -> None:
        """Initialise the cluster on first use and start the server, without waiting (see wait_ready)."""
        if self.pid() is not None:
            return
        pg = bin_dir()
        processes.require_free_ports({self.port: "PostgreSQL"})
        self._prepare_folders()
        if not (self.cluster_dir / "PG_VERSION").exists():
            progress(f"Initialising a PostgreSQL cluster in {self.cluster_dir}…")
            out = subprocess.run(self._as_server_user([
                str(pg / "initdb"), "-D", str(self.cluster_dir), "-U", SUPERUSER, "--auth-local=trust",
                "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions",
                # No fsync of the new cluster (initdb is several times faster on a loaded machine): the
                # files reach the disk with the server's first checkpoint (a course database: `reset` rebuilds).
                "--no-sync"]),
                capture_output=True, text=True)
            if out.returncode != 0:
                raise StackError(f"initdb failed:\n{(out.stdout + out.stderr)[-2000:]}")
            with open(self.cluster_dir / "postgresql.conf", "a") as conf:
                conf.write("\ninclude 'course.conf'\n")
        (self.cluster_dir / "course.conf").write_text(self._settings())
        self._chown(self.cluster_dir / "course.conf")
        progress(f"Starting PostgreSQL on :{self.port}…")
        out = subprocess.run(self._as_server_user([
            str(pg / "pg_ctl"), "-D", str(self.cluster_dir), "-l", str(self.log_file), "-W", "start"]),
            capture_output=True, text=True, start_new_session=True)
        if out.returncode != 0:
            raise ProcessDiedError(f"pg_ctl could not start PostgreSQL:\n{out.stdout}{out.stderr}\n"
                                   f"Last lines of {self.log_file}:\n{self.tail(20)}")

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Wait until the server accepts connections, then create the course user, database and publication
        (once). Raises NotReadyError / ProcessDiedError with the end of the server's log."""
        import psycopg

        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname="postgres",
                                     autocommit=True, connect_timeout=2) as conn:
                    self._bootstrap(conn)
                return
            except psycopg.OperationalError as exc:
                last_error = str(exc).strip()
            if self.pid() is None and not (self.cluster_dir / "postmaster.pid").exists():
                time.sleep(0.3)  # pg_ctl -W returns before the postmaster writes its pid file
                if self.pid() is None and not (self.cluster_dir / "postmaster.pid").exists():
                    raise ProcessDiedError(f"PostgreSQL exited while starting. Last lines of {self.log_file}:\n"
                                           f"{self.tail(20)}")
            time.sleep(0.1)
        raise NotReadyError(f"PostgreSQL did not answer on :{self.port} within {timeout:.0f} s ({last_error}).\n"
                            f"--- {self.log_file}\n{self.tail(15)}")

    def stop(self, progress=quiet) -> bool:
        """Stop the server (fast shutdown: sessions are closed, data is flushed); False when it was not running."""
        pid = self.pid()
        if pid is None:
            return False
        out = subprocess.run(self._as_server_user([
            str(bin_dir() / "pg_ctl"), "-D", str(self.cluster_dir), "-m", "fast", "-w", "-t", "30", "stop"]),
            capture_output=True, text=True)
        if out.returncode != 0:
            processes.stop(pid, timeout=10)
        progress("Stopped PostgreSQL.")
        return True

    # -- observing -------------------------------------------------------------------------------------------
    def status(self) -> list[StatusRow]:
        return [StatusRow(self.name, self.pid(), self.port, processes.port_accepts(self.port), self.log_file)]

    def tail(self, lines: int = 50) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log yet)"

    def logs(self, lines: int = 50) -> str:
        return f"==> {self.title} ({self.log_file}) <==\n{self.tail(lines)}"

    def installed(self) -> Finding | None:
        try:
            folder = bin_dir()
        except PostgresNotFoundError as exc:
            return Finding("PostgreSQL (Day 4)", False, "not installed", str(exc))
        return Finding("PostgreSQL installed", True, f"{server_version(folder)} in {folder}")

    def doctor(self) -> list[Finding]:
        findings = super().doctor()
        if self.running() and not self.answering():
            findings.append(Finding("PostgreSQL answers", False, self._probe(), f"see {self.log_file}"))
        return findings

    # -- internals -------------------------------------------------------------------------------------------
    def _probe(self) -> str:
        import psycopg

        try:
            with psycopg.connect(self.url, connect_timeout=3) as conn:
                return "wal_level=" + conn.execute("SHOW wal_level").fetchone()[0]
        except psycopg.Error as exc:
            return f"no answer as {USER}: {str(exc).strip()}"

    def _prepare_folders(self) -> None:
        for folder in (self.root, self.socket_dir):
            folder.mkdir(parents=True, exist_ok=True)
            self._chown(folder)
        if not self.cluster_dir.exists():
            self.cluster_dir.mkdir(mode=0o700)
            self._chown(self.cluster_dir)

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            entry = pwd.getpwnam(SUPERUSER)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _settings(self) -> str:
        return f"""# Written by kafkacourse on every start (kafkacourse/stack/services/postgres.py).
port = {self.port}
listen_addresses = 'localhost'
unix_socket_directories = '{self.socket_dir}'
# Logical decoding for Debezium's pgoutput: slots keep WAL until the connector confirms it.
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
shared_buffers = 32MB
max_connections = 50
logging_collector = off
"""

    def _bootstrap(self, conn) -> None:
        """Create the course user, database and publication once (idempotent)."""
        from psycopg import sql

        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (USER,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN REPLICATION PASSWORD {}").format(
                sql.Identifier(USER), sql.Literal(PASSWORD)))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(DATABASE), sql.Identifier(USER)))
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname=DATABASE,
                             autocommit=True, connect_timeout=2) as course_db:
            if not course_db.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (PUBLICATION,)).fetchone():
                # FOR ALL TABLES needs a superuser; Debezium then finds the publication instead of creating one.
                course_db.execute(sql.SQL("CREATE PUBLICATION {} FOR ALL TABLES").format(sql.Identifier(PUBLICATION)))
