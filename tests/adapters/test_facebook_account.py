"""The Facebook Page adapter's look-ups: recent posts, delete, and checking the token.

The real facebook-sdk code, with only HTTP intercepted; response bodies are shaped like the
Graph API's own, and the helpers are in facebook_helpers.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from crosspost.adapters.base import RemotePost
from crosspost.core.errors import Rejected

from ..conftest import CANARY, NOW, canary_environ
from .facebook_helpers import (
    GRAPH,
    PAGE,
    POST_ID,
    TOKEN,
    adapter,
    assert_graph_calls,
    graph_error,
    path,
    query,
)

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
