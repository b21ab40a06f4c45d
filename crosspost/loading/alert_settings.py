"""The `alerts` section of the config: where alerts go, read and checked with the config.

Kept apart from the sending (`crosspost.scheduling.alerts`), which needs the ledger: the config
is read long before any ledger is opened, and must not depend on it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from crosspost.core.envref import ENV_REF
from crosspost.core.problems import Mark, Problem, Problems, did_you_mean
from crosspost.loading.fields import Reader, type_name
from crosspost.loading.yamlfile import LocatedDict, LocatedList

ALERT_KINDS = (
    "failed", "expired", "in_doubt", "auth", "capped", "held", "token_expiring", "warning",
)  # fmt: skip
ALERT_KEYS = ("urls", "on")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_LITERAL_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:([^/@\s]+)@")


# --- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertURL:
    """One apprise URL as the config writes it: `${VAR}` references unresolved."""

    template: str
    mark: Mark
    where: str  # e.g. alerts.urls[1]

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(ENV_REF.findall(self.template)))

    @property
    def label(self) -> str:
        """Where the URL is configured and its service: safe to log, unlike the URL."""
        match = _SCHEME.match(self.template)
        service = f"{match.group(1).lower()}://, " if match else ""
        return f"{self.where} ({service}{self.mark})"


@dataclass(frozen=True)
class AlertSettings:
    """The `alerts` section: default URLs and per-kind URLs that replace them."""

    urls: tuple[AlertURL, ...] = ()
    on: Mapping[str, tuple[AlertURL, ...]] = field(default_factory=dict)
    mark: Mark | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.urls) or any(self.on.values())

    def targets(self, kind: str) -> tuple[AlertURL, ...]:
        """Where alerts of this kind go: `on.<kind>` when given, else `urls`."""
        return self.on.get(kind, self.urls)

    def all_urls(self) -> list[AlertURL]:
        return [*self.urls, *(u for urls in self.on.values() for u in urls)]

    def environment_problems(self, environ: Mapping[str, str] | None = None) -> list[Problem]:
        """Errors for every ${VAR} an alert URL uses that the environment does not set."""
        env = os.environ if environ is None else environ
        return [
            Problem(url.mark, f"environment variable {var} is not set ({url.where} needs it)")
            for url in self.all_urls()
            for var in url.variables
            if not env.get(var)
        ]


def parse_alerts(raw: LocatedDict | None, problems: Problems) -> AlertSettings:
    """The `alerts` section of the config; every mistake a located problem."""
    if raw is None:
        return AlertSettings()
    reader = Reader(raw, problems, "alerts")
    reader.check_keys(ALERT_KEYS)
    urls = _urls(reader, "urls", "alerts.urls", problems)
    on: dict[str, tuple[AlertURL, ...]] = {}
    raw_on = reader.mapping("on")
    if raw_on is not None:
        on_reader = Reader(raw_on, problems, "alerts.on")
        on_reader.check_keys(ALERT_KINDS)
        for kind in ALERT_KINDS:
            if kind not in raw_on:
                continue
            found = _urls(on_reader, kind, f"alerts.on.{kind}", problems)
            if not found and not _is_bad_list(raw_on.get(kind)):
                problems.error(
                    raw_on.value_mark(kind),
                    f"alerts.on.{kind} needs at least one URL; leave it out to send "
                    f"{kind} alerts to alerts.urls",
                )
            on[kind] = found
    if not urls:
        nowhere = [kind for kind in ALERT_KINDS if kind not in on]
        if nowhere:
            problems.warning(
                raw.mark,
                f"alerts for {', '.join(nowhere)} are sent nowhere: add 'urls' to the "
                "alerts section",
            )
    return AlertSettings(urls, on, raw.mark)


def _is_bad_list(value: Any) -> bool:
    """A value whose problems were already reported (not a plain empty list or nothing)."""
    return value is not None and not (isinstance(value, list) and not value)


def _urls(reader: Reader, key: str, where: str, problems: Problems) -> tuple[AlertURL, ...]:
    data = reader.data
    value = data.get(key)
    if value is None:
        return ()
    items: list[tuple[str, Mark, str]] = []
    if isinstance(value, str):
        items.append((value, data.value_mark(key), f"{where}[1]"))
    elif isinstance(value, LocatedList):
        for i, item in enumerate(value):
            if isinstance(item, str):
                items.append((item, value.item_mark(i), f"{where}[{i + 1}]"))
            else:
                problems.error(
                    value.item_mark(i),
                    f"items of '{key}' must be apprise URLs (text), not {type_name(item)}",
                )
    else:
        problems.error(
            data.value_mark(key), f"'{key}' must be a list of apprise URLs, not {type_name(value)}"
        )
    out = []
    for text, mark, name in items:
        url = _check_url(text.strip(), mark, name, problems)
        if url is not None:
            out.append(url)
    return tuple(out)


def _check_url(text: str, mark: Mark, where: str, problems: Problems) -> AlertURL | None:
    # the value may hold a secret: messages name the place and the service, never the URL
    if "${" in ENV_REF.sub("", text):
        problems.error(mark, f"{where}: write environment references as ${{NAME}}")
        return None
    if ENV_REF.match(text):  # the service comes from the environment too
        return AlertURL(text, mark, where)
    match = _SCHEME.match(text)
    if not match:
        problems.error(
            mark,
            f"{where} is not an apprise URL: write service://..., e.g. "
            "mailtos://user:${SMTP_PASSWORD}@example.org or json://host/path",
        )
        return None
    scheme = match.group(1).lower()
    known = known_services()
    if known and scheme not in known:
        problems.error(
            mark, f"{where}: unknown alert service '{scheme}://'{did_you_mean(scheme, known)}"
        )
        return None
    password = _LITERAL_PASSWORD.match(text)
    if password and not ENV_REF.search(password.group(1)):
        problems.warning(
            mark,
            f"{where} has a password written into the config: put it in an environment "
            "variable and write ${NAME} in its place",
        )
    return AlertURL(text, mark, where)


def substitute(template: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """The URL with each ${VAR} replaced, and every form of the secrets in it (for redaction).

    A value standing in the URL's user and password (`scheme://user:password@host`) is
    percent-encoded, so a password holding '@', '/', ':' or '#' stays a password (unencoded,
    the part after an '@' became the mail host, looked up in DNS). Anywhere else a value is
    put in as it is: apprise's own URLs carry tokens with '/' in their paths (Slack, Discord).
    A trailing line break (a secrets file's) is not part of a secret.
    """
    from urllib.parse import quote

    userinfo = _userinfo_span(template)
    values: list[str] = []

    def value(match: re.Match[str]) -> str:
        raw = env[match.group(1)]
        clean = raw.rstrip()
        inside = userinfo is not None and userinfo[0] <= match.start() < userinfo[1]
        encoded = quote(clean, safe="") if inside else clean
        values.extend(v for v in (raw, clean, encoded) if v not in values)
        return encoded

    return ENV_REF.sub(value, template), values


def _userinfo_span(template: str) -> tuple[int, int] | None:
    """Where `user:password` stands in a URL template (before the '@' of its authority)."""
    scheme = _SCHEME.match(template)
    if scheme is None:
        return None
    start = scheme.end()
    rest = template[start:]
    # the authority ends at the first '/', '?' or '#' that is not inside a ${...} reference
    plain = ENV_REF.sub(lambda m: "x" * len(m.group()), rest)
    end = min((i for i in (plain.find(c) for c in "/?#") if i >= 0), default=len(plain))
    at = plain.rfind("@", 0, end)
    return (start, start + at) if at >= 0 else None


@cache
def known_services() -> frozenset[str]:
    """Every URL scheme apprise knows (empty when apprise cannot say: then none is refused)."""
    try:
        import apprise

        details = apprise.Apprise().details(show_disabled=True)
    except Exception:  # pragma: no cover - an apprise too old or broken to list its services
        return frozenset()
    found: set[str] = set()
    for service in details.get("schemas", []):
        for key in ("protocols", "secure_protocols"):
            value = service.get(key) or ()
            found.update([value] if isinstance(value, str) else value)
    return frozenset(s.lower() for s in found)
