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

from . import __version__

EXIT_FAILED = 1
EXIT_USAGE = 2


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config",
        "config_path",
        default="crosspost.yaml",
        show_default=True,
        envvar="CROSSPOST_CONFIG",
        type=click.Path(dir_okay=False),
        help="The config file (paths in it are relative to it). Env: CROSSPOST_CONFIG.",
    )(func)


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
    """Turn an unusable config into its problems on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .problems import ConfigError

        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            click.echo("configuration error: nothing was checked or published", err=True)
            sys.exit(EXIT_USAGE)

    return wrapper


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
    """
    import json

    from . import output
    from .project import validate as run_validate

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
@config_errors
def preview(
    post_ids: tuple[str, ...], channels: tuple[str, ...], config_path: str, output_format: str
) -> None:
    """Show exactly what each channel will receive, with lengths, problems and warnings.

    Without POST_IDs, previews the whole queue. Needs no credentials and touches
    no account. `--format json` prints one JSON array, one element per (post,
    channel) pair. Exits 1 if anything shown has a problem that would stop it
    being published.
    """
    from . import output
    from .project import load_project, render_all

    project = load_project(config_path, now=now_from_env())
    for post_id in post_ids:
        _find_post(project, post_id)
    _select_channels(project, list(project.config.channels), channels)
    rendered = render_all(project, post_ids or None, channels or None)
    if output_format == "json":
        click.echo(output.preview_json(rendered))
    else:
        click.echo(output.preview_text(project, rendered))
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
    """
    import tempfile

    from .ledger import Ledger
    from .project import load_project, render_one
    from .publishing import dry_run_channel, owner_name, publish_delivery

    project = load_project(config_path, now=now_from_env())
    post = _find_post(project, post_id)
    selected = _select_channels(project, post.channels, channels)
    if post.status == "draft":
        raise click.ClickException(f"{post_id} is a draft: set status: ready to publish it")
    config = project.config
    failed = False
    with tempfile.TemporaryDirectory(prefix="crosspost-dry-") as scratch:
        ledger = Ledger(Path(scratch) / "dry.db") if dry_run else Ledger(config.state_path)
        with ledger:
            for key in selected:
                channel = config.channels[key]
                rendered = render_one(project, post, key)
                if rendered is None or rendered.problems:
                    problems = "; ".join(rendered.problems) if rendered else "it does not render"
                    click.echo(f"✗ {key}: not published: {problems}", err=True)
                    failed = True
                    continue
                if dry_run:
                    channel = dry_run_channel(channel, Path(scratch) / f"{key}.jsonl")
                    click.echo(f"would publish to {key} ({channel.rules.label} {channel.handle}):")
                    click.echo("  " + rendered.text.replace("\n", "\n  "))
                adapter = channel.adapter(channel, root=config.root)
                outcome = publish_delivery(
                    rendered, channel, adapter, ledger, owner_name("cli-publish")
                )
                mark = "✓" if outcome.ok else "✗"
                click.echo(f"{mark} {key}: {outcome.message}", err=not outcome.ok)
                failed = failed or not outcome.ok
    if failed:
        sys.exit(EXIT_FAILED)


@main.command()
@config_option
@config_errors
def doctor(config_path: str) -> None:
    """Check every channel's credentials, permissions and quota online.

    Says what is wrong in words a comms officer can act on, and warns when a token expires
    within 14 days. Publishes nothing. Exits 1 if any channel cannot publish.
    """
    from .adapters.base import CredentialReport
    from .config import load_config
    from .errors import PublishError

    config = load_config(config_path)
    bad = False
    for key, channel in config.channels.items():
        adapter = channel.adapter(channel, root=config.root)
        try:
            report = adapter.check_credentials()
        except PublishError as exc:
            report = CredentialReport(ok=False, problems=[adapter.clean(str(exc))])
        except NotImplementedError:
            report = CredentialReport(ok=True, warnings=["this platform cannot check credentials"])
        head = f"{'✓' if report.ok else '✗'} {key} ({channel.rules.label} {channel.handle})"
        if report.account:
            head += f": signed in as {report.account}"
        click.echo(head)
        if report.expires_at:
            click.echo(f"    token expires {report.expires_at:%Y-%m-%d %H:%M} UTC")
        if report.quota:
            click.echo(f"    quota: {report.quota}")
        for problem in report.problems:
            click.echo(f"    ✗ {problem}")
        for warning in report.warnings:
            click.echo(f"    ! {warning}")
        bad = bad or not report.ok
    if bad:
        sys.exit(EXIT_FAILED)


def _find_post(project: Any, post_id: str) -> Any:
    from .problems import did_you_mean

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
    from .problems import did_you_mean

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


if __name__ == "__main__":  # pragma: no cover
    main()
