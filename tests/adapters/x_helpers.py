"""What the X adapter tests share: X's endpoints and ids, the posts, and helpers that read
back what the adapter sent.

Every JSON body the adapter sends is checked against X's official OpenAPI schema
(../shared/contracts) and, so a clone without ../shared still checks the shapes, against
hand-written expectations in the tests.
"""

from __future__ import annotations

import json
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import responses

from crosspost.adapters.x import XAdapter

from ..conftest import NOW, make_adapter, shared_file

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


# --- helpers --------------------------------------------------------------------------------


def adapter_for(project: Path, environ: dict[str, str] | None = None) -> XAdapter:
    def refuse(seconds: float) -> None:
        raise AssertionError(f"adapter slept for {seconds} s")

    adapter = make_adapter(project, "PCCKent", environ=environ, now=lambda: NOW, sleep=refuse)
    assert isinstance(adapter, XAdapter)
    return adapter


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


# --- the official contract ------------------------------------------------------------------

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


# --- X's answers shared by several files ----------------------------------------------------

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
