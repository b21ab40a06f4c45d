"""`crosspost user ...`: the web app's accounts, managed on the server's command line.

The accounts file is `accounts.db` beside the ledger (the config's `state`). Exit codes:
0 done, 1 refused (a bad name, a weak password, no such user), 2 a configuration error.
Passwords are read from a hidden prompt, or as one line from stdin with --password-stdin;
they are never printed, nor are hashes or session tokens.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

import click

from crosspost.cli_options import config_option

if TYPE_CHECKING:
    from crosspost.web.accounts import AccountStore

ROLES = ("author", "approver", "admin")  # the values of accounts.Role, lowest first
EXIT_REFUSED = 1
EXIT_USAGE = 2


_config_option = config_option(
    help="The config file; the accounts are kept beside its ledger. Env: CROSSPOST_CONFIG."
)


def _password_stdin_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password as one line from stdin instead of prompting (for scripts).",
    )(func)


@contextmanager
def _accounts(config_path: str) -> Iterator[tuple[AccountStore, tzinfo]]:
    """The account store of the config's project and its timezone; a configuration error
    exits 2, a refused account operation exits 1, each with its message on stderr."""
    from crosspost.core.problems import ConfigError
    from crosspost.loading.config import load_config
    from crosspost.web.accounts import AccountError, AccountStore

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo("configuration error: no account was changed", err=True)
        sys.exit(EXIT_USAGE)
    try:
        with AccountStore(config.state_path.with_name("accounts.db")) as store:
            yield store, config.timezone
    except AccountError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_REFUSED)


def _read_password(name: str, from_stdin: bool) -> str:
    """A new password for `name`: one line of stdin, or typed twice at a hidden prompt
    (asked again while it breaks a rule, the rule shown)."""
    from crosspost.web.accounts import AccountError, check_password

    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            click.echo("error: --password-stdin: no password on stdin", err=True)
            sys.exit(EXIT_REFUSED)
        return line.removesuffix("\n").removesuffix("\r")

    def checked(value: str) -> str:
        try:
            check_password(name, value)
        except AccountError as exc:
            raise click.UsageError(str(exc)) from None
        return value

    password: str = click.prompt(
        f"Password for {name}",
        hide_input=True,
        confirmation_prompt="Repeat the password",
        value_proc=checked,
    )
    return password


@click.group()
def user() -> None:
    """Manage who can sign in to the web app (crosspost serve), and with which role.

    Roles: an author writes posts, an approver also approves them, an admin also
    manages users. The accounts live in accounts.db beside the ledger.

    \b
    Example: crosspost user add jsmith --role admin --display "Jo Smith"
    """


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
@click.option("--display", help='The name shown in the app, e.g. "Jo Smith".')
@click.option("--email", help="The user's email address, e.g. jo@example.org.")
@_password_stdin_option
@_config_option
def add_command(
    name: str,
    role: str,
    display: str | None,
    email: str | None,
    password_stdin: bool,
    config_path: str,
) -> None:
    """Add a user NAME (2-40 letters, digits, '.', '_' or '-'; case is ignored).

    The password (at least 12 characters) is asked for twice at a hidden prompt.

    \b
    Example: crosspost user add jsmith --role author --display "Jo Smith"
    """
    from crosspost.web.accounts import AccountError, check_name

    with _accounts(config_path) as (store, _zone):
        check_name(name)  # before the password is typed
        if store.get(name) is not None:
            raise AccountError(f"there is already a user named {name!r} (names ignore case)")
        password = _read_password(name, password_stdin)
        added = store.add(name, role, password, display=display, email=email)
    click.echo(f"added user {added.name} ({added.role.value})")


@user.command("list")
@_config_option
def list_command(config_path: str) -> None:
    """List the users: name, role, display name, whether disabled, when created.

    \b
    Example: crosspost user list --config /srv/comms/crosspost.yaml
    """
    with _accounts(config_path) as (store, zone):
        users = store.users()
    if not users:
        click.echo("no users yet; add one with: crosspost user add NAME --role admin")
        return
    rows = [("NAME", "ROLE", "DISPLAY", "DISABLED", "CREATED")]
    for item in users:
        created = item.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        disabled = "yes" if item.disabled else "no"
        rows.append((item.name, item.role.value, item.display or "-", disabled, created))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@user.command("disable")
@click.argument("name")
@_config_option
def disable_command(name: str, config_path: str) -> None:
    """Stop a user signing in, and end their sessions now.

    \b
    Example: crosspost user disable jsmith
    """
    with _accounts(config_path) as (store, _zone):
        store.disable(name)
        found = store.get(name)
    click.echo(f"disabled {found.name if found else name}; their sessions were ended")


@user.command("enable")
@click.argument("name")
@_config_option
def enable_command(name: str, config_path: str) -> None:
    """Let a disabled user sign in again.

    \b
    Example: crosspost user enable jsmith
    """
    with _accounts(config_path) as (store, _zone):
        store.enable(name)
        found = store.get(name)
    click.echo(f"enabled {found.name if found else name}")


@user.command("passwd")
@click.argument("name")
@_password_stdin_option
@_config_option
def passwd_command(name: str, password_stdin: bool, config_path: str) -> None:
    """Set a user's password; their sessions end, so they sign in again.

    \b
    Example: crosspost user passwd jsmith
    """
    from crosspost.web.accounts import AccountError, check_name

    with _accounts(config_path) as (store, _zone):
        found = store.get(check_name(name))
        if found is None:  # before the password is typed
            raise AccountError(f"no user named {name!r}")
        store.set_password(found.name, _read_password(found.name, password_stdin))
    click.echo(f"new password set for {found.name}; their sessions were ended")


@user.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@_config_option
def role_command(name: str, role: str, config_path: str) -> None:
    """Give a user another role: author, approver or admin.

    \b
    Example: crosspost user role jsmith approver
    """
    with _accounts(config_path) as (store, _zone):
        store.set_role(name, role)
        found = store.get(name)
    click.echo(f"{found.name if found else name} is now {role}")
