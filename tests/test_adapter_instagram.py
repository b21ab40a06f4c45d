"""The Instagram adapter: the real facebook-sdk code, with only HTTP intercepted.

Instagram publishes in steps (quota, container, status polls, media_publish, comment); the
polls sleep through the injected `sleep`, recorded here, so no test really waits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from PIL import Image

from crosspost.adapters.base import RemotePost
from crosspost.core.errors import (
    AuthError,
    InDoubt,
    PartReceipt,
    PublishError,
    RateLimited,
    Rejected,
    TransientError,
)

from .conftest import CANARY, NOW, canary_environ, make_adapter, render_post

GRAPH = "https://graph.facebook.com/v26.0/"
USER = "17841400000000000"
TOKEN = canary_environ()["IG_ACCESS_TOKEN"]
MEDIA = f"{GRAPH}{USER}/media"
PUBLISH = f"{GRAPH}{USER}/media_publish"
QUOTA = f"{GRAPH}{USER}/content_publishing_limit"
BASE = "https://www.pcc-kent.gov.uk/crosspost-media/queue/media/"
CONTAINER = "17889455560051444"
MEDIA_ID = "17920238422030506"
PERMALINK = "https://www.instagram.com/p/DAbCdEfGhIj/"

ONE_IMAGE = """\
publish_at: 2026-12-01 10:00
body: We've secured £1.4 million for safer town centres. https://www.pcc-kent.gov.uk/news
link: https://www.pcc-kent.gov.uk/news
hashtags: [safer streets, Kent]
media:
  - path: media/square.jpg
    alt: A navy square card with the office's logo in the middle.
"""
CAROUSEL = """\
publish_at: 2026-12-01 10:00
body: Safer Streets, in pictures.
first_comment: Which town should be next? Tell us below.
media:
  - path: media/square.jpg
    alt: A navy square card with the office's logo in the middle.
  - path: media/landscape.jpg
    alt: A wide navy card announcing the funding in white type.
  - path: media/portrait.jpg
    alt: A tall navy card listing the five towns already funded.
"""
WITH_COMMENT = ONE_IMAGE + "first_comment: Questions? Ask them below.\n"


# --- helpers --------------------------------------------------------------------------------


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []


def adapter(root: Path, sleeps: list[float], **kwargs: Any) -> Any:
    kwargs.setdefault("now", lambda: NOW)
    return make_adapter(root, "kent_opcc", sleep=sleeps.append, **kwargs)


def set_channel(root: Path, line: str) -> None:
    """Add a setting line to the kent_opcc channel of the project's config."""
    config = root / "crosspost.yaml"
    text = config.read_text(encoding="utf-8")
    anchor = "    ig_user_id: ${IG_USER_ID}\n"
    assert anchor in text
    config.write_text(text.replace(anchor, anchor + f"    {line}\n"), encoding="utf-8")


def form(call: Any) -> dict[str, str]:
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    body = call.request.body
    body = body.decode() if isinstance(body, bytes) else body
    parsed = parse_qs(body, keep_blank_values=True, strict_parsing=True)
    assert all(len(v) == 1 for v in parsed.values()), parsed
    return {k: v[0] for k, v in parsed.items()}


def query(call: Any) -> dict[str, str]:
    parsed = parse_qs(urlsplit(call.request.url).query, keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def path(call: Any) -> str:
    return urlsplit(call.request.url).path


def assert_graph_calls(rsps: responses.RequestsMock) -> None:
    """Every call went to graph.facebook.com/v26.0 with a timeout; no body says True/False."""
    for call in rsps.calls:
        assert call.request.url.startswith(GRAPH), call.request.url
        assert call.request.req_kwargs["timeout"] == 30.0
        if call.request.method == "POST":
            for value in form(call).values():
                assert value not in ("True", "False")


def graph_error(code: int, subcode: int | None = None, message: str = "") -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message or f"An error {code} happened",
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AXyZ0123456",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def quota(used: int = 3, total: int = 50) -> dict[str, Any]:
    return {
        "data": [{"quota_usage": used, "config": {"quota_total": total, "quota_duration": 86400}}]
    }


def status(code: str, said: str | None = None) -> dict[str, Any]:
    body = {"status_code": code, "id": CONTAINER}
    if said:
        body["status"] = said
    return body


def happy_path(rsps: responses.RequestsMock, *statuses: str) -> None:
    """quota, one container, the given statuses (then FINISHED), publish and permalink."""
    rsps.get(QUOTA, json=quota())
    rsps.post(MEDIA, json={"id": CONTAINER})
    for code in (*statuses, "FINISHED"):
        rsps.get(f"{GRAPH}{CONTAINER}", json=status(code))
    rsps.post(PUBLISH, json={"id": MEDIA_ID})
    rsps.get(f"{GRAPH}{MEDIA_ID}", json={"permalink": PERMALINK, "id": MEDIA_ID})


def assert_not_published(rsps: responses.RequestsMock) -> None:
    assert not any(path(c) == f"/v26.0/{USER}/media_publish" for c in rsps.calls)


# --- publishing -----------------------------------------------------------------------------


def test_one_image(project: Path, rsps: responses.RequestsMock, sleeps: list[float]) -> None:
    rendered = render_post(project, ONE_IMAGE, "kent_opcc")
    happy_path(rsps, "IN_PROGRESS", "IN_PROGRESS")
    parts: list[PartReceipt] = []
    receipt = adapter(project, sleeps).publish(rendered, on_part=parts.append)

    limit, create, poll1, poll2, poll3, publish, permalink = rsps.calls
    assert path(limit) == f"/v26.0/{USER}/content_publishing_limit"
    assert query(limit) == {"fields": "quota_usage,config", "access_token": TOKEN}
    assert form(create) == {
        "image_url": BASE + "square.jpg",
        "caption": rendered.text,
        "alt_text": "A navy square card with the office's logo in the middle.",
        "access_token": TOKEN,
    }
    assert "https://" not in rendered.text and "#SaferStreets #Kent" in rendered.text
    for poll in (poll1, poll2, poll3):
        assert path(poll) == f"/v26.0/{CONTAINER}"
        assert query(poll) == {"fields": "status_code,status", "access_token": TOKEN}
    assert sleeps == [60.0, 60.0]  # poll_interval between the checks, none after FINISHED
    assert form(publish) == {"creation_id": CONTAINER, "access_token": TOKEN}
    assert query(permalink) == {"fields": "permalink", "access_token": TOKEN}
    assert receipt.remote_id == MEDIA_ID and receipt.url == PERMALINK
    assert receipt.published_at == NOW and receipt.comment_id is None
    # the part is recorded before the permalink is read (a read that may fail)
    assert parts == [PartReceipt(0, MEDIA_ID, None)]
    assert list(receipt.parts) == [PartReceipt(0, MEDIA_ID, PERMALINK)]
    assert_graph_calls(rsps)


def test_carousel(project: Path, rsps: responses.RequestsMock, sleeps: list[float]) -> None:
    # the widest (1.91:1) and the tallest (4:5) shapes Instagram takes
    Image.new("RGB", (1080, 566), (10, 40, 90)).save(project / "queue/media/landscape.jpg")
    Image.new("RGB", (1080, 1350), (10, 40, 90)).save(project / "queue/media/portrait.jpg")
    rendered = render_post(project, CAROUSEL, "kent_opcc")
    rsps.get(QUOTA, json=quota())
    for child in ("c1", "c2", "c3"):
        rsps.post(MEDIA, json={"id": child})
    rsps.post(MEDIA, json={"id": CONTAINER})
    rsps.get(f"{GRAPH}{CONTAINER}", json=status("FINISHED"))
    rsps.post(PUBLISH, json={"id": MEDIA_ID})
    rsps.get(f"{GRAPH}{MEDIA_ID}", json={"permalink": PERMALINK, "id": MEDIA_ID})
    rsps.post(f"{GRAPH}{MEDIA_ID}/comments", json={"id": "17858893269000001"})
    receipt = adapter(project, sleeps).publish(rendered)

    calls = list(rsps.calls)
    children = [form(c) for c in calls[1:4]]
    assert children == [
        {
            "image_url": BASE + name,
            "is_carousel_item": "true",
            "alt_text": media.alt,
            "access_token": TOKEN,
        }
        for name, media in zip(
            ("square.jpg", "landscape.jpg", "portrait.jpg"), rendered.media, strict=True
        )
    ]
    assert form(calls[4]) == {
        "media_type": "CAROUSEL",
        "children": "c1,c2,c3",
        "caption": "Safer Streets, in pictures.",
        "access_token": TOKEN,
    }
    assert query(calls[5])["fields"] == "status_code,status" and path(calls[5]).endswith(CONTAINER)
    assert form(calls[6]) == {"creation_id": CONTAINER, "access_token": TOKEN}
    assert form(calls[8]) == {
        "message": "Which town should be next? Tell us below.",
        "access_token": TOKEN,
    }
    assert receipt.comment_id == "17858893269000001" and sleeps == []
    assert_graph_calls(rsps)


def test_first_comment(project: Path, rsps: responses.RequestsMock, sleeps: list[float]) -> None:
    rendered = render_post(project, WITH_COMMENT, "kent_opcc")
    happy_path(rsps)
    rsps.post(f"{GRAPH}{MEDIA_ID}/comments", json={"id": "17858893269000002"})
    seen: list[PartReceipt] = []

    def on_part(part: PartReceipt) -> None:
        assert not any("comments" in c.request.url for c in rsps.calls)
        seen.append(part)

    receipt = adapter(project, sleeps).publish(rendered, on_part=on_part)
    comment = rsps.calls[-1]
    assert path(comment) == f"/v26.0/{MEDIA_ID}/comments"
    assert form(comment) == {"message": "Questions? Ask them below.", "access_token": TOKEN}
    assert receipt.comment_id == "17858893269000002" and len(seen) == 1


def test_a_failed_first_comment_keeps_the_published_post(
    project: Path,
    rsps: responses.RequestsMock,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    rendered = render_post(project, WITH_COMMENT, "kent_opcc")
    happy_path(rsps)
    said = "(#10) Application does not have permission for this action"
    rsps.post(f"{GRAPH}{MEDIA_ID}/comments", json=graph_error(10, message=said), status=403)
    receipt = adapter(project, sleeps).publish(rendered)
    assert receipt.remote_id == MEDIA_ID and receipt.comment_id is None
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert MEDIA_ID in warning.getMessage() and said in warning.getMessage()
    assert CANARY not in caplog.text


def test_permalink_failure_leaves_the_url_empty(
    project: Path, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rendered = render_post(project, ONE_IMAGE, "kent_opcc")
    rsps.get(QUOTA, json=quota())
    rsps.post(MEDIA, json={"id": CONTAINER})
    rsps.get(f"{GRAPH}{CONTAINER}", json=status("FINISHED"))
    rsps.post(PUBLISH, json={"id": MEDIA_ID})
    rsps.get(f"{GRAPH}{MEDIA_ID}", body=requests.ReadTimeout("Read timed out."))
    receipt = adapter(project, sleeps).publish(rendered)
    assert receipt.remote_id == MEDIA_ID and receipt.url is None


def test_resume_never_publishes_again(
    project: Path, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    done = PartReceipt(0, MEDIA_ID, PERMALINK)
    receipt = adapter(project, sleeps).publish(
        render_post(project, WITH_COMMENT, "kent_opcc"), resume=[done]
    )
    assert not rsps.calls and receipt.remote_id == MEDIA_ID and receipt.url == PERMALINK


def test_a_post_without_an_image_is_rejected_offline(
    project: Path, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rendered = render_post(project, ONE_IMAGE, "kent_opcc")
    rendered.media = []  # validation refuses such a post; the adapter must too
    with pytest.raises(Rejected, match="needs an image"):
        adapter(project, sleeps).publish(rendered)
    assert not rsps.calls


# --- the container's status -----------------------------------------------------------------


def test_container_in_error_is_rejected(
    project: Path, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(QUOTA, json=quota())
    rsps.post(MEDIA, json={"id": CONTAINER})
    rsps.get(f"{GRAPH}{CONTAINER}", json=status("IN_PROGRESS"))
    rsps.get(
        f"{GRAPH}{CONTAINER}", json=status("ERROR", "Error: The aspect ratio is not supported.")
    )
    with pytest.raises(Rejected) as caught:
        adapter(project, sleeps).publish(render_post(project, ONE_IMAGE, "kent_opcc"))
    assert "The aspect ratio is not supported." in str(caught.value)
    assert caught.value.platform_message == "Error: The aspect ratio is not supported."
    assert sleeps == [60.0]
    assert_not_published(rsps)


def test_container_in_error_for_a_passing_reason_is_transient(
    project: Path, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(QUOTA, json=quota())
    rsps.post(MEDIA, json={"id": CONTAINER})
    rsps.get(f"{GRAPH}{CONTAINER}", json=status("ERROR", "Error: 2207003"))
    with pytest.raises(TransientError):
        adapter(project, sleeps).publish(render_post(project, ONE_IMAGE, "kent_opcc"))
    assert_not_published(rsps)


def test_expired_container_is_transient(
    project: Path, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(QUOTA, json=quota())
    rsps.post(MEDIA, json={"id": CONTAINER})
    rsps.get(f"{GRAPH}{CONTAINER}", json=status("EXPIRED"))
    with pytest.raises(TransientError, match="expired"):
        adapter(project, sleeps).publish(render_post(project, ONE_IMAGE, "kent_opcc"))
    assert_not_published(rsps)


@pytest.mark.parametrize(
    ("settings", "expected_sleeps"),
    [
        ((), [60.0] * 5),  # the defaults: every 60 s for at most 300 s
        (("poll_interval: 45", "poll_timeout: 100"), [45.0, 45.0, 10.0]),
    ],
)
def test_a_container_that_never_finishes_is_given_up(
    project: Path,
    rsps: responses.RequestsMock,
    sleeps: list[float],
    settings: tuple[str, ...],
    expected_sleeps: list[float],
) -> None:
    for line in settings:
        set_channel(project, line)
    rsps.get(QUOTA, json=quota())
    rsps.post(MEDIA, json={"id": CONTAINER})
    rsps.get(f"{GRAPH}{CONTAINER}", json=status("IN_PROGRESS"))  # repeats for ever
    with pytest.raises(TransientError) as caught:
        adapter(project, sleeps).publish(render_post(project, ONE_IMAGE, "kent_opcc"))
    timeout = sum(expected_sleeps)
    assert sleeps == expected_sleeps and sum(sleeps) <= timeout
    assert f"not ready after {timeout:g} s" in str(caught.value)
    polls = [c for c in rsps.calls if path(c) == f"/v26.0/{CONTAINER}"]
    assert len(polls) == len(expected_sleeps) + 1  # a last look after the last wait
    assert_not_published(rsps)


# --- quota ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("used", "total"), [(50, 50), (100, 100), (51, 50)])
def test_publishing_quota_exhausted(
    project: Path, rsps: responses.RequestsMock, sleeps: list[float], used: int, total: int
) -> None:
    rsps.get(QUOTA, json=quota(used, total))
    with pytest.raises(RateLimited) as caught:
        adapter(project, sleeps).publish(render_post(project, ONE_IMAGE, "kent_opcc"))
    assert f"{used} of {total} posts" in str(caught.value)
    assert len(rsps.calls) == 1  # no container was made


def test_quota_one_below_the_limit_publishes(
    project: Path, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(QUOTA, json=quota(99, 100))
    rsps.post(MEDIA, json={"id": CONTAINER})
    rsps.get(f"{GRAPH}{CONTAINER}", json=status("FINISHED"))
    rsps.post(PUBLISH, json={"id": MEDIA_ID})
    rsps.get(f"{GRAPH}{MEDIA_ID}", json={"permalink": PERMALINK})
    assert adapter(project, sleeps).publish(render_post(project, ONE_IMAGE, "kent_opcc"))


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
