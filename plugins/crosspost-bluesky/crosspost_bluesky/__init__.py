"""Bluesky for crosspost, through the `atproto` SDK: a plugin on crosspost's public contract.

    channels:
      OPCCKent_bsky:
        platform: bluesky
        handle: "@kentpcc.bsky.social"
        credentials:
          identifier: ${BLUESKY_HANDLE}          # kentpcc.bsky.social
          app_password: ${BLUESKY_APP_PASSWORD}  # Settings → Privacy and security → App passwords

Exactly once, not just at most once: every part of a post is written with a record key chosen
before the call (a TID noted in the ledger first) by `com.atproto.repo.putRecord`, which
makes the record exist under that key whatever happened before. So a call that timed out
after Bluesky accepted it is simply made again with the same key and the same record, and a
send in doubt is settled by reading that one record back (`settle`).

Text is counted in graphemes (300, as Bluesky counts); links, mentions and hashtags become
facets on UTF-8 byte offsets (the SDK's detection; mentions resolved to DIDs); images are
uploaded as blobs with their alt text (at most 4, 1,000,000 bytes each); a post's link
without images becomes a link card; a thread is replies with root and parent references.
"""

from __future__ import annotations

import hashlib
import logging
import time
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
    Sent,
    Setting,
    Settlement,
    check_deadline,
    comparable,
    fail,
)
from crosspost.adapters.rules import ERROR, Finding, PlatformRules
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
)

log = logging.getLogger(__name__)

POST = "app.bsky.feed.post"
DEFAULT_SERVICE = "https://bsky.social"
LIMIT = 300  # graphemes: app.bsky.feed.post's text has maxGraphemes 300 (its lexicon)
TEXT_BYTES = 3000  # and maxLength 3000, in UTF-8 bytes (the lexicon's unit for strings)
SESSION_ERRORS = ("ExpiredToken", "InvalidToken", "AuthenticationRequired", "AccountTakedown")
IMAGE_BYTES = 1_000_000  # app.bsky.embed.images#image: maxSize 1000000
ALT_LIMIT = 2000  # the Bluesky app's limit on an image's description
RETRIES = 2  # a publishing call repeated with the same record key after no answer
APP_PASSWORDS = "Settings → Privacy and security → App passwords"


def graphemes(text: str) -> tuple[int, bool]:
    """Bluesky's length: grapheme clusters (a flag or a skin-toned emoji is one)."""
    return len(regex.findall(r"\X", text)), True


# --- record keys chosen in advance ---------------------------------------------------------

_S32 = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable, as TIDs are written


def new_tid(seed: str, micros: int | None = None) -> str:
    """A TID (the record key `app.bsky.feed.post` requires: 53 bits of microseconds since
    1970 and a 10-bit clock id, 13 base32-sortable characters): now, with a clock id from
    `seed` (the delivery and part), so two servers never pick the same key."""
    micros = int(time.time() * 1_000_000) if micros is None else micros
    clock = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:2], "big") & 0x3FF
    value = (micros << 10) | clock
    return "".join(_S32[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def tid_time(tid: str) -> datetime:
    """When a TID was made (its record's `createdAt`: the same on every retry)."""
    value = 0
    for char in tid:
        value = value * 32 + _S32.index(char)
    return datetime.fromtimestamp((value >> 10) / 1_000_000, UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- the adapter ---------------------------------------------------------------------------


class BlueskyAdapter(Adapter):
    platform = "bluesky"
    rules = PlatformRules(
        platform="bluesky", label="Bluesky", text_limit=LIMIT, unit="graphemes", thread=True,
        link_field=True,  # a link card beside the text; with images, at the end of the text
        max_media=4, media_formats=frozenset({"JPEG", "PNG", "WEBP", "GIF"}),
        max_media_bytes=IMAGE_BYTES, alt_limit=ALT_LIMIT, counter=graphemes,
    )  # fmt: skip
    settings = {
        "service": Setting("url", default=DEFAULT_SERVICE, help="the account's PDS"),
        "link_card": Setting(
            "choice",
            default="yes",
            choices=("yes", "no"),
            help="show the post's link as a card when it has no images",
        ),  # fmt: skip
    }
    credentials = ("identifier", "app_password")
    setup_help = (
        "In the Bluesky app, signed in as the office's account: Settings → Privacy and "
        "security → App passwords → Add App Password (never the account's own password); "
        "the identifier is the handle, e.g. kentpcc.bsky.social"
    )
    look_up_limit = 100

    @classmethod
    def rules_for(cls, settings: dict[str, Any]) -> PlatformRules:
        """Without link cards, the link is not sent beside the text: the template places it."""
        from dataclasses import replace

        return replace(cls.rules, link_field=(settings.get("link_card") or "yes") == "yes")

    def check(self, rendered: Any) -> list[Finding]:
        """The platform's rules, and the lexicon's other limit: 3,000 bytes of UTF-8."""
        findings = super().check(rendered)
        for number, text in enumerate([rendered.text, *rendered.thread], start=1):
            size = len(text.encode("utf-8"))
            if size > TEXT_BYTES:
                where = "the text" if number == 1 else f"thread part {number}"
                findings.append(Finding(
                    ERROR, f"{where} is {size:,} bytes in UTF-8, over Bluesky's limit of "
                    f"{TEXT_BYTES:,} (emoji made of several characters count several times)",
                ))  # fmt: skip
        return findings

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._client: Any = None
        self._did: str | None = None
        self._handle: str | None = None

    # --- talking to the PDS ----------------------------------------------------------------

    def client(self) -> Any:
        """A signed-in atproto Client (one session per adapter)."""
        if self._client is None:
            from atproto import Client
            from atproto_client.client.session import Session

            client = Client(base_url=self.setting("service").rstrip("/"))
            with self._mapped("signing in to Bluesky"):
                client.login(
                    self.secret("identifier"), self.secret("app_password"),
                    fetch_bsky_profile=False,
                )  # fmt: skip
            session = Session.decode(client.export_session_string())
            self._client, self._did, self._handle = client, session.did, session.handle
        return self._client

    @property
    def did(self) -> str:
        self.client()
        assert self._did is not None
        return self._did

    def url(self, uri: str) -> str:
        rkey = uri.rsplit("/", 1)[-1]
        return f"https://bsky.app/profile/{self._handle or self.did}/post/{rkey}"

    @contextmanager
    def _mapped(self, doing: str, *, sending: bool = False) -> Iterator[None]:
        """The SDK's and httpx's exceptions as crosspost's typed errors, secrets out."""
        try:
            yield
        except PublishError as exc:
            raise fail(exc, self) from None
        except Exception as exc:  # noqa: BLE001 -- every failure is translated here
            raise fail(self.error(exc, doing, sending=sending), self) from None

    def error(self, exc: Exception, doing: str, *, sending: bool = False) -> PublishError:
        from atproto_client import exceptions as e

        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        content = getattr(response, "content", None)
        code = getattr(content, "error", None)  # the XRPC error's name, e.g. ExpiredToken
        said = getattr(content, "message", None) or code
        where = f"{doing}: Bluesky answered {status}" if status else doing
        if isinstance(exc, e.UnauthorizedError) or code in SESSION_ERRORS:
            self._client = None  # a dead session: the next call signs in afresh
            return AuthError(
                f"{where}: the handle or app password was refused; create an app password "
                f"in Bluesky ({APP_PASSWORDS}) and set it in the environment",
                platform_message=said, code=status,
            )  # fmt: skip
        if isinstance(exc, e.RateLimitExceededError):
            reset = (getattr(response, "headers", None) or {}).get("ratelimit-reset")
            retry_at = datetime.fromtimestamp(int(reset), UTC) if reset else None
            return RateLimited(f"{where}: rate limited", retry_at=retry_at, code=status)
        if status == 413:  # the SDK raises it as a NetworkError; it is final
            return Rejected(f"{where}: too large", platform_message=said, code=status)
        if isinstance(exc, e.BadRequestError):
            return Rejected(f"{where}: the post was refused", platform_message=said, code=status)
        if isinstance(exc, e.InvokeTimeoutError) or (
            isinstance(exc, e.NetworkError) and status is None
        ):  # fmt: skip
            cause = exc.__cause__
            import httpx

            if isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout):
                return TransientError(f"{doing}: could not connect ({cause})", refused="not-sent")
            return TransientError(f"{doing}: no answer from Bluesky ({type(cause).__name__})")
        return TransientError(f"{where}", platform_message=said, code=status)

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
        texts = [rendered.text, *rendered.thread]
        parts = sorted(resume, key=lambda p: p.index)
        notes = dict(notes or {})
        refs: dict[str, str] = {}  # uri -> cid, for replies
        embed = self._embed(rendered) if not parts else None
        for index in range(len(parts), len(texts)):
            key = f"rkey.{index}"
            rkey = notes.get(key)
            if rkey is None:  # chosen, and on record, before the call that uses it
                rkey = new_tid(f"{rendered.post_id}/{self.channel.key}/{index}")
                if on_note:
                    on_note(key, rkey)
            reply = self._reply(parts, refs) if parts else None
            created = _iso(self.now())  # this attempt's time: never backdated by an old key
            record = self._record(texts[index], created, embed if index == 0 else None, reply)
            uri, cid = self._put(rkey, record, part=index)
            refs[uri] = cid
            part = PartReceipt(index, uri, self.url(uri))
            parts.append(part)
            if on_part:
                on_part(part)
        first = parts[0]
        return Receipt(
            remote_id=first.remote_id, url=first.url, published_at=self.now().astimezone(UTC),
            parts=tuple(parts),
        )  # fmt: skip

    def _put(self, rkey: str, record: dict[str, Any], part: int) -> tuple[str, str]:
        """putRecord under the key chosen in advance. With no answer, the same call is made
        again (the same key and record: it cannot make a second post); a record found under
        the key is the answer. A session that died is signed in again, once."""
        from atproto_client import models

        attempt, signed_in_again = 0, False
        while True:
            try:
                check_deadline()  # never post on a claim another server may have taken over
            except LeaseLost as exc:
                if attempt == 0:
                    raise
                raise InDoubt(f"{exc.message} (after a call with no answer)", part=part) from None
            data = models.ComAtprotoRepoPutRecord.Data(
                repo=self.did, collection=POST, rkey=rkey, record=record
            )
            try:
                with self._mapped(f"posting to Bluesky (part {part + 1})", sending=True):
                    done = self.client().com.atproto.repo.put_record(data)
                return str(done.uri), str(done.cid)
            except AuthError:
                if signed_in_again or self._client is not None:
                    raise
                signed_in_again = True  # the session had expired: sign in, the same call again
            except RateLimited:
                raise  # answered before anything was written; the key makes a later try safe
            except TransientError as exc:
                # no answer, or a passing fault: the record may exist. Look; else make the
                # same call again, which can only ever write this one record
                try:
                    found = self._get(rkey)
                except PublishError:
                    found = None
                if found is not None:
                    return found[0], found[1]
                attempt += 1
                if attempt > RETRIES:
                    raise InDoubt(
                        f"{exc.message}; tried {attempt} times with the same record key "
                        f"{rkey}, which is settled by reading that record back",
                        part=part,
                    ) from None
                log.warning("Bluesky gave no answer; trying again with the same key %s", rkey)
                self.sleep(2.0)
            except PublishError as exc:
                raise after_publishing_call(exc) from None

    def _get(self, rkey: str) -> tuple[str, str, dict[str, Any]] | None:
        """The post under this record key in the account, or None when there is none."""
        from atproto_client import exceptions as e
        from atproto_client import models

        params = models.ComAtprotoRepoGetRecord.Params(repo=self.did, collection=POST, rkey=rkey)
        try:
            found = self.client().com.atproto.repo.get_record(params)
        except e.BadRequestError as exc:  # RecordNotFound: certainly not there
            content = getattr(exc.response, "content", None)
            if (
                getattr(content, "error", None) == "RecordNotFound"
                or "not found" in str(getattr(content, "message", "")).lower()
                or "could not locate" in str(getattr(content, "message", "")).lower()
            ):
                return None
            raise fail(self.error(exc, "reading a post back"), self) from None
        except Exception as exc:  # noqa: BLE001
            raise fail(self.error(exc, "reading a post back"), self) from None
        value = found.value if isinstance(found.value, dict) else found.value.model_dump(
            by_alias=True, exclude_none=True
        )  # fmt: skip
        return str(found.uri), str(found.cid), value

    def _record(
        self, text: str, created: str, embed: dict[str, Any] | None, reply: dict[str, Any] | None
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "$type": POST,
            "text": text,
            "createdAt": created,  # fixed for this attempt: its repeats are the same record
            "langs": ["en"],
        }
        facets = self.facets(text)
        if facets:
            record["facets"] = facets
        if embed:
            record["embed"] = embed
        if reply:
            record["reply"] = reply
        return record

    def facets(self, text: str) -> list[dict[str, Any]]:
        """Links, hashtags and mentions, each at its UTF-8 byte offsets (what Bluesky's
        richtext facets index); a mention whose handle does not resolve is left as text."""
        from atproto_client.utils import facet_detection

        out = [  # dumped as the lexicon names them ($type, byteStart, byteEnd)
            f.model_dump(by_alias=True, exclude_none=True)
            for f in facet_detection.detect_facets(text)
        ]
        for mention in facet_detection.detect_mentions(text):
            did = self._resolve(mention.handle)
            if did is None:
                continue
            out.append({
                "$type": "app.bsky.richtext.facet",
                "index": {"byteStart": mention.byte_start, "byteEnd": mention.byte_end},
                "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}],
            })  # fmt: skip
        return sorted(out, key=lambda f: f["index"]["byteStart"])

    def _resolve(self, handle: str) -> str | None:
        from atproto_client import exceptions as e
        from atproto_client import models

        try:
            params = models.ComAtprotoIdentityResolveHandle.Params(handle=handle.lower())
            return str(self.client().com.atproto.identity.resolve_handle(params).did)
        except e.BadRequestError:
            return None  # no such handle: the text stays as written

    def _reply(self, parts: list[PartReceipt], refs: dict[str, str]) -> dict[str, Any]:
        """The reply reference of the next part: the thread's root and the part before."""

        def strong(uri: str) -> dict[str, str]:
            if uri not in refs:  # a part published by an earlier attempt
                found = self._get(uri.rsplit("/", 1)[-1])
                if found is None:
                    raise InDoubt(f"the thread's earlier part {uri} cannot be read back")
                refs[uri] = found[1]
            return {"uri": uri, "cid": refs[uri]}

        return {"root": strong(parts[0].remote_id), "parent": strong(parts[-1].remote_id)}

    def _embed(self, rendered: Any) -> dict[str, Any] | None:
        """Images (uploaded now as blobs, with their alt text), or else a link card."""
        if rendered.media:
            images = []
            for media in rendered.media[:4]:
                data = self.media_bytes(media)
                with self._mapped("uploading an image to Bluesky"):
                    blob = self.client().upload_blob(data).blob
                image: dict[str, Any] = {
                    "alt": media.alt,
                    "image": blob.model_dump(by_alias=True, exclude_none=True),
                }
                info = media.info
                if not isinstance(info, str):
                    image["aspectRatio"] = {"width": info.width, "height": info.height}
                images.append(image)
            return {"$type": "app.bsky.embed.images", "images": images}
        if rendered.link and self.setting("link_card") == "yes":
            title = str(rendered.post.fields.get("title") or rendered.link)
            return {
                "$type": "app.bsky.embed.external",
                "external": {"uri": rendered.link, "title": title, "description": ""},
            }
        return None

    # --- reading back, settling, deleting ------------------------------------------------------

    def settle(self, sent: Sent) -> Settlement:
        """The part in doubt was written under a key noted before the call: read that record.
        Found: published; not there: certainly not published (the key was never used)."""
        index = sent.index
        rkey = sent.notes.get(f"rkey.{index}")
        if rkey is None:  # never reached the call that would have used a key
            return Settlement(found=None, searched_back=True, detail="no record key was used")
        found = self._get(rkey)
        if found is None:
            return Settlement(found=None, searched_back=True, detail=f"no record {rkey}")
        uri, value = found[0], found[2]
        created = value.get("createdAt") or value.get("created_at")
        return Settlement(
            found=PartReceipt(index, uri, self.url(uri)), searched_back=True,
            published_at=datetime.fromisoformat(created.replace("Z", "+00:00"))
            if created else None,
        )  # fmt: skip

    def recent(self, limit: int = 50, since: datetime | None = None) -> list[RemotePost]:
        from atproto_client import models

        params = models.ComAtprotoRepoListRecords.Params(
            repo=self.did, collection=POST, limit=min(limit, 100)
        )
        with self._mapped("reading the account's posts"):
            listed = self.client().com.atproto.repo.list_records(params)
        out = []
        for item in listed.records:
            value = item.value if isinstance(item.value, dict) else item.value.model_dump(
                by_alias=True
            )  # fmt: skip
            reply = value.get("reply") or {}
            created = value.get("createdAt") or value.get("created_at")
            out.append(RemotePost(
                remote_id=str(item.uri), text=value.get("text", ""),
                created_at=datetime.fromisoformat(created.replace("Z", "+00:00"))
                if created else None,
                url=self.url(str(item.uri)), reply_to=(reply.get("parent") or {}).get("uri"),
            ))  # fmt: skip
        return out

    def same_text(self, sent: str, found: str, *, media: int = 0) -> bool:
        return comparable(sent) == comparable(found)

    def delete(self, remote_id: str) -> None:
        from atproto_client import models

        rkey = remote_id.rsplit("/", 1)[-1]
        data = models.ComAtprotoRepoDeleteRecord.Data(repo=self.did, collection=POST, rkey=rkey)
        with self._mapped("deleting a post on Bluesky"):
            self.client().com.atproto.repo.delete_record(data)

    def check_credentials(self) -> CredentialReport:
        """Signing in with the app password is the check: it says whose account it is."""
        try:
            self.client()
        except AuthError as exc:
            if "is not set" in exc.message:
                return CredentialReport(ok=False, problems=[exc.message])
            return CredentialReport(ok=False, problems=[
                f"Bluesky refused the sign-in: create an app password in the Bluesky app "
                f"({APP_PASSWORDS}), not the account's own password, and set it as "
                f"{self.channel.credentials.get('app_password')}",
            ])  # fmt: skip
        except PublishError as exc:
            return CredentialReport(ok=False, problems=[f"cannot reach Bluesky: {exc.message}"])
        return CredentialReport(ok=True, account=f"@{self._handle} ({self._did})")
