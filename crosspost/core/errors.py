"""What can go wrong when publishing, typed so the daemon knows what to do next.

Every adapter translates its library's exceptions into these in one place. Each keeps the
platform's own message (with any secret taken out) and says whether a retry can help.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from crosspost.core.states import Met


@dataclass(frozen=True)
class PartReceipt:
    """One published part of a post (a thread has several; most posts one)."""

    index: int  # 0 for the post itself, 1.. for thread parts
    remote_id: str
    url: str | None = None


class PublishError(Exception):
    """Base of every publishing failure. `retryable` says whether trying again can help."""

    retryable = False
    holds_channel = False  # the whole channel waits for a person (credentials, a usage cap)
    kind: str = Met.ERROR

    def __init__(
        self,
        message: str,
        *,
        platform_message: str | None = None,
        code: int | str | None = None,
        part: int | None = None,
        completed: Iterable[PartReceipt] = (),
        refused: str | None = None,
    ):
        self.message = message
        self.platform_message = platform_message
        self.code = code
        self.part = part  # which part of a thread failed (0-based), when it matters
        self.completed = tuple(completed)  # parts published before the failure
        # one of REFUSALS: the request was turned away before anything was created, so it
        # may be retried even after a publishing call (see after_publishing_call)
        if refused is not None and refused not in REFUSALS:
            raise ValueError(
                f"unknown refusal {refused!r}: add it to errors.REFUSALS, with its source"
            )
        self.refused = refused
        super().__init__(self.describe())

    def describe(self) -> str:
        text = self.message
        if self.part is not None and self.part > 0:
            text = f"thread part {self.part + 1}: {text}"
        if self.platform_message and self.platform_message not in text:
            text += f" (platform said: {self.platform_message})"
        return text


class TransientError(PublishError):
    """A passing fault (network, server error): retry with backoff."""

    retryable = True
    kind = Met.TRANSIENT


class LeaseLost(TransientError):
    """This process's claim ran out before the platform was called (it was paused, frozen or
    cut off past its lease): nothing is sent, since another server may have taken it over."""

    def __init__(self, message: str, **kwargs: object):
        kwargs.setdefault("refused", "lease-lost")
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class ContentChanged(TransientError):
    """What is on disk is not what was checked and approved (an image replaced or linked out
    of the project since): nothing is sent; the post is checked again before it can go."""

    kind = Met.CHANGED

    def __init__(self, message: str, **kwargs: object):
        kwargs.setdefault("refused", "content-changed")  # raised before any request is made
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class RateLimited(PublishError):
    """Too many requests: retry at `retry_at` (None when the platform did not say)."""

    retryable = True
    kind = Met.RATE_LIMITED

    def __init__(self, message: str, *, retry_at: datetime | None = None, **kwargs: object):
        self.retry_at = retry_at
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class AuthError(PublishError):
    """The credentials are wrong, expired or lack a permission: reconnect the channel."""

    holds_channel = True
    kind = Met.AUTH


class UsageCapped(PublishError):
    """The platform's allowance for the app is used up for a long period (X's monthly post
    cap): retrying every few minutes cannot help, so the channel is held with an alert."""

    holds_channel = True
    kind = Met.CAPPED

    def __init__(self, message: str, *, resets_at: datetime | None = None, **kwargs: object):
        self.resets_at = resets_at
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class Rejected(PublishError):
    """The platform refused this post for good (invalid, duplicate, policy): do not retry."""

    kind = Met.REJECTED


class InDoubt(PublishError):
    """The request may have reached the platform but no answer came back (e.g. a read timeout).

    Never resend blindly: settle by looking at the account's recent posts.
    """

    retryable = False
    kind = Met.IN_DOUBT


# The only answers that may be retried after a publishing call was made: each says, in the
# platform's documentation (docs/platforms.md has the sources), that nothing was created.
REFUSALS = {
    "lease-lost": "crosspost refused to send: its claim's lease had run out, so another server "
    "may have taken the delivery over (checked before any request)",
    "not-sent": "the connection failed before the request left this machine (DNS, refused, "
    "connect timeout)",
    "content-changed": "crosspost refused to send: an image is not what was approved",
    "x-rate-limited": "X 429: the rate limiter answers before the request is processed",
    "x-media-not-ready": "X 400 'Your media IDs are invalid.': a 400 creates nothing",
    "meta-blocked": "Meta 341 / 368: 'wait and retry the operation', the action was blocked",
    "ig-not-published": "Instagram 2207020 (container expired) / 2207027 (media not ready): "
    "media_publish did not publish the container",
    "ig-publishing-limit": "Instagram 2207042: the 24-hour publishing limit, nothing published",
}


def after_publishing_call(error: PublishError) -> PublishError:
    """The error to act on when it was raised by (or after) a call that creates the post.

    THE ONE RULE against duplicates: once a publishing call has been made (X's
    `POST /2/tweets`, Facebook's `/feed` and `/photos`, Instagram's `media_publish`), an
    answer that says "try again" does not say "nothing was published". Postiz published a
    live Instagram post twice this way (its PR #1681), and X answers 5xx after creating a
    post. So a retryable error becomes InDoubt, settled by reading the account back, never a
    blind retry. Only the answers listed in REFUSALS stay retryable. Errors that are not
    retryable (Rejected, AuthError, UsageCapped) say the platform refused the post and stand
    as they are.
    """
    if not error.retryable or error.refused in REFUSALS or isinstance(error, InDoubt):
        return error
    doubt = InDoubt(
        f"{error.message}; the request had been sent, so the post may have been published: "
        "it is settled by reading the account back, never sent again blindly",
        platform_message=error.platform_message,
        code=error.code,
        part=error.part,
        completed=error.completed,
    )
    return doubt


def sent_nothing(exc: BaseException) -> bool:
    """True when a requests failure certainly happened before the request left this machine:
    a connect timeout, a refused connection, a name that does not resolve, a proxy error.
    Anything else (a read timeout, a broken or stalled answer, a TLS error while reading)
    may come after the platform received the request."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, ProxyError

    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.ProxyError):
        return True
    if isinstance(exc, requests.exceptions.SSLError):
        return False  # a handshake and a read both raise it: not provably before sending
    if isinstance(exc, requests.exceptions.ConnectionError):
        inner = exc.args[0] if exc.args else None
        if isinstance(inner, MaxRetryError):
            inner = inner.reason
        # NewConnectionError and NameResolutionError are ConnectTimeoutErrors too
        return isinstance(inner, ConnectTimeoutError | ProxyError)
    return False


def network_reason(exc: BaseException) -> str:
    """A requests failure in one short line a person can act on (not urllib3's dump):
    which host, and whether its name, the connection, the time or TLS failed."""
    import requests
    from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

    request = getattr(exc, "request", None)
    host = (getattr(request, "url", "") or "").split("/")[2:3]
    where = f" ({host[0]})" if host else ""
    inner = exc.args[0] if exc.args else None
    if isinstance(inner, MaxRetryError):
        inner = inner.reason
    if isinstance(inner, NameResolutionError):
        return (
            f"the name{where} could not be looked up: is this server online, and its DNS working?"
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return f"a TLS (certificate) error talking to the server{where}"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"no connection{where} in time: is this server online, or behind a firewall?"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"no answer{where} in time"
    if isinstance(exc, requests.exceptions.ProxyError):
        return f"the proxy refused the connection{where}"
    if isinstance(inner, NewConnectionError | ConnectionRefusedError):
        return f"the connection{where} was refused or could not be made"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"the connection{where} broke"
    return f"{type(exc).__name__}{where}"
