"""The Facebook Page adapter's errors: Graph's error codes, rate limits, answers that are
not Graph's JSON, network failures and answers that leave a post in doubt.

The real facebook-sdk code, with only HTTP intercepted; response bodies are shaped like the
Graph API's own, and the helpers are in facebook_helpers.py.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from crosspost.core.errors import (
    AuthError,
    InDoubt,
    PublishError,
    RateLimited,
    Rejected,
    TransientError,
)

from ..conftest import NOW, render_post
from .facebook_helpers import (
    FEED,
    GRAPH,
    PAGE,
    PHOTOS,
    PLAIN_POST,
    TOKEN,
    TWO_PHOTOS,
    adapter,
    assert_no_canary,
    conn_error,
    graph_error,
)

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


NETWORK = [
    # (exception, the call fails on, error class)
    (requests.ConnectTimeout("Connection to graph.facebook.com timed out. (connect timeout=30)"),
     "publish", TransientError),
    (requests.ReadTimeout("Read timed out. (read timeout=30)"), "publish", InDoubt),
    (requests.ReadTimeout("Read timed out. (read timeout=30)"), "recent", TransientError),
    (conn_error(TOKEN), "publish", TransientError),
    (conn_error("EAAGsomeothertoken"), "recent", TransientError),
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
