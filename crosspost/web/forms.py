"""The compose form: a post file's fields as form values, and form values as a post's fields.

The form is plain HTML: text inputs, text areas, checkboxes and radio buttons, so it works
with a keyboard, a screen reader and without JavaScript. Lists a person types (hashtags,
tags) are comma-separated; a thread is up to `THREAD_PARTS` text areas; each channel has
one override text area (its exact words, no template). `publish_at` is the office's local
time, as in a post file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

THREAD_PARTS = 4  # text areas shown at least (more when the post has more parts)
MAX_IMAGES = 4  # new images in one save
MAX_TEXT = 50_000  # characters in one field: far beyond any platform, far below harm
TEXT_KEYS = ("title", "body", "link", "first_comment")


@dataclass
class Image:
    path: str  # relative to the post file's folder, as in the file
    alt: str


@dataclass
class Form:
    """What the compose form shows and sends back."""

    publish_at: str = ""  # "YYYY-MM-DD HH:MM", the office's local time
    status: str = "ready"
    title: str = ""
    body: str = ""
    link: str = ""
    hashtags: str = ""  # comma-separated
    tags: str = ""  # comma-separated
    first_comment: str = ""
    thread: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)  # channel -> its own text
    images: list[Image] = field(default_factory=list)
    author: str = ""

    def fields(self) -> dict[str, Any]:
        """The post file's fields for this form (empty ones left out)."""
        out: dict[str, Any] = {}
        if self.publish_at.strip():
            out["publish_at"] = self.publish_at.strip().replace("T", " ")
        out["status"] = self.status if self.status in ("ready", "draft") else "ready"
        if self.author.strip():
            out["author"] = self.author.strip()
        if tags := _split(self.tags):
            out["tags"] = tags
        for key in TEXT_KEYS:
            value = clean_text(getattr(self, key))
            if value:
                out[key] = value.strip() if key == "link" else value
        if hashtags := _split(self.hashtags):
            out["hashtags"] = hashtags
        if self.images:
            out["media"] = [{"path": i.path, "alt": i.alt.strip()} for i in self.images]
        if parts := [clean_text(p) for p in self.thread if clean_text(p).strip()]:
            out["thread"] = parts
        if self.channels:
            out["channels"] = list(self.channels)
        overrides = {
            k: {"text": clean_text(v)} for k, v in self.overrides.items() if clean_text(v).strip()
        }
        if overrides:
            out["overrides"] = overrides
        return out


def from_post_data(data: Mapping[str, Any], channels: list[str]) -> tuple[Form, list[str]]:
    """A form filled from a post file's data; the keys it cannot show (the form would lose
    them on save, so the page says they are kept as they are)."""
    form = Form()
    form.publish_at = str(data.get("publish_at") or "")
    form.status = str(data.get("status") or "ready")
    form.author = str(data.get("author") or "")
    for key in TEXT_KEYS:
        value = data.get(key)
        setattr(form, key, "" if value is None else str(value))
    form.hashtags = ", ".join(str(t) for t in _as_list(data.get("hashtags")))
    form.tags = ", ".join(str(t) for t in _as_list(data.get("tags")))
    form.thread = [str(p) for p in _as_list(data.get("thread"))]
    form.channels = [str(c) for c in _as_list(data.get("channels"))] or list(channels)
    for item in _as_list(data.get("media")):
        if isinstance(item, Mapping):
            form.images.append(Image(str(item.get("path") or ""), str(item.get("alt") or "")))
    kept = [k for k in data if k not in FORM_KEYS]
    overrides = data.get("overrides")
    if isinstance(overrides, Mapping):
        for key, value in overrides.items():
            if isinstance(value, Mapping) and set(value) <= {"text"}:
                form.overrides[str(key)] = str(value.get("text") or "")
            else:
                kept.append(f"overrides.{key}")
    return form, kept


def from_request(values: Mapping[str, Any], channels: list[str]) -> Form:
    """A form from what the browser sent (a multi-dict: `getlist` for repeated names)."""

    def one(name: str) -> str:
        value = values.get(name)
        return value if isinstance(value, str) else ""

    form = Form(
        publish_at=one("publish_at"),
        status=one("status") or "ready",
        title=one("title"),
        body=one("body"),
        link=one("link"),
        hashtags=one("hashtags"),
        tags=one("tags"),
        first_comment=one("first_comment"),
        author=one("author"),
    )
    parts = sorted(int(m[1]) for k in values if (m := re.fullmatch(r"thread_(\d+)", str(k))))
    form.thread = [one(f"thread_{i}") for i in parts]
    getlist = getattr(values, "getlist", None)
    chosen = getlist("channels") if getlist else []
    form.channels = [c for c in channels if c in chosen]
    form.overrides = {c: one(f"override_{c}") for c in channels if one(f"override_{c}").strip()}
    shown = sorted(int(m[1]) for k in values if (m := re.fullmatch(r"image_(\d+)_path", str(k))))
    for i in shown:  # every image the form showed: none is dropped because of a count
        path = one(f"image_{i}_path")
        if path and not one(f"image_{i}_remove"):
            form.images.append(Image(path, one(f"image_{i}_alt")))
    return form


FORM_KEYS = {
    "publish_at", "status", "author", "tags", "title", "body", "link", "first_comment",
    "hashtags", "thread", "channels", "media", "overrides",
}  # fmt: skip


def _split(text: str) -> list[str]:
    return [part.strip().lstrip("#＃").strip() for part in text.split(",") if part.strip()]


def clean_text(value: str) -> str:
    """A text area's value as a file holds it: Unix line breaks, no trailing spaces at the
    end of the whole text."""
    return value.replace("\r\n", "\n").replace("\r", "\n").rstrip()


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]
