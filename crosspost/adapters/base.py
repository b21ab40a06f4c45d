"""The adapter interface: what every platform module declares and does.

An adapter publishes one rendered post and returns a receipt; looks up the account's recent
posts (to settle a send whose outcome is unknown); deletes a post; checks its credentials;
and checks a rendered post offline. Failures are raised as the types in `crosspost.errors`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import AuthError, PartReceipt, PublishError, Rejected, redact
from ..rules import Finding, PlatformRules, check

if TYPE_CHECKING:
    from ..config import Channel
    from ..render import Rendered

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Setting:
    """One platform-specific channel setting in config."""

    kind: str  # "text", "url", "number", "list", "choice"
    required: bool = False
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Receipt:
    """What a successful publication left on the platform."""

    remote_id: str  # the post's id (the first part's, for a thread)
    url: str | None
    published_at: datetime  # UTC
    parts: tuple[PartReceipt, ...] = ()  # every part, thread parts included
    comment_id: str | None = None  # the first comment, where one was posted


@dataclass(frozen=True)
class RemotePost:
    """A post found on the account, for settling a send whose outcome is unknown."""

    remote_id: str
    text: str
    created_at: datetime | None
    url: str | None = None


@dataclass
class CredentialReport:
    """What `crosspost doctor` says about one channel, in words a comms officer can act on."""

    ok: bool
    account: str | None = None  # the name or handle the credentials belong to
    expires_at: datetime | None = None
    scopes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    quota: str | None = None  # e.g. "3 of 50 posts used in the last 24 hours"


OnPart = Callable[[PartReceipt], None]


class Adapter:
    """A platform. Subclasses declare their rules, settings and credentials as class attributes."""

    platform: ClassVar[str]
    rules: ClassVar[PlatformRules]
    settings: ClassVar[dict[str, Setting]] = {}
    credentials: ClassVar[tuple[str, ...]] = ()
    can_delete: ClassVar[bool] = True
    can_look_up: ClassVar[bool] = True
    # the most recent posts one look-up can read (a platform's page, or what paging allows)
    look_up_limit: ClassVar[int] = 100

    def __init__(
        self,
        channel: Channel,
        *,
        root: Path | None = None,
        environ: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.channel = channel
        self.root = root or Path.cwd()  # the project folder: media paths are relative to it
        self.environ = os.environ if environ is None else environ
        self.sleep = sleep
        self.now = now

    # --- configuration, with ${ENV_VAR} resolved -------------------------------------------

    def setting(self, name: str) -> Any:
        """A channel setting with any ${VAR} replaced from the environment."""
        from ..config import ENV_REF

        value = self.channel.settings.get(name, self.settings[name].default)
        if isinstance(value, str):

            def replace(match: Any) -> str:
                var = match.group(1)
                if not self.environ.get(var):
                    raise AuthError(
                        f"environment variable {var} is not set (channel {self.channel.key} "
                        f"needs it for {name})"
                    )
                return str(self.environ[var])

            value = ENV_REF.sub(replace, value)
        return value

    def secret(self, name: str) -> str:
        """A credential's value from the environment; AuthError naming the variable if unset."""
        var = self.channel.credentials.get(name)
        value = self.environ.get(var) if var else None
        if not value:
            raise AuthError(
                f"environment variable {var or '?'} is not set (channel {self.channel.key} "
                f"needs it for credentials.{name})"
            )
        return value

    def secrets(self) -> list[str]:
        """Every credential value this adapter knows, for redaction."""
        return [v for var in self.channel.credentials.values() if (v := self.environ.get(var))]

    def clean(self, text: str) -> str:
        """`text` with every secret of this channel taken out."""
        return redact(text, self.secrets())

    @property
    def timeout(self) -> float:
        value = self.channel.settings.get("timeout")
        return float(value) if value is not None else DEFAULT_TIMEOUT

    # --- the interface ---------------------------------------------------------------------

    @classmethod
    def rules_for(cls, settings: dict[str, Any]) -> PlatformRules:
        """The rules a channel with these settings publishes under."""
        return cls.rules

    def check(self, rendered: Rendered) -> list[Finding]:
        """Offline checks: what the platform would refuse, found without any network."""
        return check(self.channel.rules, rendered)

    def publish(
        self,
        rendered: Rendered,
        *,
        resume: Sequence[PartReceipt] = (),
        on_part: OnPart | None = None,
    ) -> Receipt:
        """Publish one rendered post; raise a PublishError subclass on failure.

        `resume` holds parts already published by an earlier, interrupted attempt (a thread
        carries on after the last of them); `on_part` is called after each part is published,
        so the ledger can record it before the next one is sent.
        """
        raise NotImplementedError

    def recent(self, limit: int = 50) -> list[RemotePost]:
        """The account's most recent posts, newest first."""
        raise NotImplementedError

    def delete(self, remote_id: str) -> None:
        """Delete a published post."""
        raise Rejected(f"{self.rules.label} does not allow deleting posts through its API")

    def check_credentials(self) -> CredentialReport:
        """Online: are the credentials valid, with the permissions publishing needs?"""
        raise NotImplementedError

    def media_url(self, path: Path) -> str:
        """The public URL of a local media file, for platforms that fetch images themselves."""
        base = str(self.setting("media_base_url"))
        rel = path.resolve().relative_to(self.root.resolve()).as_posix()
        return base.rstrip("/") + "/" + rel


def fail(error: PublishError, adapter: Adapter) -> PublishError:
    """The same error with every secret taken out of its texts."""
    error.message = adapter.clean(error.message)
    if error.platform_message:
        error.platform_message = adapter.clean(error.platform_message)
    error.args = (error.describe(),)
    return error
