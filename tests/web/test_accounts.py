"""The web app's accounts: roles, Argon2id passwords, throttled sign-in, server-side sessions,
and the `crosspost user` commands; and that no password, hash or token ever leaks."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner, Result

from crosspost.web.accounts import (
    FAILURE_WINDOW,
    MAX_FAILURES,
    AccountError,
    AccountStore,
    Role,
    User,
)
from crosspost.web.user_cli import ROLES, user

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
GOOD = "correct horse battery"
CANARY = "CANARY-pass-1234567"
CONFIG = """\
timezone: Europe/London
state: var/ledger.db
channels:
  x:
    platform: fake
    imitates: x
"""


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class CountingHasher(PasswordHasher):
    """Argon2id with cheap parameters (tests stay fast) that counts the hashes it checks."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.checks = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:  # noqa: A002
        self.checks += 1
        return super().verify(hash, password)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "accounts.db"


@pytest.fixture
def store(db_path: Path, clock: Clock, hasher: CountingHasher) -> Iterator[AccountStore]:
    with AccountStore(db_path, clock, hasher=hasher) as opened:
        yield opened


@contextmanager
def raw(db_path: Path) -> Iterator[sqlite3.Connection]:
    """The accounts file opened behind the store's back, as an attacker or admin would."""
    db = sqlite3.connect(db_path, isolation_level=None)
    try:
        yield db
    finally:
        db.close()


def known(found: User | None) -> User:
    assert found is not None
    return found


def file_bytes(db_path: Path) -> bytes:
    """Every byte SQLite wrote: the file and its WAL (recent writes live there)."""
    return b"".join(p.read_bytes() for p in sorted(db_path.parent.glob(db_path.name + "*")))


# roles


def test_roles_are_ordered_by_power_not_alphabet() -> None:
    assert Role.AUTHOR < Role.APPROVER < Role.ADMIN
    assert sorted([Role.ADMIN, Role.AUTHOR, Role.APPROVER]) == [
        Role.AUTHOR,
        Role.APPROVER,
        Role.ADMIN,
    ]
    assert Role.ADMIN.allows(Role.APPROVER) and Role.ADMIN.allows(Role.AUTHOR)
    assert Role.APPROVER.allows(Role.AUTHOR) and Role.APPROVER.allows(Role.APPROVER)
    assert not Role.AUTHOR.allows(Role.APPROVER)
    assert not Role.APPROVER.allows(Role.ADMIN)
    assert Role("admin") is Role.ADMIN and Role.AUTHOR == "author"


# users


def test_add_and_get_ignore_case(store: AccountStore, clock: Clock) -> None:
    added = store.add("JSmith", Role.APPROVER, GOOD, display="Jo Smith", email="jo@example.org")
    assert added == store.get("jsmith") == store.get("JSMITH")
    assert added.name == "JSmith" and added.role is Role.APPROVER
    assert (added.display, added.email, added.disabled) == ("Jo Smith", "jo@example.org", False)
    assert added.created_at == added.password_changed_at == START
    with pytest.raises(AccountError, match="already a user named 'jsmith'"):
        store.add("jsmith", Role.AUTHOR, GOOD)
    assert store.get("nobody") is None
    store.add("amir", "author", GOOD)
    assert [u.name for u in store.users()] == ["amir", "JSmith"]


@pytest.mark.parametrize(
    "name", ["j", "x" * 41, "jo smith", "jo/smith", "jö", "", "jo\n", "jo@example.org"]
)
def test_bad_names_are_refused_with_the_rule(store: AccountStore, name: str) -> None:
    with pytest.raises(AccountError, match=r"2-40 characters: letters, digits, '\.', '_' and '-'"):
        store.add(name, Role.AUTHOR, GOOD)
    assert store.users() == []


def test_names_of_every_allowed_kind_are_accepted(store: AccountStore) -> None:
    for name in ("jo", "x" * 40, "jo.smith_2-b"):
        assert store.add(name, Role.AUTHOR, GOOD).name == name


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short pass1", "at least 12 characters"),
        ("a" * 20, "one character repeated"),
        ("Jo.Smith-01", "at least 12 characters"),
        ("jo.smith-0001", "must not be the user name"),
        ("JO.SMITH-0001", "must not be the user name"),
    ],
)
def test_weak_passwords_are_refused_with_the_rule(
    store: AccountStore, password: str, rule: str
) -> None:
    with pytest.raises(AccountError, match=rule):
        store.add("jo.smith-0001", Role.AUTHOR, password)
    assert store.get("jo.smith-0001") is None
    store.add("jo.smith-0001", Role.AUTHOR, GOOD)
    with pytest.raises(AccountError, match=rule):
        store.set_password("jo.smith-0001", password)
    assert store.verify("jo.smith-0001", GOOD) is not None


def test_unknown_roles_and_users_are_refused(store: AccountStore) -> None:
    with pytest.raises(AccountError, match="author, approver, admin"):
        store.add("jo", "superuser", GOOD)
    for change in (store.disable, store.enable):
        with pytest.raises(AccountError, match="no user named 'ghost'"):
            change("ghost")
    with pytest.raises(AccountError, match="no user named 'ghost'"):
        store.set_role("ghost", Role.ADMIN)
    with pytest.raises(AccountError, match="no user named 'ghost'"):
        store.set_password("ghost", GOOD)


def test_role_disable_and_enable(store: AccountStore) -> None:
    store.add("jo", Role.AUTHOR, GOOD)
    store.set_role("JO", Role.ADMIN)
    assert known(store.get("jo")).role is Role.ADMIN
    store.disable("jo")
    assert known(store.get("jo")).disabled
    store.enable("Jo")
    assert not known(store.get("jo")).disabled


def test_the_stored_hash_is_argon2id_and_users_never_carry_it(db_path: Path, clock: Clock) -> None:
    with AccountStore(db_path, clock) as store:  # the real parameters
        added = store.add("jo", Role.AUTHOR, CANARY)
    with raw(db_path) as db:
        stored = db.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert CANARY not in stored
    assert CANARY.encode() not in file_bytes(db_path)
    assert "hash" not in " ".join(f.name for f in dataclasses.fields(User))
    assert stored not in repr(added) and stored not in repr(vars(added))


def test_the_file_is_private_in_wal_mode_with_a_schema_version(
    db_path: Path, store: AccountStore
) -> None:
    store.add("jo", Role.AUTHOR, GOOD)
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    wal = db_path.with_name("accounts.db-wal")
    assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    with raw(db_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(1,)]


def test_a_readable_copy_is_made_private_and_reopening_keeps_everything(
    db_path: Path, store: AccountStore, clock: Clock
) -> None:
    store.add("jo", Role.AUTHOR, GOOD)
    store.close()
    db_path.chmod(0o644)
    with AccountStore(db_path, clock) as again:
        assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
        assert again.get("jo") is not None
    with raw(db_path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(1,)]


def test_a_file_from_a_newer_crosspost_is_refused(db_path: Path, store: AccountStore) -> None:
    store.close()
    with raw(db_path) as db:
        db.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(AccountError, match="newer crosspost"):
        AccountStore(db_path)


def test_a_file_that_is_no_database_is_an_account_error(tmp_path: Path) -> None:
    path = tmp_path / "accounts.db"
    path.write_bytes(b"not a database at all, just some bytes" * 100)
    with pytest.raises(AccountError, match="accounts file"):
        AccountStore(path)


# signing in


def test_verify_right_wrong_unknown_and_disabled(store: AccountStore) -> None:
    store.add("jo", Role.APPROVER, GOOD)
    assert store.verify("jo", GOOD) == store.get("jo")
    assert known(store.verify("JO", GOOD)).name == "jo"
    assert store.verify("jo", GOOD + "!") is None
    assert store.verify("jo", "") is None
    assert store.verify("nobody", GOOD) is None
    assert store.verify("not a name!", GOOD) is None
    store.disable("jo")
    assert store.verify("jo", GOOD) is None
    store.enable("jo")
    assert store.verify("jo", GOOD) is not None


def test_unknown_and_disabled_users_cost_a_hash_check_too(
    store: AccountStore, hasher: CountingHasher
) -> None:
    """So that the time a refusal takes does not tell which names are users."""
    store.add("jo", Role.AUTHOR, GOOD)
    store.disable("jo")
    for name, password in [("jo", "wrong password!"), ("nobody", GOOD), ("jo", GOOD)]:
        before = hasher.checks
        assert store.verify(name, password) is None
        assert hasher.checks == before + 1, name


def test_a_hash_with_old_parameters_is_renewed_at_sign_in(
    db_path: Path, store: AccountStore, hasher: CountingHasher
) -> None:
    store.add("jo", Role.AUTHOR, GOOD)
    old = PasswordHasher(time_cost=2, memory_cost=512, parallelism=1).hash(GOOD)
    with raw(db_path) as db:
        db.execute("UPDATE users SET password_hash = ?", (old,))
    assert store.verify("jo", GOOD) is not None
    with raw(db_path) as db:
        renewed = db.execute("SELECT password_hash FROM users").fetchone()[0]
    assert renewed != old and renewed.startswith("$argon2id$")
    assert not hasher.check_needs_rehash(renewed)
    assert store.verify("jo", GOOD) is not None
    assert known(store.get("jo")).password_changed_at == START  # the password itself did not change


def test_sign_in_is_refused_after_ten_failures_until_the_window_passes(
    db_path: Path, store: AccountStore, clock: Clock, hasher: CountingHasher
) -> None:
    store.add("jo", Role.AUTHOR, GOOD)
    assert MAX_FAILURES == 10 and timedelta(minutes=15) == FAILURE_WINDOW
    for i in range(10):
        assert store.verify("jo" if i % 2 else "JO", f"wrong password {i}") is None
        clock.advance(seconds=30)
    checks = hasher.checks
    assert store.verify("jo", GOOD) is None  # the right password, but throttled
    assert hasher.checks == checks  # refused without checking
    with AccountStore(db_path, clock, hasher=hasher) as other:  # kept in the file
        assert other.verify("jo", GOOD) is None
    assert store.verify("someone.else", GOOD) is None  # unknown: not throttled, just wrong
    clock.now = START + FAILURE_WINDOW  # the first failure leaves the window
    assert store.verify("jo", GOOD) is not None


def test_unknown_names_are_throttled_too(store: AccountStore, hasher: CountingHasher) -> None:
    for _ in range(10):
        store.verify("ghost", GOOD)
    checks = hasher.checks
    assert store.verify("ghost", GOOD) is None
    assert hasher.checks == checks


def test_a_success_clears_the_failures(store: AccountStore) -> None:
    store.add("jo", Role.AUTHOR, GOOD)
    for _ in range(9):
        store.verify("jo", "wrong password")
    assert store.verify("jo", GOOD) is not None
    for _ in range(9):
        store.verify("jo", "wrong password")
    assert store.verify("jo", GOOD) is not None  # 18 failures in the window, 9 since success


# sessions


def test_a_session_round_trip(store: AccountStore) -> None:
    store.add("jo", Role.APPROVER, GOOD)
    token, session = store.create_session("JO")
    assert session.user.name == "jo" and session.user.role is Role.APPROVER
    assert session.created_at == START and session.expires_at == START + timedelta(hours=8)
    assert store.session(token) == session
    assert len(token) >= 43 and len(session.csrf) >= 43
    token2, session2 = store.create_session("jo")
    assert token2 != token and session2.csrf != session.csrf
    assert store.session("not-a-token") is None and store.session("") is None
    assert session.csrf not in repr(session) and token not in repr(session)
    assert "csrf" not in repr(session)


def test_the_token_is_stored_only_as_its_sha256(db_path: Path, store: AccountStore) -> None:
    store.add("jo", Role.AUTHOR, GOOD)
    token, session = store.create_session("jo")
    data = file_bytes(db_path)
    assert session.csrf.encode() in data  # the search sees what is stored in clear
    assert hashlib.sha256(token.encode()).hexdigest().encode() in data
    assert token.encode() not in data


def test_sessions_expire_by_the_clock(db_path: Path, store: AccountStore, clock: Clock) -> None:
    store.add("jo", Role.AUTHOR, GOOD)
    token, _ = store.create_session("jo", lifetime=timedelta(hours=1))
    clock.advance(minutes=59)
    assert store.session(token) is not None
    clock.advance(minutes=1)
    assert store.session(token) is None
    with raw(db_path) as db:
        assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0  # deleted
    with pytest.raises(AccountError, match="positive"):
        store.create_session("jo", lifetime=timedelta(0))


def test_expired_sessions_of_others_are_deleted_lazily(
    db_path: Path, store: AccountStore, clock: Clock
) -> None:
    store.add("jo", Role.AUTHOR, GOOD)
    store.create_session("jo", lifetime=timedelta(minutes=5))
    clock.advance(minutes=6)
    store.create_session("jo")
    with raw(db_path) as db:
        assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1


def test_disabling_a_user_ends_their_sessions(db_path: Path, store: AccountStore) -> None:
    store.add("jo", Role.AUTHOR, GOOD)
    token, _ = store.create_session("jo")
    store.disable("jo")
    with raw(db_path) as db:
        assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
    store.enable("jo")
    assert store.session(token) is None
    store.disable("jo")
    with pytest.raises(AccountError, match="disabled"):
        store.create_session("jo")


def test_a_disabled_users_session_is_refused_even_if_left_in_the_file(
    db_path: Path, store: AccountStore
) -> None:
    store.add("jo", Role.AUTHOR, GOOD)
    token, _ = store.create_session("jo")
    with raw(db_path) as db:  # as an older crosspost, or a hand edit, might leave it
        db.execute("UPDATE users SET disabled = 1")
    assert store.session(token) is None


def test_a_password_change_ends_the_users_sessions(db_path: Path, store: AccountStore) -> None:
    store.add("jo", Role.AUTHOR, GOOD)
    store.add("amir", Role.AUTHOR, GOOD)
    token, _ = store.create_session("jo")
    other, _ = store.create_session("amir")
    store.set_password("jo", "a new password 2")
    with raw(db_path) as db:
        assert db.execute("SELECT user_name FROM sessions").fetchall() == [("amir",)]
    assert store.session(token) is None
    assert store.session(other) is not None
    assert store.verify("jo", GOOD) is None and store.verify("jo", "a new password 2")


def test_a_session_older_than_the_password_is_refused(
    db_path: Path, store: AccountStore, clock: Clock
) -> None:
    store.add("jo", Role.AUTHOR, GOOD)
    token, _ = store.create_session("jo")
    later = (START + timedelta(minutes=1)).isoformat(timespec="microseconds")
    with raw(db_path) as db:  # the password changed, the session row survived
        db.execute("UPDATE users SET password_changed_at = ?", (later,))
    clock.advance(minutes=2)
    assert store.session(token) is None


def test_a_removed_users_session_is_refused(db_path: Path, store: AccountStore) -> None:
    store.add("jo", Role.AUTHOR, GOOD)
    token, _ = store.create_session("jo")
    with raw(db_path) as db:  # foreign keys off: the session row stays behind
        db.execute("DELETE FROM users")
        assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    assert store.session(token) is None


def test_end_session_and_end_sessions(store: AccountStore) -> None:
    store.add("jo", Role.AUTHOR, GOOD)
    with pytest.raises(AccountError, match="no user named 'ghost'"):
        store.create_session("ghost")
    first, _ = store.create_session("jo")
    second, _ = store.create_session("jo")
    third, _ = store.create_session("jo")
    store.end_session(first)
    store.end_session("unknown token")
    assert store.session(first) is None and store.session(second) is not None
    assert store.end_sessions("JO") == 2
    assert store.session(second) is None and store.session(third) is None


def test_one_store_serves_many_threads(store: AccountStore) -> None:
    store.add("jo", Role.AUTHOR, GOOD)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(25):
                token, session = store.create_session("jo")
                assert store.session(token) == session
                store.end_session(token)
                assert store.session(token) is None
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


# the command line


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "queue").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "x.j2").write_text("{{ title }}\n")
    path = tmp_path / "crosspost.yaml"
    path.write_text(CONFIG)
    return path


def run(config: Path, *args: str, input: str | None = None) -> Result:  # noqa: A002
    return CliRunner().invoke(user, [*args, "--config", str(config)], input=input)


def accounts_of(config: Path) -> AccountStore:
    return AccountStore(config.parent / "var" / "accounts.db")


@pytest.mark.parametrize("command", [[], ["add"], ["list"], ["disable"], ["enable"],
                                     ["passwd"], ["role"]])  # fmt: skip
def test_every_command_has_one_example_in_its_help(command: list[str]) -> None:
    result = CliRunner().invoke(user, [*command, "--help"])
    assert result.exit_code == 0
    examples = [line for line in result.output.splitlines() if line.strip().startswith("Example:")]
    assert len(examples) == 1
    assert examples[0].strip().startswith(f"Example: crosspost user {' '.join(command)}".strip())


def test_the_cli_offers_exactly_the_roles() -> None:
    assert tuple(r.value for r in sorted(Role)) == ROLES


def test_cli_add_from_stdin_and_list(config: Path) -> None:
    result = run(
        config,
        "add",
        "jsmith",
        "--role",
        "approver",
        "--display",
        "Jo Smith",
        "--email",
        "jo@example.org",
        "--password-stdin",
        input="  spaces kept, newline not  \n",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "added user jsmith (approver)\n"
    with accounts_of(config) as store:
        assert store.verify("jsmith", "  spaces kept, newline not  ") is not None
        assert known(store.get("jsmith")).email == "jo@example.org"
        stored = known(store.get("jsmith"))
    assert (config.parent / "var" / "accounts.db").exists()
    listed = run(config, "list")
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].split() == ["NAME", "ROLE", "DISPLAY", "DISABLED", "CREATED"]
    assert lines[1].split()[:5] == ["jsmith", "approver", "Jo", "Smith", "no"]
    created = stored.created_at.astimezone(ZoneInfo("Europe/London"))  # the config's zone
    assert lines[1].endswith(created.strftime("%Y-%m-%d %H:%M %Z"))
    assert "argon2" not in listed.output and "$" not in listed.output


def test_cli_list_without_users(config: Path) -> None:
    result = run(config, "list")
    assert result.exit_code == 0 and "no users yet" in result.output


def test_cli_add_at_a_hidden_prompt_asks_again_for_a_weak_password(config: Path) -> None:
    typed = "too short\n" + "a long enough one\n" * 2
    result = run(config, "add", "jsmith", "--role", "author", input=typed)
    assert result.exit_code == 0, result.output
    assert "at least 12 characters" in result.output
    assert "too short" not in result.output and "a long enough one" not in result.output
    with accounts_of(config) as store:
        assert known(store.verify("jsmith", "a long enough one")).role is Role.AUTHOR


def test_cli_disable_enable_passwd_and_role(config: Path) -> None:
    assert (
        run(config, "add", "jo", "--role", "author", "--password-stdin", input=GOOD).exit_code == 0
    )
    with accounts_of(config) as store:
        token, _ = store.create_session("jo")

    result = run(config, "disable", "JO")
    assert result.exit_code == 0 and "disabled jo" in result.output
    with accounts_of(config) as store:
        assert known(store.get("jo")).disabled and store.session(token) is None
    assert "yes" in run(config, "list").output.splitlines()[1].split()

    assert run(config, "enable", "jo").exit_code == 0
    with accounts_of(config) as store:
        assert not known(store.get("jo")).disabled
        token, _ = store.create_session("jo")

    result = run(config, "passwd", "jo", "--password-stdin", input="another password\n")
    assert result.exit_code == 0 and "new password set for jo" in result.output
    with accounts_of(config) as store:
        assert store.verify("jo", GOOD) is None
        assert store.verify("jo", "another password") is not None
        assert store.session(token) is None

    typed = "third password!\n" * 2
    assert run(config, "passwd", "jo", input=typed).exit_code == 0
    result = run(config, "role", "jo", "admin")
    assert result.exit_code == 0 and "jo is now admin" in result.output
    with accounts_of(config) as store:
        assert known(store.verify("jo", "third password!")).role is Role.ADMIN


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["disable", "ghost"], None, "no user named 'ghost'"),
        (["enable", "ghost"], None, "no user named 'ghost'"),
        (["role", "ghost", "admin"], None, "no user named 'ghost'"),
        (["passwd", "ghost", "--password-stdin"], GOOD, "no user named 'ghost'"),
        (["add", "jo smith", "--role", "author", "--password-stdin"], GOOD, "2-40 characters"),
        (["add", "jo", "--role", "author", "--password-stdin"], "short\n", "at least 12"),
        (["add", "jo", "--role", "author", "--password-stdin"], "", "no password on stdin"),
        (["add", "taken", "--role", "author", "--password-stdin"], GOOD, "already a user"),
        (["add", "TAKEN", "--role", "author", "--password-stdin"], GOOD, "already a user"),
    ],
)
def test_cli_refusals_are_one_line_and_exit_1(
    config: Path, args: list[str], stdin: str | None, message: str
) -> None:
    assert (
        run(config, "add", "taken", "--role", "admin", "--password-stdin", input=GOOD).exit_code
        == 0
    )
    result = run(config, *args, input=stdin)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.output


def test_cli_configuration_errors_exit_2(tmp_path: Path) -> None:
    result = run(tmp_path / "missing.yaml", "list")
    assert result.exit_code == 2
    assert "config file not found" in result.stderr
    assert not (tmp_path / "var").exists()


def test_cli_reads_the_config_from_the_environment(config: Path) -> None:
    result = CliRunner().invoke(user, ["list"], env={"CROSSPOST_CONFIG": str(config)})
    assert result.exit_code == 0 and "no users yet" in result.output


# the canary: no password or token anywhere it could leak


def test_no_password_or_token_leaks_into_output_errors_or_logs(
    config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    def cli(*args: str, input: str | None = None) -> Result:  # noqa: A002
        result = run(config, *args, input=input)
        seen.append(result.output)
        if result.exception and not isinstance(result.exception, SystemExit):
            seen.append(repr(result.exception))
        return result

    assert cli("add", "jo", "--role", "admin", "--password-stdin", input=CANARY).exit_code == 0
    cli("add", "amir", "--role", "author", input=f"{CANARY}-2\n{CANARY}-2\n")
    cli("add", "sam", "--role", "author", input=f"{CANARY}-a\n{CANARY}-b\n{CANARY}-3\n{CANARY}-3\n")
    cli("passwd", "jo", "--password-stdin", input=CANARY + "-4\n")
    cli("passwd", f"{CANARY}!", "--password-stdin", input=CANARY + "-5\n")
    cli("add", f"{CANARY} x", "--role", "author", "--password-stdin", input=CANARY)
    cli("add", "kim", "--role", "author", "--password-stdin", input=CANARY[:8])
    cli("list")

    with accounts_of(config) as store:
        assert store.verify("jo", CANARY + "-4") is not None
        token, session = store.create_session("jo")
        assert store.session(token) is not None
        seen += [repr(session), str(session), repr(session.user)]
        for attempt in [
            lambda: store.add("kim", Role.AUTHOR, CANARY * 60),
            lambda: store.add("kim", Role.AUTHOR, CANARY[:10]),
            lambda: store.add(f"{CANARY}/", Role.AUTHOR, GOOD),
            lambda: store.set_password(f"{CANARY}?", CANARY),
            lambda: store.create_session(token),
            lambda: store.disable(token),
        ]:
            with pytest.raises(AccountError) as caught:
                attempt()
            seen += [str(caught.value), repr(caught.value)]
        for _ in range(MAX_FAILURES + 1):
            store.verify("jo", CANARY)  # a wrong password, until throttled
            store.verify(CANARY, CANARY)  # a password typed into the name field
            store.verify(token, CANARY)
        store.session(token + "x")
        store.end_session(token)
        assert store.session(token) is None
        store.end_sessions("jo")

    logged = [r.getMessage() for r in caplog.records] + [caplog.text]
    assert any("jo" in message for message in logged)  # the log is there to be searched
    for text in [*seen, *logged]:
        assert CANARY not in text
        assert token not in text
        assert session.csrf not in text
        assert "$argon2" not in text
    # not even the name typed at sign-in, which may be a password in the wrong field
    assert CANARY.lower().encode() not in file_bytes(config.parent / "var" / "accounts.db").lower()
