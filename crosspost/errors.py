"""What can go wrong when publishing, typed so the daemon knows what to do next.

Every adapter translates its library's exceptions into these in one place. Each keeps the
platform's own message (with any secret taken out) and says whether a retry can help.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PartReceipt:
    """One published part of a post (a thread has several; most posts one)."""

    index: int  # 0 for the post itself, 1.. for thread parts
    remote_id: str
    url: str | None = None


class PublishError(Exception):
    """Base of every publishing failure. `retryable` says whether trying again can help."""

    retryable = False
    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        platform_message: str | None = None,
        code: int | str | None = None,
        part: int | None = None,
        completed: Iterable[PartReceipt] = (),
    ):
        self.message = message
        self.platform_message = platform_message
        self.code = code
        self.part = part  # which part of a thread failed (0-based), when it matters
        self.completed = tuple(completed)  # parts published before the failure
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
    kind = "transient"


class RateLimited(PublishError):
    """Too many requests: retry at `retry_at` (None when the platform did not say)."""

    retryable = True
    kind = "rate_limited"

    def __init__(self, message: str, *, retry_at: datetime | None = None, **kwargs: object):
        self.retry_at = retry_at
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class AuthError(PublishError):
    """The credentials are wrong, expired or lack a permission: reconnect the channel."""

    kind = "auth"


class Rejected(PublishError):
    """The platform refused this post for good (invalid, duplicate, policy): do not retry."""

    kind = "rejected"


class InDoubt(PublishError):
    """The request may have reached the platform but no answer came back (e.g. a read timeout).

    Never resend blindly: settle by looking at the account's recent posts.
    """

    retryable = False
    kind = "in_doubt"


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (of 4 characters or more) replaced by '***'."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
