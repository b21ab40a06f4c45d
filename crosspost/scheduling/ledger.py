"""The ledger: which delivery (post × channel) is in which state, and an append-only event log.

It is the truth about what was published. A delivery is *claimed* — committed to disk —
before any API call, and recorded as published after it, so a crash between the two leaves a
claim that can be settled, never a silent double post.

States: pending → claimed → published | failed | in_doubt | expired | held; cancelled for
deliveries whose post or channel was removed.

SQLite in WAL mode with synchronous=FULL; the daemon and CLI commands may use one file at the
same time (every write is one short IMMEDIATE transaction). The methods speak in deliveries and
events, never in SQL, so that a PostgreSQL ledger can implement the same interface.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

from crosspost.core.errors import PartReceipt
from crosspost.core.states import CLAIMABLE, Act, Hold, State
from crosspost.core.times import from_iso, iso_utc

STATES = tuple(State)
TOKEN_PREFIX = "token-expires:"  # control: when a channel's token expires, as last checked
WAKE = "wake"  # control a person's action sets, so that a running daemon looks now
_WAKES = itertools.count()


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Delivery:
    """One post on one channel, as the ledger knows it."""

    id: int
    post_id: str
    channel: str
    due_at: datetime | None
    content_hash: str
    state: State
    attempts: int
    owner: str | None
    lease_until: datetime | None
    remote_id: str | None
    url: str | None
    text: str
    parts: tuple[PartReceipt, ...]
    comment_id: str | None
    published_at: datetime | None
    last_error: str | None
    error_kind: str | None
    updated_at: datetime
    file: str | None = None
    retry_at: datetime | None = None
    edited_hash: str | None = None  # the post changed after it was published
    claimed_at: datetime | None = None
    approved_by: str | None = None
    media: tuple[tuple[str, str], ...] = ()  # (path, alt text) of each image sent
    retracted_at: datetime | None = None
    retraction: str | None = None  # why, and what happened (deleted, or must be done by hand)
    thread: tuple[str, ...] = ()  # the texts of the thread's later parts
    notes: dict[str, str] = field(default_factory=dict)  # an adapter's notes for a retry
    warning: str | None = None  # published, but something after it failed (first comment)
    fence: int = 0  # +1 on every claim: a write by an older claim's holder is refused

    @property
    def texts(self) -> tuple[str, ...]:
        """Every part's text: the post, then the thread."""
        return (self.text, *self.thread)

    @property
    def next_at(self) -> datetime | None:
        """When this delivery should next be tried."""
        return self.retry_at or self.due_at


@dataclass(frozen=True)
class Event:
    """One line of the append-only event log."""

    id: int
    at: datetime
    actor: str
    kind: str
    post_id: str | None
    channel: str | None
    detail: str


# The first tables, in words both stores take; only the key column differs (ledger_pg).
DELIVERIES_TABLE = """
    CREATE TABLE deliveries (
        id {key},
        post_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        due_at TEXT,
        content_hash TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        owner TEXT,
        lease_until TEXT,
        remote_id TEXT,
        url TEXT,
        text TEXT NOT NULL DEFAULT '',
        parts TEXT NOT NULL DEFAULT '[]',
        comment_id TEXT,
        published_at TEXT,
        last_error TEXT,
        error_kind TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (post_id, channel)
    )
"""
EVENTS_TABLE = """
    CREATE TABLE events (
        id {key},
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        post_id TEXT,
        channel TEXT,
        detail TEXT NOT NULL DEFAULT ''
    )
"""


def first_tables(db: Any, key: str) -> None:
    """Deliveries and events (their key column's type given), and the index on due times."""
    db.execute(DELIVERIES_TABLE.format(key=key))
    db.execute("CREATE INDEX deliveries_state_due ON deliveries (state, due_at)")
    db.execute(EVENTS_TABLE.format(key=key))


def _m1(db: Any) -> None:
    first_tables(db, "INTEGER PRIMARY KEY")
    # the event log is append-only: the database itself refuses edits and deletions
    db.execute(
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
        "BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END"
    )
    db.execute(
        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
        "BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END"
    )
    db.execute("CREATE TABLE controls (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


def _m2(db: Any) -> None:
    """The daemon's needs: where a post came from, retry times, edits after publication."""
    db.execute("ALTER TABLE deliveries ADD COLUMN file TEXT")
    db.execute("ALTER TABLE deliveries ADD COLUMN retry_at TEXT")
    db.execute("ALTER TABLE deliveries ADD COLUMN edited_hash TEXT")
    db.execute("ALTER TABLE deliveries ADD COLUMN claimed_at TEXT")


def _m3(db: Any) -> None:
    """Records for Freedom of Information requests: approver, images and alt text, retraction."""
    db.execute("ALTER TABLE deliveries ADD COLUMN approved_by TEXT")
    db.execute("ALTER TABLE deliveries ADD COLUMN media TEXT NOT NULL DEFAULT '[]'")
    db.execute("ALTER TABLE deliveries ADD COLUMN retracted_at TEXT")
    db.execute("ALTER TABLE deliveries ADD COLUMN retraction TEXT")


def _m4(db: Any) -> None:
    """Exactly once against the real platforms: the thread's texts (to settle a thread part
    by its words), what an adapter noted before a publishing call (Instagram's container),
    and what went wrong after publishing (a first comment that failed)."""
    db.execute("ALTER TABLE deliveries ADD COLUMN thread TEXT NOT NULL DEFAULT '[]'")
    db.execute("ALTER TABLE deliveries ADD COLUMN notes TEXT NOT NULL DEFAULT '{}'")
    db.execute("ALTER TABLE deliveries ADD COLUMN warning TEXT")


def _m5(db: Any) -> None:
    """The ledger's identity, which its guard file beside it names too (`LedgerGuard`), and
    an index to find the same content published under another post id."""
    import uuid

    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    # the same content published on a channel under another id (a renamed file): found fast
    db.execute("CREATE INDEX deliveries_channel_hash ON deliveries (channel, content_hash)")
    db.execute("INSERT INTO meta VALUES ('ledger_id', ?)", (uuid.uuid4().hex,))


def _m6(db: Any) -> None:
    """Several servers on one ledger: a fencing token on every claim, the daemons' heartbeats,
    and the queue revisions they planned from (the newest plan alone may publish)."""
    db.execute("ALTER TABLE deliveries ADD COLUMN fence INTEGER NOT NULL DEFAULT 0")
    db.execute(
        "CREATE TABLE daemons (owner TEXT PRIMARY KEY, host_id TEXT NOT NULL, "
        "pid INTEGER NOT NULL, started_at TEXT NOT NULL, last_beat TEXT NOT NULL, "
        "plan_rev TEXT, lease_seconds INTEGER NOT NULL DEFAULT 0)"
    )
    db.execute(
        "CREATE TABLE plans (rev TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, "
        "host_id TEXT NOT NULL, at TEXT NOT NULL)"
    )


# Numbered migrations: append, never edit one that has shipped. The PostgreSQL ledger has the
# same list with its own first step (ledger_pg.MIGRATIONS; a test keeps them in step).
MIGRATIONS: list[Callable[[Any], None]] = [_m1, _m2, _m3, _m4, _m5, _m6]


def _put_control(db: Any, key: str, value: str | None) -> None:
    """Set a control, or remove it when `value` is None (inside the caller's transaction)."""
    if value is None:
        db.execute("DELETE FROM controls WHERE key = ?", (key,))
    else:
        db.execute(
            "INSERT INTO controls (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


class LedgerError(Exception):
    """The ledger cannot be used (unreadable file, newer schema than this program)."""


class PlanMoved(LedgerError):
    """Another server recorded a newer plan while this one was planning: nothing more of
    this one's (older) plan is written; it loads again, and is behind until it pulls."""


class LedgerGuard:
    """A record kept outside the database, beside it (`<ledger>.guard`): the ledger's identity
    and how many deliveries it has recorded as published.

    It catches what SQLite cannot: a ledger file truncated to nothing, replaced by another
    ledger, or restored from a copy older than what was published since. Any of them would
    otherwise be taken as a ledger with nothing published, and everything still inside the
    lateness window would be published again.
    """

    def __init__(self, ledger_path: Path):
        self.ledger_path = ledger_path
        self.path = ledger_path.with_name(ledger_path.name + ".guard")

    def read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise LedgerError(
                f"the ledger's guard file {self.path} cannot be read ({exc}); restore it with "
                "the ledger from the same backup"
            ) from None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("ledger_id"), str)
            or not (isinstance(data.get("published"), int) and data["published"] >= 0)
        ):
            raise LedgerError(
                f"the ledger's guard file {self.path} is not one crosspost wrote (damaged or "
                "edited): restore it with the ledger from the same backup"
            )
        return data

    def write(self, ledger_id: str, published: int, at: str) -> None:
        note = "written by crosspost beside its ledger; back it up with the ledger"
        data = {"ledger_id": ledger_id, "published": published, "updated_at": at, "note": note}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:  # readable by whoever can read the ledger: the service, after a `sudo status`
            ledger = os.stat(self.ledger_path)
            os.fchmod(fd, ledger.st_mode & 0o666)
            if os.geteuid() == 0:
                os.fchown(fd, ledger.st_uid, ledger.st_gid)
        except OSError:
            os.fchmod(fd, 0o640)
        with open(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


@dataclass(frozen=True)
class DaemonBeat:
    """A daemon's last sign of life, for `status`."""

    owner: str
    host_id: str
    pid: int
    started_at: datetime
    last_beat: datetime
    plan_rev: str | None
    lease: timedelta

    def alive(self, now: datetime) -> bool:
        return now - self.last_beat <= max(self.lease, timedelta(seconds=30))


class Ledger:
    """A SQLite ledger file (and, through `PostgresLedger`, the same ledger on PostgreSQL).

    Every write is one transaction that holds the store's write lock from its first read, so
    a read-then-write is never raced. Writes about a delivery a sender or a settler makes are
    compare-and-set on the state and fencing token they read (`_fenced`): a process that
    lost its claim (paused past its lease, then continued) never records over its successor.
    """

    kind = "sqlite"
    migrations = MIGRATIONS
    wake_every = 0.0  # seconds between looks for a person's action (data_version is free)
    _db_error: type[Exception] = sqlite3.DatabaseError

    db: Any  # the connection: sqlite3's, or PostgresLedger's wrapper of psycopg's

    def __init__(self, path: Path | str, clock: Callable[[], datetime] = _now):
        self.path = Path(path)
        self.clock = clock
        self.guard: LedgerGuard | None = None
        self.ledger_id = ""  # from the meta table, read when the guard is checked
        if str(path) != ":memory:":
            self.guard = LedgerGuard(self.path)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LedgerError(
                    f"cannot create the folder of the ledger {path}: {exc.strerror}"
                ) from None
            self._refuse_damaged()
        # Two processes opening a new ledger at once can deadlock on its first locks (one
        # switches it to WAL while the other migrates it): SQLite then answers "database is
        # locked" at once, without waiting. Opening is retried for as long as a write waits.
        deadline = time.monotonic() + 30
        while True:
            try:
                self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
                self.db.row_factory = sqlite3.Row
                self.db.execute("PRAGMA busy_timeout=30000")
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                self.db.execute("PRAGMA foreign_keys=ON")
                self._migrate()
                break
            except sqlite3.OperationalError as exc:
                if getattr(self, "db", None) is not None:
                    self.db.close()
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() > deadline:
                    raise LedgerError(f"cannot open the ledger {path}: {exc}") from None
                time.sleep(0.05)
            except sqlite3.DatabaseError as exc:
                if getattr(self, "db", None) is not None:
                    self.db.close()
                raise LedgerError(
                    f"cannot open the ledger {path}: {exc}. If it was damaged, restore it "
                    "(and its .guard file) from the last backup: see docs/server.md"
                ) from None
        if self.guard is not None:
            self._check_guard()
        moved = self.control("moved")
        if moved is not None and self.kind == "sqlite":
            self.close()
            raise LedgerError(
                f"the ledger {self.path} was copied to {moved} (crosspost ledger copy) and "
                f"must not be used any more: set the config's state: to that database"
            )

    def _refuse_damaged(self) -> None:
        """Before SQLite sees it: an empty file that was a ledger is not a new ledger."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = None
        except OSError as exc:
            raise LedgerError(f"cannot read the ledger {self.path}: {exc.strerror}") from None
        # (a 0-byte file with no guard is a ledger being created right now by another process)
        guarded = self.guard is not None and self.guard.path.exists()
        if guarded and not size:
            what = "is empty (0 bytes)" if size == 0 else "is missing"
            assert self.guard is not None
            raise LedgerError(
                f"the ledger {self.path} {what}, but its guard file {self.guard.path.name} says "
                "it held a ledger: it was damaged or lost (a failed copy or restore?) and will "
                "not be started afresh, which would publish again what it had recorded. Restore "
                "it from the last backup (docs/server.md). Only for a new installation with "
                f"nothing published: delete {self.guard.path.name}"
            )

    def _check_guard(self) -> None:
        """The ledger is the one its guard names, and no older than what it has published."""
        assert self.guard is not None
        with self._write() as db:  # one process at a time reads and starts the record
            row = db.execute("SELECT value FROM meta WHERE key = 'ledger_id'").fetchone()
            if row is None:
                raise LedgerError(
                    f"the ledger {self.path} has lost its identity (damaged?): restore it from "
                    "the last backup (docs/server.md)"
                )
            ledger_id = self.ledger_id = row["value"]
            published = self._published_count(db)
            known = self.guard.read()
            if known is None:  # a new ledger, or one from before guards: start the record
                self.guard.write(ledger_id, published, iso_utc(self.clock()) or "")
                return
        restore = (
            "Restore the ledger that goes with it from the last backup (docs/server.md), or "
            f"if you mean to start this ledger's record afresh, delete {self.guard.path.name}"
        )
        if known.get("ledger_id") != ledger_id:
            raise LedgerError(
                f"the ledger {self.path} is not the one crosspost was using here: its guard "
                "file names another ledger (was a different file copied in?). " + restore
            )
        if published < int(known.get("published") or 0):
            raise LedgerError(
                f"the ledger {self.path} is older than what was published: it records "
                f"{published} publications, but {known.get('published')} had been recorded "
                f"by {known.get('updated_at')} (an old backup restored?). Running on it would "
                "publish again what went out since. " + restore
            )

    def describe(self) -> str:
        """The ledger, for messages (a file, or a database's address without a password)."""
        return str(self.path)

    def database_clock(self) -> datetime:
        """Now by the store's clock (a file has none: this machine's)."""
        return datetime.now(UTC)

    def reopen(self) -> Ledger:
        """Another handle on the same ledger, for another thread."""
        return Ledger(self.path, clock=self.clock)

    def same_store(self, spec: Any) -> bool:
        """Whether this handle is on the ledger `spec` names (a config reloaded)."""
        return getattr(spec, "kind", "sqlite") == "sqlite" and Path(spec.path) == self.path

    @staticmethod
    def _published_count(db: Any) -> int:
        row = db.execute("SELECT COUNT(*) FROM deliveries WHERE state = 'published'").fetchone()
        return int(row[0])

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """One IMMEDIATE transaction: the write lock is taken before anything is read. A
        database that cannot be written (read-only, full, damaged) is a LedgerError."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except self._db_error as exc:
            raise self._unusable(exc) from None
        try:
            yield self.db
        except self._db_error as exc:
            self._rollback()
            raise self._unusable(exc) from None
        except BaseException:
            self._rollback()
            raise
        else:
            try:
                self.db.execute("COMMIT")
            except self._db_error as exc:
                self._rollback()
                raise self._unusable(exc) from None

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("ROLLBACK")

    def _unusable(self, exc: Exception) -> LedgerError:
        return LedgerError(
            f"cannot write to the ledger {self.path}: {exc} (is the disk full, or the file "
            "read-only for this user?); nothing was recorded"
        )

    def _migrate(self) -> None:
        with self._write() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            done = {r[0] for r in db.execute("SELECT version FROM schema_migrations")}
            if done and max(done) > len(self.migrations):
                raise LedgerError(
                    f"the ledger {self.describe()} has schema version {max(done)}, newer than "
                    f"this crosspost knows ({len(self.migrations)}): upgrade crosspost"
                )
            for number, migration in enumerate(self.migrations, start=1):
                if number not in done:
                    migration(db)
                    db.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?)",
                        (number, iso_utc(self.clock())),
                    )

    @property
    def schema_version(self) -> int:
        row = self.db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    # --- deliveries ------------------------------------------------------------------------

    def _row(self, row: Any) -> Delivery | None:
        if row is None:
            return None
        return Delivery(
            id=row["id"],
            post_id=row["post_id"],
            channel=row["channel"],
            due_at=from_iso(row["due_at"]),
            content_hash=row["content_hash"],
            state=State(row["state"]),
            attempts=row["attempts"],
            owner=row["owner"],
            lease_until=from_iso(row["lease_until"]),
            remote_id=row["remote_id"],
            url=row["url"],
            text=row["text"],
            parts=tuple(PartReceipt(*p) for p in json.loads(row["parts"])),
            comment_id=row["comment_id"],
            published_at=from_iso(row["published_at"]),
            last_error=row["last_error"],
            error_kind=row["error_kind"],
            updated_at=from_iso(row["updated_at"]) or self.clock(),
            file=row["file"],
            retry_at=from_iso(row["retry_at"]),
            edited_hash=row["edited_hash"],
            claimed_at=from_iso(row["claimed_at"]),
            approved_by=row["approved_by"],
            media=tuple((m[0], m[1]) for m in json.loads(row["media"])),
            retracted_at=from_iso(row["retracted_at"]),
            retraction=row["retraction"],
            thread=tuple(json.loads(row["thread"])),
            notes=json.loads(row["notes"]),
            warning=row["warning"],
            fence=row["fence"],
        )

    def get(self, post_id: str, channel: str) -> Delivery | None:
        row = self.db.execute(
            "SELECT * FROM deliveries WHERE post_id = ? AND channel = ?", (post_id, channel)
        ).fetchone()
        return self._row(row)

    def deliveries(self, states: Sequence[str] | None = None) -> list[Delivery]:
        """Deliveries in the given states (all when None), by due time."""
        sql = "SELECT * FROM deliveries"
        args: tuple[Any, ...] = ()
        if states:
            sql += f" WHERE state IN ({','.join('?' * len(states))})"
            args = tuple(states)
        rows = self.db.execute(sql + " ORDER BY due_at, post_id, channel", args).fetchall()
        return [d for r in rows if (d := self._row(r)) is not None]

    def ensure(
        self,
        post_id: str,
        channel: str,
        due_at: datetime | None,
        content_hash: str,
        text: str,
        file: str | None = None,
        actor: str = "planner",
        thread: Sequence[str] = (),
        media: Sequence[tuple[str, str]] = (),
        plan_rev: str | None = None,
    ) -> Delivery:
        """The delivery for (post, channel), created pending if new. Never reopens a settled one.

        A pending (or failed, or cancelled) delivery takes the new time, hash and text: the
        post was edited before it went out, so it is planned afresh. A published one whose
        content changed is only marked as edited after publishing.
        """
        now = iso_utc(self.clock())
        due = iso_utc(due_at)
        thread_json = json.dumps(list(thread), ensure_ascii=False)
        media_json = json.dumps([list(m) for m in media], ensure_ascii=False)
        content = (due, content_hash, text, file, thread_json, media_json)
        with self._write() as db:
            self._still_newest(db, plan_rev)
            row = db.execute(
                "SELECT * FROM deliveries WHERE post_id = ? AND channel = ?", (post_id, channel)
            ).fetchone()
            changed = row is not None and (
                row["content_hash"] != content_hash or row["due_at"] != due
            )
            if row is None:
                db.execute(
                    "INSERT INTO deliveries (post_id, channel, due_at, content_hash, text, file, "
                    "thread, media, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (post_id, channel, *content, now, now),
                )
                self._event(db, actor, "planned", post_id, channel, f"due {due}")
            elif row["state"] == State.PENDING and changed:
                self._replan(db, row, content, now, actor)
            elif self._reopens(row, changed):  # edited, or back in the queue
                self._reopen(db, row, content, now, actor, changed)
            elif row["state"] == State.PUBLISHED and content_hash not in (
                row["content_hash"],
                row["edited_hash"],
            ):
                self._edited_after(db, row, content_hash, now, actor)
        found = self.get(post_id, channel)
        assert found is not None
        return found

    @staticmethod
    def _reopens(row: Any, changed: bool) -> bool:
        """A failed or expired delivery is planned afresh once edited; a cancelled one as soon
        as it is back in the queue (a file restored, a draft made ready again)."""
        if row["state"] == State.CANCELLED:
            return True
        return row["state"] in (State.FAILED, State.EXPIRED) and changed

    def _edited_after(
        self, db: Any, row: Any, content_hash: str, now: str | None, actor: str
    ) -> None:
        """A published post changed since: said once, never published again."""
        db.execute(
            "UPDATE deliveries SET edited_hash = ?, updated_at = ? WHERE id = ?",
            (content_hash, now, row["id"]),
        )
        self._event(
            db, actor, "edited_after_publishing", row["post_id"], row["channel"],
            "the post changed after it was published; it is not published again",
        )  # fmt: skip

    def _replan(self, db: Any, row: Any, content: tuple, now: str | None, actor: str) -> None:
        """A pending delivery edited before it went out takes the new time and content."""
        # an adapter's notes belong to the old content (a container with the old caption
        # must never be published): they go with it; the edit was never tried on time: a
        # retry's or release's leave goes with it, except a release to send late
        kind = row["error_kind"] if row["error_kind"] == Act.RELEASED_LATE else None
        db.execute(
            "UPDATE deliveries SET due_at = ?, content_hash = ?, text = ?, file = ?, "
            "thread = ?, media = ?, notes = '{}', retry_at = NULL, error_kind = ?, "
            "updated_at = ? WHERE id = ?",
            (*content, kind, now, row["id"]),
        )
        self._event(db, actor, "replanned", row["post_id"], row["channel"], f"due {content[0]}")

    def _reopen(
        self, db: Any, row: Any, content: tuple, now: str | None, actor: str, changed: bool
    ) -> None:
        """A failed or expired delivery whose post was edited is planned afresh; so is a
        cancelled one whose post is back in the queue (a file restored, a draft made ready,
        a channel named again), edited or not."""
        db.execute(
            "UPDATE deliveries SET state = 'pending', due_at = ?, content_hash = ?, "
            "text = ?, file = ?, thread = ?, media = ?, notes = '{}', retry_at = NULL, "
            "attempts = 0, last_error = NULL, error_kind = NULL, updated_at = ? "
            "WHERE id = ?",
            (*content, now, row["id"]),
        )
        self._event(
            db, actor, "replanned", row["post_id"], row["channel"],
            f"{'edited' if changed else 'back in the queue'} after it was {row['state']}; "
            f"due {content[0]}",
        )  # fmt: skip

    def claim(
        self,
        post_id: str,
        channel: str,
        owner: str,
        lease: timedelta,
        states: Sequence[str] = CLAIMABLE,
        plan_rev: str | None = None,
    ) -> Delivery | None:
        """Atomically take a delivery for sending; None if it is not in a claimable state.

        The claim is committed before this returns, so it survives a crash during the send.
        An emergency pause and a channel hold are checked in the same transaction: such a
        delivery is held instead, so nothing is sent once either is recorded. With
        `plan_rev`, only while that queue revision is the newest any daemon planned from
        (several servers: one whose checkout fell behind never publishes what was since
        deleted or edited).
        """
        from crosspost.scheduling.controls import PAUSE

        now = self.clock()
        with self._write() as db:
            row = db.execute(
                "SELECT * FROM deliveries WHERE post_id = ? AND channel = ?", (post_id, channel)
            ).fetchone()
            if row is None or row["state"] not in states:
                return None
            if plan_rev is not None:
                newest = db.execute("SELECT rev FROM plans ORDER BY seq DESC LIMIT 1").fetchone()
                if newest is not None and newest["rev"] != plan_rev:
                    return None
            controls = {
                r["key"]: r["value"]
                for r in db.execute("SELECT * FROM controls WHERE key LIKE ?", (PAUSE + "%",))
            }
            holding = self._holding(db, controls, channel, now)
            if holding is not None:
                why, kind = holding
                db.execute(
                    "UPDATE deliveries SET state = 'held', last_error = ?, error_kind = ?, "
                    "owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ?",
                    (f"held: {why}", str(kind), iso_utc(now), row["id"]),
                )
                self._event(db, owner, "held", post_id, channel, why)
                return None
            db.execute(
                "UPDATE deliveries SET state = 'claimed', owner = ?, lease_until = ?, "
                "claimed_at = ?, attempts = attempts + 1, fence = fence + 1, updated_at = ? "
                "WHERE id = ?",
                (owner, iso_utc(now + lease), iso_utc(now), iso_utc(now), row["id"]),
            )
            self._event(
                db, owner, "claimed", post_id, channel,
                f"attempt {row['attempts'] + 1}, fence {row['fence'] + 1}",
            )  # fmt: skip
        return self.get(post_id, channel)

    @staticmethod
    def _holding(
        db: Any, controls: dict[str, str], channel: str, now: datetime
    ) -> tuple[str, Hold] | None:
        """What holds a claim back, read in its transaction: a pause, or the channel held."""
        from crosspost.scheduling.gate import hold_key, pause_holding

        pause = pause_holding(controls, channel, now)  # the gate's word
        if pause is not None:
            return pause.describe(), Hold.PAUSED
        held = db.execute("SELECT value FROM controls WHERE key = ?", (hold_key(channel),))
        row = held.fetchone()
        return (f"channel held: {row['value']}", Hold.CHANNEL) if row is not None else None

    def renew(self, delivery: Delivery, owner: str, lease: timedelta) -> bool:
        """Extend a claim this owner still holds (a long send: a GIF X is processing, an
        Instagram container being polled); False when it is no longer theirs (its fencing
        token is not the delivery's any more: another daemon took it over)."""
        with self._write() as db:
            done = db.execute(
                "UPDATE deliveries SET lease_until = ? WHERE id = ? AND state = 'claimed' "
                "AND owner = ? AND fence = ?",
                (iso_utc(self.clock() + lease), delivery.id, owner, delivery.fence),
            ).rowcount
        return bool(done)

    @staticmethod
    def _still_newest(db: Any, plan_rev: str | None) -> None:
        """A write made by planning from `plan_rev` happens only while it is the newest plan
        (checked inside the write's transaction): PlanMoved otherwise."""
        if plan_rev is None:
            return
        newest = db.execute("SELECT rev FROM plans ORDER BY seq DESC LIMIT 1").fetchone()
        if newest is not None and newest["rev"] != plan_rev:
            raise PlanMoved(
                f"another server recorded a newer plan ({newest['rev'][:12]}) than this "
                f"server's ({plan_rev[:12]}) while it was planning"
            )

    def _fenced(self, db: Any, delivery: Delivery, what: str, actor: str | None = None) -> bool:
        """Whether `delivery` is still in the state and under the fencing token its caller
        read. If not, the late write is refused and the log says so (a `fenced` event)."""
        row = db.execute(
            "SELECT state, fence FROM deliveries WHERE id = ?", (delivery.id,)
        ).fetchone()
        if row is not None and row["state"] == delivery.state and row["fence"] == delivery.fence:
            return True
        now = f"{row['state']}, fence {row['fence']}" if row is not None else "gone"
        self._event(
            db, actor or delivery.owner or "?", "fenced", delivery.post_id, delivery.channel,
            f"late write refused ({what}): it was {delivery.state}, fence {delivery.fence}; "
            f"now {now}",
        )  # fmt: skip
        return False

    def record_part(self, delivery: Delivery, part: PartReceipt) -> bool:
        """Record one published part of a delivery before the next is sent; False (refused)
        when the caller no longer holds it."""
        with self._write() as db:
            if not self._fenced(db, delivery, f"part {part.index + 1}: {part.remote_id}"):
                return False
            row = db.execute("SELECT parts FROM deliveries WHERE id = ?", (delivery.id,)).fetchone()
            parts = [p for p in json.loads(row["parts"]) if p[0] != part.index]
            parts.append([part.index, part.remote_id, part.url])
            parts.sort()
            db.execute(
                "UPDATE deliveries SET parts = ?, updated_at = ? WHERE id = ?",
                (json.dumps(parts), iso_utc(self.clock()), delivery.id),
            )
            self._event(
                db, delivery.owner or "?", "part_published", delivery.post_id, delivery.channel,
                f"part {part.index + 1}: {part.remote_id}",
            )  # fmt: skip
        return True

    def record_note(self, delivery: Delivery, key: str, value: str) -> bool:
        """Record what an adapter must know on a later attempt (committed before it makes
        its publishing call); False (refused) when the caller no longer holds the delivery."""
        with self._write() as db:
            if not self._fenced(db, delivery, f"note {key}"):
                return False
            row = db.execute("SELECT notes FROM deliveries WHERE id = ?", (delivery.id,)).fetchone()
            notes = json.loads(row["notes"])
            notes[key] = value
            db.execute(
                "UPDATE deliveries SET notes = ?, updated_at = ? WHERE id = ?",
                (json.dumps(notes, sort_keys=True), iso_utc(self.clock()), delivery.id),
            )
            self._event(
                db, delivery.owner or "?", "noted", delivery.post_id, delivery.channel,
                f"{key}: {value}",
            )  # fmt: skip
        return True

    def mark_published(
        self,
        delivery: Delivery,
        *,
        remote_id: str,
        url: str | None,
        published_at: datetime,
        parts: Sequence[PartReceipt] = (),
        comment_id: str | None = None,
        actor: str | None = None,
        detail: str = "",
        approved_by: str | None = None,
        media: Sequence[tuple[str, str]] | None = None,
        warnings: Sequence[str] = (),
    ) -> Delivery:
        """Record the delivery as published: only if it is still in the state, and under the
        fencing token, that the caller read (else refused: a `fenced` event, and the row as
        it is now is returned)."""
        warning = "; ".join(warnings) or None
        with self._write() as db:
            if not self._fenced(db, delivery, f"published {remote_id}", actor):
                return self._current(delivery)
            db.execute(
                "UPDATE deliveries SET state = 'published', remote_id = ?, url = ?, "
                "published_at = ?, parts = ?, comment_id = ?, owner = NULL, lease_until = NULL, "
                "last_error = NULL, error_kind = NULL, approved_by = COALESCE(?, approved_by), "
                "media = COALESCE(?, media), warning = ?, updated_at = ? WHERE id = ?",
                (
                    remote_id,
                    url,
                    iso_utc(published_at),
                    json.dumps([[p.index, p.remote_id, p.url] for p in parts]),
                    comment_id,
                    approved_by,
                    json.dumps([list(m) for m in media]) if media is not None else None,
                    warning,
                    iso_utc(self.clock()),
                    delivery.id,
                ),
            )
            self._event(
                db, actor or delivery.owner or "?", "published", delivery.post_id,
                delivery.channel, detail or f"{remote_id} {url or ''}".strip(),
            )  # fmt: skip
            if warning:
                self._event(
                    db, actor or delivery.owner or "?", "warning", delivery.post_id,
                    delivery.channel, warning,
                )  # fmt: skip
            if self.guard is not None:
                record = (self.ledger_id, self._published_count(db), iso_utc(self.clock()) or "")
        # after the commit, never before: a crash between the two leaves the guard behind the
        # ledger (harmless), never ahead of it (which would refuse a sound ledger). Two
        # writers may leave the lower count: behind again, never ahead.
        if self.guard is not None:
            self.guard.write(*record)
        found = self.get(delivery.post_id, delivery.channel)
        assert found is not None
        return found

    def set_state(
        self,
        delivery: Delivery,
        state: str,
        *,
        error: str | None = None,
        error_kind: str | None = None,
        retry_at: datetime | None = None,
        actor: str | None = None,
        only_from: Sequence[str] | None = None,
        fenced: bool = False,
        expired_by: datetime | None = None,
        plan_rev: str | None = None,
        control: tuple[str, str] | None = None,
    ) -> Delivery:
        """Move a delivery to `state` (releasing any claim), recording why.

        With `only_from`, nothing happens unless the delivery is in one of those states; with
        `fenced`, unless it is still in the state and under the fencing token `delivery`
        shows (a sender whose claim was taken over never writes over what came after: the
        refusal is logged); with `expired_by`, unless its lease ran out by then (a takeover
        never races a renewal). `control` (key, value) is set with the change, and only with
        it (a sender that holds its channel). The checks and the change are one transaction.
        """
        if state not in STATES:
            raise ValueError(f"unknown state {state}")
        with self._write() as db:
            self._still_newest(db, plan_rev)
            if fenced and not self._fenced(db, delivery, f"{state}: {error or ''}", actor):
                return self._current(delivery)
            if not self._may_change(db, delivery, only_from, expired_by):
                return self._current(delivery)
            db.execute(
                "UPDATE deliveries SET state = ?, owner = NULL, lease_until = NULL, "
                "last_error = ?, error_kind = ?, retry_at = ?, updated_at = ? WHERE id = ?",
                (state, error, error_kind, iso_utc(retry_at), iso_utc(self.clock()), delivery.id),
            )
            self._event(
                db, actor or delivery.owner or "?", state, delivery.post_id, delivery.channel,
                error or "",
            )  # fmt: skip
            if control is not None:
                _put_control(db, *control)
                self._event(
                    db, actor or delivery.owner or "?", "control", None, None,
                    f"{control[0]}={control[1]}: {error or ''}".rstrip(": "),
                )  # fmt: skip
        found = self.get(delivery.post_id, delivery.channel)
        assert found is not None
        return found

    @staticmethod
    def _may_change(
        db: Any, delivery: Delivery, only_from: Sequence[str] | None, expired_by: datetime | None
    ) -> bool:
        """set_state's conditions, read in its transaction: still in one of `only_from`, and
        (a takeover) its lease ran out by `expired_by`."""
        if only_from is None and expired_by is None:
            return True
        row = db.execute(
            "SELECT state, lease_until FROM deliveries WHERE id = ?", (delivery.id,)
        ).fetchone()
        if row is None or (only_from is not None and row["state"] not in only_from):
            return False
        lease = row["lease_until"]
        return expired_by is None or lease is None or lease < iso_utc(expired_by)

    def _current(self, delivery: Delivery) -> Delivery:
        found = self.get(delivery.post_id, delivery.channel)
        return found if found is not None else delivery

    def mark_retracted(self, delivery: Delivery, retraction: str, actor: str) -> Delivery:
        """Record a retraction (or a request for one the platform cannot carry out)."""
        with self._write() as db:
            db.execute(
                "UPDATE deliveries SET retracted_at = ?, retraction = ?, updated_at = ? "
                "WHERE id = ?",
                (iso_utc(self.clock()), retraction, iso_utc(self.clock()), delivery.id),
            )
            self._event(db, actor, "retracted", delivery.post_id, delivery.channel, retraction)
        found = self.get(delivery.post_id, delivery.channel)
        assert found is not None
        return found

    def published_twin(self, delivery: Delivery, since: datetime) -> Delivery | None:
        """Another post's delivery on the same channel with exactly this content, published
        since `since` (a post file renamed after it went out gets a new id)."""
        row = self.db.execute(
            "SELECT * FROM deliveries WHERE channel = ? AND content_hash = ? AND post_id != ? "
            "AND state = 'published' AND published_at >= ? ORDER BY published_at DESC LIMIT 1",
            (delivery.channel, delivery.content_hash, delivery.post_id, iso_utc(since)),
        ).fetchone()
        return self._row(row)

    def due(self, now: datetime, limit: int = 1000) -> list[Delivery]:
        """Pending deliveries whose time (or retry time) has come, oldest first."""
        rows = self.db.execute(
            "SELECT * FROM deliveries WHERE state = 'pending' "
            "AND COALESCE(retry_at, due_at) <= ? ORDER BY COALESCE(retry_at, due_at) LIMIT ?",
            (iso_utc(now), limit),
        ).fetchall()
        return [d for r in rows if (d := self._row(r)) is not None]

    # --- events and controls ---------------------------------------------------------------

    def control(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM controls WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    @staticmethod
    def read_controls(path: Path, prefixes: Sequence[str]) -> dict[str, str]:
        """Controls of the ledger at `path` read without opening it for writing (a dry run
        shows what the real pauses and holds would do, and must change nothing)."""
        if not path.exists():
            return {}
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                rows = db.execute("SELECT key, value FROM controls").fetchall()
            finally:
                db.close()
        except sqlite3.Error:
            return {}  # unreadable: the dry run goes on without them (the real run says why)
        return {k: v for k, v in rows if k.startswith(tuple(prefixes))}

    def controls(self, prefix: str = "") -> dict[str, str]:
        rows = self.db.execute(
            "SELECT key, value FROM controls WHERE key LIKE ? ORDER BY key", (prefix + "%",)
        ).fetchall()
        return {r["key"]: r["value"] for r in rows}

    def swap_control(self, key: str, expected: str | None, value: str | None) -> bool:
        """Set control `key` to `value` only if it is still `expected` (None: absent).

        Compare-and-set, so that several daemons agree on who does a thing once (an alert).
        """
        with self._write() as db:
            row = db.execute("SELECT value FROM controls WHERE key = ?", (key,)).fetchone()
            if (row["value"] if row else None) != expected:
                return False
            _put_control(db, key, value)
        return True

    def note_token(self, channel: str, expires_at: datetime | None) -> None:
        """What the last credentials check found of a channel's token expiry (no event: it is
        a reading, not an act), for status to say when a token runs out."""
        with self._write() as db:
            _put_control(db, TOKEN_PREFIX + channel, iso_utc(expires_at))

    def wake(self) -> None:
        """Tell a running daemon that a person changed something (a release, a resume, a
        resolve): it looks at the queue within a second instead of at its next sweep."""
        with self._write() as db:
            _put_control(db, WAKE, f"{iso_utc(self.clock())} {os.getpid()} {next(_WAKES)}")

    def data_version(self) -> Hashable:
        """Changes whenever another connection commits to the ledger (SQLite's own counter:
        cheap enough to ask several times a second)."""
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    # --- several daemons: heartbeats and the plan they publish from ------------------------

    def beat(self, owner: str, host_id: str, plan_rev: str | None, lease: timedelta) -> None:
        """A daemon's sign of life (each sweep), with the queue revision it planned from."""
        now = iso_utc(self.clock())
        with self._write() as db:
            db.execute(
                "INSERT INTO daemons (owner, host_id, pid, started_at, last_beat, plan_rev, "
                "lease_seconds) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (owner) DO UPDATE SET "
                "last_beat = excluded.last_beat, plan_rev = excluded.plan_rev, "
                "lease_seconds = excluded.lease_seconds",
                (owner, host_id, os.getpid(), now, now, plan_rev, int(lease.total_seconds())),
            )

    def gone(self, owner: str) -> None:
        """A daemon that stops cleanly leaves the list."""
        with self._write() as db:
            db.execute("DELETE FROM daemons WHERE owner = ?", (owner,))

    def daemons(self) -> list[DaemonBeat]:
        rows = self.db.execute("SELECT * FROM daemons ORDER BY host_id, owner").fetchall()
        return [
            DaemonBeat(
                r["owner"],
                r["host_id"],
                int(r["pid"]),
                datetime.fromisoformat(r["started_at"]),
                datetime.fromisoformat(r["last_beat"]),
                r["plan_rev"],
                timedelta(seconds=int(r["lease_seconds"])),
            )  # fmt: skip
            for r in rows
        ]

    def newest_plan(self) -> tuple[str, str] | None:
        """The newest queue revision any daemon planned from, and its host: (rev, host_id)."""
        row = self.db.execute("SELECT rev, host_id FROM plans ORDER BY seq DESC LIMIT 1").fetchone()
        return (row["rev"], row["host_id"]) if row else None

    def register_plan(self, rev: str, host_id: str, newer_than: str | None) -> bool:
        """Record `rev` as the newest plan, if the newest is still `newer_than` (which the
        caller checked is an ancestor of `rev`) or `rev` itself. False: another daemon
        registered a newer plan meanwhile (the caller looks again)."""
        with self._write() as db:
            row = db.execute("SELECT rev FROM plans ORDER BY seq DESC LIMIT 1").fetchone()
            newest = row["rev"] if row else None
            if newest == rev:
                return True
            if newest != newer_than:
                return False
            seq = db.execute("SELECT coalesce(max(seq), 0) + 1 AS n FROM plans").fetchone()["n"]
            db.execute(
                "INSERT INTO plans (rev, seq, host_id, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (rev) DO UPDATE SET seq = excluded.seq, host_id = excluded.host_id, "
                "at = excluded.at",
                (rev, seq, host_id, iso_utc(self.clock())),
            )
            self._event(db, host_id, "plan", None, None, f"newest queue revision {rev}")
        return True

    def set_control(self, key: str, value: str | None, actor: str, why: str = "") -> None:
        """Set (or, with None, clear) a control, logging who and why."""
        with self._write() as db:
            _put_control(db, key, value)
            self._event(db, actor, "control", None, None, f"{key}={value}: {why}".rstrip(": "))

    def _event(
        self,
        db: sqlite3.Connection,
        actor: str,
        kind: str,
        post_id: str | None,
        channel: str | None,
        detail: str,
    ) -> None:
        db.execute(
            "INSERT INTO events (at, actor, kind, post_id, channel, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (iso_utc(self.clock()), actor, kind, post_id, channel, detail),
        )

    def event(
        self,
        actor: str,
        kind: str,
        post_id: str | None = None,
        channel: str | None = None,
        detail: str = "",
    ) -> None:
        """Append one event to the log."""
        with self._write() as db:
            self._event(db, actor, kind, post_id, channel, detail)

    def last_event(self, post_id: str, kinds: Sequence[str]) -> Event | None:
        """The newest event of these kinds about a post, or None."""
        marks = ", ".join("?" for _ in kinds)
        row = self.db.execute(
            f"SELECT * FROM events WHERE post_id = ? AND kind IN ({marks}) ORDER BY id DESC "
            "LIMIT 1",
            (post_id, *kinds),
        ).fetchone()
        if row is None:
            return None
        return Event(
            id=row["id"], at=datetime.fromisoformat(row["at"]), actor=row["actor"],
            kind=row["kind"], post_id=row["post_id"], channel=row["channel"],
            detail=row["detail"] or "",
        )  # fmt: skip

    def last_change(self) -> int:
        """The id of the newest event: it grows with every recorded change (a reader that
        caches what it showed compares it; a cheap, indexed read)."""
        return int(self.db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0])

    def events(self, since: datetime | None = None) -> list[Event]:
        rows = self.db.execute(
            "SELECT * FROM events WHERE at >= ? ORDER BY id", (iso_utc(since) or "",)
        ).fetchall()
        return [
            Event(
                id=r["id"],
                at=datetime.fromisoformat(r["at"]),
                actor=r["actor"],
                kind=r["kind"],
                post_id=r["post_id"],
                channel=r["channel"],
                detail=r["detail"],
            )
            for r in rows
        ]
