"""Mastodon for crosspost, through `Mastodon.py`: a plugin on crosspost's public contract.

    channels:
      OPCCKent_social:
        platform: mastodon
        handle: "@kentpcc@social.example.gov.uk"
        instance: https://social.example.gov.uk
        visibility: public            # public, unlisted, private (followers) or direct
        content_warning: ""           # text shown before the post, which is then folded
        max_characters: 500           # the instance's limits: `crosspost doctor` reads them
        credentials:
          access_token: ${MASTODON_TOKEN}   # Preferences → Development → New application

Exactly once: every part of a post is sent with an `Idempotency-Key` chosen before the call
and noted in the ledger (Mastodon keeps the key for an hour and answers a repeat with the
status it already made), so a call that timed out after the instance accepted it is made
again with the same key, and no second post appears. A send still in doubt is settled by
reading the account's statuses back.

The instance's own limits come from `/api/v2/instance` (characters, images, sizes, the
length of an image description) and are enforced before anything is sent; `validate` works
offline from the channel's settings (Mastodon's defaults unless the config says otherwise),
and `doctor` says when the instance allows something different.
"""

from __future__ import annotations

import html
import io
import logging
import re
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import regex

from crosspost.adapters.base import (
    Adapter,
    CredentialReport,
    OnNote,
    OnPart,
    Receipt,
    RemotePost,
    Setting,
    check_deadline,
    comparable,
    fail,
)
from crosspost.adapters.rules import MB, PlatformRules
from crosspost.core.errors import (
    AuthError,
    InDoubt,
    LeaseLost,
    PartReceipt,
    PublishError,
    RateLimited,
    Rejected,
    TransientError,
    after_publishing_call,
    sent_nothing,
)

log = logging.getLogger(__name__)

# Mastodon's defaults (a stock instance's /api/v2/instance): what validate assumes until the
# channel's settings say otherwise
CHARACTERS = 500
URL_LENGTH = 23  # configuration.statuses.characters_reserved_per_url
MEDIA = 4
DESCRIPTION = 1500  # configuration.media_attachments.description_limit (Mastodon 4.4)
IMAGE_BYTES = 16 * MB  # configuration.media_attachments.image_size_limit
RETRIES = 2
RETRY_WAIT = 5.0  # seconds before the same request again: the first may still be in progress
KEY_LIFETIME = 55 * 60  # Mastodon keeps an Idempotency-Key for an hour: older ones are renewed
PROCESSING_WAIT = 120.0  # seconds an uploaded image may take to be processed
SCOPES = ("write:statuses", "write:media", "read:accounts", "read:statuses")
NEW_APPLICATION = "Preferences → Development → New application"
# a link as Mastodon finds it: trailing punctuation is not part of it (Twitter-text's rule)
URL = re.compile(r"https?://[^\s<>\"]*[^\s<>\".,;:!?)\]'’]", re.IGNORECASE)
MENTION = re.compile(r"(?<![\w@])@(\w+)@[\w.-]+\w", re.UNICODE)


def mastodon_length(text: str, url_length: int = URL_LENGTH, warning: str = "") -> tuple[int, bool]:
    """How Mastodon counts a status (its StatusLengthValidator): the content warning and the
    text together, every link as 23 characters, a remote mention as its user name alone, the
    rest in grapheme clusters."""
    countable = warning + URL.sub("x" * url_length, text)
    countable = MENTION.sub(lambda m: "@" + m.group(1), countable)
    return len(regex.findall(r"\X", countable)), True


def local_mentions(text: str) -> str:
    """`@user@domain` as `@user`: how Mastodon shows a remote mention in a status's HTML."""
    return MENTION.sub(lambda m: "@" + m.group(1), text)


def as_text(content: str) -> str:
    """A status's HTML (as the API returns it) as the words that were sent."""
    text = re.sub(r"<br\s*/?>", "\n", content)
    text = re.sub(r"</p>\s*<p>", "\n\n", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def _key_age(key: str) -> float:
    """Seconds since a key of ours was made (its second field); an unknown form: very old."""
    parts = key.split("-")
    if len(parts) >= 3 and parts[1].isdigit():
        return time.time() - int(parts[1])
    return float("inf")


class MastodonAdapter(Adapter):
    platform = "mastodon"
    rules = PlatformRules(
        platform="mastodon", label="Mastodon", text_limit=CHARACTERS, thread=True,
        max_media=MEDIA, media_formats=frozenset({"JPEG", "PNG", "GIF", "WEBP"}),
        max_media_bytes=IMAGE_BYTES, alt_limit=DESCRIPTION, counter=mastodon_length,
    )  # fmt: skip
    settings = {
        "instance": Setting(
            "url", required=True, help="the instance, e.g. https://mastodon.social"
        ),
        "visibility": Setting(
            "choice",
            default="public",
            choices=("public", "unlisted", "private", "direct"),
            help="who sees the posts",
        ),  # fmt: skip
        "content_warning": Setting("text", default="", help="shown before each post, folded"),
        "language": Setting("text", default="en", help="the posts' language (ISO 639-1)"),
        "max_characters": Setting("number", default=CHARACTERS, help="the instance's limit"),
        "max_media": Setting("number", default=MEDIA, help="images per post on the instance"),
        "description_limit": Setting(
            "number", default=DESCRIPTION, help="an image description's limit on the instance"
        ),
    }
    credentials = ("access_token",)
    setup_help = (
        "On the instance, signed in as the office's account: Preferences → Development → New "
        "application, name it crosspost, tick write:statuses and write:media (and "
        "read:statuses, read:accounts), save, then copy 'Your access token'"
    )
    look_up_limit = 40

    @classmethod
    def mockup_notes(cls, settings: dict[str, Any]) -> list[str]:
        """What readers see first: the content warning (the post folded under it), and who
        can see the post when it is not public."""
        notes = []
        if settings.get("content_warning"):
            notes.append(f"Content warning: {settings['content_warning']} (the post is folded)")
        seen = {
            "unlisted": "public, but not in public timelines",
            "private": "followers only",
            "direct": "the people mentioned only",
        }.get(settings.get("visibility") or "")
        if seen:
            notes.append(f"Visible to: {seen}")
        return notes

    @classmethod
    def rules_for(cls, settings: dict[str, Any]) -> PlatformRules:
        """The channel's instance limits, as the config states them (doctor checks them)."""
        from dataclasses import replace

        warning = str(settings.get("content_warning") or "")
        return replace(
            cls.rules,
            counter=lambda text: mastodon_length(text, warning=warning),
            text_limit=int(settings.get("max_characters") or CHARACTERS),
            max_media=int(settings.get("max_media") or MEDIA),
            alt_limit=int(settings.get("description_limit") or DESCRIPTION),
        )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._api: Any = None
        self._limits: dict[str, int] | None = None
        self._account: Any = None

    # --- talking to the instance -------------------------------------------------------------

    def api(self) -> Any:
        if self._api is None:
            from mastodon import Mastodon

            self._api = Mastodon(
                access_token=self.secret("access_token"),
                api_base_url=self.setting("instance").rstrip("/"),
                ratelimit_method="throw",  # never sleep in the daemon's thread: say when
                request_timeout=self.timeout, version_check_mode="none",
            )  # fmt: skip
        return self._api

    @contextmanager
    def _mapped(self, doing: str) -> Iterator[None]:
        try:
            yield
        except PublishError as exc:
            raise fail(exc, self) from None
        except Exception as exc:  # noqa: BLE001 -- every failure is translated here
            raise fail(self.error(exc, doing), self) from None

    def error(self, exc: Exception, doing: str) -> PublishError:
        from mastodon import errors as e

        if isinstance(exc, e.MastodonRatelimitError):
            reset = getattr(self._api, "ratelimit_reset", None)
            retry_at = datetime.fromtimestamp(reset, UTC) if reset else None
            said = f"{doing}: the instance's rate limit was reached"
            return RateLimited(said, retry_at=retry_at)
        if isinstance(exc, e.MastodonNetworkError):
            cause = exc.__context__
            if cause is not None and sent_nothing(cause):
                return TransientError(f"{doing}: could not connect ({cause})", refused="not-sent")
            return TransientError(f"{doing}: no answer from the instance")
        if isinstance(exc, e.MastodonAPIError):
            args = list(exc.args) + [None] * 4
            status, said = args[1], args[3] or args[2]
            where = f"{doing}: the instance answered {status}"
            if isinstance(exc, e.MastodonServerError):
                return TransientError(where, platform_message=said, code=status)
            if status in (401, 403):
                return AuthError(
                    f"{where}: the access token was refused or lacks a permission; create an "
                    f"application ({NEW_APPLICATION}) with the scopes {', '.join(SCOPES)}",
                    platform_message=said, code=status,
                )  # fmt: skip
            if status == 429:
                return RateLimited(where, code=status)
            return Rejected(f"{where}: the post was refused", platform_message=said, code=status)
        return TransientError(f"{doing}: {type(exc).__name__}")

    def limits(self) -> dict[str, int]:
        """The instance's own limits (GET /api/v2/instance), read once per adapter."""
        if self._limits is None:
            try:
                with self._mapped("reading the instance's limits"):
                    info = self.api().instance_v2()
            except Rejected:  # no /api/v2/instance (before Mastodon 4.0): the channel's own
                info = {"configuration": {"statuses": {
                    "max_characters": self.channel.settings.get("max_characters"),
                    "max_media_attachments": self.channel.settings.get("max_media"),
                }, "media_attachments": {
                    "description_limit": self.channel.settings.get("description_limit"),
                }}}  # fmt: skip
            conf = info.get("configuration") or {}
            statuses = conf.get("statuses") or {}
            media = conf.get("media_attachments") or {}
            self._limits = {
                "max_characters": int(statuses.get("max_characters") or CHARACTERS),
                "url_length": int(statuses.get("characters_reserved_per_url") or URL_LENGTH),
                "max_media": int(statuses.get("max_media_attachments") or MEDIA),
                "image_bytes": int(media.get("image_size_limit") or IMAGE_BYTES),
                "description_limit": int(media.get("description_limit") or DESCRIPTION),
            }
        return self._limits

    def _refuse_over_limits(self, rendered: Any) -> None:
        """What the instance itself would refuse, refused before anything is sent."""
        limits = self.limits()
        warning = self.setting("content_warning") or ""
        for number, text in enumerate([rendered.text, *rendered.thread], start=1):
            length, _ = mastodon_length(text, limits["url_length"], warning)
            if length > limits["max_characters"]:
                raise Rejected(
                    f"part {number} is {length} characters; {self.setting('instance')} allows "
                    f"{limits['max_characters']}"
                )
        if len(rendered.media) > limits["max_media"]:
            raise Rejected(
                f"{len(rendered.media)} images; the instance allows {limits['max_media']}"
            )
        for media in rendered.media:
            size = getattr(media.info, "size", 0)
            if size > limits["image_bytes"]:
                raise Rejected(
                    f"{media.rel} is {size:,} bytes; the instance takes images up to "
                    f"{limits['image_bytes']:,}"
                )
            if len(media.alt) > limits["description_limit"]:
                raise Rejected(
                    f"the description of {media.rel} is {len(media.alt)} characters; the "
                    f"instance allows {limits['description_limit']}"
                )

    # --- publishing --------------------------------------------------------------------------

    def publish(
        self,
        rendered: Any,
        *,
        resume: Sequence[PartReceipt] = (),
        on_part: OnPart | None = None,
        notes: Mapping[str, str] | None = None,
        on_note: OnNote | None = None,
    ) -> Receipt:
        self._refuse_over_limits(rendered)
        texts = [rendered.text, *rendered.thread]
        parts = sorted(resume, key=lambda p: p.index)
        notes = dict(notes or {})
        media_ids = self._upload(rendered) if not parts else []
        when = datetime.now(UTC)
        for index in range(len(parts), len(texts)):
            note = f"idempotency.{index}"
            key = notes.get(note)
            if key is None or _key_age(key) > KEY_LIFETIME:
                # chosen, and on record, before the call that uses it. A key older than the
                # instance keeps one is renewed: this is reached only after settlement read
                # the account back and did not find the post
                key = f"crosspost-{int(time.time())}-{uuid.uuid4().hex[:12]}"
                if on_note:
                    on_note(note, key)
            status = self._post(
                texts[index], key, part=index, media_ids=media_ids if index == 0 else [],
                reply_to=parts[-1].remote_id if parts else None,
            )  # fmt: skip
            if index == 0:
                when = status["created_at"] or when
            part = PartReceipt(index, str(status["id"]), status.get("url") or status.get("uri"))
            parts.append(part)
            if on_part:
                on_part(part)
        published = when if isinstance(when, datetime) else datetime.now(UTC)
        return Receipt(
            remote_id=parts[0].remote_id, url=parts[0].url,
            published_at=published.astimezone(UTC), parts=tuple(parts),
        )  # fmt: skip

    def _post(
        self, text: str, key: str, *, part: int, media_ids: list[Any], reply_to: str | None
    ) -> Any:
        """POST /api/v1/statuses with the part's Idempotency-Key. With no answer, the same
        request again: the instance answers a repeated key with the status it already made."""
        content_warning = self.setting("content_warning") or None
        attempt = 0
        while True:
            try:
                check_deadline()  # never post on a claim another server may have taken over
            except LeaseLost as exc:
                if attempt == 0:
                    raise
                raise InDoubt(f"{exc.message} (after a call with no answer)", part=part) from None
            try:
                with self._mapped(f"posting to {self.channel.handle} (part {part + 1})"):
                    return self.api().status_post(
                        text, in_reply_to_id=reply_to, media_ids=media_ids or None,
                        visibility=self.setting("visibility"), spoiler_text=content_warning,
                        sensitive=bool(content_warning), language=self.setting("language"),
                        idempotency_key=key,
                    )  # fmt: skip
            except TransientError as exc:
                attempt += 1
                if attempt > RETRIES:
                    raise InDoubt(
                        f"{exc.message}; tried {attempt} times with the same Idempotency-Key, "
                        "so at most one status exists: it is settled by reading the account",
                        part=part,
                    ) from None
                log.warning("no answer from the instance; again with the same key %s", key)
                self.sleep(RETRY_WAIT)  # the first request may still be being processed
            except PublishError as exc:
                raise after_publishing_call(exc) from None

    def _upload(self, rendered: Any) -> list[Any]:
        """Each image with its description, processed before the status refers to it."""
        ids = []
        for media in rendered.media:
            data = self.media_bytes(media)
            info = media.info
            mime = f"image/{info.format.lower()}" if not isinstance(info, str) else None
            with self._mapped("uploading an image"):
                done = self.api().media_post(
                    io.BytesIO(data), mime_type=mime, description=media.alt,
                    file_name=media.path.name,
                )  # fmt: skip
            ids.append(self._processed(done)["id"])
        return ids

    def _processed(self, media: Any) -> Any:
        """POST /api/v2/media answers 202 while the file is processed (its `url` null):
        GET /api/v1/media/:id until it has one (Mastodon's documentation), a second apart."""
        waited = 0.0
        while media.get("url") is None:
            if waited >= PROCESSING_WAIT:
                raise TransientError(
                    f"the instance was still processing an image after {waited:.0f} s"
                )
            self.sleep(1.0)
            waited += 1.0
            with self._mapped("waiting for an image to be processed"):
                media = self.api().media(media["id"])
        return media

    # --- reading back, deleting, checking -----------------------------------------------------

    def account(self) -> Any:
        if self._account is None:
            with self._mapped("reading the account"):
                self._account = self.api().account_verify_credentials()
        return self._account

    def recent(self, limit: int = 40, since: datetime | None = None) -> list[RemotePost]:
        account = self.account()
        with self._mapped("reading the account's statuses"):
            statuses = self.api().account_statuses(account["id"], limit=min(limit, 40))
        return [
            RemotePost(
                remote_id=str(s["id"]),
                text=as_text(s.get("content") or ""),
                created_at=s.get("created_at"),
                url=s.get("url") or s.get("uri"),
                reply_to=str(s["in_reply_to_id"]) if s.get("in_reply_to_id") else None,
            )  # fmt: skip
            for s in statuses
        ]

    def same_text(self, sent: str, found: str, *, media: int = 0) -> bool:
        """The API's HTML shows a remote mention as its user name alone."""
        return comparable(local_mentions(sent)) == comparable(local_mentions(found))

    def delete(self, remote_id: str) -> None:
        with self._mapped("deleting a status"):
            self.api().status_delete(remote_id)

    def check_credentials(self) -> CredentialReport:
        """The token's account and permissions, and the instance's limits against the
        channel's settings (in words: what to create where, what to write in the config)."""
        try:
            account = self.account()
            with self._mapped("reading the application's permissions"):
                app = self.api().app_verify_credentials()
            limits = self.limits()
        except AuthError as exc:
            return CredentialReport(ok=False, problems=[exc.message])
        except PublishError as exc:
            return CredentialReport(
                ok=False, problems=[f"cannot reach the instance: {exc.message}"]
            )
        scopes = list(app.get("scopes") or [])
        report = CredentialReport(ok=True, account=f"@{account['acct']}", scopes=scopes)
        missing = [
            s for s in SCOPES if scopes and s not in scopes and s.split(":")[0] not in scopes
        ]
        if missing:
            report.ok = False
            report.problems.append(
                f"the access token lacks {', '.join(missing)}: create an application "
                f"({NEW_APPLICATION}) with the scopes {', '.join(SCOPES)}, and use its token "
                "(without the read scopes a send in doubt can never be settled)"
            )
        for key in ("max_characters", "max_media", "description_limit"):
            stated = int(self.channel.settings.get(key) or self.settings[key].default)
            if limits[key] != stated:
                report.warnings.append(
                    f"the instance allows {key.replace('_', ' ')} {limits[key]}, the config "
                    f"says {stated}: add `{key}: {limits[key]}` to the channel so that "
                    "validate checks what the instance takes"
                )
        return report
