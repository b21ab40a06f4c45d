"""What the Instagram adapter tests share: the account, the posts, Graph's answers, and
helpers that read requests back."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses

from ..conftest import NOW, canary_environ, make_adapter

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
