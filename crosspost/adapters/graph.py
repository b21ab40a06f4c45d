"""The Graph API, shared by the Facebook Page and Instagram adapters.

`Graph` builds one `facebook.GraphAPI` for a channel: the version from the channel's config
(facebook-sdk's own `version=` only knows 2.8-3.1), a timeout on every call, and our own
`requests.Session` so the response headers (usage, status) can be read after an error.
`graph_error` is the one place where facebook-sdk's and requests' exceptions become the
types in `crosspost.core.errors`, with every secret taken out. facebook-sdk and requests are
imported inside functions only: `crosspost --help` must not pay for them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

from crosspost.adapters.base import (
    Adapter,
    CredentialReport,
    Receipt,
    RemotePost,
    check_deadline,
    fail,
)
from crosspost.core.errors import (
    AuthError,
    InDoubt,
    PartReceipt,
    PublishError,
    RateLimited,
    Rejected,
    TransientError,
    after_publishing_call,
    network_reason,
    sent_nothing,
)
from crosspost.core.redact import hide, scrub

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

TRANSIENT_CODES = frozenset({1, 2})
THROTTLING_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
# Instagram content publishing: download timeout, container expired, media not ready,
# server errors. Each can succeed on a later attempt.
TRANSIENT_SUBCODES = frozenset({2207003, 2207020, 2207027, 2207001, 2207032})
PUBLISH_LIMIT_SUBCODE = 2207042  # Instagram: the 24-hour publishing limit is reached
# Instagram's answers to media_publish that say the container was not published: media not
# ready (2207027, "Media ID is not available") and container expired (2207020)
NOT_PUBLISHED_SUBCODES = frozenset({2207027, 2207020})
# "Wait and retry the operation later" in Meta's error-handling guide: 341 application limit
# reached, 368 temporarily blocked for policy violations (subcode 1390008: posting too fast).
# Both answer before anything is created, so they are retried even after a publishing call.
BLOCKED_CODES = frozenset({341, 368})
BLOCKED_WAIT = timedelta(minutes=30)  # when no usage header says how long the block lasts
USAGE_HEADERS = ("X-Business-Use-Case-Usage", "X-App-Usage", "X-Page-Usage")
EXPIRY_WARNING = timedelta(days=14)
_VERSION = re.compile(r"v?(\d+)\.(\d+)")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]*>")


class _ScrubTokens(logging.Filter):
    """urllib3 logs each request's URL at DEBUG, query string (and so the token) included."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(scrub(a) if isinstance(a, str) else a for a in record.args)
        return True


_SCRUB_TOKENS = _ScrubTokens()


# The day each Graph API version stops working: Meta's "Available Graph API Versions" table
# (developers.facebook.com/docs/graph-api/changelog/versions), read November 2026. Calls to a
# retired version are silently served by the oldest live one, so a version must be kept
# current: doctor and `validate --require-credentials` warn VERSION_WARNING ahead. None: Meta
# has not set the end yet (it does when a later version is released). Update this table, the
# default and docs/platforms.md together.
GRAPH_VERSIONS: dict[str, date | None] = {
    "v20.0": date(2026, 9, 24),
    "v21.0": date(2027, 1, 21),
    "v22.0": date(2027, 5, 20),
    "v23.0": date(2027, 10, 8),
    "v24.0": date(2028, 2, 18),
    "v25.0": date(2028, 7, 29),
    "v26.0": None,  # released 29 July 2026, the current version
}
DEFAULT_GRAPH_VERSION = "v26.0"
VERSION_WARNING = timedelta(days=90)


def version_warning(value: object, today: date) -> str | None:
    """What to say about a configured Graph API version on `today`: retired, retiring within
    VERSION_WARNING, or older than every version in the table; None when it is fine."""
    try:
        version = graph_version(value)
    except Rejected:
        return None  # the malformed value is an error of its own
    fix = f"set graph_version: {DEFAULT_GRAPH_VERSION} in the channel's settings"
    ends = GRAPH_VERSIONS.get(version)
    if version not in GRAPH_VERSIONS:
        oldest = min(GRAPH_VERSIONS, key=_version_key)
        if _version_key(version) < _version_key(oldest):
            return (
                f"Graph API {version} is retired: Meta answers it with the oldest version "
                f"still live, whose behaviour may differ; {fix}"
            )
        return None  # newer than the table: nothing known against it
    if ends is None:
        return None
    if ends <= today:
        return (
            f"Graph API {version} stopped working on {ends:%d %B %Y}: Meta answers it with the "
            f"oldest version still live, whose behaviour may differ; {fix}"
        )
    if ends - today <= VERSION_WARNING:
        return (
            f"Graph API {version} stops working on {ends:%d %B %Y} ({_days(ends - today)} "
            f"from now): {fix} before then"
        )
    return None


def _days(delta: timedelta) -> str:
    return f"{delta.days} day{'s' * (delta.days != 1)}"


def _version_key(version: str) -> tuple[int, int]:
    major, minor = version.lstrip("v").split(".")
    return int(major), int(minor)


def graph_version(value: object) -> str:
    """'v21.0' (or '21.0', or 21.0 as YAML reads it) as the path segment 'v21.0'."""
    match = _VERSION.fullmatch(str(value).strip())
    if not match:
        raise Rejected(
            f"graph_version {value!r} is not a Graph API version such as v21.0: "
            "correct it in the channel's settings"
        )
    return f"v{match.group(1)}.{match.group(2)}"


def encode(fields: Mapping[str, Any] | None) -> dict[str, str]:
    """Form fields as the Graph API reads them.

    facebook-sdk hands values to requests as they are, which sends True as "True": booleans
    go as "true"/"false", lists and mappings as JSON, None is left out.
    """
    out: dict[str, str] = {}
    for key, value in (fields or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, Mapping | list | tuple):
            out[key] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        else:
            out[key] = str(value)
    return out


class Graph:
    """One channel's connection to the Graph API; use it as a context manager."""

    def __init__(self, adapter: Adapter, token: str, *, token_label: str):
        import facebook
        import requests

        self.adapter = adapter
        self.token_label = token_label
        self.response: requests.Response | None = None  # the last call's, for headers
        self.session = requests.Session()
        self.session.hooks["response"].append(self._keep)
        self.api = facebook.GraphAPI(
            access_token=token, timeout=adapter.timeout, session=self.session
        )
        # the attribute holds the path segment itself: URLs become .../v21.0/...
        self.api.version = graph_version(adapter.setting("graph_version"))
        logging.getLogger("urllib3.connectionpool").addFilter(_SCRUB_TOKENS)  # idempotent

    def _keep(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.response = response

    def __enter__(self) -> Graph:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session.close()

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self.call("GET", path, params=params)

    def recent(self, path: str, text: str, created: str, url: str, limit: int) -> list[RemotePost]:
        """The account's `limit` latest posts from the edge `path`, whose items name their
        text, creation time and permalink fields `text`, `created` and `url`."""
        return [
            RemotePost(
                remote_id=str(item["id"]),
                text=str(item.get(text) or ""),
                created_at=parse_time(item.get(created)),
                url=item.get(url),
            )
            for item in self._listing(path, f"id,{text},{created},{url}", max(1, limit))
        ]

    def _listing(self, path: str, fields: str, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` items of an edge (newest first), following its pages of at most 100
        by their `after` cursor while the Graph API says there is a next page."""
        items: list[dict[str, Any]] = []
        after = None
        while len(items) < limit:
            params: dict[str, Any] = {"fields": fields, "limit": min(100, limit - len(items))}
            if after:
                params["after"] = after
            result = self.get(path, **params)
            page = [i for i in result.get("data") or [] if isinstance(i, dict) and i.get("id")]
            items.extend(page)
            paging = result.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after") if paging.get("next") else None
            if not page or not after:
                break
        return items[:limit]

    def post(
        self,
        path: str,
        *,
        files: dict[str, Any] | None = None,
        publishing: bool = False,
        **fields: Any,
    ) -> dict[str, Any]:
        """POST form fields (multipart when `files`); `publishing` when a timeout leaves the
        outcome unknown (the post may exist)."""
        if publishing:
            check_deadline()  # never post on a claim another server may have taken over
        return self.call("POST", path, fields=fields, files=files, publishing=publishing)

    def delete(self, path: str) -> dict[str, Any]:
        return self.call("DELETE", path)

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
        files: dict[str, Any] | None = None,
        publishing: bool = False,
    ) -> dict[str, Any]:
        import facebook
        import requests

        where = f"{self.api.version}/{path.lstrip('/')}"
        log.debug("%s: %s %s", self.adapter.channel.key, method, where)
        self.response = None
        try:
            result = self.api.request(
                where,
                args=encode(params),
                post_args=encode(fields) if method == "POST" else None,
                files=files,
                method=method,
            )
        except (facebook.GraphAPIError, requests.RequestException, KeyError) as exc:
            error = graph_error(
                exc,
                self.adapter,
                token_label=self.token_label,
                publishing=publishing,
                response=self.response,
            )
        else:
            return result if isinstance(result, dict) else {"data": result}
        # raised outside the except block: the library's exception (whose text may hold a
        # URL with the token) is not chained to ours, so no traceback can show it
        raise error


def require_id(
    result: Mapping[str, Any],
    adapter: Adapter,
    *,
    key: str = "id",
    publishing: bool = False,
    what: str = "the request",
) -> str:
    """The id the Graph API answered with; an answer without one is not a success."""
    value = result.get(key)
    if value:
        return str(value)
    text = f"{adapter.rules.label} answered {what} without an id ({key})"
    if publishing:
        raise fail(InDoubt(text + ": the post may have been published"), adapter)
    raise fail(TransientError(text), adapter)


# --- the one mapping from library exceptions to crosspost.core.errors ----------------------------


def graph_error(
    exc: BaseException,
    adapter: Adapter,
    *,
    token_label: str,
    publishing: bool = False,
    response: requests.Response | None = None,
) -> PublishError:
    """The crosspost error for an exception raised by facebook-sdk or requests.

    `publishing` says the call creates the post itself, so a request that may have arrived
    without an answer coming back is in doubt, not a plain transient fault. The result has
    every secret taken out (`fail`).
    """
    import facebook

    error: PublishError
    if isinstance(exc, facebook.GraphAPIError):
        error = _sdk_error(exc, adapter, token_label, publishing, response)
    elif isinstance(exc, KeyError):
        # facebook-sdk reads headers["content-type"] before anything else
        error = _unreadable(adapter, response, publishing, _summary(response))
    else:
        error = _transport_error(exc, adapter, publishing)
    if publishing:  # the one rule: no blind retry once the post may exist
        error = after_publishing_call(error)
    # the platform's text is hidden piece by piece (_coded hid what it put in the message)
    error.message = scrub(error.message)
    if error.platform_message:
        error.platform_message = hide(error.platform_message, adapter.secrets())
    return fail(error, adapter)


def _sdk_error(
    exc: Any,
    adapter: Adapter,
    token_label: str,
    publishing: bool,
    response: requests.Response | None,
) -> PublishError:
    """A facebook-sdk GraphAPIError: a coded Graph error, or an answer Graph did not write."""
    status = response.status_code if response is not None else None
    body = exc.result.get("error") if isinstance(exc.result, dict) else None
    if isinstance(body, dict) and exc.code is not None:
        return _coded(body, adapter, token_label, status, response)
    detail = body.get("message") if isinstance(body, dict) else None
    return _unreadable(adapter, response, publishing, detail or _summary(response))


def _transport_error(exc: BaseException, adapter: Adapter, publishing: bool) -> PublishError:
    """A requests exception (or anything else unexpected): what reached the platform."""
    import requests

    label = adapter.rules.label
    if isinstance(exc, requests.ConnectTimeout):
        return TransientError(
            f"could not connect to {label} within {adapter.timeout:g} s; nothing was sent",
            platform_message=str(exc),
            refused="not-sent",
        )
    if isinstance(exc, requests.ReadTimeout):
        if publishing:
            return InDoubt(
                f"{label} did not answer within {adapter.timeout:g} s of the request being "
                "sent: the post may have been published. Check the account before sending it "
                "again",
                platform_message=str(exc),
            )
        return TransientError(
            f"{label} did not answer within {adapter.timeout:g} s", platform_message=str(exc)
        )
    if isinstance(exc, requests.ConnectionError):
        # a stalled or broken answer, a TLS error while reading: the request may have
        # arrived. Only a failure to connect at all sent nothing.
        if sent_nothing(exc):
            return TransientError(
                f"could not reach {label}: {network_reason(exc)}", refused="not-sent"
            )
        return TransientError(
            f"the connection to {label} broke after the request was sent",
            platform_message=str(exc),
        )
    if isinstance(exc, requests.RequestException):
        # the answer could not be read (broken chunked body, invalid JSON ...): it came back
        text = f"{label}'s answer could not be read ({type(exc).__name__})"
        if publishing:
            return InDoubt(text + ": the post may have been published", platform_message=str(exc))
        return TransientError(text, platform_message=str(exc))
    return TransientError(f"unexpected failure talking to {label}", platform_message=repr(exc))


def _summary(response: requests.Response | None) -> str | None:
    """The gist of a page that is not JSON: its <title>, or the start of its text."""
    if response is None:
        return None
    try:
        text = response.text
    except Exception:  # noqa: BLE001 -- a body that cannot be decoded says nothing useful
        return None
    title = _TITLE.search(text)
    gist = title.group(1) if title else _TAGS.sub(" ", text)
    gist = " ".join(gist.split())
    return gist[:200] or None


def _unreadable(
    adapter: Adapter, response: requests.Response | None, publishing: bool, detail: str | None
) -> PublishError:
    """An answer that is not Graph's JSON: an HTML error page, or no Content-Type at all."""
    label = adapter.rules.label
    status = response.status_code if response is not None else None
    kind = response.headers.get("Content-Type") if response is not None else None
    what = f"HTTP {status}" if status is not None else "an unknown status"
    if not kind:
        text = f"{label} answered with {what} and no Content-Type header"
    elif "json" in kind:
        text = f"{label} answered with {what} and an error without a code"
    else:
        text = f"{label} answered with {what} and a {kind} page instead of JSON"
    if status is None or status >= 500:
        return TransientError(text, platform_message=detail)
    if status == 429:
        return RateLimited(text, retry_at=_retry_at(adapter, response), platform_message=detail)
    if status < 300:
        if publishing:
            return InDoubt(
                text + ": the post may have been published", platform_message=detail, code=status
            )
        return TransientError(text, platform_message=detail, code=status)
    return Rejected(text, platform_message=detail, code=status)


def _coded(
    body: Mapping[str, Any],
    adapter: Adapter,
    token_label: str,
    status: int | None,
    response: requests.Response | None,
) -> PublishError:
    """A Graph error with a code: {"error": {"message", "type", "code", "error_subcode", ...}}."""
    label = adapter.rules.label
    code = _int(body.get("code"))
    subcode = _int(body.get("error_subcode"))
    said, tag = _said_and_tag(body, adapter, code, subcode)
    kwargs: dict[str, Any] = {"platform_message": said, "code": code}
    var = ", ".join(adapter.channel.credentials.values()) or "its environment variable"

    # the codes first: an answer may also say is_transient, but 341/368 and the daily
    # limit are refusals with a wait of their own
    limited = _limited(adapter, response, code, subcode, said, tag, kwargs)
    if limited is not None:
        return limited
    if subcode in TRANSIENT_SUBCODES or body.get("is_transient") is True:
        return TransientError(
            f"{label} had a temporary problem ({tag}): {said}",
            refused="ig-not-published" if subcode in NOT_PUBLISHED_SUBCODES else None,
            **kwargs,
        )
    if code in TRANSIENT_CODES:
        return TransientError(f"{label} had a temporary problem ({tag}): {said}", **kwargs)
    if code == 190:
        return AuthError(
            f"the {token_label} has expired or was revoked: {said} ({tag}). Generate a new "
            f"token and set it in {var}",
            **kwargs,
        )
    if code == 10 or (code is not None and 200 <= code <= 299):
        return AuthError(
            f"the {token_label} lacks a permission this needs: {said} ({tag}). Grant it and "
            f"set the new token in {var}",
            **kwargs,
        )
    if code == 100:
        return Rejected(f"{label} refused the request as invalid: {said} ({tag})", **kwargs)
    if code == 506:
        return Rejected(
            f"{label} refused this as a duplicate of a post already published: {said} ({tag})",
            **kwargs,
        )
    if status is not None and status >= 500:
        return TransientError(f"{label} had a server error ({tag}): {said}", **kwargs)
    return Rejected(f"{label} refused the request ({tag}): {said}", **kwargs)


def _said_and_tag(
    body: Mapping[str, Any], adapter: Adapter, code: int | None, subcode: int | None
) -> tuple[str, str]:
    """What Graph said (with its user-facing part) and the tag naming the error, secrets hidden."""
    said = str(body.get("message") or "no message")
    user_said = body.get("error_user_msg")
    if user_said and str(user_said) not in said:
        said += f" — {body.get('error_user_title') or 'details'}: {user_said}"
    tag = f"Graph error {code}" + (f", subcode {subcode}" if subcode else "")
    if body.get("fbtrace_id"):
        tag += f", fbtrace_id {body['fbtrace_id']}"
    return hide(said, adapter.secrets()), hide(tag, adapter.secrets())


def _limited(
    adapter: Adapter,
    response: requests.Response | None,
    code: int | None,
    subcode: int | None,
    said: str,
    tag: str,
    kwargs: dict[str, Any],
) -> RateLimited | None:
    """The wait a blocking or throttling code calls for; None for any other code."""
    label = adapter.rules.label
    if code in BLOCKED_CODES:
        until = _retry_at(adapter, response) or adapter.now() + BLOCKED_WAIT
        why = "posting too fast" if subcode == 1390008 else "a temporary block"
        return RateLimited(
            f"{label} is holding back posts from this account for now ({why}; {tag}); it is "
            f"tried again after {until:%H:%M} UTC: {said}",
            retry_at=until,
            refused="meta-blocked",
            **kwargs,
        )
    if code in THROTTLING_CODES or subcode == PUBLISH_LIMIT_SUBCODE:
        retry_at = _retry_at(adapter, response)
        when = f"; access returns about {retry_at:%H:%M} UTC" if retry_at else ""
        return RateLimited(
            f"{label} is limiting how often we can call it ({tag}){when}: {said}",
            retry_at=retry_at,
            refused="ig-publishing-limit" if subcode == PUBLISH_LIMIT_SUBCODE else None,
            **kwargs,
        )
    return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _retry_at(adapter: Adapter, response: requests.Response | None) -> datetime | None:
    """When access returns, from the usage headers' `estimated_time_to_regain_access`
    (minutes); None when no header says."""
    if response is None:
        return None
    minutes: list[float] = []
    for name in USAGE_HEADERS:
        raw = response.headers.get(name)
        if not raw:
            continue
        try:
            _collect(json.loads(raw), minutes)
        except ValueError:
            log.debug("unreadable %s header", name)
    wait = max(minutes, default=0)
    return adapter.now() + timedelta(minutes=wait) if wait > 0 else None


def _collect(value: Any, out: list[float]) -> None:
    """Every `estimated_time_to_regain_access` anywhere in a usage header's JSON."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "estimated_time_to_regain_access" and isinstance(item, int | float):
                out.append(float(item))
            else:
                _collect(item, out)
    elif isinstance(value, list):
        for item in value:
            _collect(item, out)


class GraphAdapter(Adapter):
    """What the Facebook Page and Instagram adapters share as Graph API channels."""

    comment_scope: ClassVar[str] = ""  # the permission that posting the first comment needs

    def setup_warnings(self, today: date) -> list[str]:
        warning = version_warning(self.channel.settings.get("graph_version") or
                                  self.settings["graph_version"].default, today)  # fmt: skip
        return [warning] if warning else []


# --- checking a token with debug_token ------------------------------------------------------


def resumed(
    adapter: Adapter, rendered: Any, resume: Sequence[PartReceipt], noun: str, where: str
) -> Receipt:
    """An earlier attempt published this and was cut off: never publish it again.

    Its first comment, if any, is left for a person to check (posting it again could
    duplicate it): the receipt carries that as a warning.
    """
    first = resume[0]
    warnings: tuple[str, ...] = ()
    if rendered.first_comment:
        warnings = (
            f"{noun} {first.remote_id} was published by an interrupted attempt; its first "
            f"comment was not retried (it may be there already): check it {where}",
        )
        log.warning("%s: %s", adapter.channel.key, warnings[0])
    return Receipt(
        first.remote_id, first.url, adapter.now(), parts=tuple(resume), warnings=warnings
    )


def first_comment(
    adapter: GraphAdapter, graph: Graph, object_id: str, text: str | None, noun: str = "post"
) -> tuple[str | None, tuple[str, ...]]:
    """Post the first comment: (its id, no warning); on failure (None, a warning that names
    what to do), and the post stands: it is published."""
    if not text:
        return None, ()
    try:
        result = graph.post(f"{object_id}/comments", message=text)
        return require_id(result, adapter, what="the first comment"), ()
    except PublishError as exc:
        warning = (
            f"the first comment was not posted ({exc.describe()}): add it by hand on "
            f"{adapter.rules.label}"
        )
        if isinstance(exc, AuthError) and adapter.comment_scope:
            warning += f"; the token needs the permission {adapter.comment_scope} to post it"
        log.warning("%s: %s %s is published but %s", adapter.channel.key, noun, object_id, warning)
        return None, (warning,)


def parse_time(value: Any) -> datetime | None:
    """Graph's '2026-12-01T10:00:05+0000' as an aware datetime; None when absent or odd."""
    if not value:
        return None
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        try:
            return datetime.fromisoformat(str(value))
        except ValueError:
            return None


def inspect_token(
    adapter: Adapter,
    graph: Graph,
    token: str,
    *,
    required: tuple[str, ...],
    wanted: Mapping[str, str] | None = None,
) -> tuple[CredentialReport, dict[str, Any]]:
    """What `debug_token` says about `token` (which inspects itself), as a report a comms
    officer can act on, and the token's data. `wanted` maps optional scopes to what is lost
    without them (warnings)."""
    label = graph.token_label
    var = ", ".join(adapter.channel.credentials.values()) or "its environment variable"
    report = CredentialReport(ok=False)
    try:
        answer = graph.get("debug_token", input_token=token, access_token=token)
    except PublishError as exc:
        report.problems.append(explain(exc, label))
        return report, {}
    raw = answer.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    now = adapter.now()
    report.scopes = [str(s) for s in data.get("scopes") or []]
    expires = _int(data.get("expires_at")) or 0
    report.expires_at = datetime.fromtimestamp(expires, UTC) if expires else None  # 0: never
    if not data.get("is_valid"):
        report.problems.append(_not_valid(adapter, data, report.expires_at, now, label, var))
        return report, data
    missing = [s for s in required if s not in report.scopes]
    if missing:
        report.problems.append(
            f"the {label} lacks the permission{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}, which publishing needs: grant "
            f"{'them' if len(missing) > 1 else 'it'} when generating a new token and set it "
            f"in {var}"
        )
    for scope, loss in (wanted or {}).items():
        if scope not in report.scopes:
            report.warnings.append(f"the {label} lacks the permission {scope}: {loss}")
    if report.expires_at is not None:
        left = report.expires_at - now
        if left <= EXPIRY_WARNING:
            days = max(0, left.days)
            report.warnings.append(
                f"the {label} expires on {report.expires_at:%d %B %Y at %H:%M} UTC (in {days} "
                f"day{'' if days == 1 else 's'}): generate a new one before then and set it "
                f"in {var}"
            )
    report.ok = not report.problems
    return report, data


def _not_valid(
    adapter: Adapter,
    data: Mapping[str, Any],
    expires_at: datetime | None,
    now: datetime,
    label: str,
    var: str,
) -> str:
    """The problem sentence for a token debug_token calls not valid: expired or revoked."""
    raw = data.get("error")
    problem: dict[str, Any] = raw if isinstance(raw, dict) else {}
    said = hide(str(problem.get("message") or "Facebook says it is not valid"), adapter.secrets())
    said = adapter.clean(said)
    expired = _int(problem.get("subcode")) == 463 or (expires_at is not None and expires_at <= now)
    state = "has expired" if expired else "is no longer valid"
    return f"the {label} {state}: {said}. Generate a new token and set it in {var}"


def explain(error: PublishError, token_label: str) -> str:
    """A failed check as a problem sentence."""
    if isinstance(error, AuthError | Rejected):
        return error.describe()
    return f"could not check the {token_label} just now: {error.describe()}"
