"""What the Facebook Page adapter tests share: the Page, the posts, and helpers that read
request bodies back field by field. Every credential holds the canary, which must never
surface in an error or a log.
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError

from crosspost.core.errors import PublishError

from ..conftest import CANARY, NOW, canary_environ, make_adapter

GRAPH = "https://graph.facebook.com/v26.0/"
PAGE = "104857600"
TOKEN = canary_environ()["FB_PAGE_ACCESS_TOKEN"]
FEED = f"{GRAPH}{PAGE}/feed"
PHOTOS = f"{GRAPH}{PAGE}/photos"
POST_ID = f"{PAGE}_987654321"

TEXT_POST = """\
publish_at: 2026-12-01 10:00
body: We've secured £1.4 million for safer town centres in Kent and Medway.
link: https://www.pcc-kent.gov.uk/news/safer-streets
hashtags: [safer streets]
"""
PLAIN_POST = "publish_at: 2026-12-01 10:00\nbody: Our office is closed on Friday.\n"
ONE_PHOTO = """\
publish_at: 2026-12-01 10:00
body: Come and see us at the County Show.
media:
  - path: media/square.jpg
    alt: A navy square card with the office's logo in the middle.
"""
TWO_PHOTOS = """\
publish_at: 2026-12-01 10:00
body: Safer Streets, in pictures.
link: https://www.pcc-kent.gov.uk/news/safer-streets
first_comment: Which town should be next? Tell us below.
media:
  - path: media/square.jpg
    alt: A navy square card with the office's logo in the middle.
  - path: media/photo.png
    alt: A second navy card, announcing the funding in white type.
"""
WITH_COMMENT = PLAIN_POST + "first_comment: Questions? Ask them below.\n"


# --- helpers --------------------------------------------------------------------------------


def adapter(root: Path, **kwargs: Any) -> Any:
    kwargs.setdefault("now", lambda: NOW)
    kwargs.setdefault("sleep", _no_sleep)
    return make_adapter(root, "KentPCC", **kwargs)


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"the Facebook adapter slept {seconds} s")


def set_channel(root: Path, line: str) -> None:
    """Add a setting line to the KentPCC channel of the project's config."""
    config = root / "crosspost.yaml"
    text = config.read_text(encoding="utf-8")
    anchor = "    page_id: ${FB_PAGE_ID}\n"
    assert anchor in text
    config.write_text(text.replace(anchor, anchor + f"    {line}\n"), encoding="utf-8")


def set_version(root: Path, version: str) -> None:
    """Set the KentPCC channel's graph_version."""
    config = root / "crosspost.yaml"
    text = config.read_text(encoding="utf-8")
    old = "graph_version: v26.0\n    credentials:\n      page_access_token"
    assert text.count(old) == 1
    config.write_text(text.replace(old, old.replace("v26.0", version)), encoding="utf-8")


def form(call: Any) -> dict[str, Any]:
    """The fields of a request body, urlencoded or multipart (file parts as (name, bytes))."""
    body = call.request.body or b""
    if isinstance(body, str):
        body = body.encode()
    kind = call.request.headers.get("Content-Type", "")
    if kind.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {kind}\r\n\r\n".encode() + body
        )
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True)
            filename = part.get_filename()
            fields[str(name)] = (filename, data) if filename else data.decode()
        return fields
    assert kind == "application/x-www-form-urlencoded", kind
    parsed = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=True)
    assert all(len(v) == 1 for v in parsed.values()), parsed
    return {k: v[0] for k, v in parsed.items()}


def query(call: Any) -> dict[str, str]:
    parsed = parse_qs(urlsplit(call.request.url).query, keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def path(call: Any) -> str:
    return urlsplit(call.request.url).path


def assert_graph_calls(rsps: responses.RequestsMock, timeout: float = 30.0) -> None:
    """Every call went to graph.facebook.com/v26.0 with a timeout; no body says True/False."""
    for call in rsps.calls:
        assert call.request.url.startswith(GRAPH), call.request.url
        assert call.request.req_kwargs["timeout"] == timeout
        if call.request.method == "POST":
            for value in form(call).values():
                assert value not in ("True", "False")


def graph_error(code: int, subcode: int | None = None, message: str = "", **extra: Any) -> Any:
    """A body shaped like the Graph API's own errors."""
    error: dict[str, Any] = {
        "message": message or f"An error {code} happened",
        "type": "OAuthException" if code in (190, 10) else "GraphMethodException",
        "code": code,
        "fbtrace_id": "AbCdEfGhIjK",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return {"error": error}


def assert_no_canary(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    assert isinstance(error, PublishError)
    for text in (str(error), error.message, error.platform_message or "", repr(error.args)):
        assert CANARY not in text
        assert "access_token=CANARY" not in text
    assert error.__cause__ is None and error.__context__ is None  # nothing chained to print
    for record in caplog.records:
        assert CANARY not in record.getMessage()
    assert CANARY not in caplog.text


def conn_error(url_token: str) -> requests.ConnectionError:
    """What requests raises when DNS or the connection fails: the URL, token and all."""
    url = f"/v26.0/{PAGE}/feed?access_token={url_token}"
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno -3]")  # type: ignore[arg-type]
    return requests.ConnectionError(
        MaxRetryError(None, url, reason)  # type: ignore[arg-type]
    )
