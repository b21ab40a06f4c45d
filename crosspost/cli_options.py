"""Options every command line of crosspost shares (the main one and `crosspost user`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

CONFIG_HELP = "The config file (paths in it are relative to it). Env: CROSSPOST_CONFIG."


def config_option(func: Callable[..., Any] | None = None, *, help: str = CONFIG_HELP) -> Any:
    """`--config FILE` (default crosspost.yaml, or $CROSSPOST_CONFIG), as `config_path`; used
    bare (`@config_option`) or with its own help (`@config_option(help=...)`)."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        return click.option(
            "--config",
            "config_path",
            default="crosspost.yaml",
            show_default=True,
            envvar="CROSSPOST_CONFIG",
            type=click.Path(dir_okay=False),
            help=help,
        )(f)

    return decorate(func) if func is not None else decorate
