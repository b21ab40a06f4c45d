"""The X adapter's media: the chunked GIF upload and X's processing of it, images X is
still processing, alt text that fails, and a file gone from the queue.

Real tweepy and requests code, only HTTP intercepted by `responses`; bodies are shaped like
X's own answers and the helpers are in x_helpers.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import responses

from crosspost.adapters.x import XAdapter
from crosspost.core.errors import (
    ContentChanged,
    Rejected,
    TransientError,
)

from ..conftest import NOW, make_adapter, render_post
from .x_helpers import (
    GIF_POST,
    ID1,
    INITIALIZE,
    MEDIA1,
    METADATA,
    ONE_IMAGE_POST,
    TWEETS,
    UPLOAD,
    assert_contract,
    calls_to,
    created,
    form_fields,
    sent_json,
)

# tweepy's wait_on_rate_limit or a retry loop must never really sleep (tests/adapters/conftest.py)
pytestmark = pytest.mark.usefixtures("no_sleeping")


# --- GIFs and processing --------------------------------------------------------------------


def gif_upload(api: responses.RequestsMock, *states: str) -> None:
    """X's chunked upload of a GIF: initialize, append, finalize answering `states[0]`, then
    one STATUS answer per further state (X's media upload guide; shapes from its schema)."""
    api.post(INITIALIZE, json={"data": {"id": MEDIA1, "media_key": f"16_{MEDIA1}",
                                        "expires_after_secs": 86400}})  # fmt: skip
    api.post(f"{UPLOAD}/{MEDIA1}/append", json={"data": {"expires_at": 1764072000}})

    def info(state: str) -> dict[str, Any]:
        out: dict[str, Any] = {"state": state}
        if state in ("pending", "in_progress"):
            out["check_after_secs"] = 5
        return out

    first, *later = states
    api.post(f"{UPLOAD}/{MEDIA1}/finalize", json={"data": {
        "id": MEDIA1, "media_key": f"16_{MEDIA1}", "size": 1234, "expires_after_secs": 86400,
        "processing_info": info(first)}})  # fmt: skip
    for state in later:
        api.get(UPLOAD, json={"data": {"id": MEDIA1, "media_key": f"16_{MEDIA1}",
                                       "processing_info": info(state)}})  # fmt: skip


def test_a_gif_goes_through_the_chunked_upload_and_waits_for_processing(
    project: Path, api: responses.RequestsMock
) -> None:
    """X processes GIFs asynchronously: the media id is attached only once STATUS says
    succeeded (a pending id makes POST /2/tweets answer 400 "media IDs are invalid")."""
    slept: list[float] = []
    adapter = make_adapter(project, "PCCKent", now=lambda: NOW, sleep=slept.append)
    rendered = render_post(project, GIF_POST, "PCCKent")
    gif = (project / "queue/media/anim.gif").read_bytes()
    gif_upload(api, "pending", "in_progress", "succeeded")
    api.post(METADATA, json={"data": {"associated_metadata": True, "id": MEDIA1}})
    created(api, ID1)

    adapter.publish(rendered)

    init = sent_json(calls_to(api, INITIALIZE)[0])
    assert init == {
        "media_type": "image/gif",
        "total_bytes": len(gif),
        "media_category": "tweet_gif",
    }
    [append] = calls_to(api, f"{UPLOAD}/{MEDIA1}/append")
    fields = form_fields(append.request)
    assert fields["media"][0] == gif and fields["segment_index"][0] == b"0"
    statuses = calls_to(api, UPLOAD, method="GET")
    assert len(statuses) == 2
    assert all(
        "command=STATUS" in c.request.url and f"media_id={MEDIA1}" in c.request.url
        for c in statuses
    )
    assert slept == [5.0, 5.0]  # as check_after_secs asked, twice
    order = [c.request.url.split("?")[0] for c in api.calls]
    assert order.index(TWEETS) == len(order) - 1  # attached only after processing
    assert sent_json(calls_to(api, TWEETS)[0])["media"] == {"media_ids": [MEDIA1]}
    assert assert_contract(api) == 4  # initialize, append, metadata, the post


def test_a_gif_that_x_fails_to_process_fails_the_post(
    project: Path, api: responses.RequestsMock
) -> None:
    adapter = make_adapter(project, "PCCKent", now=lambda: NOW, sleep=lambda s: None)
    gif_upload(api, "pending", "failed")
    with pytest.raises(Rejected, match="X could not process anim.gif"):
        adapter.publish(render_post(project, GIF_POST, "PCCKent"))
    assert not calls_to(api, TWEETS)


def test_a_gif_still_processing_after_the_wait_is_tried_again_later(
    project: Path, api: responses.RequestsMock
) -> None:
    config = project / "crosspost.yaml"
    text = config.read_text()
    config.write_text(
        text.replace('    handle: "@PCCKent"\n', '    handle: "@PCCKent"\n    media_timeout: 8\n')
    )
    slept: list[float] = []
    adapter = make_adapter(project, "PCCKent", now=lambda: NOW, sleep=slept.append)
    gif_upload(api, "pending", "in_progress", "in_progress")
    with pytest.raises(TransientError, match="still processing anim.gif after 10 s") as caught:
        adapter.publish(render_post(project, GIF_POST, "PCCKent"))
    assert caught.value.retryable and not calls_to(api, TWEETS)
    assert slept == [5.0, 5.0]


def test_an_image_whose_upload_says_processing_is_waited_for(
    project: Path, api: responses.RequestsMock
) -> None:
    slept: list[float] = []
    adapter = make_adapter(project, "PCCKent", now=lambda: NOW, sleep=slept.append)
    pending = {"state": "pending", "check_after_secs": 2}
    api.post(UPLOAD, json={"data": {"id": MEDIA1, "processing_info": pending}})
    api.get(UPLOAD, json={"data": {"id": MEDIA1, "processing_info": {"state": "succeeded"}}})
    api.post(METADATA, json={"data": {"associated_metadata": True, "id": MEDIA1}})
    created(api, ID1)
    adapter.publish(render_post(project, ONE_IMAGE_POST, "PCCKent"))
    assert slept == [2.0]
    assert form_fields(calls_to(api, UPLOAD)[0].request)["media_category"][0] == b"tweet_image"


# --- media that fails -----------------------------------------------------------------------


def test_alt_text_failure_stops_before_the_post(
    project: Path, adapter: XAdapter, api: responses.RequestsMock
) -> None:
    rendered = render_post(project, ONE_IMAGE_POST, "PCCKent")
    api.post(UPLOAD, json={"data": {"id": MEDIA1, "media_key": f"3_{MEDIA1}"}})
    api.post(METADATA, status=400, json={"errors": [{"message": "Invalid alt text"}]})

    with pytest.raises(Rejected, match="alt text of media/square.jpg") as caught:
        adapter.publish(rendered)

    assert caught.value.platform_message == "Invalid alt text"
    assert not calls_to(api, TWEETS)


def test_missing_image_file_is_rejected(
    project: Path, adapter: XAdapter, api: responses.RequestsMock
) -> None:
    rendered = render_post(project, GIF_POST, "PCCKent")
    (project / "queue" / "media" / "anim.gif").unlink()

    with pytest.raises(ContentChanged, match="media/anim.gif"):
        adapter.publish(rendered)
    assert not api.calls
