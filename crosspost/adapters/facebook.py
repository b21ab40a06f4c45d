"""A Facebook Page through facebook-sdk (Graph API)."""

from __future__ import annotations

from ..rules import MB, PlatformRules
from .base import Adapter, Setting


class FacebookAdapter(Adapter):
    platform = "facebook"
    rules = PlatformRules(
        platform="facebook",
        label="Facebook",
        text_limit=63206,
        first_comment=True,
        link_field=True,
        max_media=10,
        media_formats=frozenset({"JPEG", "PNG", "GIF", "BMP", "TIFF"}),
        max_media_bytes=10 * MB,
        alt_limit=1000,
    )
    credentials = ("page_access_token",)
    settings = {
        "page_id": Setting("text", required=True, help="the Page's numeric id"),
        "graph_version": Setting("text", default="v21.0", help="Graph API version, e.g. v21.0"),
        "timeout": Setting("number", default=30, help="seconds before an HTTP call gives up"),
    }
