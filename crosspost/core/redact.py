"""Keeping secrets out of other libraries' logs.

tweepy, oauthlib, urllib3 and apprise log request lines, signed headers and resolved URLs at
DEBUG (and apprise at ERROR): each carries credentials. One filter, attached to those loggers,
takes every registered secret out of a record before any handler sees it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from crosspost.core.errors import redact

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
