"""The ledger: its state machine, migrations and the append-only log, on a real SQLite file
and on a real PostgreSQL server (every test taking `open_store` or `state_spec` runs on both)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crosspost.core.errors import PartReceipt
from crosspost.scheduling.ledger import MIGRATIONS, Ledger, LedgerError
from crosspost.scheduling.stores import open_ledger

pytestmark = pytest.mark.both_stores

T0 = datetime(2027, 1, 15, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_file_is_wal_with_full_sync_and_migrated(tmp_path: Path) -> None:
    with Ledger(tmp_path / "var" / "ledger.db") as ledger:
        assert ledger.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert ledger.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert ledger.schema_version == len(MIGRATIONS)
    with Ledger(tmp_path / "var" / "ledger.db") as again:  # reopening migrates nothing twice
        assert again.schema_version == len(MIGRATIONS)
        rows = again.db.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0]
        assert rows == len(MIGRATIONS)


def test_newer_schema_is_refused(open_store: Any) -> None:
    with open_store() as ledger:
        assert ledger.schema_version == len(ledger.migrations) == len(MIGRATIONS)
        ledger.db.execute("INSERT INTO schema_migrations VALUES (99, 'later')")
    with pytest.raises(LedgerError, match="schema version 99"):
        open_store()


def test_claim_then_publish_then_nothing_more(open_store: Any) -> None:
    clock = Clock()
    with open_store(clock) as ledger:
        d = ledger.ensure("p1", "PCCKent", T0, "sha256:a", "Hello")
        assert d.state == "pending"
        claimed = ledger.claim("p1", "PCCKent", "me", timedelta(minutes=5))
        assert claimed is not None and claimed.state == "claimed" and claimed.attempts == 1
        assert claimed.lease_until == T0 + timedelta(minutes=5)
        assert ledger.claim("p1", "PCCKent", "someone else", timedelta(minutes=5)) is None
        done = ledger.mark_published(
            claimed, remote_id="123", url="https://x.com/PCCKent/status/123", published_at=T0
        )
        assert done.state == "published" and done.owner is None
        assert ledger.claim("p1", "PCCKent", "me", timedelta(minutes=5)) is None
        # an edit after publication does not reopen it
        again = ledger.ensure("p1", "PCCKent", T0, "sha256:b", "Hello, edited")
        assert again.state == "published" and again.content_hash == "sha256:a"
        assert again.edited_hash == "sha256:b"  # reported, never republished
        ledger.ensure("p1", "PCCKent", T0, "sha256:b", "Hello, edited")  # said once only
        kinds = [e.kind for e in ledger.events()]
        assert kinds == ["planned", "claimed", "published", "edited_after_publishing"]


def test_pending_delivery_follows_edits(open_store: Any) -> None:
    with open_store() as ledger:
        ledger.ensure("p1", "KentPCC", T0, "sha256:a", "One")
        moved = ledger.ensure("p1", "KentPCC", T0 + timedelta(hours=1), "sha256:b", "Two")
        assert moved.due_at == T0 + timedelta(hours=1) and moved.text == "Two"
        assert [e.kind for e in ledger.events()] == ["planned", "replanned"]


def test_parts_are_recorded_as_they_go(open_store: Any) -> None:
    with open_store() as ledger:
        ledger.ensure("t", "PCCKent", T0, "sha256:a", "1/3")
        claimed = ledger.claim("t", "PCCKent", "me", timedelta(minutes=5))
        assert claimed is not None
        ledger.record_part(claimed, PartReceipt(0, "100", "u0"))
        ledger.record_part(claimed, PartReceipt(1, "101", "u1"))
        failed = ledger.set_state(claimed, "failed", error="part 3 rejected", error_kind="rejected")
        assert failed.parts == (PartReceipt(0, "100", "u0"), PartReceipt(1, "101", "u1"))
        retry = ledger.claim("t", "PCCKent", "me", timedelta(minutes=5))
        assert retry is not None and retry.parts == failed.parts and retry.attempts == 2


def test_event_log_is_append_only(open_store: Any) -> None:
    with open_store() as ledger:
        ledger.event("alice", "note", detail="hello")
        changes = ["UPDATE events SET detail = 'changed'", "DELETE FROM events"]
        if ledger.kind == "postgresql":
            changes.append("TRUNCATE events")  # which row triggers alone would not see
        for change in changes:
            with pytest.raises(LedgerError, match="append-only"), ledger._write() as db:
                db.execute(change)
        assert [e.detail for e in ledger.events()] == ["hello"]


def test_unknown_state_is_refused(open_store: Any) -> None:
    with open_store() as ledger:
        d = ledger.ensure("p", "c", T0, "h", "t")
        with pytest.raises(ValueError):
            ledger.set_state(d, "sent")


def spec_arg(spec: Any) -> str:
    """A StateSpec for a child process's command line."""
    data = asdict(spec)
    data["path"] = str(spec.path)
    data.pop("env_refs")
    return json.dumps(data)


OPEN = """
import json, sys
from pathlib import Path
from crosspost.loading.state import StateSpec
from crosspost.scheduling.stores import open_ledger
data = json.loads(sys.argv[1])
spec = StateSpec(**{**data, "path": Path(data["path"])})
"""

CLAIMER = (
    OPEN
    + """
from datetime import timedelta
ledger = open_ledger(spec)
won = 0
for i in range(int(sys.argv[3])):
    if ledger.claim(f"p{i}", "c", sys.argv[2], timedelta(minutes=5)) is not None:
        won += 1
print(won)
"""
)


def test_two_processes_never_claim_the_same_delivery(state_spec: Any) -> None:
    count = 200
    with open_ledger(state_spec) as ledger:
        for i in range(count):
            ledger.ensure(f"p{i}", "c", T0, "h", "t")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, spec_arg(state_spec), name, str(count)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    wins = [int(p.communicate(timeout=60)[0]) for p in procs]
    assert sum(wins) == count  # every delivery claimed exactly once between them
    with open_ledger(state_spec) as ledger:
        claims = [e for e in ledger.events() if e.kind == "claimed"]
        assert len(claims) == count
        assert len({e.post_id for e in claims}) == count


def test_processes_opening_a_new_ledger_at_once_all_get_it(tmp_path: Path) -> None:
    """Two daemons started together on a new ledger: one switches it to WAL while the other
    migrates it, and SQLite can answer "database is locked" at once (a lock deadlock, where
    no busy timeout applies). Opening waits and tries again instead of failing the daemon."""
    import time

    code = (
        "import sys, time; from crosspost.scheduling.ledger import Ledger\n"
        "start = float(sys.argv[2])\n"
        "time.sleep(max(0, start - time.time()))\n"
        "Ledger(sys.argv[1]).close()\n"
    )
    for round_ in range(6):
        path = tmp_path / f"l{round_}.db"
        start = time.time() + 1.0
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, str(path), str(start)],
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for _ in range(6)
        ]
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * 6, errors
        with Ledger(path) as ledger:
            assert ledger.schema_version == len(MIGRATIONS)
