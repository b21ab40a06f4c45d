"""The Facebook Page adapter never leaks a token: not in errors, not in logs, not cut short,
not in a URL.

The real facebook-sdk code, with only HTTP intercepted; response bodies are shaped like the
Graph API's own, and the helpers are in facebook_helpers.py.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import responses

from crosspost.core.errors import (
    AuthError,
    Rejected,
)

from ..conftest import CANARY, canary_environ, render_post
from .facebook_helpers import (
    FEED,
    GRAPH,
    PAGE,
    PLAIN_POST,
    POST_ID,
    TOKEN,
    WITH_COMMENT,
    adapter,
    assert_no_canary,
    conn_error,
    graph_error,
)

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
    rsps.post(f"{GRAPH}{POST_ID}/comments", body=conn_error(TOKEN))
    assert fb.publish(rendered).comment_id is None
    assert "could not reach Facebook" in caplog.text
    assert (
        TOKEN not in caplog.text and "access_token" not in caplog.text.split("could not reach")[1]
    )
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
