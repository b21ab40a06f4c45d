"""`state:` for PostgreSQL in the config, `crosspost ledger migrate` and `crosspost ledger
copy` from SQLite to a real PostgreSQL server."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crosspost.cli import main
from crosspost.core.problems import ConfigError
from crosspost.loading.config import load_config
from crosspost.scheduling.ledger import Ledger, LedgerError
from crosspost.scheduling.stores import open_ledger

from .conftest import CONFIG

T0 = datetime(2027, 1, 15, 10, 0, tzinfo=UTC)


def config_with(root: Path, state: str) -> Path:
    path = root / "crosspost.yaml"
    text = CONFIG.format(x_extra="").replace("state: var/ledger.db\n", state)
    path.write_text(text)
    (root / "queue").mkdir(exist_ok=True)
    (root / "templates").mkdir(exist_ok=True)
    return path


def problems_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return "\n".join(str(p) for p in caught.value.problems)


def test_a_postgresql_state_is_read_with_its_password_as_a_reference(tmp_path: Path) -> None:
    path = config_with(
        tmp_path, "state: postgresql://crosspost:${DB_PW}@db.internal:5433/crosspost\n"
    )
    spec = load_config(path).ledger_spec
    assert spec.is_postgresql and spec.password_var == "DB_PW"
    assert spec.describe() == "postgresql://crosspost@db.internal:5433/crosspost"
    assert load_config(path).daemon.lease == timedelta(seconds=60)  # several servers: short
    assert "DB_PW" in str(load_config(path).environment_problems({}))
    assert not load_config(path).environment_problems({"DB_PW": "x"})
    mapping = config_with(
        tmp_path,
        "state:\n  postgresql: postgresql://crosspost@db/crosspost\n"
        "  password: ${DB_PW}\n  schema: office_kent\n  pool: 4\n",
    )
    spec = load_config(mapping).ledger_spec
    assert (spec.schema, spec.pool, spec.password_var) == ("office_kent", 4, "DB_PW")
    assert "schema office_kent" in spec.describe()


@pytest.mark.parametrize(
    ("state", "says"),
    [
        ("state: postgresql://crosspost:hunter2-CANARY@db/crosspost\n", "holds a password"),
        ("state:\n  postgresql: postgresql://u@db/c\n  password: hunter2-CANARY\n",
         "write the database password as ${NAME}"),
        ("state:\n  postgresql: postgresql://u@db/c\n  schema: Office-Kent\n", "lower-case"),
        ("state:\n  postgresql: mysql://u@db/c\n", "must be an address like"),
        ("state:\n  postgresql: postgresql://u@db/c\n  colour: red\n", "colour"),
        ("state: postgresql://u@db/c?sslmode=require&password=hunter2-CANARY\n",
         "holds a secret (password=)"),
    ],
)  # fmt: skip
def test_a_bad_state_is_refused_at_its_line_without_showing_a_password(
    tmp_path: Path, state: str, says: str
) -> None:
    text = problems_of(config_with(tmp_path, state))
    assert says in text and "crosspost.yaml:" in text
    assert "hunter2" not in text


def test_daemon_lease_may_be_short_but_not_zero(tmp_path: Path) -> None:
    path = config_with(tmp_path, "state: var/l.db\n")
    path.write_text(path.read_text().replace("settle_after: 0s", "settle_after: 0s\n  lease: 2s"))
    assert "lease" in problems_of(path)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.postgresql
def test_migrate_reports_the_schema_version_on_both_stores(tmp_path: Path, pg_server: Any) -> None:
    path = config_with(tmp_path, "state: var/l.db\n")
    code, out = run("ledger", "migrate", "--config", str(path))
    assert code == 0 and "schema version 6: up to date" in out and "var/l.db" in out
    spec = pg_server.spec(tmp_path)
    try:
        path = config_with(tmp_path, pg_server.config_state(spec))
        code, out = run("ledger", "migrate", "--config", str(path))
        assert code == 0 and "schema version 6" in out and f"schema {spec.schema}" in out
        assert os.environ["CROSSPOST_TEST_PG_PASSWORD"] not in out
    finally:
        pg_server.drop(spec)


@pytest.mark.postgresql
def test_copy_moves_a_sqlite_ledger_to_postgresql_whole(tmp_path: Path, pg_server: Any) -> None:
    path = config_with(tmp_path, "state: var/l.db\n")
    with Ledger(tmp_path / "var" / "l.db") as source:
        for i in range(3):
            source.ensure(f"p{i}", "x", T0, f"h{i}", f"text {i}")
        claimed = source.claim("p0", "x", "a", timedelta(minutes=5))
        source.mark_published(claimed, remote_id="r0", url="u0", published_at=T0)
        source.set_control("pause:fb", '{"reason": "r", "by": "b"}', "b", "why")
        ledger_id, events = source.ledger_id, source.events()
    spec = pg_server.spec(tmp_path)
    target = f"{spec.dsn}".replace("crosspost@", "crosspost:${CROSSPOST_TEST_PG_PASSWORD}@")
    try:
        code, out = run("ledger", "copy", "--to", target, "--schema", spec.schema,
                        "--by", "Sam", "--config", str(path))  # fmt: skip
        assert code == 0, out
        assert "3 deliveries" in out and f"{len(events)} events" in out
        assert os.environ["CROSSPOST_TEST_PG_PASSWORD"] not in out
        with open_ledger(spec) as copied:
            assert copied.ledger_id == ledger_id
            assert [e.kind for e in copied.events()][:-1] == [e.kind for e in events]
            assert copied.events()[-1].kind == "copied" and copied.events()[-1].actor == "Sam"
            p0 = copied.get("p0", "x")
            assert p0.state == "published" and p0.remote_id == "r0" and p0.fence == 1
            assert copied.controls("pause") == {"pause:fb": '{"reason": "r", "by": "b"}'}
            fresh = copied.ensure("p9", "x", T0, "h9", "new")  # ids go on after the copy
            assert fresh.id == 4
        # the old file refuses to be used again: a daemon left on it cannot publish
        with pytest.raises(LedgerError, match="was copied to postgresql://"):
            Ledger(tmp_path / "var" / "l.db")
        # and a second copy into the same database is refused
        (tmp_path / "other").mkdir()
        other = config_with(tmp_path / "other", "state: var/l.db\n")
        Ledger(tmp_path / "other" / "var" / "l.db").close()
        code, out = run("ledger", "copy", "--to", target, "--schema", spec.schema,
                        "--by", "Sam", "--config", str(other))  # fmt: skip
        assert code == 1 and "already holds deliveries" in out
    finally:
        pg_server.drop(spec)


def test_copy_is_refused_while_a_daemon_runs_or_with_a_written_password(
    tmp_path: Path,
) -> None:
    path = config_with(tmp_path, "state: var/l.db\n")
    code, out = run("ledger", "copy", "--to", "postgresql://u:hunter2@db/c", "--by", "Sam",
                    "--config", str(path))  # fmt: skip
    assert code == 2 and "holds a password" in out and "hunter2" not in out
    with Ledger(tmp_path / "var" / "l.db") as source:
        source.beat("host-a:1:daemon", "host-a", None, timedelta(seconds=60))
        with pytest.raises(LedgerError, match="a daemon is running"):
            from crosspost.scheduling.ledger_pg import copy_ledger

            copy_ledger(source, None, "Sam")  # type: ignore[arg-type]


@pytest.mark.postgresql
def test_doctor_checks_the_shared_ledger(tmp_path: Path, pg_server: Any) -> None:
    spec = pg_server.spec(tmp_path)
    try:
        path = config_with(tmp_path, pg_server.config_state(spec))
        code, out = run("doctor", "--config", str(path))  # a new database: nothing changed
        assert code == 1 and "run `crosspost ledger migrate`, first" in out
        with pg_server.connect() as admin:
            made = admin.execute(
                "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (spec.schema,)
            ).fetchone()[0]
        assert made == 0  # doctor changed nothing in the shared database
        assert run("ledger", "migrate", "--config", str(path))[0] == 0
        code, out = run("doctor", "--config", str(path))
        assert f"ledger {spec.describe()}: schema version 6" in out
        assert "s from the database's" in out and "0 daemon(s) alive" in out
        assert "the queue is not a git checkout" in out and code == 1  # several servers
        os.environ["CROSSPOST_TEST_PG_PASSWORD"], saved = (
            "wrong",
            os.environ["CROSSPOST_TEST_PG_PASSWORD"],
        )
        try:
            from crosspost.scheduling.ledger_pg import close_pool

            close_pool(spec)
            code, out = run("doctor", "--config", str(path))
        finally:
            os.environ["CROSSPOST_TEST_PG_PASSWORD"] = saved
            close_pool(spec)
        assert code == 1 and "✗ ledger" in out and "cannot connect" in out
        assert "wrong" not in out.replace("went wrong", "")
    finally:
        pg_server.drop(spec)


@pytest.mark.postgresql
def test_a_dry_run_and_status_never_change_the_shared_database(
    tmp_path: Path, pg_server: Any
) -> None:
    spec = pg_server.spec(tmp_path)
    try:
        path = config_with(tmp_path, pg_server.config_state(spec))
        (tmp_path / "templates" / "x.j2").write_text("{{ title }}")
        (tmp_path / "templates" / "fb.j2").write_text("{{ title }}")
        (tmp_path / "queue" / "p.yaml").write_text("publish_at: 2027-01-15 10:00\ntitle: Hi\n")
        code, out = run("publish", "p", "--dry-run", "--config", str(path))
        assert code == 0, out
        run("status", "--config", str(path))
        run("preview", "--html", str(tmp_path / "site"), "--config", str(path))
        with pg_server.connect() as admin:
            made = admin.execute(
                "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (spec.schema,)
            ).fetchone()[0]
        assert made == 0
    finally:
        pg_server.drop(spec)
