"""The Facebook Page adapter: the real facebook-sdk code, with only HTTP intercepted.

Response bodies are shaped like the Graph API's own; request bodies are read back field by
field. Every credential holds the canary, which must never surface in an error or a log.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError

from crosspost.adapters.base import RemotePost
from crosspost.adapters.graph import encode
from crosspost.core.errors import (
    AuthError,
    InDoubt,
    PartReceipt,
    PublishError,
    RateLimited,
    Rejected,
    TransientError,
)

from .conftest import CANARY, NOW, REPO, canary_environ, make_adapter, render_post

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


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


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


# --- publishing -----------------------------------------------------------------------------


def test_text_post_with_link_goes_to_the_feed(project: Path, rsps: responses.RequestsMock) -> None:
    rendered = render_post(project, TEXT_POST, "KentPCC")
    rsps.post(FEED, json={"id": POST_ID})
    parts: list[PartReceipt] = []
    receipt = adapter(project).publish(rendered, on_part=parts.append)

    [call] = rsps.calls
    assert call.request.method == "POST"
    assert form(call) == {
        "message": rendered.text,
        "link": "https://www.pcc-kent.gov.uk/news/safer-streets",
        "access_token": TOKEN,
    }
    assert "access_token" not in query(call)  # the token travels in the body of a POST
    assert "#SaferStreets" in rendered.text and rendered.link not in rendered.text
    assert receipt.remote_id == POST_ID
    assert receipt.url == f"https://www.facebook.com/{POST_ID}"
    assert receipt.published_at == NOW and receipt.comment_id is None
    assert receipt.parts == (PartReceipt(0, POST_ID, receipt.url),)
    assert parts == list(receipt.parts)
    assert_graph_calls(rsps)


def test_text_post_without_link_sends_no_link_field(
    project: Path, rsps: responses.RequestsMock
) -> None:
    rendered = render_post(project, PLAIN_POST, "KentPCC")
    rsps.post(FEED, json={"id": POST_ID})
    adapter(project).publish(rendered)
    assert form(rsps.calls[0]) == {
        "message": "Our office is closed on Friday.",
        "access_token": TOKEN,
    }


def test_one_photo_is_uploaded_as_multipart_source_with_caption_and_alt(
    project: Path, rsps: responses.RequestsMock
) -> None:
    rendered = render_post(project, ONE_PHOTO, "KentPCC")
    rsps.post(PHOTOS, json={"id": "5550001", "post_id": POST_ID})
    receipt = adapter(project).publish(rendered)

    [call] = rsps.calls
    assert call.request.headers["Content-Type"].startswith("multipart/form-data")
    fields = form(call)
    assert fields == {
        "caption": "Come and see us at the County Show.",
        "alt_text_custom": "A navy square card with the office's logo in the middle.",
        "access_token": TOKEN,
        "source": ("square.jpg", (project / "queue/media/square.jpg").read_bytes()),
    }
    assert "published" not in fields  # one photo is published as it is uploaded
    assert receipt.remote_id == POST_ID  # the post's id, not the photo's
    assert receipt.url == f"https://www.facebook.com/{POST_ID}"
    assert_graph_calls(rsps)


def test_several_photos_are_uploaded_unpublished_then_attached_as_json(
    project: Path, rsps: responses.RequestsMock
) -> None:
    rendered = render_post(project, TWO_PHOTOS, "KentPCC")
    rsps.post(PHOTOS, json={"id": "5550001"})
    rsps.post(PHOTOS, json={"id": "5550002"})
    rsps.post(FEED, json={"id": POST_ID})
    rsps.post(f"{GRAPH}{POST_ID}/comments", json={"id": f"{POST_ID}_111"})
    receipt = adapter(project).publish(rendered)

    first, second, feed, comment = rsps.calls
    for call, name, alt in (
        (first, "square.jpg", rendered.media[0].alt),
        (second, "photo.png", rendered.media[1].alt),
    ):
        assert path(call) == f"/v26.0/{PAGE}/photos"
        fields = form(call)
        assert fields["published"] == "false"  # not facebook-sdk's "False"
        assert fields["alt_text_custom"] == alt
        assert fields["source"] == (name, (project / "queue/media" / name).read_bytes())
        assert "caption" not in fields
    fields = form(feed)
    assert json.loads(fields.pop("attached_media[0]")) == {"media_fbid": "5550001"}
    assert json.loads(fields.pop("attached_media[1]")) == {"media_fbid": "5550002"}
    # a photo post has no link preview: rendering put the link at the end of the message
    assert rendered.text.endswith("\n\nhttps://www.pcc-kent.gov.uk/news/safer-streets")
    assert fields == {
        "message": rendered.text,
        "access_token": TOKEN,
    }
    assert form(comment) == {
        "message": "Which town should be next? Tell us below.",
        "access_token": TOKEN,
    }
    assert receipt.remote_id == POST_ID and receipt.comment_id == f"{POST_ID}_111"
    assert_graph_calls(rsps)


def test_first_comment_is_posted_under_the_post(
    project: Path, rsps: responses.RequestsMock
) -> None:
    rendered = render_post(project, WITH_COMMENT, "KentPCC")
    rsps.post(FEED, json={"id": POST_ID})
    rsps.post(f"{GRAPH}{POST_ID}/comments", json={"id": f"{POST_ID}_222"})
    seen: list[PartReceipt] = []

    def on_part(part: PartReceipt) -> None:
        assert len(rsps.calls) == 1, "the post is recorded before its comment is sent"
        seen.append(part)

    receipt = adapter(project).publish(rendered, on_part=on_part)
    assert path(rsps.calls[1]) == f"/v26.0/{POST_ID}/comments"
    assert form(rsps.calls[1]) == {"message": "Questions? Ask them below.", "access_token": TOKEN}
    assert receipt.comment_id == f"{POST_ID}_222"
    assert [p.remote_id for p in seen] == [POST_ID]


@pytest.mark.parametrize(
    "failure",
    [
        {"json": graph_error(100, message="Invalid parameter"), "status": 400},
        {"body": requests.ReadTimeout("Read timed out. (read timeout=30)")},
    ],
    ids=["graph-error", "read-timeout"],
)
def test_a_failed_first_comment_does_not_fail_the_published_post(
    project: Path,
    rsps: responses.RequestsMock,
    caplog: pytest.LogCaptureFixture,
    failure: dict[str, Any],
) -> None:
    caplog.set_level(logging.DEBUG)
    rendered = render_post(project, WITH_COMMENT, "KentPCC")
    rsps.post(FEED, json={"id": POST_ID})
    rsps.post(f"{GRAPH}{POST_ID}/comments", **failure)
    receipt = adapter(project).publish(rendered)

    assert receipt.remote_id == POST_ID and receipt.comment_id is None
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    said = warning.getMessage()
    assert POST_ID in said and "first comment was not posted" in said
    # the receipt carries it, so the ledger, history, status and the alert can say it
    [noted] = receipt.warnings
    assert "first comment was not posted" in noted and "add it by hand on Facebook" in noted
    assert CANARY not in caplog.text


def test_resume_never_publishes_again(project: Path, rsps: responses.RequestsMock) -> None:
    rendered = render_post(project, WITH_COMMENT, "KentPCC")
    done = PartReceipt(0, POST_ID, f"https://www.facebook.com/{POST_ID}")
    receipt = adapter(project).publish(rendered, resume=[done])
    assert not rsps.calls
    assert receipt.remote_id == POST_ID and receipt.parts == (done,)


def test_timeout_and_graph_version_come_from_the_channel(
    project: Path, rsps: responses.RequestsMock
) -> None:
    set_channel(project, "timeout: 7")
    set_version(project, "v22.0")
    rendered = render_post(project, PLAIN_POST, "KentPCC")
    rsps.post(f"https://graph.facebook.com/v22.0/{PAGE}/feed", json={"id": POST_ID})
    adapter(project).publish(rendered)
    assert rsps.calls[0].request.req_kwargs["timeout"] == 7.0


@pytest.mark.parametrize(("written", "used"), [("'21.0'", "v21.0"), ("v19.0", "v19.0")])
def test_graph_version_is_normalised(
    project: Path, rsps: responses.RequestsMock, written: str, used: str
) -> None:
    set_version(project, written)
    rsps.get(f"https://graph.facebook.com/{used}/{PAGE}/posts", json={"data": []})
    assert adapter(project).recent() == []


def test_a_malformed_graph_version_is_refused_before_any_call(
    project: Path, rsps: responses.RequestsMock
) -> None:
    set_version(project, "latest")
    with pytest.raises(Rejected, match="graph_version 'latest'"):
        adapter(project).recent()
    assert not rsps.calls


def test_form_encoding() -> None:
    assert encode({"a": True, "b": False, "c": None, "d": 3, "e": {"media_fbid": "1"}}) == {
        "a": "true",
        "b": "false",
        "d": "3",
        "e": '{"media_fbid":"1"}',
    }


# --- errors ---------------------------------------------------------------------------------

GRAPH_ERRORS = [
    # (status, code, subcode, extra, error class on a look-up, on the publishing call, words)
    # Once the publishing call (/feed) was made, "try again" is in doubt, never a blind retry;
    # only a documented refusal (341, 368: "wait and retry") stays retryable there.
    (500, 1, None, {}, TransientError, InDoubt, "temporary problem"),
    (500, 2, None, {}, TransientError, InDoubt, "temporary problem"),
    (400, 9999, None, {"is_transient": True}, TransientError, InDoubt, "temporary problem"),
    (400, 4, None, {}, RateLimited, InDoubt, "limiting"),
    (400, 17, None, {}, RateLimited, InDoubt, "limiting"),
    (400, 32, None, {}, RateLimited, InDoubt, "limiting"),
    (400, 613, None, {}, RateLimited, InDoubt, "limiting"),
    (400, 80001, None, {}, RateLimited, InDoubt, "limiting"),
    (400, 80014, None, {}, RateLimited, InDoubt, "limiting"),
    (400, 341, None, {}, RateLimited, RateLimited, "holding back posts"),
    (400, 368, None, {}, RateLimited, RateLimited, "holding back posts"),
    (403, 10, None, {}, AuthError, AuthError, "lacks a permission"),
    (403, 200, None, {}, AuthError, AuthError, "lacks a permission"),
    (403, 299, None, {}, AuthError, AuthError, "lacks a permission"),
    (400, 190, 463, {}, AuthError, AuthError, "Facebook Page token has expired or was revoked"),
    (400, 100, None, {}, Rejected, Rejected, "invalid"),
    (400, 506, None, {}, Rejected, Rejected, "duplicate"),
    (400, 12345, None, {}, Rejected, Rejected, "refused"),
    (503, 12345, None, {}, TransientError, InDoubt, "server error"),
]


@pytest.mark.parametrize(
    ("status", "code", "subcode", "extra", "kind", "publishing_kind", "words"),
    GRAPH_ERRORS,
    ids=[f"{row[1]}{'-transient' if row[3] else ''}-{row[0]}" for row in GRAPH_ERRORS],
)
def test_graph_errors_are_typed(
    project: Path,
    rsps: responses.RequestsMock,
    status: int,
    code: int,
    subcode: int | None,
    extra: dict[str, Any],
    kind: type[PublishError],
    publishing_kind: type[PublishError],
    words: str,
) -> None:
    said = f"Graph says {code} ({'with detail' if extra else 'plain'})"
    body = graph_error(code, subcode, said, **extra)
    rsps.get(f"{GRAPH}{PAGE}/posts", json=body, status=status)
    rsps.post(FEED, json=body, status=status)
    with pytest.raises(PublishError) as looked_up:
        adapter(project).recent()
    with pytest.raises(PublishError) as published:
        adapter(project).publish(render_post(project, PLAIN_POST, "KentPCC"))
    assert type(looked_up.value) is kind
    assert type(published.value) is publishing_kind
    if publishing_kind is InDoubt:
        assert "never sent again blindly" in str(published.value)
        assert not published.value.retryable
    for error in (looked_up.value, published.value):
        assert words in error.message
        assert error.code == code
        assert error.platform_message == said
        assert said in str(error)
        assert f"Graph error {code}" in str(error) and "fbtrace_id AbCdEfGhIjK" in str(error)
        if subcode:
            assert f"subcode {subcode}" in str(error)
        if kind is AuthError:
            assert "FB_PAGE_ACCESS_TOKEN" in str(error)  # where to put a new token
    error = looked_up.value
    if isinstance(error, RateLimited) and code in (341, 368):  # no header: Meta's "wait"
        assert error.retry_at == NOW + timedelta(minutes=30) and error.refused
    elif isinstance(error, RateLimited):
        assert error.retry_at is None  # no usage header


def test_user_facing_graph_text_is_kept(project: Path, rsps: responses.RequestsMock) -> None:
    body = graph_error(
        368,
        1390008,
        "It looks like you were misusing this feature by going too fast.",
        error_user_title="You're Temporarily Blocked",
        error_user_msg="You've been blocked from using this feature.",
    )
    rsps.post(FEED, json=body, status=400)
    with pytest.raises(RateLimited) as caught:  # "wait and retry", Meta's guide says for 368
        adapter(project).publish(render_post(project, PLAIN_POST, "KentPCC"))
    assert "You're Temporarily Blocked: You've been blocked" in str(caught.value)
    assert "subcode 1390008" in str(caught.value) and "posting too fast" in str(caught.value)
    assert caught.value.retry_at == NOW + timedelta(minutes=30)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (
            "X-Business-Use-Case-Usage",
            {PAGE: [{"type": "pages", "call_count": 100, "total_cputime": 12,
                     "total_time": 40, "estimated_time_to_regain_access": 19}]},
        ),
        ("X-App-Usage", {"call_count": 100, "total_time": 3, "total_cputime": 4,
                         "estimated_time_to_regain_access": 19}),
    ],
)  # fmt: skip
def test_rate_limit_says_when_access_returns(
    project: Path, rsps: responses.RequestsMock, header: str, value: Any
) -> None:
    rsps.get(f"{GRAPH}{PAGE}/posts", json=graph_error(32, message="Page request limit reached"),
             status=400, headers={header: json.dumps(value)})  # fmt: skip
    with pytest.raises(RateLimited) as caught:
        adapter(project).recent()
    assert caught.value.retry_at == NOW + timedelta(minutes=19)
    assert caught.value.retryable


HTML_PAGE = "<!DOCTYPE html><html><head><title>Error</title></head><body>Sorry</body></html>"


@pytest.mark.parametrize(
    ("status", "content_type", "kind", "words"),
    [
        # to the publishing call: a server error may come after the post was made
        (500, "text/html", InDoubt, "HTTP 500 and a text/html page"),
        (502, "text/html; charset=utf-8", InDoubt, "HTTP 502"),
        (429, "text/html", InDoubt, "HTTP 429"),
        (404, "text/html", Rejected, "HTTP 404"),
        (200, "text/html", InDoubt, "may have been published"),
        (500, None, InDoubt, "HTTP 500 and no Content-Type header"),
        (200, None, InDoubt, "no Content-Type header"),
    ],
)
def test_answers_that_are_not_graph_json(
    project: Path,
    rsps: responses.RequestsMock,
    status: int,
    content_type: str | None,
    kind: type[PublishError],
    words: str,
) -> None:
    rsps.post(FEED, body=HTML_PAGE, status=status, content_type=content_type)
    with pytest.raises(PublishError) as caught:
        adapter(project).publish(render_post(project, PLAIN_POST, "KentPCC"))
    if content_type is None:  # facebook-sdk really did trip over the missing header
        assert "Content-Type" not in rsps.calls[0].response.headers
    assert type(caught.value) is kind
    assert words in str(caught.value)
    if content_type:  # the page's title, not facebook-sdk's "Maintype was not text..."
        assert caught.value.platform_message == "Error"


@pytest.mark.parametrize(("status", "kind"), [(500, InDoubt), (400, Rejected)])
def test_a_graph_error_without_a_code(
    project: Path, rsps: responses.RequestsMock, status: int, kind: type[PublishError]
) -> None:
    rsps.post(FEED, json={"error": {"message": "Please retry your request later."}}, status=status)
    with pytest.raises(kind) as caught:
        adapter(project).publish(render_post(project, PLAIN_POST, "KentPCC"))
    assert f"HTTP {status} and an error without a code" in str(caught.value)
    assert caught.value.platform_message == "Please retry your request later."


@pytest.mark.parametrize(("status", "kind"), [(200, TransientError), (500, TransientError)])
def test_unreadable_answers_to_a_look_up_are_transient(
    project: Path, rsps: responses.RequestsMock, status: int, kind: type[PublishError]
) -> None:
    rsps.get(f"{GRAPH}{PAGE}/posts", body="", status=status, content_type=None)
    with pytest.raises(kind, match="no Content-Type header"):
        adapter(project).recent()


def _conn_error(url_token: str) -> requests.ConnectionError:
    """What requests raises when DNS or the connection fails: the URL, token and all."""
    url = f"/v26.0/{PAGE}/feed?access_token={url_token}"
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno -3]")  # type: ignore[arg-type]
    return requests.ConnectionError(
        MaxRetryError(None, url, reason)  # type: ignore[arg-type]
    )


NETWORK = [
    # (exception, the call fails on, error class)
    (requests.ConnectTimeout("Connection to graph.facebook.com timed out. (connect timeout=30)"),
     "publish", TransientError),
    (requests.ReadTimeout("Read timed out. (read timeout=30)"), "publish", InDoubt),
    (requests.ReadTimeout("Read timed out. (read timeout=30)"), "recent", TransientError),
    (_conn_error(TOKEN), "publish", TransientError),
    (_conn_error("EAAGsomeothertoken"), "recent", TransientError),
    (requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104))),
     "publish", InDoubt),
    (requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104))),
     "recent", TransientError),
    (requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"), "publish",
     InDoubt),
    # the headers came, then the body stalled (facebook-sdk reads with stream=False): Meta
    # had the request, so the post may exist
    (requests.ConnectionError(ReadTimeoutError(None, "/feed", "Read timed out.")),  # type: ignore[arg-type]
     "publish", InDoubt),
    # a TLS error while the answer is read
    (requests.exceptions.SSLError("EOF occurred in violation of protocol (_ssl.c:2427)"),
     "publish", InDoubt),
    (requests.exceptions.SSLError("EOF occurred in violation of protocol (_ssl.c:2427)"),
     "recent", TransientError),
]  # fmt: skip


@pytest.mark.parametrize(("exc", "where", "kind"), NETWORK)
def test_network_failures(
    project: Path,
    rsps: responses.RequestsMock,
    caplog: pytest.LogCaptureFixture,
    exc: Exception,
    where: str,
    kind: type[PublishError],
) -> None:
    caplog.set_level(logging.DEBUG)
    fb = adapter(project)
    with pytest.raises(PublishError) as caught:
        if where == "publish":
            rsps.post(FEED, body=exc)
            fb.publish(render_post(project, PLAIN_POST, "KentPCC"))
        else:
            rsps.get(f"{GRAPH}{PAGE}/posts", body=exc)
            fb.recent()
    assert type(caught.value) is kind
    assert "EAAGsomeothertoken" not in str(caught.value)  # any token in a URL, known or not
    assert_no_canary(caught.value, caplog)
    if kind is InDoubt:
        assert not caught.value.retryable and "may have been published" in str(caught.value)


def test_a_publish_answer_without_an_id_is_in_doubt(
    project: Path, rsps: responses.RequestsMock
) -> None:
    rsps.post(FEED, json={})
    with pytest.raises(InDoubt, match="without an id"):
        adapter(project).publish(render_post(project, PLAIN_POST, "KentPCC"))


def test_a_read_timeout_on_an_unpublished_upload_is_only_transient(
    project: Path, rsps: responses.RequestsMock
) -> None:
    rsps.post(PHOTOS, body=requests.ReadTimeout("Read timed out. (read timeout=30)"))
    with pytest.raises(TransientError):
        adapter(project).publish(render_post(project, TWO_PHOTOS, "KentPCC"))
    assert len(rsps.calls) == 1  # no feed post without its photos


# --- the canary -----------------------------------------------------------------------------


def test_tokens_never_reach_errors_or_logs(
    project: Path, rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fb = adapter(project)
    rendered = render_post(project, WITH_COMMENT, "KentPCC")
    # Graph echoing the token in its message
    rsps.post(FEED, json=graph_error(190, 460, f"Malformed access token {TOKEN}"), status=400)
    with pytest.raises(AuthError) as caught:
        fb.publish(rendered)
    assert_no_canary(caught.value, caplog)
    assert "Malformed access token ***" in str(caught.value)
    # a comment that fails with the token in the requests exception's text: logged, not raised
    rsps.post(FEED, json={"id": POST_ID})
    rsps.post(f"{GRAPH}{POST_ID}/comments", body=_conn_error(TOKEN))
    assert fb.publish(rendered).comment_id is None
    assert "could not reach Facebook" in caplog.text
    assert "access_token=***" in caplog.text
    assert CANARY not in caplog.text
    assert any(f"POST v26.0/{PAGE}/feed" in r.getMessage() for r in caplog.records)


def test_token_like_url_parameters_in_graph_messages_are_scrubbed(
    project: Path, rsps: responses.RequestsMock
) -> None:
    """Any token in a URL is hidden, even one this channel does not know (an old token)."""
    said = "Cannot fetch https://graph.facebook.com/me?access_token=EAAGoldtoken123&x=1"
    rsps.post(FEED, json=graph_error(100, message=said), status=400)
    with pytest.raises(Rejected) as caught:
        adapter(project).publish(render_post(project, PLAIN_POST, "KentPCC"))
    assert "EAAGoldtoken123" not in caught.value.message
    assert "EAAGoldtoken123" not in str(caught.value)
    assert "access_token=***&x=1" in caught.value.message


@pytest.mark.parametrize("piece", [TOKEN[:16], TOKEN[5:30], CANARY])
def test_a_token_cut_short_in_a_graph_message_is_hidden(
    project: Path, rsps: responses.RequestsMock, piece: str
) -> None:
    said = f"Malformed access token {piece}..."
    rsps.post(FEED, json=graph_error(190, message=said), status=400)
    with pytest.raises(AuthError) as caught:
        adapter(project).publish(render_post(project, PLAIN_POST, "KentPCC"))
    for text in (str(caught.value), caught.value.platform_message or ""):
        assert piece not in text and "Malformed access token ***..." in text


def test_urllib3_request_log_lines_lose_the_token(
    project: Path, rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    """urllib3 logs every request's URL at DEBUG; GETs carry the token in the query string."""
    caplog.set_level(logging.DEBUG)
    rsps.get(f"{GRAPH}{PAGE}/posts", json={"data": []})
    adapter(project).recent()
    # the line urllib3's connection pool writes for that request (responses skips urllib3)
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s', "https", "graph.facebook.com", 443, "GET",
        f"/v26.0/{PAGE}/posts?fields=id&access_token={TOKEN}", "HTTP/1.1", 200, 17,
    )  # fmt: skip
    assert "access_token=***" in caplog.text
    assert CANARY not in caplog.text


def test_a_missing_token_names_the_variable_and_sends_nothing(
    project: Path, rsps: responses.RequestsMock
) -> None:
    env = canary_environ()
    del env["FB_PAGE_ACCESS_TOKEN"]
    with pytest.raises(AuthError, match="FB_PAGE_ACCESS_TOKEN is not set"):
        adapter(project, environ=env).publish(render_post(project, PLAIN_POST, "KentPCC"))
    assert not rsps.calls


# --- look-ups and delete --------------------------------------------------------------------


def test_recent_posts(project: Path, rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{GRAPH}{PAGE}/posts",
        json={
            "data": [
                {
                    "id": POST_ID,
                    "message": "Our office is closed on Friday.",
                    "created_time": "2026-12-01T10:00:05+0000",
                    "permalink_url": "https://www.facebook.com/KentPCC/posts/pfbid0abc",
                },
                {"id": f"{PAGE}_1", "created_time": "2026-11-30T09:00:00+0000"},
            ],
            "paging": {"cursors": {"before": "a", "after": "b"}},
        },
    )
    posts = adapter(project).recent(limit=20)
    [call] = rsps.calls
    assert query(call) == {
        "fields": "id,message,created_time,permalink_url",
        "limit": "20",
        "access_token": TOKEN,
    }
    assert posts == [
        RemotePost(
            POST_ID,
            "Our office is closed on Friday.",
            datetime(2026, 12, 1, 10, 0, 5, tzinfo=UTC),
            "https://www.facebook.com/KentPCC/posts/pfbid0abc",
        ),
        RemotePost(f"{PAGE}_1", "", datetime(2026, 11, 30, 9, tzinfo=UTC),
                   f"https://www.facebook.com/{PAGE}_1"),
    ]  # fmt: skip
    assert_graph_calls(rsps)


def test_recent_posts_follow_the_pages_to_the_limit(
    project: Path, rsps: responses.RequestsMock
) -> None:
    """Settling a send in doubt needs to see back past the claim, even after a burst."""

    def page(first: int, count: int, after: str | None) -> dict[str, Any]:
        items = [
            {
                "id": f"{PAGE}_{n}",
                "message": f"post {n}",
                "created_time": "2026-12-01T10:00:00+0000",
            }
            for n in range(first, first + count)
        ]
        paging: dict[str, Any] = {"cursors": {"before": "x", "after": after or "end"}}
        if after:
            paging["next"] = f"{GRAPH}{PAGE}/posts?after={after}"
        return {"data": items, "paging": paging}

    url = f"{GRAPH}{PAGE}/posts"
    rsps.get(url, json=page(0, 100, "c1"), match=[responses.matchers.query_param_matcher(
        {"fields": "id,message,created_time,permalink_url", "limit": "100",
         "access_token": TOKEN})])  # fmt: skip
    rsps.get(url, json=page(100, 100, "c2"), match=[responses.matchers.query_param_matcher(
        {"fields": "id,message,created_time,permalink_url", "limit": "100", "after": "c1",
         "access_token": TOKEN})])  # fmt: skip
    rsps.get(url, json=page(200, 30, None), match=[responses.matchers.query_param_matcher(
        {"fields": "id,message,created_time,permalink_url", "limit": "100", "after": "c2",
         "access_token": TOKEN})])  # fmt: skip
    made = adapter(project)
    assert made.look_up_limit > 100
    posts = made.recent(limit=made.look_up_limit)
    assert [p.text for p in posts] == [f"post {n}" for n in range(230)]  # ends with no 'next'
    assert len(rsps.calls) == 3
    rsps.calls.reset()
    rsps.get(url, json=page(100, 50, "c2"), match=[responses.matchers.query_param_matcher(
        {"fields": "id,message,created_time,permalink_url", "limit": "50", "after": "c1",
         "access_token": TOKEN})])  # fmt: skip
    assert len(made.recent(limit=150)) == 150  # the second page asks for only what is left
    second = query(rsps.calls[1])
    assert (second["limit"], second["after"]) == ("50", "c1")
    assert_graph_calls(rsps)


def test_delete(project: Path, rsps: responses.RequestsMock) -> None:
    rsps.delete(f"{GRAPH}{POST_ID}", json={"success": True})
    adapter(project).delete(POST_ID)
    [call] = rsps.calls
    assert call.request.method == "DELETE" and path(call) == f"/v26.0/{POST_ID}"
    assert_graph_calls(rsps)


def test_delete_of_a_missing_post_is_rejected(project: Path, rsps: responses.RequestsMock) -> None:
    said = f"Unsupported delete request. Object with ID '{POST_ID}' does not exist"
    rsps.delete(f"{GRAPH}{POST_ID}", json=graph_error(100, 33, said), status=400)
    with pytest.raises(Rejected, match="does not exist"):
        adapter(project).delete(POST_ID)


# --- credentials ----------------------------------------------------------------------------


def token_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "app_id": "138483919580948",
        "type": "PAGE",
        "application": "crosspost",
        "data_access_expires_at": 0,
        "expires_at": 0,
        "is_valid": True,
        "issued_at": 1764000000,
        "profile_id": PAGE,
        "scopes": ["pages_show_list", "pages_read_engagement", "pages_manage_posts",
                   "pages_manage_engagement", "public_profile"],
        "user_id": "10229999999999999",
    }  # fmt: skip
    data.update(changes)
    return {"data": data}


def test_credentials_ok(project: Path, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{GRAPH}debug_token", json=token_data())
    rsps.get(f"{GRAPH}{PAGE}", json={"name": "Kent PCC", "id": PAGE})
    report = adapter(project).check_credentials()
    assert report.ok, report.problems
    assert report.account == "Kent PCC"
    assert report.expires_at is None  # 0: never expires
    assert "pages_manage_posts" in report.scopes
    assert report.problems == [] and report.warnings == []
    debug, page = rsps.calls
    assert query(debug) == {"input_token": TOKEN, "access_token": TOKEN}
    assert query(page) == {"fields": "name", "access_token": TOKEN}
    assert_graph_calls(rsps)


def test_credentials_without_the_comment_permission_warn(
    project: Path, rsps: responses.RequestsMock
) -> None:
    """First comments are posted as the Page: Meta's Pages API needs pages_manage_engagement
    for that. doctor says so before a first comment fails."""
    scopes = ["pages_show_list", "pages_read_engagement", "pages_manage_posts"]
    rsps.get(f"{GRAPH}debug_token", json=token_data(scopes=scopes))
    rsps.get(f"{GRAPH}{PAGE}", json={"name": "Kent PCC", "id": PAGE})
    report = adapter(project).check_credentials()
    assert report.ok  # posts still go out
    [warning] = report.warnings
    assert "pages_manage_engagement" in warning and "first comments cannot be posted" in warning


def test_credentials_expiring_soon_warn(project: Path, rsps: responses.RequestsMock) -> None:
    soon = NOW + timedelta(days=9)
    rsps.get(f"{GRAPH}debug_token", json=token_data(expires_at=int(soon.timestamp())))
    rsps.get(f"{GRAPH}{PAGE}", json={"name": "Kent PCC", "id": PAGE})
    report = adapter(project).check_credentials()
    assert report.ok and report.expires_at == soon
    [warning] = report.warnings
    assert "Facebook Page token expires on 04 December 2026" in warning and "in 9 days" in warning


def test_credentials_expiring_later_do_not_warn(
    project: Path, rsps: responses.RequestsMock
) -> None:
    later = NOW + timedelta(days=40)
    rsps.get(f"{GRAPH}debug_token", json=token_data(expires_at=int(later.timestamp())))
    rsps.get(f"{GRAPH}{PAGE}", json={"name": "Kent PCC", "id": PAGE})
    report = adapter(project).check_credentials()
    assert report.ok and report.warnings == [] and report.expires_at == later


def test_credentials_missing_scopes(project: Path, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{GRAPH}debug_token", json=token_data(scopes=["pages_show_list"]))
    rsps.get(f"{GRAPH}{PAGE}", json={"name": "Kent PCC", "id": PAGE})
    report = adapter(project).check_credentials()
    assert not report.ok
    [problem] = report.problems
    assert "lacks the permissions pages_manage_posts, pages_read_engagement" in problem


def test_credentials_expired_token(project: Path, rsps: responses.RequestsMock) -> None:
    expired = token_data(
        is_valid=False,
        expires_at=int((NOW - timedelta(days=2)).timestamp()),
        error={"code": 190, "message": "Session has expired on Monday, 23-Nov-26", "subcode": 463},
    )
    rsps.get(f"{GRAPH}debug_token", json=expired)
    report = adapter(project).check_credentials()
    assert not report.ok
    [problem] = report.problems
    assert problem.startswith("the Facebook Page token has expired: Session has expired")
    assert "FB_PAGE_ACCESS_TOKEN" in problem
    assert len(rsps.calls) == 1


def test_credentials_rejected_by_graph(project: Path, rsps: responses.RequestsMock) -> None:
    said = "Error validating access token: The user has not authorized application 1384."
    rsps.get(f"{GRAPH}debug_token", json=graph_error(190, 458, said), status=400)
    report = adapter(project).check_credentials()
    assert not report.ok
    [problem] = report.problems
    assert "Facebook Page token has expired or was revoked" in problem and said in problem
    assert CANARY not in problem


def test_credentials_user_token_instead_of_page_token(
    project: Path, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{GRAPH}debug_token", json=token_data(type="USER", profile_id=None))
    rsps.get(f"{GRAPH}{PAGE}", json={"name": "Kent PCC", "id": PAGE})
    report = adapter(project).check_credentials()
    assert not report.ok
    assert any("user token, not a Page token" in p for p in report.problems)


def test_credentials_transient_failure_is_a_problem(
    project: Path, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{GRAPH}debug_token", body=requests.ConnectTimeout("timed out"))
    report = adapter(project).check_credentials()
    assert not report.ok
    [problem] = report.problems
    assert problem.startswith("could not check the Facebook Page token just now")


def test_credentials_without_the_variable(project: Path, rsps: responses.RequestsMock) -> None:
    env = canary_environ()
    del env["FB_PAGE_ACCESS_TOKEN"]
    report = adapter(project, environ=env).check_credentials()
    assert not report.ok and "FB_PAGE_ACCESS_TOKEN" in report.problems[0]
    assert not rsps.calls


# --- import cost ----------------------------------------------------------------------------


def test_the_adapters_import_neither_facebook_nor_requests() -> None:
    code = (
        "import sys, crosspost.adapters.facebook, crosspost.adapters.instagram, "
        "crosspost.adapters.graph\n"
        "print(sorted(m for m in ('facebook', 'requests') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
