"""X (formerly Twitter) through tweepy."""

from __future__ import annotations

from ..rules import MB, PlatformRules
from .base import Adapter, Setting


class XAdapter(Adapter):
    platform = "x"
    rules = PlatformRules(
        platform="x",
        label="X",
        text_limit=280,
        weighted=True,
        unit="weighted characters",
        thread=True,
        max_media=4,
        media_formats=frozenset({"JPEG", "PNG", "GIF", "WEBP"}),
        max_media_bytes=5 * MB,
        alt_limit=1000,
        gif_alone=True,
    )
    credentials = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
    settings = {
        "timeout": Setting("number", default=30, help="seconds before an HTTP call gives up"),
    }
