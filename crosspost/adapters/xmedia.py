"""Images to X through the v2 media endpoints.

tweepy 4.17's `API.media_upload` calls the retired v1.1 host, so images go through
`POST /2/media/upload` (one multipart request; images are at most 5 MB) and alt text through
`POST /2/media/metadata`, signed with tweepy's own OAuth 1.0a auth. A failed call raises the
tweepy exception for its status code, exactly as `tweepy.Client` does, so the adapter maps
every failure in one place.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

import requests

UPLOAD_URL = "https://api.x.com/2/media/upload"
METADATA_URL = "https://api.x.com/2/media/metadata"


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

    def __init__(self, session: requests.Session, auth: Any):
        self.session = session
        self.auth = auth  # requests_oauthlib.OAuth1, from tweepy.OAuth1UserHandler.apply_auth()

    def upload(self, path: Path, category: str) -> str:
        """Upload one image; its media id."""
        content = path.read_bytes()
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        response = self.session.post(
            UPLOAD_URL,
            files={"media": (path.name, content, mime)},
            data={"media_category": category},
            auth=self.auth,
        )
        data = checked(response).get("data") or {}
        media_id = data.get("id") if isinstance(data, dict) else None
        if not media_id:
            raise requests.exceptions.InvalidJSONError(
                f"X accepted the upload of {path.name} but sent back no media id",
                response=response,
            )
        return str(media_id)

    def describe(self, media_id: str, alt: str) -> None:
        """Attach alt text to an uploaded image."""
        response = self.session.post(
            METADATA_URL,
            json={"id": media_id, "metadata": {"alt_text": {"text": alt}}},
            auth=self.auth,
        )
        checked(response)
