"""A real PostgreSQL server for the tests, and a fresh schema in it for each test.

`.ci/run` installs Debian's `postgresql`, starts a throwaway cluster and exports
CROSSPOST_TEST_PG (an address whose password is `${CROSSPOST_TEST_PG_PASSWORD}`). Without it,
the tests start one themselves with `initdb` and `pg_ctl` (as the `postgres` user when run as
root). Where neither is possible, the PostgreSQL tests fail under CI and are skipped
elsewhere, saying why.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from crosspost.loading.state import StateSpec

PASSWORD_VAR = "CROSSPOST_TEST_PG_PASSWORD"


@dataclass
class PgServer:
    dsn: str  # without the password, which is in $CROSSPOST_TEST_PG_PASSWORD

    def connect(self) -> object:
        import psycopg

        return psycopg.connect(self.dsn, password=os.environ[PASSWORD_VAR], autocommit=True)

    def spec(self, root: Path, schema: str | None = None) -> StateSpec:
        """A StateSpec for a new, empty schema (dropped by `drop`)."""
        schema = schema or f"t_{uuid.uuid4().hex[:12]}"
        return StateSpec(
            "postgresql", (root / "var" / f"ledger-{schema}").resolve(), self.dsn,
            PASSWORD_VAR, schema, 8,
        )  # fmt: skip

    def drop(self, spec: StateSpec) -> None:
        from crosspost.scheduling.ledger_pg import close_pool

        close_pool(spec)
        with self.connect() as conn:  # type: ignore[attr-defined]
            conn.execute(f'DROP SCHEMA IF EXISTS "{spec.schema}" CASCADE')

    def config_state(self, spec: StateSpec) -> str:
        """The `state:` mapping for a project's config file."""
        return (
            f"state:\n  postgresql: {spec.dsn}\n  password: ${{{PASSWORD_VAR}}}\n"
            f"  schema: {spec.schema}\n  pool: 8\n"
        )


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is needed in CI: {why} (.ci/run installs and starts it)")
    pytest.skip(f"PostgreSQL not available here: {why}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server() -> Iterator[PgServer]:
    """The server CROSSPOST_TEST_PG names, or one started here for this session."""
    given = os.environ.get("CROSSPOST_TEST_PG")
    if given:
        yield PgServer(given.replace(f":${{{PASSWORD_VAR}}}", ""))
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[test]')")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb")]
    initdb = found[-1]
    if not initdb:
        _unavailable("no initdb (apt-get install postgresql)")
    bindir = Path(initdb).parent
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            _unavailable("running as root without runuser to start the server as postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data = Path(tempfile.mkdtemp(prefix="crosspost-pg-"))
    password = secrets.token_hex(16)
    pwfile = data.with_suffix(".pw")
    pwfile.write_text(password + "\n")
    if as_postgres:
        shutil.chown(data, "postgres")
        shutil.chown(pwfile, "postgres")
    port = _free_port()
    try:
        subprocess.run(
            [*as_postgres, str(bindir / "initdb"), "-D", str(data), "-U", "crosspost",
             "-A", "scram-sha-256", f"--pwfile={pwfile}", "--no-sync"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off -c max_connections=300"
        )
        subprocess.run(
            [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l",
             str(data / "log"), "start", "-o", options],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        _unavailable(f"could not start a cluster: {exc}")
    os.environ[PASSWORD_VAR] = password
    try:
        yield PgServer(f"postgresql://crosspost@127.0.0.1:{port}/postgres")
    finally:
        with contextlib.suppress(Exception):
            subprocess.run(
                [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                 "stop"], capture_output=True, timeout=60,
            )  # fmt: skip
        shutil.rmtree(data, ignore_errors=True)
        pwfile.unlink(missing_ok=True)
