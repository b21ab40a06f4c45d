"""The X adapter's look-ups: recent posts, delete, and checking the credentials.

Real tweepy and requests code, only HTTP intercepted by `responses`; bodies are shaped like
X's own answers and the helpers are in x_helpers.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from crosspost.adapters.base import CredentialReport, RemotePost
from crosspost.adapters.x import XAdapter
from crosspost.core.errors import (
    AuthError,
    PublishError,
    Rejected,
)

from ..conftest import canary_environ
from .x_helpers import (
    ID1,
    ID2,
    ME,
    TIMELINE,
    TWEETS,
    USER_ID,
    adapter_for,
    authorization,
    problem,
)

# tweepy's wait_on_rate_limit or a retry loop must never really sleep (tests/adapters/conftest.py)
pytestmark = pytest.mark.usefixtures("no_sleeping")


# --- recent posts, delete, credentials ------------------------------------------------------


def test_recent_reads_the_timeline_newest_first(
    adapter: XAdapter, api: responses.RequestsMock
) -> None:
    api.get(ME, json={"data": {"id": USER_ID, "name": "Kent PCC", "username": "PCCKent"}})
    api.get(
        TIMELINE,
        match=[
            matchers.query_param_matcher(
                {"max_results": "50", "tweet.fields": "created_at,referenced_tweets"}
            )
        ],
        json={
            "data": [
                {
                    "id": ID2,
                    "text": "Read the full report on our website",
                    "created_at": "2026-11-25T11:58:01.000Z",
                    "edit_history_tweet_ids": [ID2],
                },
                {
                    "id": ID1,
                    "text": "Safer Streets funding",
                    "created_at": "2026-11-24T09:00:00.000Z",
                    "edit_history_tweet_ids": [ID1],
                },
            ],
            "meta": {"result_count": 2, "newest_id": ID2, "oldest_id": ID1},
        },
    )

    posts = adapter.recent()

    assert posts == [
        RemotePost(
            ID2,
            "Read the full report on our website",
            datetime(2026, 11, 25, 11, 58, 1, tzinfo=UTC),
            f"https://x.com/PCCKent/status/{ID2}",
        ),
        RemotePost(
            ID1,
            "Safer Streets funding",
            datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
            f"https://x.com/PCCKent/status/{ID1}",
        ),
    ]
    # user context on both: tweepy's default for the timeline is an app bearer token
    assert all(authorization(c).startswith("OAuth ") for c in api.calls)


def test_recent_follows_pages_up_to_the_limit(
    adapter: XAdapter, api: responses.RequestsMock
) -> None:
    def page(first: int, count: int, next_token: str) -> dict[str, Any]:
        tweets = [
            {
                "id": str(first - i),
                "text": f"post {first - i}",
                "created_at": "2026-11-20T10:00:00.000Z",
                "edit_history_tweet_ids": [str(first - i)],
            }
            for i in range(count)
        ]
        return {"data": tweets, "meta": {"result_count": count, "next_token": next_token}}

    fields = {"tweet.fields": "created_at,referenced_tweets"}
    api.get(ME, json={"data": {"id": USER_ID, "name": "Kent PCC", "username": "PCCKent"}})
    api.get(
        TIMELINE,
        match=[matchers.query_param_matcher({"max_results": "100", **fields})],
        json=page(1000, 100, "7140dibdnow9c7btw"),
    )
    api.get(
        TIMELINE,
        match=[
            matchers.query_param_matcher(
                {"max_results": "20", "pagination_token": "7140dibdnow9c7btw", **fields}
            )
        ],
        json=page(900, 20, "more"),
    )

    posts = adapter.recent(limit=120)

    assert len(posts) == 120
    assert posts[0].remote_id == "1000" and posts[-1].remote_id == "881"


def test_recent_of_an_empty_account(adapter: XAdapter, api: responses.RequestsMock) -> None:
    api.get(ME, json={"data": {"id": USER_ID, "name": "Kent PCC", "username": "PCCKent"}})
    api.get(TIMELINE, json={"meta": {"result_count": 0}})

    assert adapter.recent(limit=3) == []
    assert api.calls[1].request.params["max_results"] == "5"  # X's minimum


def test_delete(adapter: XAdapter, api: responses.RequestsMock) -> None:
    api.delete(f"{TWEETS}/{ID1}", json={"data": {"deleted": True}})

    adapter.delete(ID1)

    [call] = api.calls
    assert call.request.method == "DELETE"
    assert authorization(call).startswith("OAuth ")


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, {"data": {"deleted": False}}, Rejected),
        (404, problem(404, f"Could not find tweet with id: [{ID1}].", "Not Found Error"), Rejected),
        (401, problem(401, "Unauthorized", "Unauthorized"), AuthError),
    ],
)
def test_delete_failures(
    adapter: XAdapter,
    api: responses.RequestsMock,
    status: int,
    body: dict[str, Any],
    kind: type[PublishError],
) -> None:
    api.delete(f"{TWEETS}/{ID1}", status=status, json=body)

    with pytest.raises(kind) as caught:
        adapter.delete(ID1)
    assert type(caught.value) is kind
    if kind is not AuthError:
        assert ID1 in str(caught.value)


def test_check_credentials_ok(adapter: XAdapter, api: responses.RequestsMock) -> None:
    api.get(ME, json={"data": {"id": USER_ID, "name": "Kent PCC", "username": "PCCKent"}})

    report = adapter.check_credentials()

    assert report == CredentialReport(ok=True, account="@PCCKent")
    assert authorization(api.calls[0]).startswith("OAuth ")


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (401, problem(401, "Unauthorized", "Unauthorized"), "regenerate the access token"),
        (
            403,
            problem(
                403,
                "Your client app is not configured with the appropriate oauth1 app "
                "permissions for this endpoint.",
                "Forbidden",
                "https://api.twitter.com/2/problems/oauth1-permissions",
            ),
            "'Read and write'",
        ),
        (503, problem(503, "Service Unavailable", "Service Unavailable"), "try again later"),
    ],
)
def test_check_credentials_failing(
    adapter: XAdapter, api: responses.RequestsMock, status: int, body: dict[str, Any], words: str
) -> None:
    api.get(ME, status=status, json=body)

    report = adapter.check_credentials()

    assert report.ok is False and report.account is None
    [text] = report.problems
    assert words in text
    assert "@PCCKent" in text
    if status != 503:
        assert "X_ACCESS_TOKEN / X_ACCESS_TOKEN_SECRET" in text


def test_check_credentials_names_a_missing_variable(
    project: Path, api: responses.RequestsMock
) -> None:
    environ = canary_environ()
    del environ["X_CONSUMER_KEY"]

    report = adapter_for(project, environ).check_credentials()

    assert report.ok is False
    assert "X_CONSUMER_KEY" in report.problems[0] and "not set" in report.problems[0]
    assert not api.calls


def test_check_credentials_for_the_wrong_account(
    adapter: XAdapter, api: responses.RequestsMock
) -> None:
    api.get(ME, json={"data": {"id": "42", "name": "Someone", "username": "SomeoneElse"}})

    report = adapter.check_credentials()

    assert report.ok is False and report.account == "@SomeoneElse"
    assert "@SomeoneElse" in report.problems[0] and "@PCCKent" in report.problems[0]
