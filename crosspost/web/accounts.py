"""The web app's accounts: users with roles, Argon2id passwords and server-side sessions.

One SQLite file, `accounts.db` beside the ledger (never in git), readable by its owner only.
Secrets never leave this module in clear: the password hash is read only here, a session
token is stored as its SHA-256, and no log record or exception message holds a password, a
hash or a token. A failed sign-in for a name that is not a user is not logged by name (it
may be a password typed into the wrong field), and the failures kept for throttling are
stored under a keyed hash of the name, not the name.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

log = logging.getLogger(__name__)

NAME = re.compile(r"[A-Za-z0-9._-]{2,40}")
NAME_RULE = "a user name must be 2-40 characters: letters, digits, '.', '_' and '-'"
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # Argon2 takes any length; a megabyte "password" is an attack
MAX_DISPLAY = 100
MAX_EMAIL = 254
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
MAX_FAILURES = 10  # failed sign-ins for one name within FAILURE_WINDOW ...
FAILURE_WINDOW = timedelta(minutes=15)  # ... and sign-in is refused until the window passes
SESSION_LIFETIME = timedelta(hours=8)
SCHEMA_VERSION = 1


class AccountError(Exception):
    """An account operation refused (bad name, weak password, unknown user, unusable file)."""


class Role(StrEnum):
    """What a user may do; each role can do everything the ones below it can."""

    AUTHOR = "author"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what `needed` may (an admin may do what an author may)."""
        return self.rank >= Role(needed).rank

    # ordered by power, not alphabetically as strings would be
    def __lt__(self, other: object) -> bool:
        return self.rank < other.rank if isinstance(other, Role) else NotImplemented

    def __le__(self, other: object) -> bool:
        return self.rank <= other.rank if isinstance(other, Role) else NotImplemented

    def __gt__(self, other: object) -> bool:
        return self.rank > other.rank if isinstance(other, Role) else NotImplemented

    def __ge__(self, other: object) -> bool:
        return self.rank >= other.rank if isinstance(other, Role) else NotImplemented


_RANKS = {Role.AUTHOR: 0, Role.APPROVER: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class User:
    """A user as the app sees one: never the password hash."""

    name: str
    role: Role
    display: str | None
    email: str | None
    disabled: bool
    created_at: datetime
    password_changed_at: datetime


@dataclass(frozen=True)
class Session:
    """A signed-in user's session; `csrf` goes into the session's forms."""

    user: User
    created_at: datetime
    expires_at: datetime
    csrf: str = field(repr=False)


def check_name(name: str) -> str:
    """`name` if it is a valid user name; AccountError saying what is allowed otherwise."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise AccountError(NAME_RULE)
    return name


# NCSC guidance: length, and a deny-list of the passwords tried first; no composition rules.
# The commonest passwords of 12 characters or more (from public breach lists), spaces removed.
_COMMON = frozenset(
    [
        "password1234",
        "123456789012",
        "1234567890123",
        "qwertyuiopas",
        "qwerty123456",
        "password123!",
        "passwordpassword",
        "iloveyou1234",
        "111111111111",
        "000000000000",
        "123123123123",
        "abc123abc123",
        "letmein12345",
        "welcome12345",
        "administrator",
        "adminadmin12",
        "changeme1234",
        "monkey123456",
        "dragon123456",
        "football1234",
        "baseball1234",
        "sunshine1234",
        "princess1234",
        "trustno12345",
        "starwars1234",
        "superman1234",
        "qwertyqwerty",
        "1q2w3e4r5t6y",
        "zaq12wsxcde3",
        "passw0rd1234",
        "p@ssw0rd1234",
        "correcthorsebatterystaple",
        "liverpool123",
        "arsenal12345",
        "chelsea12345",
        "manchester12",
        "kentpolice12",
        "kentpolice123",
        "crosspost123",
        "crosspost1234",
    ]
)


def check_password(name: str, password: str) -> None:
    """AccountError explaining the rule `password` breaks (never quoting it)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AccountError(f"a password must be at least {MIN_PASSWORD} characters long")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password must be at most {MAX_PASSWORD} characters long")
    if len(set(password)) == 1:
        raise AccountError("a password must not be one character repeated")
    if password.strip().casefold() == name.casefold():
        raise AccountError("a password must not be the user name")
    folded = "".join(password.casefold().split())
    if folded in _COMMON or any(folded == word * (len(folded) // len(word)) for word in _COMMON):
        raise AccountError(
            "that password is on the list of the most common ones, which are tried first: "
            "choose another (three random words make a good one)"
        )


def check_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AccountError(f"a role must be one of: {', '.join(r.value for r in Role)}") from None


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    """A UTC time as fixed-width ISO text, so SQL compares stamps in time order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _unknown(name: str) -> AccountError:
    if isinstance(name, str) and NAME.fullmatch(name):
        return AccountError(f"no user named {name!r}")
    return AccountError(f"no such user ({NAME_RULE})")


def _clean(value: str | None, what: str, limit: int) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > limit or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise AccountError(f"{what} must be at most {limit} characters, with no control characters")
    return value


MIGRATIONS: list[list[str]] = [
    [  # 1: users, sessions and the failed sign-ins that throttle
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE users (
            name TEXT PRIMARY KEY COLLATE NOCASE,
            role TEXT NOT NULL,
            display TEXT,
            email TEXT,
            password_hash TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            password_changed_at TEXT NOT NULL
        )""",
        """CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            user_name TEXT NOT NULL COLLATE NOCASE
                REFERENCES users (name) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            csrf TEXT NOT NULL
        )""",
        "CREATE INDEX sessions_by_user ON sessions (user_name)",
        "CREATE TABLE failures (who TEXT NOT NULL, at TEXT NOT NULL)",
        "CREATE INDEX failures_by_who ON failures (who, at)",
    ],
]


class AccountStore:
    """The accounts file. Safe to share between threads (one connection behind a lock);
    other processes (the `crosspost user` commands) may use the file at the same time."""

    def __init__(
        self,
        path: Path | str,
        clock: Callable[[], datetime] = _utc_now,
        *,
        hasher: PasswordHasher | None = None,
    ):
        """`hasher`: Argon2id with argon2-cffi's current defaults unless given (tests pass a
        cheaper one); a stored hash made with other parameters is renewed at sign-in."""
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.RLock()
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None
        self._prepare_file()
        deadline = time.monotonic() + 30
        while True:  # two processes creating the file at once can meet a lock at once
            db: sqlite3.Connection | None = None
            try:
                db = sqlite3.connect(
                    str(self.path), timeout=30, isolation_level=None, check_same_thread=False
                )
                db.row_factory = sqlite3.Row
                db.execute("PRAGMA busy_timeout=30000")
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
                db.execute("PRAGMA foreign_keys=ON")
                self._db = db
                self._migrate()
                break
            except sqlite3.OperationalError as exc:
                if db is not None:
                    db.close()
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() > deadline:
                    raise AccountError(
                        f"cannot open the accounts file {self.path}: {exc}"
                    ) from None
                time.sleep(0.05)
            except sqlite3.DatabaseError as exc:
                if db is not None:
                    db.close()
                raise AccountError(f"cannot open the accounts file {self.path}: {exc}") from None
        with self._read() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'throttle_key'").fetchone()
        self._throttle_key = bytes.fromhex(row["value"])

    def _prepare_file(self) -> None:
        """The folder, and the file readable and writable by its owner only (0600); SQLite
        gives its -wal and -shm files the same mode."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if os.fstat(fd).st_mode & 0o077:  # an older or restored copy: tighten it
                    with contextlib.suppress(OSError):  # not ours to change: leave it be
                        os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
        except OSError as exc:
            raise AccountError(
                f"cannot create the accounts file {self.path}: {exc.strerror}"
            ) from None

    def _migrate(self) -> None:
        with self._write() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT max(version) AS v FROM schema_version").fetchone()
            version = row["v"] or 0
            if version > len(MIGRATIONS):
                raise AccountError(
                    f"the accounts file {self.path} was made by a newer crosspost "
                    f"(schema {version}; this one knows {len(MIGRATIONS)})"
                )
            for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in statements:
                    db.execute(statement)
                if number == 1:
                    db.execute(
                        "INSERT INTO meta VALUES ('throttle_key', ?)", (secrets.token_hex(32),)
                    )
                db.execute("DELETE FROM schema_version")
                db.execute("INSERT INTO schema_version VALUES (?)", (number,))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> AccountStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.DatabaseError as exc:
                raise self._unusable(exc) from None

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction, under the lock; a database error is an AccountError."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise self._unusable(exc) from None
            try:
                yield self._db
            except sqlite3.DatabaseError as exc:
                self._rollback()
                raise self._unusable(exc) from None
            except BaseException:
                self._rollback()
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                self._rollback()
                raise self._unusable(exc) from None

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("ROLLBACK")

    def _unusable(self, exc: sqlite3.DatabaseError) -> AccountError:
        # SQLite's messages never hold bound values, so no secret can reach this text
        return AccountError(f"the accounts file {self.path} cannot be used: {exc}")

    def _now(self) -> datetime:
        moment = self.clock()
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    # users

    @staticmethod
    def _user(row: sqlite3.Row) -> User:
        return User(
            name=row["name"],
            role=Role(row["role"]),
            display=row["display"],
            email=row["email"],
            disabled=bool(row["disabled"]),
            created_at=datetime.fromisoformat(row["created_at"]),
            password_changed_at=datetime.fromisoformat(row["password_changed_at"]),
        )

    _USER_COLUMNS = "name, role, display, email, disabled, created_at, password_changed_at"

    def add(
        self,
        name: str,
        role: Role | str,
        password: str,
        display: str | None = None,
        email: str | None = None,
    ) -> User:
        """A new user; AccountError for a bad or taken name, a weak password, a bad role."""
        check_name(name)
        role = check_role(role)
        display = _clean(display, "a display name", MAX_DISPLAY)
        email = _clean(email, "an email address", MAX_EMAIL)
        if email is not None and not EMAIL.fullmatch(email):
            raise AccountError("an email address must look like jo@example.org")
        check_password(name, password)
        if self.get(name) is not None:  # before the slow hash; the insert checks again
            raise AccountError(f"there is already a user named {name!r} (names ignore case)")
        password_hash = self._hasher.hash(password)
        now = _stamp(self._now())
        try:
            with self._write() as db:
                db.execute(
                    "INSERT INTO users (name, role, display, email, password_hash, disabled, "
                    "created_at, password_changed_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                    (name, role.value, display, email, password_hash, now, now),
                )
        except AccountError:
            if self.get(name) is not None:
                raise AccountError(
                    f"there is already a user named {name!r} (names ignore case)"
                ) from None
            raise
        log.info("user %s added (%s)", name, role.value)
        user = self.get(name)
        assert user is not None
        return user

    EXTERNAL = "!external"  # the password hash of an account that signs in elsewhere: none

    def external_user(self, email: str, role: Role | str, display: str | None = None) -> User:
        """The account of someone signed in by the office's provider (OpenID Connect), found by
        e-mail address, with the role and display name the provider gives now; created on the
        first sign-in, named after the address's local part (with a short hash of the address
        when that name is taken). It has no password: it cannot sign in with one."""
        role = check_role(role)
        email = _clean(email, "an email address", MAX_EMAIL) or ""
        if not EMAIL.fullmatch(email):
            raise AccountError("an email address must look like jo@example.org")
        email = email.lower()
        display = _clean(display, "a display name", MAX_DISPLAY)
        with self._write() as db:
            local_account = db.execute(
                "SELECT 1 FROM users WHERE email = ? COLLATE NOCASE AND password_hash != ?",
                (email, self.EXTERNAL),
            ).fetchone()
            if local_account is not None:  # one person, one account: never a second one
                raise AccountError(
                    "this address already has an account with a password here: sign in with "
                    "that, or ask an admin to remove it first"
                )
            row = db.execute(
                "SELECT name, role, display FROM users WHERE email = ? COLLATE NOCASE "
                "AND password_hash = ? ORDER BY created_at LIMIT 1",
                (email, self.EXTERNAL),
            ).fetchone()
            if row is not None:
                name = str(row["name"])
                if row["role"] != role.value or (display and row["display"] != display):
                    db.execute(
                        "UPDATE users SET role = ?, display = coalesce(?, display) WHERE name = ?",
                        (role.value, display, name),
                    )
                    log.info("user %s is now %s (from the sign-in provider)", name, role.value)
            else:
                local = re.sub(r"[^A-Za-z0-9._-]", "-", email.split("@", 1)[0])[:30].strip(".-")
                tag = hashlib.sha256(email.encode()).hexdigest()[:6]
                name = local if len(local) >= 2 else f"user-{tag}"
                taken = db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone()
                if taken:
                    name = f"{local[:30]}-{tag}" if len(local) >= 2 else f"user-{tag}-{email[:4]}"
                    name = check_name(re.sub(r"[^A-Za-z0-9._-]", "-", name))
                now = _stamp(self._now())
                db.execute(
                    "INSERT INTO users (name, role, display, email, password_hash, disabled, "
                    "created_at, password_changed_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                    (name, role.value, display, email, self.EXTERNAL, now, now),
                )
                log.info("user %s added (%s, from the sign-in provider)", name, role.value)
        user = self.get(name)
        assert user is not None
        return user

    def get(self, name: str) -> User | None:
        """The user called `name` (in any case), None if there is none."""
        if not isinstance(name, str) or not NAME.fullmatch(name):
            return None
        with self._read() as db:
            row = db.execute(
                f"SELECT {self._USER_COLUMNS} FROM users WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else self._user(row)

    def users(self) -> list[User]:
        with self._read() as db:
            rows = db.execute(f"SELECT {self._USER_COLUMNS} FROM users ORDER BY name").fetchall()
        return [self._user(row) for row in rows]

    def _update(
        self, name: str, sql: str, values: tuple[object, ...], end_sessions: bool = False
    ) -> str:
        """`UPDATE users SET <sql>` for the user `name` (ending their sessions if asked); the
        name as stored, or AccountError if there is no such user."""
        if self.get(name) is None:
            raise _unknown(name)
        with self._write() as db:
            row = db.execute("SELECT name FROM users WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise _unknown(name)
            db.execute(f"UPDATE users SET {sql} WHERE name = ?", (*values, name))
            if end_sessions:
                db.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
        return str(row["name"])

    def disable(self, name: str) -> None:
        """The user can no longer sign in; their sessions end."""
        stored = self._update(name, "disabled = 1", (), end_sessions=True)
        log.info("user %s disabled; their sessions were ended", stored)

    def enable(self, name: str) -> None:
        stored = self._update(name, "disabled = 0", ())
        log.info("user %s enabled", stored)

    def set_role(self, name: str, role: Role | str) -> None:
        role = check_role(role)
        stored = self._update(name, "role = ?", (role.value,))
        log.info("user %s is now %s", stored, role.value)

    def set_password(self, name: str, password: str) -> None:
        """A new password; every session of the user ends."""
        user = self.get(name)
        if user is None:
            raise _unknown(name)
        check_password(user.name, password)
        password_hash = self._hasher.hash(password)
        now = _stamp(self._now())
        stored = self._update(
            name,
            "password_hash = ?, password_changed_at = ?",
            (password_hash, now),
            end_sessions=True,
        )
        log.info("user %s has a new password; their sessions were ended", stored)

    # signing in

    def _dummy_hash(self) -> str:
        """A hash of a random secret, checked for unknown users so that they take as long."""
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(32))
        return self._dummy

    def _who(self, name: str) -> str:
        """The key failures are kept under: the name (in any case) hashed with a secret."""
        return hmac.new(
            self._throttle_key, name.casefold().encode("utf-8", "surrogatepass"), "sha256"
        ).hexdigest()

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def verify(self, name: str, password: str) -> User | None:
        """The user, if `password` is theirs and they are enabled; None otherwise (unknown,
        wrong, disabled, or throttled after MAX_FAILURES failures within FAILURE_WINDOW)."""
        if not isinstance(name, str) or not isinstance(password, str):
            return None
        known = bool(NAME.fullmatch(name))
        who = self._who(name)
        now = self._now()
        with self._write() as db:
            db.execute("DELETE FROM failures WHERE at <= ?", (_stamp(now - FAILURE_WINDOW),))
            failures = db.execute(
                "SELECT count(*) AS n FROM failures WHERE who = ?", (who,)
            ).fetchone()["n"]
            row = None
            if known:
                row = db.execute(
                    "SELECT password_hash, disabled FROM users WHERE name = ?", (name,)
                ).fetchone()
        if failures >= MAX_FAILURES:
            if row is not None:
                log.warning(
                    "sign-in as %s refused: %d failures within %d minutes",
                    name,
                    failures,
                    FAILURE_WINDOW // timedelta(minutes=1),
                )
            else:
                log.warning("sign-in refused: too many failures for a name that is no user")
            return None
        stored_hash = row["password_hash"] if row is not None else self._dummy_hash()
        right = self._check(stored_hash, password)  # outside the lock: it is slow
        if row is None or not right or row["disabled"]:
            with self._write() as db:
                db.execute("INSERT INTO failures VALUES (?, ?)", (who, _stamp(now)))
            if row is None:
                log.info("failed sign-in for a name that is no user")
            elif row["disabled"]:
                log.info("failed sign-in as %s: the user is disabled", name)
            else:
                log.info("failed sign-in as %s: wrong password", name)
            return None
        with self._write() as db:
            db.execute("DELETE FROM failures WHERE who = ?", (who,))
        if self._hasher.check_needs_rehash(stored_hash):
            new_hash = self._hasher.hash(password)
            with self._write() as db:  # unless the password changed meanwhile
                db.execute(
                    "UPDATE users SET password_hash = ? WHERE name = ? AND password_hash = ?",
                    (new_hash, name, stored_hash),
                )
            log.info("password hash of %s renewed with the current Argon2 parameters", name)
        return self.get(name)

    # sessions

    def create_session(
        self, user_name: str, lifetime: timedelta = SESSION_LIFETIME
    ) -> tuple[str, Session]:
        """A new session for an enabled user: (the token for the cookie, the session). Only
        the token's SHA-256 is stored."""
        if lifetime <= timedelta(0):
            raise AccountError("a session's lifetime must be positive")
        user = self.get(user_name)
        if user is None:
            raise _unknown(user_name)
        if user.disabled:
            raise AccountError(f"user {user.name!r} is disabled")
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self._now()
        expires = now + lifetime
        with self._write() as db:
            db.execute("DELETE FROM sessions WHERE expires_at <= ?", (_stamp(now),))
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                (_token_hash(token), user.name, _stamp(now), _stamp(expires), csrf),
            )
        log.info("session started for %s", user.name)
        session = Session(
            user=user,
            created_at=datetime.fromisoformat(_stamp(now)),
            expires_at=datetime.fromisoformat(_stamp(expires)),
            csrf=csrf,
        )
        return token, session

    def session(self, token: str) -> Session | None:
        """The live session of `token`; None when unknown or expired, when its user is
        disabled or gone, or when their password changed after it began."""
        if not isinstance(token, str) or not token:
            return None
        key = _token_hash(token)
        with self._read() as db:
            row = db.execute(
                "SELECT s.created_at AS s_created, s.expires_at, s.csrf, "
                "u.name, u.role, u.display, u.email, u.disabled, u.created_at, "
                "u.password_changed_at FROM sessions s LEFT JOIN users u ON u.name = s.user_name "
                "WHERE s.token_hash = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        now = self._now()
        created = datetime.fromisoformat(row["s_created"])
        expires = datetime.fromisoformat(row["expires_at"])
        dead = (
            expires <= now
            or row["name"] is None
            or bool(row["disabled"])
            or datetime.fromisoformat(row["password_changed_at"]) > created
        )
        if dead:
            with self._write() as db:
                db.execute("DELETE FROM sessions WHERE token_hash = ?", (key,))
            return None
        return Session(
            user=self._user(row), created_at=created, expires_at=expires, csrf=row["csrf"]
        )

    def end_session(self, token: str) -> None:
        """Sign out: the token no longer opens a session (an unknown token is no error)."""
        if not isinstance(token, str):
            return
        with self._write() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))

    def end_sessions(self, user_name: str) -> int:
        """End every session of a user; how many there were."""
        with self._write() as db:
            ended = db.execute("DELETE FROM sessions WHERE user_name = ?", (user_name,)).rowcount
        if ended:
            log.info("%d session(s) of %s ended", ended, user_name)
        return int(ended)
