"""Post files in the queue: one post (a mapping) or a list of posts per YAML file."""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from crosspost.core.media import ImageInfo, file_digest, image_info
from crosspost.core.problems import Mark, Problem, Problems, did_you_mean
from crosspost.core.times import TimeError, parse_publish_at
from crosspost.loading import yamlfile
from crosspost.loading.config import Config
from crosspost.loading.fields import Reader
from crosspost.loading.yamlfile import LocatedDict, LocatedList, plain

STATUSES = ("draft", "ready")
# fields a channel override may replace; `text` skips the template altogether
CONTENT_KEYS = (
    "title",
    "body",
    "link",
    "hashtags",
    "vars",
    "media",
    "thread",
    "first_comment",
    "template",
)
OVERRIDE_KEYS = (*CONTENT_KEYS, "publish_at", "text")
POST_KEYS = (
    "id",
    "publish_at",
    "channels",
    "status",
    "tags",
    "author",
    "overrides",
    *CONTENT_KEYS,
)
MEDIA_KEYS = ("path", "alt")
# the same as sets, for the key checks that run on every post
_POST_KEY_SET = frozenset(POST_KEYS)
_OVERRIDE_KEY_SET = frozenset(OVERRIDE_KEYS)
_MEDIA_KEY_SET = frozenset(MEDIA_KEYS)
_LINK = re.compile(r"^https?://[^\s/]+\.[^\s]+$")
POST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")  # 120 at most: it names files
TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
FILE_LIKE_ALT = re.compile(
    r"^\s*[\w\-. ()]+\.(jpe?g|png|gif|webp|bmp|tiff?|heic|svg)\s*$|^\s*(IMG|DSC|PXL|image|photo)"
    r"[_-]?\d+\s*$",
    re.IGNORECASE,
)
PLACEHOLDER_ALT = {"image", "photo", "picture", "img", "alt", "alt text", "todo", "tbc", "tbd"}
QUEUE_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Media:
    """An image attached to a post, with its alt text."""

    path: Path  # resolved, inside the project
    rel: str  # as written in the post
    alt: str
    mark: Mark
    alt_mark: Mark
    info: ImageInfo | str  # the image's facts, or why it cannot be read
    digest: str = ""  # SHA-256 of the file's bytes: approvals and the ledger bind to it

    def read(self, root: Path) -> bytes:
        """The bytes to upload, refused (MediaChanged) unless they are what was checked and
        the file still lies inside the project `root`."""
        from crosspost.core.media import read_checked

        return read_checked(self.path, root, self.digest, self.rel)


# (post folder, path as written) -> (resolved path or None, image facts, digest); per load
MediaCache = dict[tuple[str, str], tuple[Path | None, ImageInfo | str | None, str]]


@dataclass
class Post:
    """One post as written in the queue, before rendering."""

    id: str
    file: Path
    mark: Mark
    status: str
    channels: list[str]
    publish_at: datetime | None
    fields: dict[str, Any]  # the CONTENT_KEYS the post sets
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    override_times: dict[str, datetime] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    author: str | None = None
    data: LocatedDict | None = None

    def fields_for(self, channel: str) -> dict[str, Any]:
        """The post's fields with the channel's overrides applied (an override replaces)."""
        if channel not in self.overrides:
            return self.fields
        return {**self.fields, **self.overrides[channel]}

    def time_for(self, channel: str) -> datetime | None:
        return self.override_times.get(channel, self.publish_at)


def queue_files(queue_dir: Path) -> list[Path]:
    """Post files in the queue, skipping hidden and editor backup files."""
    found: list[str] = []
    for folder, dirs, files in os.walk(queue_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "#")))
        found.extend(
            os.path.join(folder, name)
            for name in files
            if name.endswith(QUEUE_SUFFIXES) and not name.startswith((".", "#"))
        )
    return [Path(p) for p in sorted(found)]  # sorting strings: Path comparisons are slow


FileStamp = tuple[tuple[str, int, int], ...]
# path -> (stamp of the file and its media, its posts, its problems): a daemon reloading a
# large queue re-reads only what changed
FileCache = dict[Path, tuple[FileStamp, list["Post"], list[Problem]]]


def _stamp(paths: list[Path]) -> FileStamp:
    out = []
    for path in paths:
        try:
            st = path.stat()
            out.append((str(path), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(path), -1, -1))
    return tuple(out)


def _media_paths(posts: list[Post]) -> list[Path]:
    found: list[Path] = []
    for post in posts:
        for fields in (post.fields, *post.overrides.values()):
            found.extend(m.path for m in fields.get("media", []))
    return found


def load_queue(
    config: Config, problems: Problems, file_cache: FileCache | None = None
) -> list[Post]:
    """Every post in the queue; problems go to `problems` and broken posts are left out.

    With `file_cache`, a file whose bytes (and media) are unchanged since the last load is
    not read again.
    """
    posts: list[Post] = []
    seen: dict[str, Post] = {}
    cache: MediaCache = {}
    for path in queue_files(config.queue_dir):
        cached = file_cache.get(path) if file_cache is not None else None
        if cached is not None and _stamp([path, *_media_paths(cached[1])]) == cached[0]:
            loaded, found = cached[1], list(cached[2])
            problems.extend(found)
        else:
            mine = Problems()
            loaded = load_file(path, config, mine, cache)
            found = mine.items
            problems.extend(found)
            if file_cache is not None:
                file_cache[path] = (_stamp([path, *_media_paths(loaded)]), loaded, found)
        for post in loaded:
            if post.id in seen:
                first = seen[post.id]
                problems.error(
                    _id_mark(post),
                    f"post id '{post.id}' is used twice: here and in {first.mark}; "
                    "ids must be unique across the queue",
                )
                continue
            seen[post.id] = post
            posts.append(post)
    return posts


@functools.lru_cache(maxsize=16)
def real_root(root: Path) -> Path:
    """The project folder with every link followed: what resolved paths are compared with (a
    project reached through a link, /srv/crosspost -> /data/crosspost, is still inside)."""
    return root.resolve()


def _id_mark(post: Post) -> Mark:
    return post.data.key_mark("id") if post.data is not None and "id" in post.data else post.mark


def load_file(
    path: Path, config: Config, problems: Problems, cache: MediaCache | None = None
) -> list[Post]:
    """The posts in one file."""
    cache = {} if cache is None else cache
    try:
        inside = path.resolve().is_relative_to(real_root(config.root))
    except (OSError, RuntimeError):  # a loop of links
        inside = False
    if not inside:
        problems.error(
            Mark(path),
            "this post file is a link to a file outside the project: move the file into the "
            "queue instead (crosspost reads nothing from outside the project)",
        )
        return []
    try:
        data = yamlfile.load(path)
    except yamlfile.YamlError as exc:
        problems.error(exc.mark, exc.message)
        return []
    return _posts_of(data, path, config, problems, cache)


def load_text(
    text: str, path: Path, config: Config, problems: Problems, cache: MediaCache | None = None
) -> list[Post]:
    """The posts in `text`, as if it were the file at `path` (not read, not written): what
    the web app checks before a save lands, and renders while an officer types."""
    try:
        data = yamlfile.loads(text, path)
    except yamlfile.YamlError as exc:
        problems.error(exc.mark, exc.message)
        return []
    return _posts_of(data, path, config, problems, {} if cache is None else cache)


def _posts_of(
    data: Any, path: Path, config: Config, problems: Problems, cache: MediaCache
) -> list[Post]:
    """The posts of one file's parsed data (a mapping, or a list of mappings with ids)."""
    if data is None:
        problems.error(Mark(path), "empty post file")
        return []
    if isinstance(data, LocatedDict):
        post = _post(data, path, path.stem, config, problems, cache)
        return [post] if post else []
    if isinstance(data, LocatedList):
        out = []
        for i, item in enumerate(data):
            if not isinstance(item, LocatedDict):
                problems.error(data.item_mark(i), "each post in a list must be a mapping")
                continue
            if "id" not in item:
                problems.error(
                    item.mark,
                    "a post in a list needs its own 'id' (the file name can only name one post)",
                )
                continue
            post = _post(item, path, None, config, problems, cache)
            if post:
                out.append(post)
        return out
    problems.error(Mark(path), "a post file holds a post (a mapping) or a list of posts")
    return []


def _post(
    data: LocatedDict,
    path: Path,
    default_id: str | None,
    config: Config,
    problems: Problems,
    cache: MediaCache,
) -> Post | None:
    before = len(problems.errors)
    reader = Reader(data, problems, "a post")
    reader.check_keys(_POST_KEY_SET)
    post_id = _post_id(data, reader, default_id, problems)
    status = reader.choice("status", STATUSES) or "ready"
    channels = _post_channels(data, reader, config, problems)
    publish_at = _post_time(data, status, config, problems)
    fields = _content(data, Reader(data, problems, "a post"), path, config, problems, cache)
    overrides, override_times = _overrides(reader, channels, path, config, problems, cache)
    tags = reader.text_list("tags") or []
    author = reader.text("author")
    if len(problems.errors) > before:
        return None
    return Post(
        id=post_id,
        file=path,
        mark=data.mark,
        status=status,
        channels=channels,
        publish_at=publish_at,
        fields=fields,
        overrides=overrides,
        override_times=override_times,
        tags=tags,
        author=author,
        data=data,
    )


def _post_id(data: LocatedDict, reader: Reader, default_id: str | None, problems: Problems) -> str:
    """The post's id (or the file's name), checked against POST_ID."""
    post_id = reader.text("id") or default_id or ""
    if not POST_ID.match(post_id):
        problems.error(
            data.value_mark("id") if "id" in data else data.mark,
            f"post id '{post_id[:60]}{'…' if len(post_id) > 60 else ''}' may hold only letters, "
            "digits, '.', '_' and '-', must start with a letter or digit and be at most 120 "
            "characters",
        )
    return post_id


def _post_channels(
    data: LocatedDict, reader: Reader, config: Config, problems: Problems
) -> list[str]:
    """The configured channels the post names (every channel when it names none)."""
    channels = list(config.channels)
    names = reader.text_list("channels")
    if names is not None:
        channels = []
        raw = data["channels"]
        for i, name in enumerate(names):
            listed = isinstance(raw, LocatedList)
            where = raw.item_mark(i) if listed else data.value_mark("channels")
            if name in config.channels:
                channels.append(name)
            else:
                problems.error(
                    where,
                    f"unknown channel '{name}'{did_you_mean(name, config.channels)}; "
                    f"configured: {', '.join(config.channels)}",
                )
        if not names:
            problems.error(data.value_mark("channels"), "'channels' is empty")
    return channels


def _post_time(
    data: LocatedDict, status: str, config: Config, problems: Problems
) -> datetime | None:
    """The post's 'publish_at', which a ready post must have."""
    publish_at = _time(data, config, problems)
    if publish_at is None and "publish_at" not in data and status == "ready":
        problems.error(
            data.mark,
            "a ready post needs 'publish_at' (e.g. publish_at: 2027-01-15 10:00); "
            "or mark it status: draft",
        )
    return publish_at


def _overrides(
    reader: Reader,
    channels: list[str],
    path: Path,
    config: Config,
    problems: Problems,
    cache: MediaCache,
) -> tuple[dict[str, dict[str, Any]], dict[str, datetime]]:
    """The post's per-channel overrides: their content fields and their publish times."""
    overrides: dict[str, dict[str, Any]] = {}
    override_times: dict[str, datetime] = {}
    raw_overrides = reader.mapping("overrides")
    for channel, raw in (raw_overrides or {}).items():
        assert raw_overrides is not None
        if channel not in config.channels:
            problems.error(
                raw_overrides.key_mark(channel),
                f"overrides for unknown channel '{channel}'"
                f"{did_you_mean(channel, config.channels)}",
            )
            continue
        if channel not in channels:
            problems.warning(
                raw_overrides.key_mark(channel),
                f"overrides for {channel}, which this post is not published to",
            )
        if not isinstance(raw, LocatedDict):
            problems.error(raw_overrides.value_mark(channel), "overrides must be a mapping")
            continue
        sub = Reader(raw, problems, f"overrides.{channel}")
        sub.check_keys(_OVERRIDE_KEY_SET)
        overrides[channel] = _content(raw, sub, path, config, problems, cache)
        text = sub.text("text")
        if text is not None:
            overrides[channel]["text"] = text
        when = _time(raw, config, problems)
        if when is not None:
            override_times[channel] = when
    return overrides, override_times


def _time(data: LocatedDict, config: Config, problems: Problems) -> datetime | None:
    if data.get("publish_at") is None:
        return None
    raw = data.raw.get("publish_at", data["publish_at"])
    if not isinstance(raw, str):
        problems.error(data.value_mark("publish_at"), "'publish_at' must be a date and time")
        return None
    try:
        return parse_publish_at(raw, config.timezone)
    except TimeError as exc:
        problems.error(data.value_mark("publish_at"), str(exc))
        return None


_TAGS_WRITTEN_WITH_HASH = re.compile(r"^(?:#[^\s#,]+[\s,]*)+$")
_TAG = re.compile(r"#?([^\s#,][^#,]*?)\s*(?=[#,]|$)")


def _hashtags(reader: Reader, data: LocatedDict, problems: Problems) -> list[str] | None:
    """The post's hashtags, taking the forms people write where they are unambiguous:
    `#Kent #CountyShow` (which YAML reads as a comment), `Kent, County Show` and
    `"#Kent #CountyShow"` (one text holding several tags). Each says what to write instead."""
    if data.get("hashtags") is None and "hashtags" in data.comments:
        written, _ = data.comments["hashtags"]
        if not _TAGS_WRITTEN_WITH_HASH.match(written):
            reader.commented("hashtags")
            return None
        found: list[str] = re.findall(r"#([^\s#,]+)", written)
        problems.warning(
            data.comment_mark("hashtags"),
            f"read as the hashtags {', '.join(found)}; in YAML a '#' after a space starts a "
            f"comment, so write them without '#': hashtags: [{', '.join(found)}]",
        )
        return found
    value = data.get("hashtags")
    if isinstance(value, LocatedList) and value.comments:
        items = [value.comments.get(i) if item is None else item for i, item in enumerate(value)]
        if all(isinstance(w, str) and _TAGS_WRITTEN_WITH_HASH.match(w) for w in items):
            listed = [str(w).lstrip("#＃") for w in items]
            problems.warning(
                value.item_mark(min(value.comments)),
                f"read as the hashtags {', '.join(listed)}; in YAML a '#' after '- ' starts a "
                f"comment, so write them without '#': hashtags: [{', '.join(listed)}]",
            )
            return listed
    tags = reader.text_list("hashtags")
    if tags is None or not isinstance(value, str) or not ("," in value or value.count("#") > 1):
        return tags
    tags = [m.strip() for m in _TAG.findall(value) if m.strip()]
    problems.warning(
        data.value_mark("hashtags"),
        f"read as {len(tags)} hashtags ({', '.join(tags)}), not one; write them as a list: "
        f"hashtags: [{', '.join(tags)}]",
    )
    return tags


def _content(
    data: LocatedDict,
    reader: Reader,
    path: Path,
    config: Config,
    problems: Problems,
    cache: MediaCache,
) -> dict[str, Any]:
    """The content fields set in `data` (a post or one channel's overrides)."""
    out: dict[str, Any] = {}
    for key in ("title", "body", "first_comment"):
        value = reader.text(key)
        if value is not None:
            out[key] = value
    link = reader.text("link")
    if link is not None:
        if not _LINK.match(link.strip()):
            problems.error(
                data.value_mark("link"), f"'link' must be a full web address (https://...): {link}"
            )
        out["link"] = link.strip()
    hashtags = _hashtags(reader, data, problems)
    if hashtags is not None:
        out["hashtags"] = hashtags
    thread = reader.text_list("thread")
    if thread is not None:
        out["thread"] = thread
    template = reader.text("template")
    if template is not None:
        if not TEMPLATE_NAME.match(template) or template.endswith(".j2"):
            problems.error(
                data.value_mark("template"),
                f"'template' is a name such as 'event' (for templates/event.j2), not '{template}'",
            )
        out["template"] = template
    variables = reader.mapping("vars")
    if variables is not None:
        out["vars"] = plain(variables)
    items = reader.items("media")
    if items is not None:
        out["media"] = [
            m
            for i, item in enumerate(items)
            if (m := _media(item, items.item_mark(i), path, config, problems, cache)) is not None
        ]
    return out


def _media(
    item: Any, mark: Mark, post_file: Path, config: Config, problems: Problems, cache: MediaCache
) -> Media | None:
    if isinstance(item, str):
        problems.error(mark, "each media item needs 'path' and 'alt' (alt text for screen readers)")
        return None
    if not isinstance(item, LocatedDict):
        problems.error(mark, "each media item must be a mapping with 'path' and 'alt'")
        return None
    reader = Reader(item, problems, "a media item")
    reader.check_keys(_MEDIA_KEY_SET)
    rel = reader.text("path", required=True)
    alt = _alt(item, reader, rel, problems)
    if rel is None:
        return None
    cached = _media_file(item, rel, post_file, config, problems, cache)
    if cached is None:
        return None
    found, info, digest = cached
    if found is None:
        problems.error(
            item.value_mark("path"),
            f"media path '{rel}' leaves the project folder; keep images inside {config.root}",
        )
        return None
    if info is None:
        problems.error(
            item.value_mark("path"),
            f"media file '{rel}' not found (paths are relative to the post file)",
        )
        return None
    if alt is None:
        return None
    return Media(
        path=found,
        rel=rel,
        alt=alt.strip(),
        mark=item.value_mark("path"),
        alt_mark=item.value_mark("alt"),
        info=info,
        digest=digest,
    )


def _alt(item: LocatedDict, reader: Reader, rel: str | None, problems: Problems) -> str | None:
    """The media item's alt text, None when missing or empty; a useless one is reported."""
    alt = reader.text("alt")
    if alt is None:
        if "alt" not in item:
            problems.error(
                item.mark,
                "image has no alt text: add 'alt' describing it for people using screen readers",
            )
        alt = None
    elif not alt.strip():
        problems.error(item.value_mark("alt"), "alt text is empty: describe the image")
        alt = None
    elif FILE_LIKE_ALT.search(alt) or (rel and alt.strip() in (rel, Path(rel).name)):
        problems.error(
            item.value_mark("alt"), f"alt text '{alt}' is a file name: describe the image"
        )
    elif alt.strip().lower() in PLACEHOLDER_ALT:
        problems.error(item.value_mark("alt"), f"alt text '{alt}' describes nothing")
    return alt


def _media_file(
    item: LocatedDict,
    rel: str,
    post_file: Path,
    config: Config,
    problems: Problems,
    cache: MediaCache,
) -> tuple[Path | None, ImageInfo | str | None, str] | None:
    """The cached (resolved path, image facts, digest) for `rel`, None if it cannot be used."""
    key = (os.path.dirname(post_file), rel)  # dirname: no Path made per item
    if key not in cache:
        try:
            resolved = (post_file.parent / rel).resolve()
            inside = resolved.is_relative_to(real_root(config.root))
            info = image_info(resolved) if inside and resolved.is_file() else None
        except (OSError, ValueError) as exc:  # a NUL byte, a name too long, a loop of links
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            problems.error(item.value_mark("path"), f"media path cannot be used: {why}")
            return None
        digest = file_digest(resolved) if isinstance(info, ImageInfo) else ""
        cache[key] = (resolved if inside else None, info, digest)
    return cache[key]
