"""The X adapter never leaks a secret: not in errors, credential reports or logs, not even
percent-encoded. Every credential holds the canary.

Real tweepy and requests code, only HTTP intercepted by `responses`; bodies are shaped like
X's own answers and the helpers are in x_helpers.py.
"""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from crosspost.adapters.x import XAdapter
from crosspost.core.errors import (
    PublishError,
    Rejected,
    TransientError,
)

from ..conftest import CANARY, canary_environ, render_post
from .x_helpers import (
    ME,
    MEDIA1,
    METADATA,
    ONE_IMAGE_POST,
    TEXT_POST,
    TWEETS,
    UPLOAD,
    adapter_for,
    problem,
)

# tweepy's wait_on_rate_limit or a retry loop must never really sleep (tests/adapters/conftest.py)
pytestmark = pytest.mark.usefixtures("no_sleeping")


# --- secrets never leak ---------------------------------------------------------------------


def echo_authorization(status: int) -> Any:
    """An error answer that repeats the request's Authorization header back, as a proxy might."""

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        header = request.headers["Authorization"]
        header = header.decode() if isinstance(header, bytes) else header
        body = problem(status, f"Bad request signature: {header}", "Error")
        return status, {"x-echo": "1"}, json.dumps(body)

    return answer


@pytest.mark.parametrize("status", [400, 401, 403, 429, 500])
@pytest.mark.parametrize("where", [TWEETS, UPLOAD, METADATA])
def test_no_secret_in_errors_or_logs(
    project: Path,
    adapter: XAdapter,
    api: responses.RequestsMock,
    caplog: pytest.LogCaptureFixture,
    status: int,
    where: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    rendered = render_post(project, ONE_IMAGE_POST, "PCCKent")
    if where != UPLOAD:
        api.post(UPLOAD, json={"data": {"id": MEDIA1, "media_key": f"3_{MEDIA1}"}})
    if where == TWEETS:
        api.post(METADATA, json={"data": {"associated_metadata": True, "id": MEDIA1}})
    api.add_callback(
        responses.POST, where, callback=echo_authorization(status), content_type="application/json"
    )

    with pytest.raises(PublishError) as caught:
        adapter.publish(rendered)

    error = caught.value
    assert "oauth_token=" in str(error)  # the echo reached the error, with the secret taken out
    texts = [str(error), error.message, error.platform_message or "", repr(error)]
    texts.append("".join(traceback.format_exception(error)))
    assert not [t for t in texts if CANARY in t]
    assert caplog.records  # tweepy and oauthlib did log, at DEBUG
    assert not [r.getMessage() for r in caplog.records if CANARY in r.getMessage()]
    assert CANARY not in caplog.text


def test_no_secret_in_network_errors_or_credential_reports(
    project: Path,
    adapter: XAdapter,
    api: responses.RequestsMock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = canary_environ()["X_ACCESS_TOKEN"]
    rendered = render_post(project, TEXT_POST, "PCCKent")
    api.post(TWEETS, body=requests.exceptions.ConnectTimeout(f"proxy refused oauth_token={token}"))
    api.get(ME, status=401, json=problem(401, f"Invalid or expired token: {token}", "Unauthorized"))

    with pytest.raises(TransientError) as caught:
        adapter.publish(rendered)
    report = adapter.check_credentials()

    assert "could not reach X: no connection" in str(caught.value)
    assert CANARY not in str(caught.value) and "\n" not in str(caught.value)
    assert "Invalid or expired token" in report.problems[0]
    assert CANARY not in " ".join(report.problems)
    assert CANARY not in caplog.text


def test_secrets_are_taken_out_also_when_percent_encoded(
    project: Path, api: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    environ = canary_environ()
    environ["X_CONSUMER_KEY"] = f"{CANARY}+key/with=signs"  # sent as CANARY...%2Bkey%2Fwith%3Dsigns
    adapter = adapter_for(project, environ)
    api.add_callback(
        responses.POST, TWEETS, callback=echo_authorization(400), content_type="application/json"
    )

    with pytest.raises(Rejected) as caught:
        adapter.publish(render_post(project, TEXT_POST, "PCCKent"))

    assert "oauth_consumer_key=" in str(caught.value)
    assert CANARY not in str(caught.value)
    assert "signing" in caplog.text.lower()  # oauthlib's base string, where it is encoded twice
    assert CANARY not in caplog.text
