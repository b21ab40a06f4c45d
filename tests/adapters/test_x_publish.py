"""The X adapter publishing: a text post, images with alt text, threads, resuming, and the
timeout every request carries.

Real tweepy and requests code, only HTTP intercepted by `responses`; bodies are shaped like
X's own answers and the helpers are in x_helpers.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import responses

from crosspost.adapters.base import Receipt
from crosspost.adapters.x import XAdapter
from crosspost.core.errors import (
    InDoubt,
    PartReceipt,
)

from ..conftest import NOW, REPO, render_post
from .x_helpers import (
    ID1,
    ID2,
    ID3,
    IMAGES_POST,
    ME,
    MEDIA1,
    MEDIA2,
    METADATA,
    TEXT_POST,
    THREAD_POST,
    THREAD_WITH_IMAGE,
    TIMELINE,
    TWEETS,
    UPLOAD,
    USER_ID,
    adapter_for,
    assert_contract,
    authorization,
    calls_to,
    contract_validator,
    created,
    form_fields,
    problem,
    sent_json,
)

# tweepy's wait_on_rate_limit or a retry loop must never really sleep (tests/adapters/conftest.py)
pytestmark = pytest.mark.usefixtures("no_sleeping")


# --- the official contract ------------------------------------------------------------------


def test_the_contract_validator_is_not_vacuous() -> None:
    from jsonschema import ValidationError

    tweets = contract_validator("/2/tweets")
    tweets.validate({"text": "hi", "media": {"media_ids": [MEDIA1]}})
    with pytest.raises(ValidationError):
        tweets.validate({"text": "hi", "media_ids": [MEDIA1]})  # tweepy's keyword, not X's field
    with pytest.raises(ValidationError):
        tweets.validate({"text": "hi", "reply": {"in_reply_to_tweet_id": 1861234567890123456}})
    metadata = contract_validator("/2/media/metadata")
    with pytest.raises(ValidationError):
        metadata.validate({"id": MEDIA1, "metadata": {"alt_text": "not an object"}})
    upload = contract_validator("/2/media/upload", media="multipart/form-data")
    with pytest.raises(ValidationError):
        upload.validate({"media": "x", "media_category": "image"})


# --- publishing -----------------------------------------------------------------------------


def test_text_post(project: Path, adapter: XAdapter, api: responses.RequestsMock) -> None:
    rendered = render_post(project, TEXT_POST, "PCCKent")
    created(api, ID1, rendered.text)
    seen: list[PartReceipt] = []

    receipt = adapter.publish(rendered, on_part=seen.append)

    url = f"https://x.com/PCCKent/status/{ID1}"
    assert receipt == Receipt(ID1, url, NOW, (PartReceipt(0, ID1, url),))
    assert seen == [PartReceipt(0, ID1, url)]
    [call] = api.calls
    assert sent_json(call) == {"text": "Safer Streets funding for Kent and Medway town centres."}
    assert authorization(call).startswith("OAuth ")
    assert 'oauth_token="CANARY' in authorization(call)
    assert assert_contract(api) == 1


def test_post_with_two_images_and_alt_text(
    project: Path, adapter: XAdapter, api: responses.RequestsMock
) -> None:
    rendered = render_post(project, IMAGES_POST, "PCCKent")
    for media_id in (MEDIA1, MEDIA2):
        api.post(
            UPLOAD,
            json={
                "data": {
                    "id": media_id,
                    "media_key": f"3_{media_id}",
                    "size": 19125,
                    "expires_after_secs": 86400,
                    "image": {"image_type": "image/jpeg", "w": 1080, "h": 1080},
                }
            },
        )
    api.post(METADATA, json={"data": {"associated_metadata": True, "id": MEDIA1}})
    api.post(METADATA, json={"data": {"associated_metadata": True, "id": MEDIA2}})
    created(api, ID1)

    receipt = adapter.publish(rendered)

    assert receipt.remote_id == ID1
    uploads = calls_to(api, UPLOAD)
    assert len(uploads) == 2
    for call, name, mime in zip(
        uploads, ("square.jpg", "photo.png"), ("image/jpeg", "image/png"), strict=True
    ):
        fields = form_fields(call.request)
        assert set(fields) == {"media", "media_category"}
        content, filename, content_type = fields["media"]
        assert content == (project / "queue" / "media" / name).read_bytes()
        assert (filename, content_type) == (name, mime)
        assert fields["media_category"][0] == b"tweet_image"
        assert authorization(call).startswith("OAuth ")
    metadata = [sent_json(c) for c in calls_to(api, METADATA)]
    assert metadata == [
        {"id": MEDIA1, "metadata": {"alt_text": {"text": rendered.media[0].alt}}},
        {"id": MEDIA2, "metadata": {"alt_text": {"text": rendered.media[1].alt}}},
    ]
    assert metadata[0]["metadata"]["alt_text"]["text"].startswith("Navy blue square card")
    [post] = calls_to(api, TWEETS)
    assert sent_json(post) == {"text": rendered.text, "media": {"media_ids": [MEDIA1, MEDIA2]}}
    # the alt text is in place before the post exists
    order = [c.request.url for c in api.calls]
    assert order.index(TWEETS) == len(order) - 1
    assert assert_contract(api) == 5


def test_three_part_thread_replies_to_the_previous_part(
    project: Path, adapter: XAdapter, api: responses.RequestsMock
) -> None:
    rendered = render_post(project, THREAD_WITH_IMAGE, "PCCKent")
    api.post(UPLOAD, json={"data": {"id": MEDIA1, "media_key": f"3_{MEDIA1}"}})
    api.post(METADATA, json={"data": {"associated_metadata": True, "id": MEDIA1}})
    for tweet_id in (ID1, ID2, ID3):
        created(api, tweet_id)
    seen: list[PartReceipt] = []

    receipt = adapter.publish(rendered, on_part=seen.append)

    bodies = [sent_json(c) for c in calls_to(api, TWEETS)]
    assert bodies == [
        {"text": "A thread on the VAWG inquiry report (1/3).", "media": {"media_ids": [MEDIA1]}},
        {
            "text": "The report makes twelve recommendations (2/3).",
            "reply": {"in_reply_to_tweet_id": ID1},
        },
        {
            "text": "Read the full report on our website (3/3).",
            "reply": {"in_reply_to_tweet_id": ID2},
        },
    ]
    assert [p.remote_id for p in receipt.parts] == [ID1, ID2, ID3]
    assert [p.index for p in receipt.parts] == [0, 1, 2]
    assert seen == list(receipt.parts)
    assert receipt.remote_id == ID1
    assert receipt.url == f"https://x.com/PCCKent/status/{ID1}"
    assert receipt.parts[2].url == f"https://x.com/PCCKent/status/{ID3}"
    assert assert_contract(api) == 5


def test_thread_whose_third_part_fails_keeps_the_first_two(
    project: Path, adapter: XAdapter, api: responses.RequestsMock
) -> None:
    rendered = render_post(project, THREAD_POST, "PCCKent")
    created(api, ID1)
    created(api, ID2)
    api.post(TWEETS, status=503, json=problem(503, "Service Unavailable", "Service Unavailable"))
    seen: list[PartReceipt] = []

    with pytest.raises(InDoubt) as caught:  # a 5xx may come after X created the part
        adapter.publish(rendered, on_part=seen.append)

    error = caught.value
    assert error.part == 2
    assert [p.remote_id for p in error.completed] == [ID1, ID2]
    assert [p.remote_id for p in seen] == [ID1, ID2]
    assert str(error).startswith("thread part 3: ")
    assert error.platform_message == "Service Unavailable"
    assert sent_json(api.calls[2])["reply"] == {"in_reply_to_tweet_id": ID2}
    assert all(c.request.method == "POST" for c in api.calls)  # nothing deleted


def test_resume_after_the_first_part(
    project: Path, adapter: XAdapter, api: responses.RequestsMock
) -> None:
    rendered = render_post(project, THREAD_WITH_IMAGE, "PCCKent")
    first = PartReceipt(0, ID1, f"https://x.com/PCCKent/status/{ID1}")
    created(api, ID2)
    created(api, ID3)
    seen: list[PartReceipt] = []

    receipt = adapter.publish(rendered, resume=[first], on_part=seen.append)

    assert not calls_to(api, UPLOAD) and not calls_to(api, METADATA)  # the image went with part 1
    bodies = [sent_json(c) for c in api.calls]
    assert [b["reply"]["in_reply_to_tweet_id"] for b in bodies] == [ID1, ID2]
    assert [b["text"] for b in bodies] == rendered.thread
    assert all("media" not in b for b in bodies)
    assert receipt.parts == (first, *seen)
    assert [p.index for p in seen] == [1, 2]
    assert receipt.remote_id == ID1


def test_resume_with_every_part_done_sends_nothing(
    project: Path, adapter: XAdapter, api: responses.RequestsMock
) -> None:
    rendered = render_post(project, TEXT_POST, "PCCKent")
    done = PartReceipt(0, ID1, f"https://x.com/PCCKent/status/{ID1}")

    receipt = adapter.publish(rendered, resume=[done])

    assert receipt.parts == (done,) and not api.calls


# --- timeouts -------------------------------------------------------------------------------


def test_every_request_carries_the_channel_timeout(
    project: Path, api: responses.RequestsMock
) -> None:
    config = project / "crosspost.yaml"
    text = config.read_text()
    config.write_text(text.replace('handle: "@PCCKent"\n', 'handle: "@PCCKent"\n    timeout: 7\n'))
    adapter = adapter_for(project)
    assert adapter.timeout == 7
    rendered = render_post(project, THREAD_WITH_IMAGE, "PCCKent")
    api.post(UPLOAD, json={"data": {"id": MEDIA1, "media_key": f"3_{MEDIA1}"}})
    api.post(METADATA, json={"data": {"associated_metadata": True, "id": MEDIA1}})
    for tweet_id in (ID1, ID2, ID3):
        created(api, tweet_id)
    api.get(ME, json={"data": {"id": USER_ID, "name": "Kent PCC", "username": "PCCKent"}})
    api.get(TIMELINE, json={"data": [], "meta": {"result_count": 0}})
    api.delete(f"{TWEETS}/{ID1}", json={"data": {"deleted": True}})

    adapter.publish(rendered)
    adapter.recent()
    adapter.delete(ID1)

    assert len(api.calls) == 8
    assert [c.request.req_kwargs["timeout"] for c in api.calls] == [7.0] * 8


def test_default_timeout_is_thirty_seconds(
    project: Path, adapter: XAdapter, api: responses.RequestsMock
) -> None:
    api.get(ME, json={"data": {"id": USER_ID, "name": "Kent PCC", "username": "PCCKent"}})

    adapter.check_credentials()

    assert api.calls[0].request.req_kwargs["timeout"] == 30.0


def test_tweepy_is_not_imported_until_needed() -> None:
    code = "import sys, crosspost.cli, crosspost.adapters.x; print('tweepy' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.strip() == "False"
