"""A PostgreSQL server of the tests' own, in a temporary directory.

With TRIGGERS_TEST_BACKEND=postgresql the tests run against a server started here
from the machine's PostgreSQL binaries: a new cluster in a temporary directory,
listening only on a Unix socket in that same directory (no TCP port, so it clashes
with nothing else on the machine and only its owner can reach it), with an empty
database made for each test. Leaving `postgres_server()` stops the server and
removes the directory, whatever happened inside.

PostgreSQL refuses to run as root, so under root the cluster belongs to the
`postgres` user (Debian's package creates it), the directory is handed to that
user and initdb and pg_ctl run as it through `runuser`.

`python3 tests/postgres.py` prints the directory of the server binaries, or says
why there is none and exits 1; .ci/run asks it whether to install them. Nothing
but the standard library is imported before a server is running.
"""

from __future__ import annotations

import itertools
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "PostgresServer",
    "PostgresUnavailableError",
    "find_bindir",
    "postgres_server",
    "process_alive",
]

#: Where Debian and Ubuntu put each PostgreSQL version's server binaries.
DEBIAN_VERSIONS = Path("/usr/lib/postgresql")
#: The OS user that runs the server when the tests run as root.
SERVER_OS_USER = "postgres"
#: The cluster's superuser, the role the tests connect as (trusted on the socket).
ROLE = "triggers"
#: Only names the socket file: there is no TCP listener.
PORT = 5432
SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
#: A throwaway cluster needs no durability; these make CREATE DATABASE and commits cheap.
SETTINGS = {
    "listen_addresses": "''",
    "port": str(PORT),
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "50",
    "shared_buffers": "32MB",
}
TIMEOUT = 120


class PostgresUnavailableError(Exception):
    """No PostgreSQL server could be found or started here; the message says why."""


def _version(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name))


def _candidates() -> list[Path]:
    found: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if out:
            found.append(Path(out))
    found += sorted(DEBIAN_VERSIONS.glob("*/bin"), key=_version, reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        found.append(Path(initdb).resolve().parent)
    return found


def find_bindir() -> Path:
    """The directory with the server binaries: `pg_config --bindir`, Debian's newest, PATH."""
    candidates = _candidates()
    for bindir in candidates:
        if all((bindir / name).is_file() for name in SERVER_BINARIES):
            return bindir
    looked = ", ".join(str(c) for c in candidates) or "none"
    raise PostgresUnavailableError(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) were found: not through"
        f" pg_config, in {DEBIAN_VERSIONS}/*/bin or on PATH (directories tried: {looked})."
        " Install them, on Debian with: apt-get install postgresql"
    )


def _server_user() -> pwd.struct_passwd | None:
    """The OS user to run the server as, or None for the current user."""
    if os.geteuid() != 0:
        return None
    try:
        user = pwd.getpwnam(SERVER_OS_USER)
    except KeyError:
        raise PostgresUnavailableError(
            f"the tests run as root, PostgreSQL refuses to run as root, and there is no"
            f" {SERVER_OS_USER!r} user to run it as (Debian's postgresql package creates one)"
        ) from None
    if shutil.which("runuser") is None:
        raise PostgresUnavailableError(
            f"the tests run as root and need runuser to start PostgreSQL as {SERVER_OS_USER!r}"
        )
    return user


class PostgresServer:
    """A running cluster in `root`: its socket, data directory and log are all in there."""

    def __init__(self, bindir: Path, root: Path, user: pwd.struct_passwd | None) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self._user = user
        self._names = itertools.count(1)
        self._admin: psycopg.Connection[Any] | None = None

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of one of this server's databases (psycopg 3, over the socket)."""
        return f"postgresql+psycopg://{ROLE}@/{database}?host={quote(str(self.root))}&port={PORT}"

    def create_database(self) -> str:
        """A new, empty database; returns its name."""
        name = f"test_{next(self._names)}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, cutting off whatever is still connected to it."""
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def connect(self, database: str = "postgres") -> psycopg.Connection[Any]:
        """A psycopg connection to one of the server's databases, as its superuser."""
        import psycopg

        return psycopg.connect(
            host=str(self.root), port=PORT, user=ROLE, dbname=database, autocommit=True
        )

    def _execute(self, statement: str) -> None:
        if self._admin is None:
            self._admin = self.connect()
        self._admin.execute(statement.encode())

    def _run(self, what: str, *command: str | Path) -> None:
        args = [str(part) for part in command]
        if self._user is not None:
            args = ["runuser", "-u", self._user.pw_name, "--", *args]
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        try:
            done = subprocess.run(
                args,
                cwd=self.root,
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise PostgresUnavailableError(f"{what} failed: {error}") from None
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()
            log = self.log.read_text(errors="replace").strip() if self.log.is_file() else ""
            raise PostgresUnavailableError(
                f"{what} failed (exit {done.returncode}): {' '.join(args)}\n{output}"
                + (f"\nserver log {self.log}:\n{log}" if log else "")
            )

    @property
    def _pg_ctl(self) -> tuple[Path | str, ...]:
        return (self.bindir / "pg_ctl", "-D", self.data, "-w")

    def _start(self) -> None:
        if self._user is not None:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        self._run(
            "initdb",
            *(self.bindir / "initdb", "-D", self.data, "-U", ROLE, "--auth=trust"),
            *("--encoding=UTF8", "--locale=C", "--no-sync"),
        )
        settings = {**SETTINGS, "unix_socket_directories": f"'{self.root}'"}
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        self._run("starting PostgreSQL", *self._pg_ctl, "-l", self.log, "-t", str(TIMEOUT), "start")

    def _stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        pid_file = self.data / "postmaster.pid"
        if not pid_file.is_file():
            return
        pid = int(pid_file.read_text().split()[0])
        try:
            self._run("stopping PostgreSQL", *self._pg_ctl, "-m", "immediate", "stop")
        finally:
            # Whether or not pg_ctl managed it, no server outlives the tests: SIGQUIT is
            # PostgreSQL's immediate shutdown, and the postmaster is waited for.
            _end(pid)


def process_alive(pid: int) -> bool:
    """Whether the process `pid` is still running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    # A zombie has exited; it only waits for a parent to collect it.
    return not (stat.is_file() and stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z")


def _end(pid: int) -> None:
    """Make sure the postmaster `pid` has exited: wait, then SIGQUIT, then SIGKILL."""
    for sig in (None, signal.SIGQUIT, signal.SIGKILL):
        if sig is not None and process_alive(pid):
            os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not process_alive(pid):
                return
            time.sleep(0.05)
    raise PostgresUnavailableError(f"the PostgreSQL server (pid {pid}) would not stop")


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a new cluster in a temporary directory; stop it and remove the directory after."""
    bindir = find_bindir()
    user = _server_user()
    server = PostgresServer(bindir, Path(tempfile.mkdtemp(prefix="triggers-pg-")), user)
    try:
        server._start()
        yield server
    finally:
        try:
            server._stop()
        finally:
            shutil.rmtree(server.root, ignore_errors=True)


if __name__ == "__main__":
    try:
        print(find_bindir())
    except PostgresUnavailableError as error:
        sys.exit(str(error))
