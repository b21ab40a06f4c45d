"""The one home for keeping secrets out of text: exceptions, pages, the ledger and other
libraries' logs.

tweepy, oauthlib, urllib3 and apprise log request lines, signed headers and resolved URLs at
DEBUG (and apprise at ERROR): each carries credentials. One filter, attached to those loggers,
takes every registered secret out of a record before any handler sees it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

FRAGMENT = 12  # this many characters of a secret, anywhere in a text, are hidden
# facebook-sdk puts the token in query strings and bodies; requests repeats URLs in errors
_TOKEN_IN_TEXT = re.compile(
    r"\b(access_token|input_token|fb_exchange_token|client_secret|appsecret_proof)=[^&\s'\"]*"
)


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (of 4 characters or more) replaced by '***'."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def scrub(text: str) -> str:
    """`text` with the value of every token-like URL parameter replaced by '***'."""
    return _TOKEN_IN_TEXT.sub(r"\1=***", text)


def hide(text: str, secrets: list[str]) -> str:
    """`text` with token-like URL parameters and any piece of a secret (FRAGMENT characters
    or more: a platform may echo a token cut short) replaced by '***'."""
    text = scrub(text)
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) < FRAGMENT:
            continue
        i = 0
        while i <= len(secret) - FRAGMENT:
            at = text.find(secret[i : i + FRAGMENT])
            if at < 0:
                i += 1
                continue
            start, end = at, at + FRAGMENT  # widen the match as far as text and secret agree
            j = i
            while start > 0 and j > 0 and text[start - 1] == secret[j - 1]:
                start, j = start - 1, j - 1
            k = i + FRAGMENT
            while end < len(text) and k < len(secret) and text[end] == secret[k]:
                end, k = end + 1, k + 1
            text = text[:start] + "***" + text[end:]
    return text


_SECRETS: set[str] = set()
_LOCK = threading.Lock()


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        with _LOCK:
            secrets = tuple(_SECRETS)
        if secrets:
            try:
                text = record.getMessage()
            except Exception:  # a malformed record is the logging module's business
                return True
            cleaned = redact(text, secrets)
            if cleaned != text:
                record.msg, record.args = cleaned, ()
        return True


_FILTER = _Redact()


def protect_logs(secrets: Iterable[str], loggers: Iterable[str]) -> None:
    """Redact these secrets (as written and percent-encoded) from these loggers' records."""
    with _LOCK:
        for secret in secrets:
            if len(secret) >= 4:
                _SECRETS.update({secret, quote(secret, safe=""), quote_plus(secret)})
    for name in loggers:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
