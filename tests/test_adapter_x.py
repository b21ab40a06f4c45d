"""The X adapter: real tweepy and requests code, only HTTP intercepted by `responses`.

Bodies are shaped like X's own answers. Every JSON body the adapter sends is checked against
X's official OpenAPI schema (../shared/contracts) and, so a clone without ../shared still checks
the shapes, against hand-written expectations.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses import matchers
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from crosspost.adapters.base import CredentialReport, Receipt, RemotePost
from crosspost.adapters.x import XAdapter, retry_at
from crosspost.core.errors import (
    AuthError,
    ContentChanged,
    InDoubt,
    PartReceipt,
    PublishError,
    RateLimited,
    Rejected,
    TransientError,
    UsageCapped,
)

from .conftest import CANARY, NOW, REPO, canary_environ, make_adapter, render_post, shared_file

TWEETS = "https://api.twitter.com/2/tweets"
ME = "https://api.twitter.com/2/users/me"
USER_ID = "1234567890"
TIMELINE = f"https://api.twitter.com/2/users/{USER_ID}/tweets"
UPLOAD = "https://api.x.com/2/media/upload"
INITIALIZE = "https://api.x.com/2/media/upload/initialize"
TOKEN = "https://api.twitter.com/oauth2/token"
USAGE = "https://api.x.com/2/usage/tweets"
METADATA = "https://api.x.com/2/media/metadata"
ID1, ID2, ID3 = "1861234567890123456", "1861234567890123457", "1861234567890123458"
MEDIA1, MEDIA2 = "1880028106020515840", "1880028106020515841"
RESET = int(NOW.timestamp()) + 900  # the 15-minute window ends a quarter of an hour from now
RESET_24H = int(NOW.timestamp()) + 20 * 3600

TEXT_POST = """\
publish_at: 2026-12-01 10:00
title: Safer Streets funding for Kent and Medway town centres.
"""
IMAGES_POST = """\
publish_at: 2026-12-01 10:00
title: Our stand at the County Show.
media:
  - path: media/square.jpg
    alt: Navy blue square card with the words Safer Streets in gold.
  - path: media/photo.png
    alt: A second card in the same navy blue, with no words.
"""
ONE_IMAGE_POST = """\
publish_at: 2026-12-01 10:00
title: Our stand at the County Show.
media:
  - path: media/square.jpg
    alt: Navy blue square card with the words Safer Streets in gold.
"""
GIF_POST = """\
publish_at: 2026-12-01 10:00
title: Open days this week.
media:
  - path: media/anim.gif
    alt: Three frames flashing between dark colours.
"""
THREAD_POST = """\
publish_at: 2026-12-01 10:00
title: A thread on the VAWG inquiry report (1/3).
thread:
  - The report makes twelve recommendations (2/3).
  - Read the full report on our website (3/3).
"""
THREAD_WITH_IMAGE = (
    THREAD_POST
    + """\
media:
  - path: media/square.jpg
    alt: Cover of the inquiry report.
"""
)


# --- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any real sleep (tweepy's wait_on_rate_limit, a retry loop) fails the test."""

    def refuse(seconds: float) -> None:
        raise AssertionError(f"slept for {seconds} s")

    monkeypatch.setattr(time, "sleep", refuse)


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    """Intercepted HTTP: unregistered requests fail, registered ones must all be made."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def adapter_for(project: Path, environ: dict[str, str] | None = None) -> XAdapter:
    def refuse(seconds: float) -> None:
        raise AssertionError(f"adapter slept for {seconds} s")

    adapter = make_adapter(project, "PCCKent", environ=environ, now=lambda: NOW, sleep=refuse)
    assert isinstance(adapter, XAdapter)
    return adapter


@pytest.fixture
def adapter(project: Path) -> XAdapter:
    return adapter_for(project)


def created(api: responses.RequestsMock, tweet_id: str, text: str = "…") -> None:
    api.post(TWEETS, status=201, json={"data": {"id": tweet_id, "text": text}})


def problem(status: int, detail: str, title: str, kind: str = "about:blank") -> dict[str, Any]:
    """An error body in X's v2 'problem' shape."""
    return {"title": title, "detail": detail, "type": kind, "status": status}


def sent_json(call: Any) -> dict[str, Any]:
    body = call.request.body
    return json.loads(body.decode() if isinstance(body, bytes) else body)  # type: ignore[no-any-return]


def calls_to(api: responses.RequestsMock, url: str, method: str = "POST") -> list[Any]:
    return [
        c for c in api.calls if c.request.url.split("?")[0] == url and c.request.method == method
    ]


def form_fields(request: Any) -> dict[str, tuple[bytes, str | None, str]]:
    """A multipart/form-data body as {field: (content, filename, content type)}."""
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + request.body)
    assert message.is_multipart()
    out = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        out[str(name)] = (
            part.get_payload(decode=True),
            part.get_filename(),
            part.get_content_type(),
        )
    return out


def authorization(call: Any) -> str:
    value = call.request.headers["Authorization"]
    return value.decode() if isinstance(value, bytes) else str(value)


# --- the official contract -------------------------------------------------------------------

CONTRACT_URI = "urn:x-api-v2-publishing"


def contract_validator(path: str, method: str = "post", media: str = "application/json") -> Any:
    """A validator for an operation's request body, its $refs resolved in the whole document."""
    from jsonschema import Draft7Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    document = json.loads(shared_file("contracts", "x-api-v2-publishing.openapi.json").read_text())
    registry = Registry().with_resource(
        CONTRACT_URI, Resource.from_contents(document, default_specification=DRAFT7)
    )
    escaped_path = path.replace("~", "~0").replace("/", "~1")
    pointer = (
        f"/paths/{escaped_path}/{method}/requestBody/content/{media.replace('/', '~1')}/schema"
    )
    assert document["paths"][path][method]["requestBody"]["content"][media]["schema"]
    return Draft7Validator({"$ref": f"{CONTRACT_URI}#{pointer}"}, registry=registry)


def assert_contract(api: responses.RequestsMock) -> int:
    """Every JSON body sent to /2/tweets and /2/media/metadata obeys X's schema; how many."""
    checked = 0
    for call in api.calls:
        url = call.request.url.split("?")[0]
        if call.request.method == "POST" and url in (TWEETS, METADATA):
            path = "/2/tweets" if url == TWEETS else "/2/media/metadata"
            contract_validator(path).validate(sent_json(call))
            checked += 1
        if call.request.method == "POST" and url == UPLOAD:
            fields = form_fields(call.request)
            as_form = {name: value[0].decode("latin-1") for name, value in fields.items()}
            contract_validator("/2/media/upload", media="multipart/form-data").validate(as_form)
            checked += 1
        if call.request.method == "POST" and url == INITIALIZE:
            contract_validator("/2/media/upload/initialize").validate(sent_json(call))
            checked += 1
        if call.request.method == "POST" and url.endswith("/append"):
            fields = form_fields(call.request)
            as_form: dict[str, Any] = {n: v[0].decode("latin-1") for n, v in fields.items()}
            as_form["segment_index"] = int(as_form["segment_index"])  # a form sends digits
            validator = contract_validator(
                "/2/media/upload/{id}/append", media="multipart/form-data"
            )
            validator.validate(as_form)
            checked += 1
    return checked


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


# --- errors: one mapping for every call ---------------------------------------------------

DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
# X's answer when the app's monthly post cap is used up (a real answer, quoted in
# xdevplatform/xdk issue 25): 429 while the 15-minute window has plenty left
USAGE_CAP = {
    "account_id": "1234567",
    "product_name": "standard-basic",
    "title": "UsageCapExceeded",
    "period": "Monthly",
    "scope": "Product",
    "detail": "Usage cap exceeded: Monthly product cap",
    "type": "https://api.twitter.com/2/problems/usage-capped",
}
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


def limits(
    window: str | None = None, user: str | None = None, app: str | None = None
) -> dict[str, str]:
    """X's rate-limit headers: the remaining count of each limit named (None: not sent)."""
    headers = {}
    for prefix, remaining, reset in (
        ("x-rate-limit", window, RESET),
        ("x-user-limit-24hour", user, RESET_24H),
        ("x-app-limit-24hour", app, RESET_24H),
    ):
        if remaining is not None:
            headers.update({f"{prefix}-remaining": remaining, f"{prefix}-reset": str(reset)})
    return headers


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (limits(window="0"), RESET),
        (limits(user="0"), RESET_24H),
        (limits(app="0"), RESET_24H),
        (limits(window="40", user="0"), RESET_24H),  # the daily limit is the one that bit
        (limits(window="0", user="0"), RESET_24H),  # both exhausted: wait for the later
        (limits(window="0", user="3"), RESET),  # the daily limit has room
        ({"x-rate-limit-reset": str(RESET)}, RESET),  # no remaining count: take the reset
    ],
)
def test_rate_limited_post_says_when_to_retry(
    project: Path,
    adapter: XAdapter,
    api: responses.RequestsMock,
    headers: dict[str, str],
    expected: int,
) -> None:
    rendered = render_post(project, TEXT_POST, "PCCKent")
    api.post(
        TWEETS,
        status=429,
        json=problem(429, "Too Many Requests", "Too Many Requests"),
        headers=headers,
    )

    with pytest.raises(RateLimited) as caught:
        adapter.publish(rendered)

    assert caught.value.retry_at == datetime.fromtimestamp(expected, UTC)
    assert caught.value.retry_at > NOW
    assert len(api.calls) == 1


def test_rate_limited_without_reset_header_fails_fast(
    project: Path, adapter: XAdapter, api: responses.RequestsMock
) -> None:
    rendered = render_post(project, TEXT_POST, "PCCKent")
    api.post(TWEETS, status=429, json=problem(429, "Too Many Requests", "Too Many Requests"))
    started = time.monotonic()

    with pytest.raises(RateLimited) as caught:
        adapter.publish(rendered)

    assert time.monotonic() - started < 2
    assert caught.value.retry_at is None
    assert "did not say when" in str(caught.value)
    assert len(api.calls) == 1  # no waiting, no recursion: one request, one answer
    assert adapter.client().wait_on_rate_limit is False


def test_rate_limited_media_upload(
    project: Path, adapter: XAdapter, api: responses.RequestsMock
) -> None:
    rendered = render_post(project, IMAGES_POST, "PCCKent")
    api.post(
        UPLOAD,
        status=429,
        json=problem(429, "Too Many Requests", "Too Many Requests"),
        headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(RESET)},
    )

    with pytest.raises(RateLimited) as caught:
        adapter.publish(rendered)

    assert caught.value.retry_at == datetime.fromtimestamp(RESET, UTC)


def usage_endpoint(api: responses.RequestsMock, reset_day: int = 19) -> None:
    """The app bearer token (client credentials) and X's usage answer, as documented."""
    bearer = f"AAAA{CANARY}bearer"
    grant = matchers.urlencoded_params_matcher({"grant_type": "client_credentials"})
    api.post(TOKEN, json={"token_type": "bearer", "access_token": bearer}, match=[grant])
    usage = {"cap_reset_day": reset_day, "project_cap": "1500", "project_id": "1701",
             "project_usage": "1500"}  # fmt: skip
    signed = matchers.header_matcher({"Authorization": f"Bearer {bearer}"})
    api.get(USAGE, json={"data": usage}, match=[signed])


@pytest.mark.parametrize(
    ("today", "day", "expected"),
    [
        (datetime(2026, 11, 25).date(), 19, datetime(2026, 12, 19).date()),
        (datetime(2026, 11, 18).date(), 19, datetime(2026, 11, 19).date()),
        (datetime(2026, 11, 19).date(), 19, datetime(2026, 12, 19).date()),
        (datetime(2027, 1, 31).date(), 31, datetime(2027, 2, 28).date()),
        (datetime(2026, 12, 31).date(), 1, datetime(2027, 1, 1).date()),
    ],
)
def test_the_cap_reset_day_is_the_next_one(today: Any, day: int, expected: Any) -> None:
    from crosspost.adapters.x import next_reset

    assert next_reset(day, today) == expected


def test_the_monthly_cap_says_when_it_resets_when_x_tells(
    project: Path, adapter: XAdapter, api: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.post(TWEETS, status=429, json=USAGE_CAP, headers=limits(window="39999"))
    usage_endpoint(api)
    with pytest.raises(UsageCapped) as caught:
        adapter.publish(render_post(project, TEXT_POST, "PCCKent"))
    assert "it resets on 19 December 2026" in str(caught.value)
    assert caught.value.resets_at == datetime(2026, 12, 19, tzinfo=UTC)
    texts = [str(caught.value), repr(caught.value), caplog.text]
    assert not [t for t in texts if CANARY in t]  # nor the bearer token made from the keys


def test_doctor_shows_the_monthly_usage(adapter: XAdapter, api: responses.RequestsMock) -> None:
    api.get(ME, json={"data": {"id": USER_ID, "name": "Kent PCC", "username": "PCCKent"}})
    usage_endpoint(api)
    report = adapter.check_credentials()
    # not ok while the cap is reached: doctor keeps a channel held for it until it resets
    assert not report.ok
    assert report.quota == "1,500 of 1,500 posts used this month; resets on 19 December 2026"
    [problem] = report.problems
    assert "monthly post cap is reached" in problem


def test_the_monthly_usage_cap_is_not_a_rate_limit(
    project: Path, adapter: XAdapter, api: responses.RequestsMock
) -> None:
    """429 usage-capped while the 15-minute window has plenty left: retrying every few
    minutes cannot help, so it holds the channel instead of spending the attempts."""
    rendered = render_post(project, TEXT_POST, "PCCKent")
    api.post(TWEETS, status=429, json=USAGE_CAP,
             headers=limits(window="39999"))  # fmt: skip
    with pytest.raises(UsageCapped) as caught:
        adapter.publish(rendered)
    error = caught.value
    assert error.holds_channel and not error.retryable
    assert "monthly post cap" in str(error) and "Usage cap exceeded" in str(error)
    assert "crosspost doctor" in str(error)


def test_retry_at_without_headers_is_none() -> None:
    assert retry_at({}) is None
    assert retry_at({"x-rate-limit-reset": "soon"}) is None


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


def test_missing_image_file_is_rejected(
    project: Path, adapter: XAdapter, api: responses.RequestsMock
) -> None:
    rendered = render_post(project, GIF_POST, "PCCKent")
    (project / "queue" / "media" / "anim.gif").unlink()

    with pytest.raises(ContentChanged, match="media/anim.gif"):
        adapter.publish(rendered)
    assert not api.calls


def test_missing_credential_names_the_variable(project: Path, api: responses.RequestsMock) -> None:
    environ = canary_environ()
    del environ["X_ACCESS_TOKEN_SECRET"]
    adapter = adapter_for(project, environ)

    with pytest.raises(AuthError, match="X_ACCESS_TOKEN_SECRET"):
        adapter.publish(render_post(project, TEXT_POST, "PCCKent"))
    assert not api.calls


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

    assert "proxy refused" in str(caught.value) and CANARY not in str(caught.value)
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
