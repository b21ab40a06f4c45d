"""X (formerly Twitter) through tweepy, with images through X's v2 media endpoints.

tweepy is imported when the adapter first talks to X, never at module import, so commands
that do not publish stay fast. Every failure goes through `XAdapter.error`, the one place
where tweepy's and requests' exceptions become the typed errors of `crosspost.core.errors`.
"""

from __future__ import annotations

import calendar
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

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
from crosspost.adapters.xlength import x_length
from crosspost.core.errors import (
    AuthError,
    InDoubt,
    PartReceipt,
    PublishError,
    RateLimited,
    Rejected,
    TransientError,
    UsageCapped,
    after_publishing_call,
    network_reason,
    sent_nothing,
)
from crosspost.core.redact import protect_logs

if TYPE_CHECKING:
    from crosspost.adapters.xmedia import MediaUploader
    from crosspost.loading.posts import Media
    from crosspost.rendering.render import Rendered

log = logging.getLogger(__name__)

# X's limits and their reset headers (epoch seconds): (reset, remaining), the 15-minute window
# first. When a 429 names several, the latest reset among the exhausted ones is when to retry.
RESET_HEADERS = (
    ("x-rate-limit-reset", "x-rate-limit-remaining"),
    ("x-user-limit-24hour-reset", "x-user-limit-24hour-remaining"),
    ("x-app-limit-24hour-reset", "x-app-limit-24hour-remaining"),
)
# X's problem types (the `type` of an RFC 7807 answer) and words in its 403 messages that are
# about the keys, the app or the account rather than about the post. Only these hold the
# channel; any other 403 fails the post alone (docs/platforms.md has the sources).
APP_PERMISSIONS = ("oauth1-permissions", "oauth1 app permissions")
API_ACCESS = (
    "client-not-enrolled",
    "attached to a project",
    "subset of x api",
    "subset of twitter api",
    "access level",
    "client-forbidden",
    "unsupported-authentication",
)
ACCOUNT_BLOCKED = ("suspended", "temporarily locked", "account is locked")
# "You are not permitted to perform this action." is about this post (a reply to a post that
# limits replies, a deleted or protected post, a mention or quote the account may not make),
# not about the keys: Postiz fails the post for it too.
NOT_PERMITTED = "not permitted to perform this action"
USAGE_CAPPED = "usage-capped"  # 429: the app's monthly post cap (not the 15-minute window)
MEDIA_NOT_READY = "media ids are invalid"  # 400 on POST /2/tweets while X still processes
DUPLICATE = "duplicate content"
# Loggers that may print credentials at DEBUG (request headers, OAuth base strings, bodies).
CHATTY_LOGGERS = (
    "tweepy.client",
    "oauthlib.oauth1.rfc5849",
    "requests_oauthlib.oauth1_auth",
    __name__,
    "crosspost.adapters.xmedia",
)


def retry_at(headers: Mapping[str, str]) -> datetime | None:
    """When X says the exhausted limit resets; None when no reset header came."""
    resets: list[tuple[bool, int]] = []
    for reset_name, remaining_name in RESET_HEADERS:
        value = headers.get(reset_name)
        if value is None or not str(value).strip().isdigit():
            continue
        remaining = headers.get(remaining_name)
        exhausted = remaining is None or str(remaining).strip() == "0"
        resets.append((exhausted, int(str(value).strip())))
    chosen = [at for exhausted, at in resets if exhausted] or [at for _, at in resets]
    return datetime.fromtimestamp(max(chosen), UTC) if chosen else None


_X_ENTITY = re.compile(r"&(amp|lt|gt);")
_X_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_TCO = re.compile(r"https?://t\.co/\w+")


def unescape_x(text: str) -> str:
    """X's `text` as it was sent: X escapes exactly &, < and > (one pass, so a literal
    '&amp;' that came back as '&amp;amp;' stays '&amp;')."""
    return _X_ENTITY.sub(lambda m: _X_ENTITIES[m.group(1)], text)


def _link_ours(text: str) -> str:
    """Every link X would shorten (as twitter-text finds them, schemeless ones too) as a
    placeholder link."""
    from twitter_text import extract_urls_with_indices

    out, at = [], 0
    for found in extract_urls_with_indices(text):
        start, end = found["indices"]
        out += [text[at:start], "https://t.co/x"]
        at = end
    return "".join(out) + text[at:]


def _folded(text: str) -> str:
    return comparable(_TCO.sub("https://t.co/x", text))


TOKEN_URL = "https://api.twitter.com/oauth2/token"  # app-only bearer token (client credentials)
USAGE_URL = "https://api.x.com/2/usage/tweets"


@dataclass(frozen=True)
class Usage:
    """The X project's post usage this month (`GET /2/usage/tweets`)."""

    used: int | None
    cap: int | None
    resets_on: date | None

    @classmethod
    def from_answer(cls, data: Mapping[str, Any], today: date) -> Usage:
        def number(key: str) -> int | None:
            value = str(data.get(key) or "").strip()
            return int(value) if value.isdigit() else None

        day = data.get("cap_reset_day")
        resets = next_reset(int(day), today) if isinstance(day, int) and 1 <= day <= 31 else None
        return cls(number("project_usage"), number("project_cap"), resets)

    def reset_time(self) -> datetime | None:
        if self.resets_on is None:
            return None
        return datetime(self.resets_on.year, self.resets_on.month, self.resets_on.day, tzinfo=UTC)

    def describe(self) -> str:
        used = f"{self.used:,}" if self.used is not None else "?"
        cap = f"{self.cap:,}" if self.cap is not None else "?"
        when = f"; resets on {self.resets_on:%d %B %Y}" if self.resets_on else ""
        return f"{used} of {cap} posts used this month{when}"


def next_reset(day: int, today: date) -> date:
    """The next `day` of a month after `today` (the last day of a shorter month)."""
    year, month = today.year, today.month
    while True:
        candidate = date(year, month, min(day, calendar.monthrange(year, month)[1]))
        if candidate > today:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


class XAdapter(Adapter):
    platform = "x"
    look_up_limit = 1000  # recent() follows X's pages
    rules = PlatformRules(
        platform="x",
        label="X",
        text_limit=280,
        weighted=True,
        counter=x_length,  # twitter-text v3 weights, fast and exact
        unit="weighted characters",
        thread=True,
        max_media=4,
        media_formats=frozenset({"JPEG", "PNG", "GIF", "WEBP"}),
        max_media_bytes=5 * MB,
        alt_limit=1000,
        gif_alone=True,
    )
    credentials = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
    settings = {
        "timeout": Setting("number", default=30, help="seconds before an HTTP call gives up"),
        "media_timeout": Setting(
            "number", default=300, help="seconds X may take to process a GIF before a retry"
        ),
    }

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._api: Any = None  # tweepy.Client, made on first use
        self._user_id: str | None = None
        self._bearer: str | None = None  # the app bearer token, for the usage endpoint

    # --- plumbing --------------------------------------------------------------------------

    @property
    def handle(self) -> str:
        return "@" + self.channel.handle.lstrip("@")

    def url(self, remote_id: str) -> str:
        return f"https://x.com/{self.channel.handle.lstrip('@')}/status/{remote_id}"

    def secrets(self) -> list[str]:
        """The credentials, also percent-encoded once (OAuth header) and twice (base string),
        and the app bearer token once one was made."""
        out = list(values := super().secrets() + ([self._bearer] if self._bearer else []))
        for value in values:
            once = quote(value, safe="")
            out += [v for v in (once, quote(once, safe="")) if v not in out]
        return out

    def _keys(self) -> dict[str, str]:
        return {name: self.secret(name) for name in self.credentials}

    def client(self) -> Any:
        """The tweepy Client (OAuth 1.0a user context), every request with the timeout."""
        if self._api is None:
            import tweepy

            from crosspost.adapters.xmedia import TimeoutSession

            keys = self._keys()
            protect_logs(self.secrets(), CHATTY_LOGGERS)
            # never wait_on_rate_limit: it sleeps in the worker and recurses on a bare 429
            api = tweepy.Client(**keys, wait_on_rate_limit=False)
            api.session = TimeoutSession(self.timeout)
            self._api = api
        return self._api

    def uploader(self) -> MediaUploader:
        import tweepy

        from crosspost.adapters.xmedia import MediaUploader

        keys = self._keys()
        auth = tweepy.OAuth1UserHandler(
            keys["consumer_key"],
            keys["consumer_secret"],
            keys["access_token"],
            keys["access_token_secret"],
        ).apply_auth()
        return MediaUploader(
            self.client().session, auth, sleep=self.sleep, max_wait=self._media_wait()
        )

    def _media_wait(self) -> float:
        value = self.channel.settings.get("media_timeout")
        return float(value) if value is not None else 300.0

    @contextmanager
    def _mapped(
        self,
        doing: str,
        *,
        sending: bool = False,
        part: int | None = None,
        completed: Sequence[PartReceipt] = (),
    ) -> Iterator[None]:
        """Run a block of calls to X; whatever it raises comes out as a typed error."""
        try:
            yield
        except Exception as exc:
            error = self.error(exc, doing, sending=sending, part=part, completed=completed)
            if error is None:
                raise
            raise error from None  # the original's text may hold a secret

    # --- the one place exceptions are translated -------------------------------------------

    def error(
        self,
        exc: BaseException,
        doing: str,
        *,
        sending: bool = False,
        part: int | None = None,
        completed: Sequence[PartReceipt] = (),
    ) -> PublishError | None:
        """The typed error for an exception raised while `doing` something on X, secrets out.

        `sending` marks a call that creates a post: when the answer is lost after the request
        may have arrived, the post may exist, so the error is InDoubt, never a plain retry.
        Returns None for an exception that is a bug here rather than a failure to talk to X.
        """
        import requests
        import tweepy

        error: PublishError
        if isinstance(exc, PublishError):
            error = exc
        elif isinstance(exc, tweepy.HTTPException):
            error = self._http_error(exc, doing)
        elif isinstance(exc, requests.exceptions.RequestException):
            error = self._network_error(exc, doing, sending)
        elif isinstance(exc, OSError):  # reading an image from disk
            error = Rejected(f"{doing}: cannot read the file ({exc.strerror or exc})")
        elif sending:  # X answered, but not as expected: the post may well exist
            error = InDoubt(
                f"{doing}: X's answer could not be read ({type(exc).__name__}: {exc}); the "
                f"post may have been published. Do not resend: check {self.handle}'s recent posts"
            )
        else:
            return None
        if sending:  # the one rule: no blind retry once the post may exist
            error = after_publishing_call(error)
        if part is not None and error.part is None:
            error.part = part
        if completed and not error.completed:
            error.completed = tuple(completed)
        return fail(error, self)

    def _http_error(self, exc: Any, doing: str) -> PublishError:
        response = exc.response
        status = int(response.status_code)
        status_text = f"{status} {response.reason or ''}".strip()
        said = "; ".join(str(m) for m in exc.api_messages) or str(exc)
        words = self._problem_words(response, said)
        if status == 429 and USAGE_CAPPED in words:
            usage = self.usage()  # best effort: when it resets, from X's usage endpoint
            if usage is not None and usage.resets_on is not None:
                until = f"it resets on {usage.resets_on:%d %B %Y}"
            else:
                until = (
                    "it resets at the start of the app's next billing month (the X developer "
                    "portal's Usage page shows the date)"
                )
            return UsageCapped(
                f"the X app's monthly post cap is reached, so {self.handle} cannot post until "
                f"{until}; upgrade the app's X API plan to post sooner. The channel is held: "
                "run crosspost doctor once the cap has reset",
                resets_at=usage.reset_time() if usage is not None else None,
                platform_message=said,
                code=status,
            )
        if status == 429:
            when = retry_at(response.headers)
            after = f"retry after {when:%Y-%m-%d %H:%M} UTC" if when else "X did not say when"
            return RateLimited(
                f"{doing}: X's posting limit for {self.handle} is reached ({after})",
                retry_at=when,
                platform_message=said,
                code=status,
                refused="x-rate-limited",
            )
        if status == 401:
            return AuthError(self._keys_rejected(status_text), platform_message=said, code=status)
        if status == 400 and MEDIA_NOT_READY in words:
            return TransientError(
                f"{doing}: X had not finished processing the images ({status_text}); the post "
                "is tried again with fresh uploads",
                platform_message=said,
                code=status,
                refused="x-media-not-ready",
            )
        if status == 403:
            return self._forbidden(doing, status_text, said, words)
        if status >= 500 or status == 408:
            return TransientError(
                f"{doing}: X had a server problem ({status_text}); it will be retried",
                platform_message=said,
                code=status,
            )
        return Rejected(
            f"{doing}: X refused it ({status_text})", platform_message=said, code=status
        )

    def _forbidden(self, doing: str, status_text: str, said: str, words: str) -> PublishError:
        """A 403: about this post (fail it), or about the keys, app or account (hold)."""
        kwargs: dict[str, Any] = {"platform_message": said, "code": 403}
        if DUPLICATE in words:
            return Rejected(
                f"{doing}: X refuses a post identical to one {self.handle} already "
                f"published ({status_text}); change the wording to post it again",
                **kwargs,
            )
        if NOT_PERMITTED in words:
            return Rejected(
                f"{doing}: X does not permit this post from {self.handle} ({status_text}). "
                "Check what it does: a reply to a post that limits who can reply, or that was "
                "deleted or made private; a mention or quote of an account that blocks "
                f"{self.handle}; a link X treats as spam. Change the post, then publish it again",
                **kwargs,
            )
        if any(w in words for w in APP_PERMISSIONS):
            return AuthError(
                f"the X app behind {self.handle} is not allowed to post ({status_text}): "
                "in the X developer portal set the app's permissions to 'Read and write', "
                f"then regenerate the access token and secret and update {self._token_vars()}",
                **kwargs,
            )
        if any(w in words for w in API_ACCESS):
            return AuthError(
                f"the X developer app behind {self.handle} has no access to this part of "
                f"the X API ({status_text}): check the app's project and access level in "
                "the X developer portal",
                **kwargs,
            )
        if any(w in words for w in ACCOUNT_BLOCKED):
            return AuthError(
                f"the X account {self.handle} is suspended or locked ({status_text}): sign "
                f"in to X as {self.handle} and resolve it",
                **kwargs,
            )
        return Rejected(f"{doing}: X refused it ({status_text})", **kwargs)

    def _network_error(self, exc: BaseException, doing: str, sending: bool) -> PublishError:
        import requests

        timed_out = isinstance(exc, requests.exceptions.Timeout) and not isinstance(
            exc, requests.exceptions.ConnectTimeout
        )
        if sent_nothing(exc):
            return TransientError(
                f"{doing}: could not reach X: {network_reason(exc)}; it will be retried",
                refused="not-sent",
            )
        if sending:
            lost = f"no answer from X within {self.timeout:g} s" if timed_out else f"{exc}"
            return InDoubt(
                f"{doing}: {lost} after sending; the post may have been published. Do not "
                f"resend: check {self.handle}'s recent posts"
            )
        if timed_out:
            return TransientError(f"{doing}: no answer from X within {self.timeout:g} s")
        return TransientError(f"{doing}: network problem talking to X ({exc})")

    @staticmethod
    def _problem_words(response: Any, said: str) -> str:
        """X's message, problem type and reason, lower case, for recognising a 403's cause."""
        extra = ""
        try:
            body = response.json()
        except Exception:  # not JSON: the message is all there is
            body = None
        if isinstance(body, dict):
            extra = " ".join(str(body.get(key, "")) for key in ("type", "reason", "title"))
        return f"{said} {extra}".lower()

    def _token_vars(self) -> str:
        names = self.channel.credentials
        return f"{names.get('access_token', '?')} / {names.get('access_token_secret', '?')}"

    def _keys_rejected(self, status_text: str) -> str:
        names = self.channel.credentials
        consumer = f"{names.get('consumer_key', '?')} / {names.get('consumer_secret', '?')}"
        return (
            f"the X keys for {self.handle} were rejected ({status_text}): regenerate the access "
            f"token and secret in the X developer portal and update {self._token_vars()} "
            f"(and check that {consumer} hold the app's API key and secret)"
        )

    # --- the interface ---------------------------------------------------------------------

    def publish(
        self,
        rendered: Rendered,
        *,
        resume: Sequence[PartReceipt] = (),
        on_part: OnPart | None = None,
        notes: Mapping[str, str] | None = None,
        on_note: OnNote | None = None,
    ) -> Receipt:
        texts = [rendered.text, *rendered.thread]
        parts = sorted(resume, key=lambda p: p.index)
        start = parts[-1].index + 1 if parts else 0
        for index in range(start, len(texts)):
            with self._mapped(f"posting to {self.handle}", part=index, completed=parts):
                api = self.client()
            media_ids: list[str] = []
            if index == 0 and rendered.media:
                media_ids = self._upload(rendered.media, completed=parts)
            arguments: dict[str, Any] = {"text": texts[index], "user_auth": True}
            if media_ids:
                arguments["media_ids"] = media_ids
            if parts:
                arguments["in_reply_to_tweet_id"] = parts[-1].remote_id
            doing = f"posting to {self.handle}"
            check_deadline()  # never post on a claim another server may have taken over
            with self._mapped(doing, sending=True, part=index, completed=parts):
                remote_id = str(api.create_tweet(**arguments).data["id"])
            part = PartReceipt(index, remote_id, self.url(remote_id))
            parts.append(part)
            log.info(
                "published part %d of %d on %s: %s", index + 1, len(texts), self.handle, part.url
            )
            if on_part:
                on_part(part)
        return Receipt(
            remote_id=parts[0].remote_id,
            url=parts[0].url,
            published_at=self.now(),
            parts=tuple(parts),
        )

    def _upload(self, media: Sequence[Media], *, completed: Sequence[PartReceipt]) -> list[str]:
        """Upload the post's images with their alt text; their media ids, in order."""
        from crosspost.adapters.xmedia import media_category

        with self._mapped(f"uploading images to {self.handle}", part=0, completed=completed):
            uploader = self.uploader()
        ids = []
        for item in media:
            category = media_category(item.path, getattr(item.info, "format", None))
            with self._mapped(f"uploading the image {item.rel}", part=0, completed=completed):
                media_id = uploader.upload(item.path, category, self.media_bytes(item))
            if item.alt:
                doing = f"adding the alt text of {item.rel}"
                with self._mapped(doing, part=0, completed=completed):
                    uploader.describe(media_id, item.alt)
            ids.append(media_id)
        return ids

    def _me(self) -> Any:
        return self.client().get_me(user_auth=True).data

    def recent(self, limit: int = 50, since: datetime | None = None) -> list[RemotePost]:
        """The timeline, newest first; with `since`, only posts created from then on
        (`start_time`): X bills reads per post, so settling reads only what it needs."""
        if limit <= 0:
            return []
        posts: list[RemotePost] = []
        with self._mapped(f"reading {self.handle}'s recent posts"):
            api = self.client()
            if self._user_id is None:
                self._user_id = str(self._me().id)
            token = None
            while len(posts) < limit:
                page = api.get_users_tweets(
                    self._user_id,
                    max_results=min(100, max(5, limit - len(posts))),  # X takes 5 to 100
                    pagination_token=token,
                    start_time=since,  # tweepy sends a datetime as YYYY-MM-DDTHH:MM:SSZ
                    tweet_fields=["created_at", "referenced_tweets"],
                    user_auth=True,  # tweepy's default here is an app bearer token
                )
                for tweet in page.data or []:
                    tweet_id = str(tweet.id)
                    replied = [
                        str(ref.id)
                        for ref in tweet.referenced_tweets or []
                        if ref.type == "replied_to"
                    ]
                    posts.append(
                        RemotePost(
                            tweet_id,
                            tweet.text,
                            tweet.created_at,
                            self.url(tweet_id),
                            reply_to=replied[0] if replied else None,
                        )
                    )
                token = (page.meta or {}).get("next_token")
                if not token or not page.data:
                    break
        return posts[:limit]

    def same_text(self, sent: str, found: str, *, media: int = 0) -> bool:
        """As X stores a post: `text` comes back with &, < and > HTML-escaped, every link
        (schemeless ones too) as a t.co link, and a post with images ends with one more
        t.co link for the attachment (X API v2 data dictionary; tweepy's recorded answers)."""
        ours = _folded(_link_ours(sent))
        theirs = _folded(unescape_x(found))
        if media:
            return theirs == f"{ours} <link>".strip()
        return theirs == ours

    def delete(self, remote_id: str) -> None:
        doing = f"deleting post {remote_id} from {self.handle}"
        with self._mapped(doing):
            answer = self.client().delete_tweet(remote_id, user_auth=True)
            data = answer.data or {}
        if data.get("deleted") is False:
            raise fail(Rejected(f"{doing}: X answered that it did not delete it"), self)

    def usage(self) -> Usage | None:
        """The X project's monthly post usage, cap and reset day (`GET /2/usage/tweets`, which
        takes only an app bearer token, made from the consumer key and secret); None when X
        does not say. Best effort: it only makes messages more precise."""
        try:
            session = self.client().session
            keys = self._keys()
            answer = session.post(
                TOKEN_URL,
                auth=(keys["consumer_key"], keys["consumer_secret"]),
                data={"grant_type": "client_credentials"},
            )
            token = answer.json().get("access_token") if answer.ok else None
            if not token:
                return None
            self._bearer = str(token)  # a secret: secrets() hides it from now on
            reply = session.get(
                USAGE_URL,
                params={"usage.fields": "cap_reset_day,project_cap,project_usage"},
                headers={"Authorization": f"Bearer {token}"},
            )
            data = reply.json().get("data") if reply.ok else None
        except Exception as exc:  # noqa: BLE001 -- a nicety: never let it hide the real error
            log.debug("X usage not read: %s", self.clean(f"{type(exc).__name__}: {exc}"))
            return None
        if not isinstance(data, dict):
            return None
        return Usage.from_answer(data, self.now().date())

    def check_credentials(self) -> CredentialReport:
        doing = f"checking the X keys for {self.handle}"
        try:
            with self._mapped(doing):
                me = self._me()
        except AuthError as exc:
            return CredentialReport(ok=False, problems=[exc.describe()])
        except PublishError as exc:
            said = exc.describe().removeprefix(f"{doing}: ").removesuffix("; it will be retried")
            return CredentialReport(
                ok=False,
                problems=[
                    f"could not check the X keys for {self.handle} just now, try again "
                    f"later: {said}"
                ],
            )
        account = f"@{me.username}"
        report = CredentialReport(ok=True, account=account)
        usage = self.usage()
        if usage is not None:
            report.quota = usage.describe()
            if usage.used is not None and usage.cap and usage.used >= usage.cap:
                report.ok = False  # a channel held for the cap stays held until it resets
                report.problems.append(
                    f"the X app's monthly post cap is reached ({report.quota}): nothing can be "
                    "posted until it resets, unless the app's X API plan is upgraded"
                )
        if account.lower() != self.handle.lower():
            report.ok = False
            report.problems.append(
                f"the X keys configured for channel {self.channel.key} belong to {account}, "
                f"not {self.handle}: generate the access token and secret while signed in as "
                f"{self.handle} and update {self._token_vars()}"
            )
        return report
