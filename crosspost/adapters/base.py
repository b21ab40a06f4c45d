"""The adapter interface: what every platform module declares and does.

An adapter publishes one rendered post and returns a receipt; looks up the account's recent
posts (to settle a send whose outcome is unknown); deletes a post; checks its credentials;
and checks a rendered post offline. Failures are raised as the types in `crosspost.core.errors`.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from crosspost.adapters.rules import Finding, PlatformRules, check
from crosspost.core.errors import (
    AuthError,
    ContentChanged,
    LeaseLost,
    PartReceipt,
    PublishError,
    Rejected,
)
from crosspost.core.redact import redact

if TYPE_CHECKING:
    from crosspost.loading.config import Channel
    from crosspost.rendering.render import Rendered

DEFAULT_TIMEOUT = 30.0
SLACK = timedelta(minutes=5)  # a platform's clock may differ a little from ours
_URL = re.compile(r"https?://\S+")


def comparable(text: str) -> str:
    """Text as platforms echo it back: NFC, links folded (t.co rewrites them), whitespace
    folded."""
    return " ".join(_URL.sub("<link>", unicodedata.normalize("NFC", text)).split())


@dataclass(frozen=True)
class Setting:
    """One platform-specific channel setting in config."""

    kind: str  # "text", "url", "number", "list", "choice", "platform" (a registered one)
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
    # what went wrong after the post itself was published (a first comment that failed):
    # recorded on the delivery, shown by history and status, and alerted
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class RemotePost:
    """A post found on the account, for settling a send whose outcome is unknown."""

    remote_id: str
    text: str
    created_at: datetime | None
    url: str | None = None
    reply_to: str | None = None  # the post this one replies to (a thread's previous part)


@dataclass(frozen=True)
class Sent:
    """What the ledger knows of a send whose outcome is unknown, for `Adapter.settle`."""

    post_id: str
    texts: tuple[str, ...]  # the post's text, then each thread part's
    parts: tuple[PartReceipt, ...]  # parts known to be published
    since: datetime  # when the claim that may have sent it was taken
    notes: Mapping[str, str] = field(default_factory=dict)  # what the adapter noted on the way
    media: int = 0  # how many images the post carries
    taken: frozenset[str] = frozenset()  # remote ids other deliveries already stand for

    @property
    def index(self) -> int:
        """The part whose outcome is unknown: the one after the last known part."""
        return max((p.index for p in self.parts), default=-1) + 1


@dataclass(frozen=True)
class Settlement:
    """What reading the account back said about the part in doubt."""

    found: PartReceipt | None  # it is there: this is it
    searched_back: bool  # the look-up reached back past the claim, so "not found" means absent
    published_at: datetime | None = None
    detail: str = ""


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
OnNote = Callable[[str, str], None]


def boot_clock() -> float:
    """Seconds on a clock that runs on while the process is stopped or the machine is
    suspended (CLOCK_BOOTTIME on Linux; monotonic elsewhere)."""
    clock = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(clock) if clock is not None else time.monotonic()


class SendDeadline:
    """Until when this process may still call the platform for the delivery it claimed: its
    lease less a margin, moved on each time the lease is renewed. Past it, another server may
    have taken the delivery over, so `check_deadline` refuses to send (`LeaseLost`)."""

    def __init__(self, seconds: float, margin: float):
        self.margin = margin
        self.until = boot_clock() + seconds - margin

    def renewed(self, started: float, seconds: float) -> None:
        """The lease was renewed for `seconds` by a call that began at `started`."""
        self.until = max(self.until, started + seconds - self.margin)

    def left(self) -> float:
        return self.until - boot_clock()


_DEADLINE: contextvars.ContextVar[SendDeadline | None] = contextvars.ContextVar(
    "crosspost_send_deadline", default=None
)


@contextlib.contextmanager
def send_deadline(deadline: SendDeadline | None) -> Iterator[None]:
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check_deadline() -> None:
    """Raise LeaseLost when this send's claim may have been taken over (adapters call it
    right before a request that publishes)."""
    deadline = _DEADLINE.get()
    if deadline is not None and deadline.left() <= 0:
        raise LeaseLost(
            "not sent: this server's claim ran out before the platform was called (was the "
            "process paused or the machine frozen?); another server may have it now"
        )


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
    # what to create where for the credentials, in a comms officer's words (`doctor` shows
    # it when they are not set): e.g. "In the Bluesky app: Settings → ... → App passwords"
    setup_help: ClassVar[str] = ""

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
        from crosspost.core.envref import ENV_REF

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
        # trailing white space (a secrets file's line break, `echo` into an env file) is not
        # part of a token: sent as it is it fails, and oauthlib logs it in a form no
        # redaction matches
        value = self.environ.get(var, "").rstrip() if var else None
        if not value:
            raise AuthError(
                f"environment variable {var or '?'} is not set (channel {self.channel.key} "
                f"needs it for credentials.{name})"
            )
        return value

    def secrets(self) -> list[str]:
        """Every credential value this adapter knows, for redaction."""
        raw = [v for var in self.channel.credentials.values() if (v := self.environ.get(var))]
        return raw + [c for v in raw if (c := v.rstrip()) != v and c]

    def clean(self, text: str) -> str:
        """`text` with every secret of this channel taken out."""
        return redact(text, self.secrets())

    @property
    def timeout(self) -> float:
        value = self.channel.settings.get("timeout")
        return float(value) if value is not None else DEFAULT_TIMEOUT

    # --- the interface ---------------------------------------------------------------------

    @classmethod
    def mockup_notes(cls, settings: dict[str, Any]) -> list[str]:
        """Lines the preview's mock-up shows above the post, from the channel's settings:
        what the platform's readers see first (Mastodon's content warning, who can see it)."""
        return []

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
        notes: Mapping[str, str] | None = None,
        on_note: OnNote | None = None,
    ) -> Receipt:
        """Publish one rendered post; raise a PublishError subclass on failure.

        `resume` holds parts already published by an earlier, interrupted attempt (a thread
        carries on after the last of them); `on_part` is called after each part is published,
        so the ledger can record it before the next one is sent. `on_note(key, value)`
        records something the adapter must know on a later attempt (Instagram's container id)
        durably, before the publishing call; `notes` holds what earlier attempts recorded.
        Raise errors made by the adapter's error mapping, which applies
        `crosspost.core.errors.after_publishing_call` to anything raised by a publishing call.
        """
        raise NotImplementedError

    def recent(self, limit: int = 50, since: datetime | None = None) -> list[RemotePost]:
        """The account's most recent posts, newest first; with `since`, the platform may
        leave out older ones (X bills reads per post, so it is asked for no more)."""
        raise NotImplementedError

    def same_text(self, sent: str, found: str, *, media: int = 0) -> bool:
        """Whether `found`, a post's text as the platform returns it, is the text `sent` (of
        a post with `media` images)."""
        return comparable(sent) == comparable(found)

    def settle(self, sent: Sent) -> Settlement:
        """Read the account back: was the part in doubt published?

        The default looks for a post with the same text created since the claim (less a few
        minutes for clock differences) that, for a thread part, replies to the part before.
        `Settlement.searched_back` is true only when the look-up reached back past the claim,
        so that "not found" means "not published", never "not looked far enough".
        """
        index = sent.index
        if index >= len(sent.texts):  # every part is known: nothing was in doubt
            last = max(sent.parts, key=lambda p: p.index)
            return Settlement(last, True, None, "every part was already recorded")
        want = sent.texts[index]
        if not comparable(want).replace("<link>", "").strip():
            # nothing to recognise it by (an image with no words, a bare link): any such post
            # would match, so it is left in doubt for a person (crosspost resolve)
            return Settlement(None, False, detail="the post has no words to recognise it by")
        reply_to = next((p.remote_id for p in sent.parts if p.index == index - 1), None)
        earliest = sent.since - SLACK
        limit = self.look_up_limit
        recent = self.recent(limit=limit, since=earliest)
        for post in recent:
            if post.created_at is not None and post.created_at < earliest:
                continue  # an older post with the same words
            if index > 0 and post.reply_to != reply_to:
                continue
            if post.remote_id in sent.taken:
                continue  # another delivery's post, with the same words
            if self.same_text(want, post.text, media=sent.media if index == 0 else 0):
                part = PartReceipt(index, post.remote_id, post.url)
                return Settlement(part, True, post.created_at, f"found as {post.remote_id}")
        oldest = min((p.created_at for p in recent if p.created_at), default=None)
        searched_back = len(recent) < limit or (oldest is not None and oldest < earliest)
        return Settlement(None, searched_back)

    def delete(self, remote_id: str) -> None:
        """Delete a published post."""
        raise Rejected(f"{self.rules.label} does not allow deleting posts through its API")

    def check_credentials(self) -> CredentialReport:
        """Online: are the credentials valid, with the permissions publishing needs?"""
        raise NotImplementedError

    def setup_warnings(self, today: date) -> list[str]:
        """Offline: what in the channel's settings will stop working soon (a platform API
        version near its end). `doctor` and `validate --require-credentials` print them."""
        return []

    def media_bytes(self, media: Any) -> bytes:
        """An image's bytes for upload, exactly as checked and approved (ContentChanged if
        the file changed or now leads outside the project)."""
        from crosspost.core.media import MediaChanged

        try:
            data: bytes = media.read(self.root)
        except MediaChanged as exc:
            raise fail(ContentChanged(str(exc)), self) from None
        return data

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
