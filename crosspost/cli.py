"""The command line. Each command is a few lines calling the library; heavy imports stay lazy.

Exit codes: 0 success, 1 the work failed (validation found errors, a publish failed),
2 usage or configuration error.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from crosspost import __version__
from crosspost.cli_options import config_option

EXIT_FAILED = 1
EXIT_USAGE = 2


def format_option(*choices: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Readable text, or machine-readable output for scripts.",
    )


def config_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn an unusable config or ledger into its problems on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from crosspost.core.problems import ConfigError
        from crosspost.scheduling.ledger import LedgerError

        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            click.echo("configuration error: nothing was checked or published", err=True)
            sys.exit(EXIT_USAGE)
        except LedgerError as exc:  # damaged, read-only, not SQLite, another ledger ...
            click.echo(f"ledger error: {exc}", err=True)
            sys.exit(EXIT_USAGE)

    return wrapper


def _who_acts(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """--by, else $USER (or $LOGNAME); else ask on a terminal; else refuse. A control is
    never recorded without a name."""
    who = " ".join((value or "").split())
    if not who:
        who = " ".join((os.environ.get("USER") or os.environ.get("LOGNAME") or "").split())
    if not who and sys.stdin.isatty():
        who = " ".join(click.prompt("Your name, for the record").split())
    if not who:
        raise click.BadParameter(
            'say who is acting: every control is recorded with a name. Give --by "Your '
            'Name" (or set $USER)',
            param_hint="--by",
        )
    return who


def by_option(
    help: str = "Who is doing this, for the event log.",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--by", default=None, callback=_who_acts, show_default="$USER", metavar="NAME", help=help
    )


def now_from_env() -> datetime | None:
    """CROSSPOST_NOW=2026-12-01T09:00+00:00 checks the queue as if it were that moment."""
    value = os.environ.get("CROSSPOST_NOW")
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.UsageError(f"CROSSPOST_NOW={value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise click.UsageError("CROSSPOST_NOW needs a UTC offset, e.g. 2026-12-01T09:00+00:00")
    return moment


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="crosspost")
def main() -> None:
    """Queue social media posts as YAML files, preview exactly what each channel will
    receive, and publish them on time, exactly once.

    Posts live in the queue folder (one YAML file each), each channel has a Jinja2
    template, and the config file says which accounts exist. Start with
    `crosspost validate`, then `crosspost preview`.

    Exit codes: 0 success, 1 the work failed (problems found, a publish failed),
    2 usage or configuration error.
    """


@main.command()
@config_option
@format_option("text", "json")
@click.option(
    "--require-credentials",
    is_flag=True,
    help="Treat unset ${ENV_VAR} credentials as errors (use on the server).",
)
@config_errors
def validate(config_path: str, output_format: str, require_credentials: bool) -> None:
    """Check config, queue and templates; print every problem as file:line:column.

    Renders every post for every channel and applies each platform's rules
    (lengths, images, alt text, quotas). Credentials are only checked for being
    set in the environment; `crosspost doctor` checks them online. Exits 1 if
    any error was found; warnings alone do not fail.

    Example: crosspost validate --config crosspost.yaml --require-credentials
    """
    import json

    from crosspost.checking.project import validate as run_validate
    from crosspost.views import text as output

    project = run_validate(config_path, now=now_from_env(), require_credentials=require_credentials)
    problems = project.problems.sorted()
    if output_format == "json":
        click.echo(
            json.dumps(
                {
                    "ok": not project.problems.errors,
                    "posts": len(project.posts),
                    "deliveries": len(project.rendered),
                    "problems": [p.as_dict() for p in problems],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        if problems:
            click.echo(output.problems_text(problems))
        click.echo(("FAILED: " if project.problems.errors else "OK: ") + output.summary(project))
    if project.problems.errors:
        sys.exit(EXIT_FAILED)


@main.command()
@click.argument("post_ids", nargs=-1, metavar="[POST_ID]...")
@click.option(
    "--channel", "channels", multiple=True, metavar="CH", help="Only this channel (repeatable)."
)
@config_option
@format_option("text", "json")
@click.option(
    "--html",
    "html_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Also write a static HTML preview (calendar, a page per post) into DIR: it works "
    "opened from disk, e.g. sent to a reviewer.",
)
@config_errors
def preview(
    post_ids: tuple[str, ...],
    channels: tuple[str, ...],
    config_path: str,
    output_format: str,
    html_dir: Path | None,
) -> None:
    """Show exactly what each channel will receive, with lengths, problems and warnings.

    Without POST_IDs, previews the whole queue. Needs no credentials and touches
    no account. `--format json` prints one JSON array, one element per (post,
    channel) pair. Exits 1 if anything shown has a problem that would stop it
    being published.

    Example: crosspost preview 2026-12-01-safer-streets-funding --channel PCCKent --html preview/
    """
    from crosspost.checking.project import load_project, render_all
    from crosspost.views import text as output

    project = load_project(config_path, now=now_from_env())
    for post_id in post_ids:
        _find_post(project, post_id)
    _select_channels(project, list(project.config.channels), channels)
    rendered = render_all(project, post_ids or None, channels or None)
    if html_dir is not None:
        from crosspost.scheduling.stores import open_ledger
        from crosspost.views.html import write_site

        spec = project.config.ledger_spec
        ledger = open_ledger(spec, migrate=False) if spec.exists() else None
        try:
            index = write_site(project, html_dir, ledger=ledger, now=project.now)
        finally:
            if ledger is not None:
                ledger.close()
        click.echo(f"HTML preview: {index}", err=True)
    if output_format == "json":
        click.echo(output.preview_json(rendered))
    else:
        click.echo(output.preview_text(project, rendered))
        if post_ids:
            _approval_hashes(project, post_ids)
        if project.problems.errors and not post_ids:
            click.echo("\nProblems that stop publication:", err=True)
            click.echo(output.problems_text(project.problems.errors), err=True)
    # previewing chosen posts fails only on their problems; the whole queue, on any
    if any(r.problems for r in rendered) or (not post_ids and project.problems.errors):
        sys.exit(EXIT_FAILED)


@main.command()
@click.argument("post_id")
@click.option(
    "--channel", "channels", multiple=True, metavar="CH", help="Only this channel (repeatable)."
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show what would be published, through a fake of each platform; touch no account "
    "and not the ledger.",
)
@config_option
@config_errors
def publish(post_id: str, channels: tuple[str, ...], dry_run: bool, config_path: str) -> None:
    """Publish one post now, on every channel it names (or only --channel ones).

    Goes through the ledger: each delivery is claimed before the platform is called and
    recorded after, so running this twice publishes nothing the second time (it says so).
    A send whose outcome is unknown is marked in doubt and never resent blindly. Exits 1 if
    any channel failed.

    Example: crosspost publish 2026-12-01-safer-streets-funding --channel PCCKent --dry-run
    """
    import tempfile

    from crosspost import actions
    from crosspost.checking.project import load_project

    project = load_project(config_path, now=now_from_env())
    post = _find_post(project, post_id)
    selected = _select_channels(project, post.channels, channels)
    with tempfile.TemporaryDirectory(prefix="crosspost-dry-") as scratch:
        try:
            done = actions.publish_now(
                project, post, selected, dry_run=dry_run, scratch=Path(scratch)
            )
        except actions.ActionRefused as exc:
            raise click.ClickException(str(exc)) from None
    for one in done:
        if one.preview is not None:
            label, _, text = one.preview.partition("\n")
            click.echo(f"would publish to {one.channel} ({label}):")
            click.echo("  " + text.replace("\n", "\n  "))
        click.echo(f"{'✓' if one.ok else '✗'} {one.channel}: {one.message}", err=not one.ok)
    if not all(one.ok for one in done):
        sys.exit(EXIT_FAILED)


@main.command()
@click.option(
    "--by",
    metavar="NAME",
    help="Who is checking (default $USER): a channel hold is lifted, with this name on "
    "record, only when one is known.",
)
@config_option
@config_errors
def doctor(by: str | None, config_path: str) -> None:
    """Check every channel's credentials, permissions and quota online.

    Says what is wrong in words a comms officer can act on, and warns when a token expires
    within 14 days or a platform API version the config names stops working within 90.
    Publishes nothing. Exits 1 if any channel cannot publish.

    Example: crosspost doctor --config crosspost.yaml
    """
    from crosspost.actions import check_channels, check_ledger
    from crosspost.loading.config import load_config

    config = load_config(config_path)
    ledger = check_ledger(config)
    click.echo(f"{'✓' if ledger.ok else '✗'} ledger {ledger.where}" + (
        f": {', '.join(ledger.notes)}" if ledger.notes else ""))  # fmt: skip
    for problem in ledger.problems:
        click.echo(f"    ✗ {problem}")
    bad = not ledger.ok
    who = " ".join((by or os.environ.get("USER") or os.environ.get("LOGNAME") or "").split())
    for check in check_channels(config, by=who or None):
        report = check.report
        head = f"{'✓' if report.ok else '✗'} {check.key} ({check.label})"
        click.echo(head + (f": signed in as {report.account}" if report.account else ""))
        if report.expires_at:
            click.echo(f"    token expires {report.expires_at:%Y-%m-%d %H:%M} UTC")
        if report.quota:
            click.echo(f"    quota: {report.quota}")
        for problem in report.problems:
            click.echo(f"    ✗ {problem}")
        for warning in report.warnings:
            click.echo(f"    ! {warning}")
        if check.released is not None:
            click.echo(f"    ✓ channel hold lifted: {check.released} deliveries back in the queue")
        elif check.hold_kept:
            click.echo("    ! its hold stays: run crosspost doctor --by NAME to lift it on record")
        bad = bad or not report.ok
    if bad:
        sys.exit(EXIT_FAILED)


@main.command()
@format_option("text", "json")
@config_option
@config_errors
def status(output_format: str, config_path: str) -> None:
    """Upcoming, held, failed and in-doubt deliveries, and held or paused channels.

    Problems come first, each with what to do next. Reads the ledger; changes nothing.
    Before any daemon has run (or after only dry runs), shows what the queue holds.

    Example: crosspost status --format json
    """
    import json

    from crosspost.loading.config import load_config
    from crosspost.scheduling.stores import open_ledger
    from crosspost.views.reports import format_status_text, status_report

    config = load_config(config_path)
    with open_ledger(config.ledger_spec, migrate=False) as ledger:
        report = status_report(ledger, config, ledger.clock())
        if not any(report["counts"].values()):  # nothing planned yet: what the queue holds
            from crosspost.scheduling.gate import Controls
            from crosspost.scheduling.planner import make_plan
            from crosspost.views.reports import queued

            plan = make_plan(config_path, now=now_from_env())
            report.update(queued(plan, Controls.read(ledger), ledger.clock()))
            report["needs_attention"] |= bool(report["queued_held"] or report["broken_files"])
    if output_format == "json":
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        click.echo(format_status_text(report, config.timezone))


@main.command()
@click.option(
    "--since",
    metavar="DATE",
    help="From this local date or time, or a span such as 7d or 24h back from now.",
)
@format_option("text", "json", "csv")
@config_option
@config_errors
def history(since: str | None, output_format: str, config_path: str) -> None:
    """What was published, where and when: remote ids, URLs and the exact text.

    Example: crosspost history --since 7d --format csv
    """  # fmt: skip
    from crosspost.loading.config import load_config
    from crosspost.scheduling.stores import open_ledger
    from crosspost.views.reports import format_history, history_rows

    config = load_config(config_path)
    start = _since(since, config)
    with open_ledger(config.ledger_spec, migrate=False) as ledger:
        rows = history_rows(ledger, config, since=start)
    click.echo(format_history(rows, output_format, config.timezone))


@main.command()
@click.option("--port", default=8000, show_default=True, help="The port to listen on.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="The address to listen on; only this machine by default (put a TLS reverse proxy "
    "in front for the office: docs/server.md).",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Also answer requests for this host name (the name the reverse proxy passes on).",
)
@click.option(
    "--secure-cookies",
    is_flag=True,
    help="Mark the sign-in cookie Secure: always, behind an HTTPS reverse proxy.",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Try it out: serve a scratch copy of the project (nothing real is written) with a "
    "demo account whose password is printed.",
)
@config_option
@config_errors
def serve(
    port: int,
    host: str,
    allow_hosts: tuple[str, ...],
    secure_cookies: bool,
    demo: bool,
    config_path: str,
) -> None:
    """The web app: sign in, see the calendar and the posts, write and edit posts with a
    live mock-up of every channel, and save them to the queue (a commit, where it is in git).

    Every page needs a signed-in user (`crosspost user add`). Listens on localhost unless
    --host says otherwise, and answers only requests addressed to it by name. Ctrl-C stops it.

    Example: crosspost serve --port 8000 --allow-host crosspost.pcc-kent.internal --secure-cookies
    """  # fmt: skip
    from crosspost.web.server import run_server

    run_server(
        config_path, host=host, port=port, allowed_hosts=list(allow_hosts),
        secure_cookies=secure_cookies, demo=demo, echo=click.echo,
    )  # fmt: skip


@main.command()
@click.argument("post_id")
@click.option("--by", required=True, help="The approver's name, as it should stand on record.")
@click.option(
    "--hash",
    "pinned",
    metavar="H",
    help="The approval hash `crosspost preview` showed you: refused if the post has changed "
    "since (so you approve exactly what you read).",
)
@config_option
@config_errors
def approve(post_id: str, by: str, pinned: str | None, config_path: str) -> None:
    """Approve a post exactly as it will be published on every channel.

    Records the approver, the time and a hash of what every channel will receive (texts,
    link, comment, images, alt text) in approvals.yaml beside the config: commit it with the
    queue. Any later edit makes the approval stale, and with require_approval the post is
    then held until approved again. `crosspost preview POST_ID` shows the hash to pin.

    Example: crosspost approve 2026-12-01-safer-streets-funding --by "Jo Smith" --hash sha256:10c5
    """  # fmt: skip
    from crosspost import actions
    from crosspost.checking.project import load_project
    from crosspost.scheduling.controls import visible_name
    from crosspost.scheduling.stores import open_ledger

    if not visible_name(by):
        raise click.BadParameter("give the approver's name", param_hint="--by")
    project = load_project(config_path, now=now_from_env())
    post = _find_post(project, post_id)
    config = project.config
    by = _approver_on_the_server(config, by, post)
    # opened first: nothing is saved if it cannot be
    with open_ledger(config.ledger_spec, migrate=False) as ledger:
        done = _act(actions.approve, ledger, project, post, by=by, pinned=pinned)
    assert config.approvals_path is not None
    click.echo(f"✓ {post_id} approved by {done.by} for {', '.join(done.channels)} "
               f"({done.digest[:19]}…)")  # fmt: skip
    click.echo(f"  recorded in {config.approvals_path.name}: commit it with the queue")
    if done.overdue:  # an approval does not lift lateness: say so now, not in an expiry alert
        late = int(config.daemon.lateness.total_seconds() // 60)
        click.echo(
            f"  ! its time passed more than {late} minutes ago on {', '.join(done.overdue)}: "
            f"it is not published late. To send it late all the same: crosspost release "
            f"{post_id} --late"
        )


@main.command()
@click.option("--channel", metavar="CH", help="Only this channel (default: every channel).")
@click.option("--reason", required=True, help="Why, for the event log and status.")
@click.option("--until", metavar="TIME", help="Lift the pause by itself at this local time.")
@by_option()
@config_option
@config_errors
def pause(channel: str | None, reason: str, until: str | None, by: str, config_path: str) -> None:
    """Emergency pause: nothing more is published until `crosspost resume`.

    Takes effect in the running daemon at once: it is checked inside the claim, so nothing is
    sent after the pause is recorded. Deliveries falling due meanwhile are held, not dropped.

    Example: crosspost pause --reason "Major incident in Maidstone" --by "Jo Smith"
    """
    from crosspost import actions
    from crosspost.core.times import TimeError, parse_publish_at
    from crosspost.loading.config import load_config
    from crosspost.scheduling.stores import open_ledger

    config = load_config(config_path)
    end = None
    if until:
        try:
            end = parse_publish_at(until, config.timezone)
        except TimeError as exc:
            raise click.BadParameter(str(exc), param_hint="--until") from None
    with open_ledger(config.ledger_spec, migrate=False) as ledger:
        done = _act(actions.pause, ledger, config, by=by, reason=reason, channel=channel, until=end)
    click.echo(f"⏸ {done.scope} paused by {done.by}: {done.reason}")
    click.echo("  resume with: crosspost resume" + (f" --channel {channel}" if channel else ""))


@main.command()
@click.option("--channel", metavar="CH", help="Resume this channel's own pause.")
@click.option(
    "--release-overdue",
    is_flag=True,
    help="Also send the deliveries held during the pause (they are overdue now).",
)
@by_option()
@config_option
@config_errors
def resume(channel: str | None, release_overdue: bool, by: str, config_path: str) -> None:
    """Lift an emergency pause.

    Deliveries held during the pause are overdue: they are not sent by themselves. `status`
    lists them; `crosspost release POST_ID` sends one, --release-overdue sends them all (also
    after a plain resume).

    Example: crosspost resume --by "Jo Smith" --release-overdue
    """  # fmt: skip
    from crosspost import actions
    from crosspost.loading.config import load_config
    from crosspost.scheduling.stores import open_ledger

    config = load_config(config_path)
    with open_ledger(config.ledger_spec, migrate=False) as ledger:
        done = _act(actions.resume, ledger, by=by, channel=channel, release_overdue=release_overdue)
    if done.lifted:
        click.echo(f"▶ resumed by {by}" + (f" (channel {channel})" if channel else ""))
    if done.held and done.released:
        click.echo(f"  {len(done.held)} held deliveries released: they go out now")
    elif done.held:
        click.echo(
            f"  {len(done.held)} deliveries held during the pause are overdue and stay held:"
        )
        for delivery in done.held:
            click.echo(f"    crosspost release {delivery.post_id} --channel {delivery.channel}")
    for other in done.still:
        click.echo(f"  ! still in force: {other.describe()}")


@main.command()
@click.argument("post_id")
@click.option("--channel", "channels", multiple=True, metavar="CH", help="Only this channel.")
@click.option(
    "--late",
    is_flag=True,
    help="Also send deliveries more than the configured lateness past their time (and "
    "expired ones): recorded as released late, with your name.",
)
@by_option()
@config_option
@config_errors
def release(post_id: str, channels: tuple[str, ...], late: bool, by: str, config_path: str) -> None:
    """Send held deliveries of a post (held by a pause, a blackout window or an approval).

    A running daemon sends them within a couple of seconds, unless whatever held them still
    applies. Nothing is sent more than the configured lateness (default 30 minutes) after its
    time unless you say so with --late, which also sends deliveries that expired.

    Example: crosspost release 2026-12-03-vawg-inquiry-report --channel PCCKent --late
    """  # fmt: skip
    from crosspost import actions
    from crosspost.loading.config import load_config
    from crosspost.scheduling.stores import open_ledger

    config = load_config(config_path)
    late_after = int(config.daemon.lateness.total_seconds() // 60)
    with open_ledger(config.ledger_spec, migrate=False) as ledger:
        done = _act(actions.release, ledger, config, post_id, by=by, channels=channels, late=late)
    for delivery, minutes in done.refused:
        click.echo(
            f"✗ {post_id} on {delivery.channel}: due {minutes} minutes ago, more than the "
            f"{late_after} minutes allowed, so it is not sent late unless you say so: "
            f"crosspost release {post_id} --channel {delivery.channel} --late",
            err=True,
        )
    for delivery, was_late in done.released:
        click.echo(
            f"✓ {post_id} on {delivery.channel}: released{' late' if was_late else ''}; a "
            "running daemon sends it within a few seconds"
        )
    if done.refused:
        sys.exit(EXIT_FAILED)


def _approver_on_the_server(config: Any, by: str, post: Any) -> str:
    """With web accounts, an approval is a signed-in approver's act in the browser; on the
    command line only an admin's, named by their account, and recorded as such."""
    accounts_path = config.state_path.with_name("accounts.db")
    if not accounts_path.exists():
        return by  # no accounts: the office approves by name, as before
    from crosspost.web.accounts import AccountStore, Role

    with AccountStore(accounts_path) as accounts:
        if not accounts.users():
            return by
        user = accounts.get(by)
        if user is None or user.disabled or not Role(user.role).allows(Role.ADMIN):
            raise click.ClickException(
                "this office has accounts: approve in the web app (crosspost serve), signed in "
                "as an approver. On the server, an admin may approve here with --by THEIR_ACCOUNT"
            )
        _not_the_author(config, post, user, accounts)
    return f"{user.display or user.name} ({user.name}, admin, on the server)"


def _not_the_author(config: Any, post: Any, user: Any, accounts: Any) -> None:
    """The two-person rule on the command line too: an admin cannot approve what they wrote
    (known as in the web app: who saved it, or the last commit's author)."""
    from crosspost.scheduling.stores import open_ledger
    from crosspost.web import authors

    ledger = open_ledger(config.ledger_spec, migrate=False) if config.ledger_spec.exists() else None
    try:
        wrote = authors.author_of(ledger, post.id, post.file)
    finally:
        if ledger is not None:
            ledger.close()
    email_of = lambda name: accounts.get(name).email if accounts.get(name) else None  # noqa: E731
    if authors.is_author(wrote, user.name, user.display, user.email, email_of):
        raise click.ClickException(f"{post.id} was written by you: someone else must approve it")
    if wrote is not None and wrote.source == "changed":
        raise click.ClickException(
            f"{post.id} was changed outside crosspost and not committed, so who wrote it is not "
            "known: commit it (or save it in the web app) first"
        )


def _act(action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run an action; its refusal is the command's error message (exit 1)."""
    from crosspost.actions import ActionRefused

    try:
        return action(*args, **kwargs)
    except ActionRefused as exc:
        raise click.ClickException(str(exc)) from None


def _approval_hashes(project: Any, post_ids: tuple[str, ...]) -> None:
    """What an approver pins: the approval hash of each post shown, over all its channels."""
    from crosspost.checking.project import render_every_channel
    from crosspost.scheduling.controls import post_approval_hash

    for post_id in post_ids:
        post = _find_post(project, post_id)
        every = render_every_channel(project, post)
        if len(every) < len(post.channels) or any(r.problems for r in every):
            continue  # nothing to approve until its problems are fixed
        digest = post_approval_hash(every)
        click.echo(
            f"\napproval hash of {post_id}: {digest}\n  to approve exactly this: crosspost "
            f"approve {post_id} --by NAME --hash {digest[:23]}"
        )


@main.command()
@click.argument("post_id")
@click.option("--channel", "channels", multiple=True, metavar="CH", help="Only this channel.")
@click.option("--reason", required=True, help="Why, for the record.")
@by_option()
@config_option
@config_errors
def retract(
    post_id: str, channels: tuple[str, ...], reason: str, by: str, config_path: str
) -> None:
    """Delete a published post where the platform allows it (X, Facebook), and record it.

    Instagram's API cannot delete posts: the request is recorded and you are told to delete
    it in the Instagram app. Every retraction is in the event log with who and why. Exits 1
    if any channel still shows the post.

    Example: crosspost retract 2026-12-01-safer-streets-funding --reason "wrong figure"
    """
    from crosspost import actions
    from crosspost.loading.config import load_config
    from crosspost.scheduling.stores import open_ledger

    config = load_config(config_path)
    with open_ledger(config.ledger_spec, migrate=False) as ledger:
        done = _act(actions.retract, ledger, config, post_id, by=by, reason=reason,
                    channels=channels)  # fmt: skip
    for one in done:
        mark = "✓" if one.done else ("!" if one.by_hand else "✗")
        click.echo(f"{mark} {one.channel}: {one.said}", err=not (one.done or one.by_hand))
    if not all(one.done for one in done):
        sys.exit(EXIT_FAILED)


@main.command()
@click.option("--since", metavar="DATE", help="From this local date or time, or a span (7d).")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The file to write: .csv for CSV, anything else JSON Lines.",
)
@config_option
@config_errors
def export(since: str | None, out_path: str, config_path: str) -> None:
    """Write the whole event log (who did what, when, why) to a file, for records and FOI.

    Example: crosspost export --since 2026-12-01 --out events-december.csv
    """
    from crosspost.actions import export_events
    from crosspost.loading.config import load_config
    from crosspost.scheduling.stores import open_ledger

    config = load_config(config_path)
    start = _since(since, config)
    path = Path(out_path)
    with open_ledger(config.ledger_spec, migrate=False) as ledger:
        count = export_events(ledger, path, since=start)
    click.echo(f"✓ {count} events written to {path}")


def _since(value: str | None, config: Any) -> datetime | None:
    """--since as a moment, or a usage error that says what is accepted."""
    from crosspost.views.reports import parse_since

    if not value:
        return None
    try:
        return parse_since(value, config.timezone)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None


def setup_logging(log_format: str, level: int = 20) -> None:
    """Readable lines on stderr by default; one JSON object a line with --log-format json."""
    import json
    import logging

    class JsonLines(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            out = {
                "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage(),
            }
            if record.exc_info:
                out["exception"] = self.formatException(record.exc_info)
            return json.dumps(out, ensure_ascii=False)

    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("crosspost")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


@main.command()
@click.option(
    "--dry-run",
    is_flag=True,
    help="Every channel replaced by a fake of its platform: "
    "prints each 'would publish' at its time; the real ledger is untouched.",
)
@click.option(
    "--once",
    is_flag=True,
    help="Publish what is due, settle what is in doubt, and exit (for cron).",
)
@click.option(
    "--rehearse",
    is_flag=True,
    help="With --dry-run: set the clock 15 s before the first post in the queue and run from "
    "there, to see each 'would publish' as it would happen.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines on stderr: readable, or JSON lines.",
)
@config_option
@config_errors
def run(dry_run: bool, once: bool, rehearse: bool, log_format: str, config_path: str) -> None:
    """The daemon: publish every post at its time, exactly once.

    Prints the plan at start (deliveries per channel, the next few, anything held, expired
    or in doubt). Reloads on SIGHUP and when the queue, templates or config change; an
    invalid config keeps the last good plan and the log says why; a post file with errors
    holds its own posts (alerted) until it is fixed. SIGTERM or Ctrl-C finishes
    the send in flight and exits 0. A delivery more than the configured lateness (default
    30 minutes) overdue after downtime is expired, never published late.

    Example: crosspost run --dry-run --rehearse --config config.example.yaml
    """  # fmt: skip
    from crosspost.scheduling.daemon import Daemon

    if rehearse and not (dry_run and not once):
        raise click.UsageError("--rehearse goes with --dry-run (and without --once)")
    setup_logging(log_format)
    daemon = Daemon(config_path, dry_run=dry_run, echo=click.echo)
    sys.exit(daemon.run_once() if once else daemon.run(rehearse=rehearse))


@main.command()
@click.argument("post_id")
@click.option("--channel", required=True, metavar="CH", help="The channel of the delivery.")
@click.option(
    "--published",
    "remote_id",
    metavar="REMOTE_ID",
    help="It did go out: the post's id on the platform.",
)
@click.option("--not-published", is_flag=True, help="It did not go out: send it again.")
@by_option("Who settled it, for the event log.")
@config_option
@config_errors
def resolve(
    post_id: str,
    channel: str,
    remote_id: str | None,
    not_published: bool,
    by: str,
    config_path: str,
) -> None:
    """Settle a delivery whose outcome is unknown (in doubt), after checking the account.

    --published REMOTE_ID records it as published with that id; --not-published puts it
    back in the queue to be sent (at once if it is due).

    Example: crosspost resolve 2026-12-01-safer-streets-funding --channel PCCKent --not-published
    """  # fmt: skip
    from crosspost import actions
    from crosspost.loading.config import load_config
    from crosspost.scheduling.stores import open_ledger

    if bool(remote_id) == not_published:
        raise click.UsageError("give exactly one of --published REMOTE_ID or --not-published")
    config = load_config(config_path)
    with open_ledger(config.ledger_spec, migrate=False) as ledger:
        _act(actions.resolve, ledger, post_id, channel, by=by, remote_id=remote_id)
    if remote_id:
        click.echo(f"✓ {post_id} on {channel}: recorded as published ({remote_id})")
    else:
        click.echo(f"✓ {post_id} on {channel}: back in the queue, to be sent again")


def _find_post(project: Any, post_id: str) -> Any:
    from crosspost.core.problems import did_you_mean

    known = {p.id: p for p in project.posts}
    if post_id not in known:
        broken = [p for p in project.problems.errors if post_id in str(p.mark.path)]
        for problem in broken:
            click.echo(str(problem), err=True)
        raise click.BadParameter(
            f"no post with id '{post_id}'{did_you_mean(post_id, known)}"
            + (" (its file has errors, above)" if broken else ""),
            param_hint="POST_ID",
        )
    return known[post_id]


def _select_channels(project: Any, available: list[str], wanted: tuple[str, ...]) -> list[str]:
    from crosspost.core.problems import did_you_mean

    for channel in wanted:
        if channel not in project.config.channels:
            raise click.BadParameter(
                f"no channel '{channel}'{did_you_mean(channel, project.config.channels)}; "
                f"configured: {', '.join(project.config.channels)}",
                param_hint="--channel",
            )
    for channel in wanted:
        if channel not in available:
            raise click.BadParameter(
                f"this post is not published to {channel} (its channels: {', '.join(available)})",
                param_hint="--channel",
            )
    return [c for c in available if not wanted or c in wanted]


def _add_user_commands() -> None:
    from crosspost.ledger_cli import ledger
    from crosspost.web.user_cli import user

    main.add_command(user)
    main.add_command(ledger)


_add_user_commands()


if __name__ == "__main__":  # pragma: no cover
    main()
