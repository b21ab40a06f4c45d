"""An Instagram business account through facebook-sdk (Graph API content publishing)."""

from __future__ import annotations

from ..rules import MB, PlatformRules
from .base import Adapter, Setting


class InstagramAdapter(Adapter):
    platform = "instagram"
    rules = PlatformRules(
        platform="instagram",
        label="Instagram",
        text_limit=2200,
        first_comment=True,
        needs_media=True,
        max_media=10,
        media_formats=frozenset({"JPEG"}),
        max_media_bytes=8 * MB,
        alt_limit=1000,
        aspect_range=(0.8, 1.91),
        max_hashtags=30,
        max_mentions=20,
        links_clickable=False,
    )
    credentials = ("access_token",)
    settings = {
        "ig_user_id": Setting("text", required=True, help="the Instagram business account id"),
        "media_base_url": Setting(
            "url",
            required=True,
            help="public https URL where the office's web server serves the queue's images",
        ),
        "graph_version": Setting("text", default="v21.0", help="Graph API version, e.g. v21.0"),
        "timeout": Setting("number", default=30, help="seconds before an HTTP call gives up"),
        "poll_interval": Setting("number", default=60, help="seconds between status checks"),
        "poll_timeout": Setting("number", default=300, help="give up on a container after this"),
    }
