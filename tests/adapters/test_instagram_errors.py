"""The Instagram adapter's errors: Instagram's subcodes, read timeouts, answers that are
not Graph's JSON, and tokens kept out of errors and logs.

Instagram publishes in steps (quota, container, status polls, media_publish, comment) with
the real facebook-sdk code and only HTTP intercepted; the polls sleep through the injected
`sleep`, recorded by the `sleeps` fixture, so no test really waits. The helpers are in
instagram_helpers.py.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import requests
import responses

from crosspost.core.errors import (
    AuthError,
    InDoubt,
    PublishError,
    RateLimited,
    Rejected,
    TransientError,
)

from ..conftest import CANARY, render_post
from .instagram_helpers import (
    CONTAINER,
    GRAPH,
    MEDIA,
    ONE_IMAGE,
    PUBLISH,
    QUOTA,
    TOKEN,
    USER,
    adapter,
    graph_error,
    quota,
    status,
)

# --- errors ---------------------------------------------------------------------------------

SUBCODES = [
    # (code, subcode, the step that fails, error class)
    (-2, 2207003, "create", TransientError),  # download timeout
    (-1, 2207001, "create", TransientError),  # server error
    (-1, 2207032, "create", TransientError),  # server error
    (9007, 2207027, "publish", TransientError),  # media not ready: nothing published
    (24, 2207020, "publish", TransientError),  # container expired: nothing published
    (-1, 2207001, "publish", InDoubt),  # a server error on media_publish may come after it
    (4, 2207051, "publish", InDoubt),  # Postiz PR #1681: code 4 after a live publication
    (9, 2207042, "publish", RateLimited),  # 24-hour publishing limit
    (36003, 2207009, "create", Rejected),  # aspect ratio not supported
    (190, 463, "create", AuthError),
]


@pytest.mark.parametrize(("code", "subcode", "step", "kind"), SUBCODES)
def test_instagram_subcodes(
    project: Path,
    rsps: responses.RequestsMock,
    sleeps: list[float],
    code: int,
    subcode: int,
    step: str,
    kind: type[PublishError],
) -> None:
    said = f"Instagram says {subcode}"
    rsps.get(QUOTA, json=quota())
    if step == "create":
        rsps.post(MEDIA, json=graph_error(code, subcode, said), status=400)
    else:
        rsps.post(MEDIA, json={"id": CONTAINER})
        rsps.get(f"{GRAPH}{CONTAINER}", json=status("FINISHED"))
        rsps.post(PUBLISH, json=graph_error(code, subcode, said), status=400)
    with pytest.raises(PublishError) as caught:
        adapter(project, sleeps).publish(render_post(project, ONE_IMAGE, "kent_opcc"))
    assert type(caught.value) is kind
    assert said in str(caught.value) and f"subcode {subcode}" in str(caught.value)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("step", "kind"), [("create", TransientError), ("publish", InDoubt), ("quota", TransientError)]
)
def test_read_timeouts(
    project: Path,
    rsps: responses.RequestsMock,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
    step: str,
    kind: type[PublishError],
) -> None:
    """Only media_publish makes the post: a timeout there leaves it in doubt."""
    caplog.set_level(logging.DEBUG)
    timeout = requests.ReadTimeout("Read timed out. (read timeout=30)")
    rsps.get(QUOTA, **({"body": timeout} if step == "quota" else {"json": quota()}))
    if step != "quota":
        rsps.post(MEDIA, **({"body": timeout} if step == "create" else {"json": {"id": CONTAINER}}))
    if step == "publish":
        rsps.get(f"{GRAPH}{CONTAINER}", json=status("FINISHED"))
        rsps.post(PUBLISH, body=timeout)
    with pytest.raises(PublishError) as caught:
        adapter(project, sleeps).publish(render_post(project, ONE_IMAGE, "kent_opcc"))
    assert type(caught.value) is kind
    assert CANARY not in str(caught.value) and CANARY not in caplog.text


def test_html_error_page_and_missing_content_type(
    project: Path, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(QUOTA, body="<html><body>Service Unavailable</body></html>", status=503,
             content_type="text/html")  # fmt: skip
    with pytest.raises(TransientError, match="HTTP 503 and a text/html page"):
        adapter(project, sleeps).publish(render_post(project, ONE_IMAGE, "kent_opcc"))
    rsps.get(QUOTA, json=quota())
    rsps.post(MEDIA, json={"id": CONTAINER})
    rsps.get(f"{GRAPH}{CONTAINER}", json=status("FINISHED"))
    rsps.post(PUBLISH, body="", status=200, content_type=None)
    with pytest.raises(InDoubt, match="no Content-Type header"):
        adapter(project, sleeps).publish(render_post(project, ONE_IMAGE, "kent_opcc"))


def test_tokens_never_reach_errors_or_logs(
    project: Path,
    rsps: responses.RequestsMock,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"/v26.0/{USER}/media?access_token={TOKEN}"
    rsps.get(QUOTA, json=quota())
    rsps.post(MEDIA, body=requests.ConnectionError(f"Max retries exceeded with url: {url}"))
    with pytest.raises(TransientError) as caught:
        adapter(project, sleeps).publish(render_post(project, ONE_IMAGE, "kent_opcc"))
    error = caught.value
    for text in (str(error), error.message, error.platform_message or "", repr(error.args)):
        assert CANARY not in text
    assert "access_token=***" in str(error)
    assert error.__context__ is None and error.__cause__ is None
    assert caplog.records and CANARY not in caplog.text
