"""`crosspost ledger ...`: the ledger's schema, and moving it from SQLite to PostgreSQL.

Exit codes: 0 done, 1 refused (the ledger cannot be opened or copied), 2 a configuration
error. Database passwords are only ever `${NAME}` references; no output shows one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from crosspost.cli_options import config_option

EXIT_REFUSED = 1
EXIT_USAGE = 2


def _config(config_path: str):  # type: ignore[no-untyped-def]
    from crosspost.core.problems import ConfigError
    from crosspost.loading.config import load_config

    try:
        return load_config(config_path)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(EXIT_USAGE)


@click.group()
def ledger() -> None:
    """The ledger's schema, and moving it to PostgreSQL when an office needs several servers.

    \b
    Example: crosspost ledger migrate
    """


@ledger.command("migrate")
@config_option
def migrate_command(config_path: str) -> None:
    """Bring the ledger's schema up to this version of crosspost (daemons do it themselves
    when they start; run it first when the database role they use may not change tables).

    \b
    Example: crosspost ledger migrate --config /srv/crosspost/crosspost.yaml
    """
    from crosspost.scheduling.ledger import LedgerError
    from crosspost.scheduling.stores import open_ledger

    config = _config(config_path)
    missing = config.environment_problems()
    for problem in missing:
        click.echo(str(problem), err=True)
    try:
        with open_ledger(config.ledger_spec) as opened:
            version = opened.schema_version
            where = opened.describe()
    except LedgerError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_REFUSED)
    click.echo(f"the ledger {where} is at schema version {version}: up to date")


@ledger.command("copy")
@click.option(
    "--to",
    "target",
    required=True,
    help="The PostgreSQL database: an address whose password, if any, is ${NAME}.",
)
@click.option("--schema", default="", help="The schema in that database (default: public).")
@click.option("--by", required=True, help="Who is copying it, for the event log.")
@config_option
def copy_command(target: str, schema: str, by: str, config_path: str) -> None:
    """Copy the config's SQLite ledger into a new, empty PostgreSQL database, when the
    office grows to several servers. Every daemon must be stopped first. The SQLite file is
    then marked as moved, and refuses to be used; set the config's `state:` to the database.

    \b
    Example: crosspost ledger copy --by "Sam Jones" \\
               --to 'postgresql://crosspost:${CROSSPOST_DB_PASSWORD}@db.internal/crosspost'
    """
    from crosspost.core.problems import Problems
    from crosspost.loading import yamlfile
    from crosspost.loading.fields import Reader
    from crosspost.loading.state import parse_state
    from crosspost.scheduling.ledger import LedgerError
    from crosspost.scheduling.ledger_pg import PostgresLedger, copy_ledger
    from crosspost.scheduling.stores import open_ledger

    config = _config(config_path)
    if config.ledger_spec.is_postgresql:
        click.echo("error: the config's ledger is already on PostgreSQL", err=True)
        sys.exit(EXIT_USAGE)
    problems = Problems()
    given: dict[str, object] = {"postgresql": target}
    if schema:
        given["schema"] = schema
    data = yamlfile.loads(json.dumps({"state": given}), Path("--to"), show_values=False)
    spec = parse_state(Reader(data, problems, "--to"), config.root)
    for problem in problems.errors:
        click.echo(f"error: --to: {problem.message}", err=True)
    if problems.errors:
        sys.exit(EXIT_USAGE)
    env_missing = [var for var, _, _ in spec.env_refs if not spec.password()]
    if env_missing:
        click.echo(f"error: environment variable {env_missing[0]} is not set", err=True)
        sys.exit(EXIT_USAGE)
    try:
        with open_ledger(config.ledger_spec) as source, PostgresLedger(spec) as into:
            copied = copy_ledger(source, into, by.strip())
    except LedgerError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_REFUSED)
    counts = ", ".join(f"{n} {table}" for table, n in copied.items())
    click.echo(f"copied {config.ledger_spec.describe()} to {spec.describe()}: {counts}")
    click.echo(
        "now set the config's state: to that database (docs/server.md), then start the daemons"
    )
