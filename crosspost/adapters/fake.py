"""The fake platform: a real adapter with no network, for tests and dry runs."""

from __future__ import annotations

from typing import Any

from ..rules import MB, PlatformRules
from .base import Adapter, Setting

PERMISSIVE = PlatformRules(
    platform="fake",
    label="fake",
    text_limit=100_000,
    thread=True,
    first_comment=True,
    link_field=True,
    max_media=10,
    media_formats=frozenset({"JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"}),
    max_media_bytes=50 * MB,
)


class FakeAdapter(Adapter):
    platform = "fake"
    rules = PERMISSIVE
    settings = {
        "outbox": Setting("text", help="JSON Lines file each publication is appended to"),
        "latency": Setting("number", default=0, help="seconds each call takes"),
        "script": Setting(
            "list",
            default=(),
            help="outcomes of successive calls: ok, transient, rate_limited, auth, rejected",
            choices=("ok", "transient", "rate_limited", "auth", "rejected"),
        ),
        "imitates": Setting(
            "choice",
            help="apply that platform's limits and rules",
            choices=("x", "facebook", "instagram"),
        ),
    }

    @classmethod
    def rules_for(cls, settings: dict[str, Any]) -> PlatformRules:
        imitated = settings.get("imitates")
        if not imitated:
            return cls.rules
        from . import adapter_class

        return adapter_class(imitated).rules
