"""Images to X through the v2 media endpoints.

tweepy 4.17's `API.media_upload` calls the retired v1.1 host, so images go through
`POST /2/media/upload` (one multipart request; images are at most 5 MB) and alt text through
`POST /2/media/metadata`, signed with tweepy's own OAuth 1.0a auth. A failed call raises the
tweepy exception for its status code, exactly as `tweepy.Client` does, so the adapter maps
every failure in one place.

GIFs (`tweet_gif`) are processed by X after the upload, asynchronously: they go through the
chunked flow (`initialize`, `append`, `finalize`) and are attached only once
`GET /2/media/upload?command=STATUS` says `processing_info.state` is `succeeded` (X's media
upload guide); a media id still pending is refused by `POST /2/tweets` with 400 "Your media
IDs are invalid." An image whose simple upload answers with `processing_info` is waited for
the same way.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from crosspost.core.errors import Rejected, TransientError

UPLOAD_URL = "https://api.x.com/2/media/upload"
INITIALIZE_URL = "https://api.x.com/2/media/upload/initialize"
APPEND_URL = "https://api.x.com/2/media/upload/{}/append"
FINALIZE_URL = "https://api.x.com/2/media/upload/{}/finalize"
METADATA_URL = "https://api.x.com/2/media/metadata"
CHUNK = 1024 * 1024  # bytes per append; X takes up to 1,000 segments
PROCESSING_WAIT = 300.0  # seconds X may take to process one file before we try later


class TimeoutSession(requests.Session):
    """A requests session that gives every call a timeout unless the caller passes one."""

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, url, *args, **kwargs)


def checked(response: Any) -> dict[str, Any]:
    """The JSON body of a successful answer; the tweepy exception for its status otherwise."""
    import tweepy

    status = response.status_code
    if status == 400:
        raise tweepy.BadRequest(response)
    if status == 401:
        raise tweepy.Unauthorized(response)
    if status == 403:
        raise tweepy.Forbidden(response)
    if status == 404:
        raise tweepy.NotFound(response)
    if status == 429:
        reset = response.headers.get("x-rate-limit-reset")
        raise tweepy.TooManyRequests(
            response, reset_time=int(reset) if reset and reset.isdigit() else None
        )
    if status >= 500:
        raise tweepy.TwitterServerError(response)
    if not 200 <= status < 300:
        raise tweepy.HTTPException(response)
    if not response.content:
        return {}
    body = response.json()
    return body if isinstance(body, dict) else {}


def media_category(path: Path, image_format: str | None = None) -> str:
    """X's upload category for an image: GIFs are `tweet_gif`, everything else `tweet_image`."""
    fmt = (image_format or path.suffix.lstrip(".")).upper()
    return "tweet_gif" if fmt == "GIF" else "tweet_image"


class MediaUploader:
    """Uploads images and sets their alt text, on the adapter's session (and its timeout)."""

    def __init__(
        self,
        session: requests.Session,
        auth: Any,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = PROCESSING_WAIT,
    ):
        self.session = session
        self.auth = auth  # requests_oauthlib.OAuth1, from tweepy.OAuth1UserHandler.apply_auth()
        self.sleep = sleep
        self.max_wait = max_wait

    def upload(self, path: Path, category: str, content: bytes) -> str:
        """Upload one image (`content`, its bytes, checked by the caller); its media id, once
        X has finished processing it."""
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if category == "tweet_gif":
            media_id, info = self._chunked(path, content, mime, category)
        else:
            response = self.session.post(
                UPLOAD_URL,
                files={"media": (path.name, content, mime)},
                data={"media_category": category},
                auth=self.auth,
            )
            media_id, info = _media(response, path)
        if info:
            self._wait(path, media_id, info)
        return media_id

    def _chunked(
        self, path: Path, content: bytes, mime: str, category: str
    ) -> tuple[str, dict[str, Any]]:
        """initialize, append each chunk, finalize: the media id and its processing_info."""
        response = self.session.post(
            INITIALIZE_URL,
            json={"media_type": mime, "total_bytes": len(content), "media_category": category},
            auth=self.auth,
        )
        media_id, _ = _media(response, path)
        for index, start in enumerate(range(0, max(len(content), 1), CHUNK)):
            checked(
                self.session.post(
                    APPEND_URL.format(media_id),
                    files={"media": (path.name, content[start : start + CHUNK], mime)},
                    data={"segment_index": str(index)},
                    auth=self.auth,
                )
            )
        response = self.session.post(FINALIZE_URL.format(media_id), auth=self.auth)
        _, info = _media(response, path)
        return media_id, info

    def _wait(self, path: Path, media_id: str, info: dict[str, Any]) -> None:
        """Poll the upload's STATUS until X says `succeeded`, as often as `check_after_secs`
        asks, for at most `max_wait` seconds."""
        waited = 0.0
        deadline = time.monotonic() + self.max_wait * 1.5  # the STATUS calls take time too
        while True:
            state = str(info.get("state") or "succeeded")
            if state == "succeeded":
                return
            if state == "failed":
                raw = info.get("error")  # v1.1 carried one; X's v2 schema has none
                error: dict[str, Any] = raw if isinstance(raw, dict) else {}
                said = str(error.get("message") or error.get("name") or "no reason given")
                raise Rejected(
                    f"X could not process {path.name} ({said}): check the file plays and is "
                    "within X's limits, or use another",
                    platform_message=said,
                )
            if waited >= self.max_wait or time.monotonic() > deadline:
                raise TransientError(
                    f"X was still processing {path.name} after {waited:g} s (state {state}); "
                    "the post is tried again later"
                )
            pause = min(max(float(info.get("check_after_secs") or 1), 1.0), self.max_wait)
            self.sleep(pause)
            waited += pause
            response = self.session.get(
                UPLOAD_URL, params={"command": "STATUS", "media_id": media_id}, auth=self.auth
            )
            _, info = _media(response, path)
            info = info or {"state": "succeeded"}

    def describe(self, media_id: str, alt: str) -> None:
        """Attach alt text to an uploaded image."""
        response = self.session.post(
            METADATA_URL,
            json={"id": media_id, "metadata": {"alt_text": {"text": alt}}},
            auth=self.auth,
        )
        checked(response)


def _media(response: Any, path: Path) -> tuple[str, dict[str, Any]]:
    """The media id and processing_info (empty when none) of an upload answer."""
    data = checked(response).get("data") or {}
    media_id = data.get("id") if isinstance(data, dict) else None
    if not media_id:
        raise requests.exceptions.InvalidJSONError(
            f"X accepted the upload of {path.name} but sent back no media id",
            response=response,
        )
    info = data.get("processing_info")
    return str(media_id), info if isinstance(info, dict) else {}
