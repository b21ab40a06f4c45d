"""Each platform's offline rules: lengths, media and alt text, checked before anything is sent."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crosspost.core.problems import ERROR, WARNING, Mark

if TYPE_CHECKING:
    from crosspost.rendering.render import Rendered

MB = 1024 * 1024
HASHTAG = re.compile(r"(?<![\w&])[#＃][^\W_][\w]*")
MENTION = re.compile(r"(?<![\w@])@\w{1,30}")
URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    """A problem (blocks publishing) or warning about one channel's rendered post."""

    severity: str
    message: str
    mark: Mark | None = None
    too_long: int | None = None  # the text (0) or thread part (1, 2 ...) over the limit


@dataclass(frozen=True)
class PlatformRules:
    """What a platform accepts; adapters declare one as a class attribute."""

    platform: str
    label: str
    text_limit: int
    weighted: bool = False  # counted by `counter`, not by code points (X's twitter-text)
    unit: str = "characters"
    thread: bool = False
    first_comment: bool = False
    link_field: bool = False  # the link travels beside the text (Facebook's link preview)
    needs_media: bool = False
    max_media: int = 10
    media_formats: frozenset[str] = field(default_factory=lambda: frozenset({"JPEG", "PNG"}))
    max_media_bytes: int = 5 * MB
    alt_limit: int = 1000
    gif_alone: bool = False
    aspect_range: tuple[float, float] | None = None
    max_hashtags: int | None = None
    max_mentions: int | None = None
    links_clickable: bool = True
    # how the platform counts a text: (length, whether every character is allowed); a plugin
    # gives its own (Bluesky counts graphemes). None: code points, all allowed.
    counter: Callable[[str], tuple[int, bool]] | None = None

    def measure(self, text: str) -> tuple[int, bool]:
        """(length as the platform counts it, whether all characters are allowed)."""
        return self.counter(text) if self.counter is not None else (len(text), True)


def check(rules: PlatformRules, rendered: Rendered) -> list[Finding]:
    """Every problem and warning for one rendered post; also fills in its lengths."""
    out: list[Finding] = []

    def error(message: str, mark: Mark | None = None, too_long: int | None = None) -> None:
        out.append(Finding(ERROR, message, mark, too_long))

    def warn(message: str, mark: Mark | None = None) -> None:
        out.append(Finding(WARNING, message, mark))

    parts = [rendered.text, *rendered.thread]
    lengths = []
    for number, part in enumerate(parts, start=1):
        where = f"thread part {number}" if len(parts) > 1 else "text"
        length, allowed = rules.measure(part)
        lengths.append(length)
        if not allowed:
            error(f"{where} contains characters {rules.label} refuses (U+FEFF, U+FFFE or U+FFFF)")
        if length > rules.text_limit:
            error(
                f"{where} is {length:,} {rules.unit}, over {rules.label}'s limit of "
                f"{rules.text_limit:,} by {length - rules.text_limit:,}",
                too_long=number - 1,
            )
        if number > 1 and not part.strip():
            error(f"{where} is empty")
    rendered.length, rendered.thread_lengths = lengths[0], lengths[1:]
    if not rendered.text.strip() and not rendered.media:
        error("nothing to publish: the text is empty and there is no media")

    if rules.needs_media and not rendered.media:
        error(
            f"{rules.label} needs an image: add 'media' (with alt text) to the post, "
            f"or under overrides.{rendered.channel}"
        )
    if len(rendered.media) > rules.max_media:
        error(f"{len(rendered.media)} images; {rules.label} takes at most {rules.max_media}")
    _check_media(rules, rendered, error)

    text = rendered.text
    # a text with no more '#' (or '@') signs than the limit cannot hold too many hashtags
    # (mentions), so only the rare text that could is scanned
    limit = rules.max_hashtags
    if limit is not None and text.count("#") + text.count("＃") > limit:
        tags = len(HASHTAG.findall(text))
        if tags > limit:
            error(f"{tags} hashtags; {rules.label} allows at most {limit}")
    limit = rules.max_mentions
    if limit is not None and text.count("@") > limit:
        mentions = len(MENTION.findall(text))
        if mentions > limit:
            error(f"{mentions} @-mentions; {rules.label} allows at most {limit}")
    if not rules.links_clickable and _may_link(text) and URL.search(text):
        warn(f"links are not clickable in {rules.label} captions; say 'link in bio' instead")
    return out


def _may_link(text: str) -> bool:
    """False when `text` cannot hold a link (no '://' and no 'www.'): no scan needed."""
    return "://" in text or "www." in text.lower()


def _check_media(
    rules: PlatformRules, rendered: Rendered, error: Callable[[str, Mark | None], None]
) -> None:
    formats = []
    for item in rendered.media:
        name = item.rel
        if len(item.alt) > rules.alt_limit:
            error(
                f"alt text of {name} is {len(item.alt):,} characters; "
                f"{rules.label} allows {rules.alt_limit:,}",
                item.alt_mark,
            )
        info = item.info
        if isinstance(info, str):
            error(f"{name}: {info}", item.mark)
            continue
        formats.append(info.format)
        if info.format not in rules.media_formats:
            allowed = ", ".join(sorted(rules.media_formats))
            error(f"{name} is {info.format}; {rules.label} accepts {allowed}", item.mark)
        if info.size > rules.max_media_bytes:
            error(
                f"{name} is {info.size / MB:.1f} MB; {rules.label} accepts at most "
                f"{rules.max_media_bytes / MB:.0f} MB",
                item.mark,
            )
        if rules.aspect_range is not None:
            low, high = rules.aspect_range
            ratio = info.width / info.height
            if not low - 0.005 <= ratio <= high + 0.005:
                error(
                    f"{name} is {info.width}x{info.height} (aspect ratio {ratio:.2f}:1); "
                    f"{rules.label} needs between {_ratio(low)} and {_ratio(high)}: crop it",
                    item.mark,
                )
    if rules.gif_alone and "GIF" in formats and len(formats) > 1:
        error(f"a GIF must be the only image in a {rules.label} post", None)


_NAMED_RATIOS = {0.8: "4:5 (0.80)", 1.91: "1.91:1", 1.0: "1:1", 0.5625: "9:16", 1.7778: "16:9"}


def _ratio(value: float) -> str:
    """An aspect ratio as a person names it: 4:5 (0.80), 1.91:1; else width:1."""
    for known, name in _NAMED_RATIOS.items():
        if abs(value - known) < 0.001:
            return name
    return f"{value:.2f}:1"
