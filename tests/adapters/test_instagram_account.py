"""The Instagram adapter's look-ups: recent media, delete (not possible), and checking the
token.

Instagram publishes in steps (quota, container, status polls, media_publish, comment) with
the real facebook-sdk code and only HTTP intercepted; the polls sleep through the injected
`sleep`, recorded by the `sleeps` fixture, so no test really waits. The helpers are in
instagram_helpers.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses

from crosspost.adapters.base import RemotePost
from crosspost.core.errors import Rejected

from ..conftest import NOW
from .instagram_helpers import (
    GRAPH,
    MEDIA,
    MEDIA_ID,
    PERMALINK,
    QUOTA,
    TOKEN,
    USER,
    adapter,
    assert_graph_calls,
    query,
    quota,
)

# --- look-ups, delete -----------------------------------------------------------------------


def test_recent_media(project: Path, rsps: responses.RequestsMock, sleeps: list[float]) -> None:
    rsps.get(
        MEDIA,
        json={
            "data": [
                {
                    "id": MEDIA_ID,
                    "caption": "Safer Streets, in pictures.",
                    "timestamp": "2026-12-01T10:00:07+0000",
                    "permalink": PERMALINK,
                }
            ],
            "paging": {"cursors": {"before": "x", "after": "y"}},
        },
    )
    posts = adapter(project, sleeps).recent(limit=10)
    assert query(rsps.calls[0]) == {
        "fields": "id,caption,timestamp,permalink",
        "limit": "10",
        "access_token": TOKEN,
    }
    assert posts == [
        RemotePost(MEDIA_ID, "Safer Streets, in pictures.",
                   datetime(2026, 12, 1, 10, 0, 7, tzinfo=UTC), PERMALINK)
    ]  # fmt: skip
    assert_graph_calls(rsps)


def test_delete_says_to_use_the_app(
    project: Path, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    ig = adapter(project, sleeps)
    assert ig.can_delete is False
    with pytest.raises(Rejected, match="in the Instagram app"):
        ig.delete(MEDIA_ID)
    assert not rsps.calls


# --- credentials ----------------------------------------------------------------------------


def token_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "app_id": "138483919580948",
        "type": "USER",
        "application": "crosspost",
        "expires_at": 0,
        "is_valid": True,
        "scopes": ["instagram_basic", "instagram_content_publish", "instagram_manage_comments",
                   "pages_read_engagement", "pages_show_list"],
        "user_id": "10229999999999999",
    }  # fmt: skip
    data.update(changes)
    return {"data": data}


def test_credentials_ok_with_account_and_quota(
    project: Path, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(f"{GRAPH}debug_token", json=token_data())
    rsps.get(f"{GRAPH}{USER}", json={"username": "kent_opcc", "id": USER})
    rsps.get(QUOTA, json=quota(7, 100))
    report = adapter(project, sleeps).check_credentials()
    assert report.ok, report.problems
    assert report.account == "@kent_opcc"
    assert report.quota == "7 of 100 posts used in the last 24 hours"
    assert report.expires_at is None and report.warnings == []
    debug, account, limit = rsps.calls
    assert query(debug) == {"input_token": TOKEN, "access_token": TOKEN}
    assert query(account) == {"fields": "username", "access_token": TOKEN}
    assert query(limit)["fields"] == "quota_usage,config"
    assert_graph_calls(rsps)


def test_credentials_problems_and_warnings(
    project: Path, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    soon = NOW + timedelta(days=3)
    rsps.get(
        f"{GRAPH}debug_token",
        json=token_data(scopes=["instagram_basic", "pages_read_engagement"],
                        expires_at=int(soon.timestamp())),
    )  # fmt: skip
    rsps.get(f"{GRAPH}{USER}", json={"username": "kent_opcc", "id": USER})
    rsps.get(QUOTA, json=quota(50, 50))
    report = adapter(project, sleeps).check_credentials()
    assert not report.ok
    assert report.problems == [
        "the Instagram access token lacks the permission instagram_content_publish, which "
        "publishing needs: grant it when generating a new token and set it in IG_ACCESS_TOKEN"
    ]
    assert any("instagram_manage_comments: first comments cannot be posted" in w
               for w in report.warnings)  # fmt: skip
    assert any("expires on 28 November 2026" in w and "in 3 days" in w for w in report.warnings)
    assert any("publishing limit is reached (50 of 50" in w for w in report.warnings)
    assert report.expires_at == soon


def test_credentials_expired(
    project: Path, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(
        f"{GRAPH}debug_token",
        json=token_data(
            is_valid=False,
            error={"code": 190, "message": "Session has expired", "subcode": 463},
        ),
    )
    report = adapter(project, sleeps).check_credentials()
    assert not report.ok
    assert report.problems == [
        "the Instagram access token has expired: Session has expired. Generate a new token "
        "and set it in IG_ACCESS_TOKEN"
    ]
    assert len(rsps.calls) == 1
