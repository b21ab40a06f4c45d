"""The Facebook Page adapter publishing: text, one photo or several, the first comment,
resuming, the channel's timeout and Graph version, and what importing it costs.

The real facebook-sdk code, with only HTTP intercepted; response bodies are shaped like the
Graph API's own, and the helpers are in facebook_helpers.py.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from crosspost.adapters.graph import encode
from crosspost.core.errors import (
    PartReceipt,
    Rejected,
)

from ..conftest import CANARY, NOW, REPO, render_post
from .facebook_helpers import (
    FEED,
    GRAPH,
    ONE_PHOTO,
    PAGE,
    PHOTOS,
    PLAIN_POST,
    POST_ID,
    TEXT_POST,
    TOKEN,
    TWO_PHOTOS,
    WITH_COMMENT,
    adapter,
    assert_graph_calls,
    form,
    graph_error,
    path,
    query,
    set_channel,
    set_version,
)

# --- publishing -----------------------------------------------------------------------------


def test_text_post_with_link_goes_to_the_feed(project: Path, rsps: responses.RequestsMock) -> None:
    rendered = render_post(project, TEXT_POST, "KentPCC")
    rsps.post(FEED, json={"id": POST_ID})
    parts: list[PartReceipt] = []
    receipt = adapter(project).publish(rendered, on_part=parts.append)

    [call] = rsps.calls
    assert call.request.method == "POST"
    assert form(call) == {
        "message": rendered.text,
        "link": "https://www.pcc-kent.gov.uk/news/safer-streets",
        "access_token": TOKEN,
    }
    assert "access_token" not in query(call)  # the token travels in the body of a POST
    assert "#SaferStreets" in rendered.text and rendered.link not in rendered.text
    assert receipt.remote_id == POST_ID
    assert receipt.url == f"https://www.facebook.com/{POST_ID}"
    assert receipt.published_at == NOW and receipt.comment_id is None
    assert receipt.parts == (PartReceipt(0, POST_ID, receipt.url),)
    assert parts == list(receipt.parts)
    assert_graph_calls(rsps)


def test_text_post_without_link_sends_no_link_field(
    project: Path, rsps: responses.RequestsMock
) -> None:
    rendered = render_post(project, PLAIN_POST, "KentPCC")
    rsps.post(FEED, json={"id": POST_ID})
    adapter(project).publish(rendered)
    assert form(rsps.calls[0]) == {
        "message": "Our office is closed on Friday.",
        "access_token": TOKEN,
    }


def test_one_photo_is_uploaded_as_multipart_source_with_caption_and_alt(
    project: Path, rsps: responses.RequestsMock
) -> None:
    rendered = render_post(project, ONE_PHOTO, "KentPCC")
    rsps.post(PHOTOS, json={"id": "5550001", "post_id": POST_ID})
    receipt = adapter(project).publish(rendered)

    [call] = rsps.calls
    assert call.request.headers["Content-Type"].startswith("multipart/form-data")
    fields = form(call)
    assert fields == {
        "caption": "Come and see us at the County Show.",
        "alt_text_custom": "A navy square card with the office's logo in the middle.",
        "access_token": TOKEN,
        "source": ("square.jpg", (project / "queue/media/square.jpg").read_bytes()),
    }
    assert "published" not in fields  # one photo is published as it is uploaded
    assert receipt.remote_id == POST_ID  # the post's id, not the photo's
    assert receipt.url == f"https://www.facebook.com/{POST_ID}"
    assert_graph_calls(rsps)


def test_several_photos_are_uploaded_unpublished_then_attached_as_json(
    project: Path, rsps: responses.RequestsMock
) -> None:
    rendered = render_post(project, TWO_PHOTOS, "KentPCC")
    rsps.post(PHOTOS, json={"id": "5550001"})
    rsps.post(PHOTOS, json={"id": "5550002"})
    rsps.post(FEED, json={"id": POST_ID})
    rsps.post(f"{GRAPH}{POST_ID}/comments", json={"id": f"{POST_ID}_111"})
    receipt = adapter(project).publish(rendered)

    first, second, feed, comment = rsps.calls
    for call, name, alt in (
        (first, "square.jpg", rendered.media[0].alt),
        (second, "photo.png", rendered.media[1].alt),
    ):
        assert path(call) == f"/v26.0/{PAGE}/photos"
        fields = form(call)
        assert fields["published"] == "false"  # not facebook-sdk's "False"
        assert fields["alt_text_custom"] == alt
        assert fields["source"] == (name, (project / "queue/media" / name).read_bytes())
        assert "caption" not in fields
    fields = form(feed)
    assert json.loads(fields.pop("attached_media[0]")) == {"media_fbid": "5550001"}
    assert json.loads(fields.pop("attached_media[1]")) == {"media_fbid": "5550002"}
    # a photo post has no link preview: rendering put the link at the end of the message
    assert rendered.text.endswith("\n\nhttps://www.pcc-kent.gov.uk/news/safer-streets")
    assert fields == {
        "message": rendered.text,
        "access_token": TOKEN,
    }
    assert form(comment) == {
        "message": "Which town should be next? Tell us below.",
        "access_token": TOKEN,
    }
    assert receipt.remote_id == POST_ID and receipt.comment_id == f"{POST_ID}_111"
    assert_graph_calls(rsps)


def test_first_comment_is_posted_under_the_post(
    project: Path, rsps: responses.RequestsMock
) -> None:
    rendered = render_post(project, WITH_COMMENT, "KentPCC")
    rsps.post(FEED, json={"id": POST_ID})
    rsps.post(f"{GRAPH}{POST_ID}/comments", json={"id": f"{POST_ID}_222"})
    seen: list[PartReceipt] = []

    def on_part(part: PartReceipt) -> None:
        assert len(rsps.calls) == 1, "the post is recorded before its comment is sent"
        seen.append(part)

    receipt = adapter(project).publish(rendered, on_part=on_part)
    assert path(rsps.calls[1]) == f"/v26.0/{POST_ID}/comments"
    assert form(rsps.calls[1]) == {"message": "Questions? Ask them below.", "access_token": TOKEN}
    assert receipt.comment_id == f"{POST_ID}_222"
    assert [p.remote_id for p in seen] == [POST_ID]


@pytest.mark.parametrize(
    "failure",
    [
        {"json": graph_error(100, message="Invalid parameter"), "status": 400},
        {"body": requests.ReadTimeout("Read timed out. (read timeout=30)")},
    ],
    ids=["graph-error", "read-timeout"],
)
def test_a_failed_first_comment_does_not_fail_the_published_post(
    project: Path,
    rsps: responses.RequestsMock,
    caplog: pytest.LogCaptureFixture,
    failure: dict[str, Any],
) -> None:
    caplog.set_level(logging.DEBUG)
    rendered = render_post(project, WITH_COMMENT, "KentPCC")
    rsps.post(FEED, json={"id": POST_ID})
    rsps.post(f"{GRAPH}{POST_ID}/comments", **failure)
    receipt = adapter(project).publish(rendered)

    assert receipt.remote_id == POST_ID and receipt.comment_id is None
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    said = warning.getMessage()
    assert POST_ID in said and "first comment was not posted" in said
    # the receipt carries it, so the ledger, history, status and the alert can say it
    [noted] = receipt.warnings
    assert "first comment was not posted" in noted and "add it by hand on Facebook" in noted
    assert CANARY not in caplog.text


def test_resume_never_publishes_again(project: Path, rsps: responses.RequestsMock) -> None:
    rendered = render_post(project, WITH_COMMENT, "KentPCC")
    done = PartReceipt(0, POST_ID, f"https://www.facebook.com/{POST_ID}")
    receipt = adapter(project).publish(rendered, resume=[done])
    assert not rsps.calls
    assert receipt.remote_id == POST_ID and receipt.parts == (done,)


def test_timeout_and_graph_version_come_from_the_channel(
    project: Path, rsps: responses.RequestsMock
) -> None:
    set_channel(project, "timeout: 7")
    set_version(project, "v22.0")
    rendered = render_post(project, PLAIN_POST, "KentPCC")
    rsps.post(f"https://graph.facebook.com/v22.0/{PAGE}/feed", json={"id": POST_ID})
    adapter(project).publish(rendered)
    assert rsps.calls[0].request.req_kwargs["timeout"] == 7.0


@pytest.mark.parametrize(("written", "used"), [("'21.0'", "v21.0"), ("v19.0", "v19.0")])
def test_graph_version_is_normalised(
    project: Path, rsps: responses.RequestsMock, written: str, used: str
) -> None:
    set_version(project, written)
    rsps.get(f"https://graph.facebook.com/{used}/{PAGE}/posts", json={"data": []})
    assert adapter(project).recent() == []


def test_a_malformed_graph_version_is_refused_before_any_call(
    project: Path, rsps: responses.RequestsMock
) -> None:
    set_version(project, "latest")
    with pytest.raises(Rejected, match="graph_version 'latest'"):
        adapter(project).recent()
    assert not rsps.calls


def test_form_encoding() -> None:
    assert encode({"a": True, "b": False, "c": None, "d": 3, "e": {"media_fbid": "1"}}) == {
        "a": "true",
        "b": "false",
        "d": "3",
        "e": '{"media_fbid":"1"}',
    }


# --- import cost ----------------------------------------------------------------------------


def test_the_adapters_import_neither_facebook_nor_requests() -> None:
    code = (
        "import sys, crosspost.adapters.facebook, crosspost.adapters.instagram, "
        "crosspost.adapters.graph\n"
        "print(sorted(m for m in ('facebook', 'requests') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
