"""The adapter interface: what every platform module declares and does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..rules import Finding, PlatformRules, check

if TYPE_CHECKING:
    from ..config import Channel
    from ..render import Rendered


@dataclass(frozen=True)
class Setting:
    """One platform-specific channel setting in config."""

    kind: str  # "text", "url", "number", "list", "choice"
    required: bool = False
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()


class Adapter:
    """A platform. Subclasses declare their rules, settings and credentials as class attributes."""

    platform: ClassVar[str]
    rules: ClassVar[PlatformRules]
    settings: ClassVar[dict[str, Setting]] = {}
    credentials: ClassVar[tuple[str, ...]] = ()

    def __init__(self, channel: Channel):
        self.channel = channel

    @classmethod
    def rules_for(cls, settings: dict[str, Any]) -> PlatformRules:
        """The rules a channel with these settings publishes under."""
        return cls.rules

    def check(self, rendered: Rendered) -> list[Finding]:
        """Offline checks: what the platform would refuse, found without any network."""
        return check(self.channel.rules, rendered)
