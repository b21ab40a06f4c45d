"""What only the PostgreSQL ledger has to get right: a database that ends its connections
(a restart, a fail-over), handles that are never closed (the web app's threads), and a daemon
role that may change rows but not tables (docs/server.md §16)."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from crosspost.loading.state import StateSpec
from crosspost.scheduling.ledger import LedgerError
from crosspost.scheduling.ledger_pg import PostgresLedger, close_pool

pytestmark = pytest.mark.postgresql


@pytest.fixture
def spec(pg_server: Any, tmp_path: Path) -> Any:
    made = pg_server.spec(tmp_path)
    yield made
    pg_server.drop(made)


def test_a_database_that_ends_every_connection_is_ridden_out(pg_server: Any, spec: Any) -> None:
    ledger = PostgresLedger(spec)
    ledger.ensure("p", "x", None, "h", "t")
    with pg_server.connect() as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'crosspost' AND pid <> pg_backend_pid()"
        ).fetchone()[0]
    assert ended >= 1  # as a restart or a managed database's fail-over does
    assert ledger.get("p", "x") is not None  # a read, on a fresh connection
    claimed = ledger.claim("p", "x", "a", timedelta(minutes=1))  # a write transaction
    assert claimed is not None and claimed.state == "claimed"
    assert ledger.mark_published(claimed, remote_id="1", url=None, published_at=claimed.updated_at)


def test_handles_never_closed_hold_no_connection(spec: Any) -> None:
    """The web app keeps a handle per worker thread and threads come and go: a handle must
    not keep a connection, or the pool runs dry (8 here) and every page waits 30 s."""
    errors: list[BaseException] = []

    def request() -> None:
        try:
            PostgresLedger(spec).last_change()  # and never closed
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    for _ in range(3):
        threads = [threading.Thread(target=request) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert errors == []


def test_a_daemon_role_without_ddl_rights_opens_a_migrated_ledger(
    pg_server: Any, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    owner, daemon, schema = f"own_{tag}", f"dmn_{tag}", f"office_{tag}"
    setup = [
        f"CREATE ROLE {owner} LOGIN PASSWORD 'owner-pw'",
        f"CREATE ROLE {daemon} LOGIN PASSWORD 'daemon-pw'",
        f"CREATE SCHEMA {schema} AUTHORIZATION {owner}",
        f"GRANT USAGE ON SCHEMA {schema} TO {daemon}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {daemon}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {daemon}",
    ]
    host = pg_server.dsn.split("@", 1)[1]
    os.environ["OWNER_PW"], os.environ["DAEMON_PW"] = "owner-pw", "daemon-pw"
    as_owner = StateSpec("postgresql", tmp_path / "o", f"postgresql://{owner}@{host}",
                         "OWNER_PW", schema, 4)  # fmt: skip
    as_daemon = StateSpec("postgresql", tmp_path / "d", f"postgresql://{daemon}@{host}",
                          "DAEMON_PW", schema, 4)  # fmt: skip
    with pg_server.connect() as admin:
        for sql in setup:
            admin.execute(sql)
    try:
        # before the owner migrates: the daemon says what to do, in words
        with pytest.raises(LedgerError, match="ledger migrate` with the owner's role"):
            PostgresLedger(as_daemon)
        close_pool(as_daemon)
        with PostgresLedger(as_owner) as owned:
            assert owned.schema_version == len(owned.migrations)
        with PostgresLedger(as_daemon) as ledger:  # reads the schema, never changes it
            ledger.ensure("p", "x", None, "h", "t")
            claimed = ledger.claim("p", "x", "a", timedelta(minutes=1))
            assert claimed is not None
            ledger.mark_published(claimed, remote_id="1", url=None, published_at=claimed.updated_at)
            with pytest.raises(LedgerError, match="append-only|permission"), ledger._write() as db:
                db.execute("DELETE FROM events")
    finally:
        close_pool(as_owner)
        close_pool(as_daemon)
        with pg_server.connect() as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            for role in (daemon, owner):
                admin.execute(f"DROP OWNED BY {role}")
                admin.execute(f"DROP ROLE {role}")
