"""Opening the ledger the config names: a SQLite file (the default) or PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from crosspost.loading.state import StateSpec
from crosspost.scheduling.ledger import Ledger, _now


def open_ledger(
    spec: StateSpec | Path | str,
    clock: Callable[[], datetime] = _now,
    *,
    migrate: bool = True,
) -> Ledger:
    """The ledger `spec` names: a SQLite file or a PostgreSQL database. With `migrate=False`
    (the front ends: status, previews, the web app), a shared database whose schema is
    behind is refused with what to do, never changed: on PostgreSQL only the daemon and
    `crosspost ledger migrate` change the schema (a SQLite file is always brought up to
    date: it has one server)."""
    if not isinstance(spec, StateSpec):
        return Ledger(spec, clock=clock)
    if spec.is_postgresql:
        from crosspost.scheduling.ledger_pg import PostgresLedger

        return PostgresLedger(spec, clock=clock, migrate=migrate)
    return Ledger(spec.path, clock=clock)


def read_controls(spec: StateSpec, prefixes: Sequence[str]) -> dict[str, str]:
    """The ledger's controls, read without changing anything (a dry run shows what the real
    pauses and holds would do)."""
    if not spec.is_postgresql:
        return Ledger.read_controls(spec.path, prefixes)
    import psycopg

    try:
        info = psycopg.conninfo.make_conninfo(
            spec.dsn, password=spec.password() or None, connect_timeout=5,
            options=f"-c search_path={spec.schema} -c default_transaction_read_only=on"
            if spec.schema else "-c default_transaction_read_only=on",
        )  # fmt: skip
        with psycopg.connect(info) as conn:
            rows = conn.execute("SELECT key, value FROM controls").fetchall()
    except psycopg.Error:
        return {}  # unreadable: the dry run goes on without them (the real run says why)
    return {k: v for k, v in rows if k.startswith(tuple(prefixes))}
