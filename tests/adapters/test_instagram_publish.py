"""The Instagram adapter publishing: one image, a carousel, the first comment, resuming, the
container's status and the publishing quota.

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
from PIL import Image

from crosspost.core.errors import (
    PartReceipt,
    RateLimited,
    Rejected,
    TransientError,
)

from ..conftest import CANARY, NOW, render_post
from .instagram_helpers import (
    BASE,
    CAROUSEL,
    CONTAINER,
    GRAPH,
    MEDIA,
    MEDIA_ID,
    ONE_IMAGE,
    PERMALINK,
    PUBLISH,
    QUOTA,
    TOKEN,
    USER,
    WITH_COMMENT,
    adapter,
    assert_graph_calls,
    assert_not_published,
    form,
    graph_error,
    happy_path,
    path,
    query,
    quota,
    set_channel,
    status,
)

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
