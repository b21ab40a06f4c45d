"""Platform adapters, found through the `crosspost.adapters` entry-point group.

The built-in platforms are registered in pyproject.toml exactly as a third party would
register its own, so there is one way in.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from crosspost.core.problems import did_you_mean

if TYPE_CHECKING:
    from crosspost.adapters.base import Adapter

GROUP = "crosspost.adapters"


class UnknownPlatform(LookupError):
    """No adapter is registered under that name."""


@cache
def registered() -> dict[str, EntryPoint]:
    """Every registered platform name and its entry point."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def adapter_class(platform: str) -> type[Adapter]:
    """The adapter class for a platform name, or UnknownPlatform saying what exists."""
    found = registered()
    if platform not in found:
        names = ", ".join(sorted(found)) or "none (is crosspost installed? pip install -e .)"
        raise UnknownPlatform(
            f"unknown platform '{platform}'{did_you_mean(platform, found)}; known: {names}"
        )
    try:
        return found[platform].load()  # type: ignore[no-any-return]
    except ImportError as exc:
        raise UnknownPlatform(
            f"platform '{platform}' cannot be loaded: {exc}. Install the package it needs "
            f"(pip install {exc.name or 'the missing package'})"
        ) from None
