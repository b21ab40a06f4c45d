"""The X adapter's errors: one mapping of X's answers for every call, network failures
and answers that leave a post in doubt, and a missing credential.

Real tweepy and requests code, only HTTP intercepted by `responses`; bodies are shaped like
X's own answers and the helpers are in x_helpers.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from crosspost.adapters.x import XAdapter
from crosspost.core.errors import (
    AuthError,
    InDoubt,
    PublishError,
    RateLimited,
    Rejected,
    TransientError,
    UsageCapped,
)

from ..conftest import canary_environ, render_post
from .x_helpers import (
    ID1,
    IMAGES_POST,
    ME,
    TEXT_POST,
    THREAD_POST,
    TOKEN,
    TWEETS,
    UPLOAD,
    USAGE,
    USAGE_CAP,
    adapter_for,
    created,
    problem,
)

# tweepy's wait_on_rate_limit or a retry loop must never really sleep (tests/adapters/conftest.py)
pytestmark = pytest.mark.usefixtures("no_sleeping")


# --- errors: one mapping for every call ---------------------------------------------------

DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
MEDIA_IDS_INVALID = {
    "errors": [
        {"parameters": {"media.media_ids": ["1"]}, "message": "Your media IDs are invalid."}
    ],
    "title": "Invalid Request",
    "detail": "One or more parameters to your request was invalid.",
    "type": "https://api.twitter.com/2/problems/invalid-request",
}
ERRORS = [
    # (status, body, type on an upload, type on POST /2/tweets, words the error must carry)
    # After POST /2/tweets was sent, "try again" is in doubt (X may answer 5xx after creating
    # the post); only answers that create nothing (429, 400) stay retryable there.
    (403, problem(403, DUPLICATE, "Forbidden"), Rejected, Rejected,
     "identical to one @PCCKent already"),
    (401, problem(401, "Unauthorized", "Unauthorized"), AuthError, AuthError,
     "X_ACCESS_TOKEN_SECRET"),
    # about the post, not the keys (Postiz fails the post for it too): the channel goes on
    (403, problem(403, "You are not permitted to perform this action.", "Forbidden"),
     Rejected, Rejected, "does not permit this post"),
    (
        403,
        problem(
            403,
            "Your client app is not configured with the appropriate oauth1 app permissions "
            "for this endpoint.",
            "Forbidden",
            "https://api.twitter.com/2/problems/oauth1-permissions",
        ),
        AuthError,
        AuthError,
        "Read and write",
    ),
    (
        403,
        {
            "client_id": "28790000",
            "detail": "When authenticating requests to the Twitter API v2 endpoints, you must "
            "use keys and tokens from a Twitter developer App that is attached to a Project.",
            "reason": "client-not-enrolled",
            "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
            "title": "Client Forbidden",
            "required_enrollment": "Appropriate Level of API Access",
            "type": "https://api.twitter.com/2/problems/client-forbidden",
        },
        AuthError,
        AuthError,
        "access level",
    ),
    (
        403,
        problem(
            403,
            "You attempted to reply to a Tweet that is deleted or not visible to you.",
            "Forbidden",
        ),
        Rejected,
        Rejected,
        "deleted or not visible",
    ),
    (400, MEDIA_IDS_INVALID, TransientError, TransientError, "not finished processing"),
    (404, problem(404, "Not Found", "Not Found"), Rejected, Rejected, "404"),
    (500, problem(500, "Internal Server Error", "Internal Server Error"), TransientError,
     InDoubt, "500"),
    (503, problem(503, "Service Unavailable", "Service Unavailable"), TransientError, InDoubt,
     "503"),
    (429, problem(429, "Too Many Requests", "Too Many Requests"), RateLimited, RateLimited,
     "Too Many Requests"),
    (429, USAGE_CAP, UsageCapped, UsageCapped, "monthly post cap is reached"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "_", "kind", "words"), ERRORS)
def test_post_errors_are_typed(
    project: Path,
    adapter: XAdapter,
    api: responses.RequestsMock,
    status: int,
    body: dict[str, Any],
    _: type[PublishError],
    kind: type[PublishError],
    words: str,
) -> None:
    rendered = render_post(project, TEXT_POST, "PCCKent")
    api.post(TWEETS, status=status, json=body)

    with pytest.raises(PublishError) as caught:
        adapter.publish(rendered)

    error = caught.value
    assert type(error) is kind
    assert words in str(error)
    assert error.code == status
    assert error.part == 0 and error.completed == ()
    assert error.platform_message  # X's own words are kept
    assert error.retryable is (kind in (TransientError, RateLimited))
    assert error.holds_channel is (kind in (AuthError, UsageCapped))
    assert error.__cause__ is None and error.__suppress_context__


@pytest.mark.parametrize(("status", "body", "kind", "_", "words"), ERRORS)
def test_media_upload_errors_map_the_same_way(
    project: Path,
    adapter: XAdapter,
    api: responses.RequestsMock,
    status: int,
    body: dict[str, Any],
    kind: type[PublishError],
    _: type[PublishError],
    words: str,
) -> None:
    rendered = render_post(project, IMAGES_POST, "PCCKent")
    api.post(UPLOAD, status=status, json=body)

    with pytest.raises(PublishError) as caught:
        adapter.publish(rendered)

    assert type(caught.value) is kind
    assert words in str(caught.value)
    assert "media/square.jpg" in str(caught.value) or kind in (AuthError, UsageCapped)
    tried = [c for c in api.calls if c.request.url.split("?")[0] not in (TOKEN, USAGE)]
    assert len(tried) == 1  # no post without its image (the cap's reset date is only read)


# --- network failures -----------------------------------------------------------------------


def connection_refused() -> requests.exceptions.ConnectionError:
    """What requests raises when X cannot even be connected to (DNS, refused, unreachable)."""
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111]")  # type: ignore[arg-type]
    return requests.exceptions.ConnectionError(MaxRetryError(None, TWEETS, reason))  # type: ignore[arg-type]


def connection_dropped() -> requests.exceptions.ConnectionError:
    """What requests raises when X closes the connection after the request went out."""
    reason = ConnectionResetError(104, "Connection reset by peer")
    return requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", reason))


NETWORK = [
    # (failure, on create_tweet, on any other call)
    (requests.exceptions.ConnectTimeout("timed out"), TransientError, TransientError),
    (connection_refused(), TransientError, TransientError),
    (requests.exceptions.ReadTimeout("Read timed out."), InDoubt, TransientError),
    (connection_dropped(), InDoubt, TransientError),
]


@pytest.mark.parametrize(("failure", "on_post", "on_other"), NETWORK)
def test_network_failures_on_the_post(
    project: Path,
    adapter: XAdapter,
    api: responses.RequestsMock,
    failure: Exception,
    on_post: type[PublishError],
    on_other: type[PublishError],
) -> None:
    rendered = render_post(project, TEXT_POST, "PCCKent")
    api.post(TWEETS, body=failure)

    with pytest.raises(PublishError) as caught:
        adapter.publish(rendered)

    assert type(caught.value) is on_post
    if on_post is InDoubt:
        assert "may have been published" in str(caught.value)
        assert "@PCCKent's recent posts" in str(caught.value)


@pytest.mark.parametrize(("failure", "on_post", "on_other"), NETWORK)
def test_network_failures_elsewhere_are_transient(
    project: Path,
    adapter: XAdapter,
    api: responses.RequestsMock,
    failure: Exception,
    on_post: type[PublishError],
    on_other: type[PublishError],
) -> None:
    rendered = render_post(project, IMAGES_POST, "PCCKent")
    api.post(UPLOAD, body=failure)
    with pytest.raises(PublishError) as upload_error:
        adapter.publish(rendered)
    assert type(upload_error.value) is on_other

    api.get(ME, body=failure)
    with pytest.raises(PublishError) as lookup_error:
        adapter.recent()
    assert type(lookup_error.value) is on_other

    api.delete(f"{TWEETS}/{ID1}", body=failure)
    with pytest.raises(PublishError) as delete_error:
        adapter.delete(ID1)
    assert type(delete_error.value) is on_other


def test_read_timeout_on_a_thread_part_is_in_doubt_with_the_parts_before(
    project: Path, adapter: XAdapter, api: responses.RequestsMock
) -> None:
    rendered = render_post(project, THREAD_POST, "PCCKent")
    created(api, ID1)
    api.post(TWEETS, body=requests.exceptions.ReadTimeout("Read timed out."))

    with pytest.raises(InDoubt) as caught:
        adapter.publish(rendered)

    assert caught.value.part == 1
    assert [p.remote_id for p in caught.value.completed] == [ID1]
    assert str(caught.value).startswith("thread part 2: ")
    assert "within 30 s" in str(caught.value)


def test_post_answer_without_id_is_in_doubt(
    project: Path, adapter: XAdapter, api: responses.RequestsMock
) -> None:
    rendered = render_post(project, TEXT_POST, "PCCKent")
    api.post(TWEETS, status=201, json={"errors": [{"message": "partial"}]})

    with pytest.raises(InDoubt):
        adapter.publish(rendered)


def test_missing_credential_names_the_variable(project: Path, api: responses.RequestsMock) -> None:
    environ = canary_environ()
    del environ["X_ACCESS_TOKEN_SECRET"]
    adapter = adapter_for(project, environ)

    with pytest.raises(AuthError, match="X_ACCESS_TOKEN_SECRET"):
        adapter.publish(render_post(project, TEXT_POST, "PCCKent"))
    assert not api.calls
