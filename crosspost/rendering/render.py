"""Rendering a post for one channel with that channel's Jinja2 template."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import SecurityError
from jinja2.runtime import new_context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from crosspost.core.problems import Mark
from crosspost.loading.config import Channel, Config
from crosspost.loading.posts import Media, Post

_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_BLANK_LINES = re.compile(r"\n{3,}")
_LINK = re.compile(r"https?://\S+", re.IGNORECASE)
_WORDS = re.compile(r"[\W_]+")


@dataclass
class Rendered:
    """What one channel will receive for one post."""

    post: Post
    channel: str
    platform: str
    handle: str
    publish_at: datetime | None
    text: str
    thread: list[str] = field(default_factory=list)  # further parts, on platforms with threads
    link: str | None = None  # sent beside the text where the platform takes one
    media: list[Media] = field(default_factory=list)
    first_comment: str | None = None
    template: str | None = None  # the template file used, None for a literal `text`
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    length: int = 0
    limit: int = 0
    thread_lengths: list[int] = field(default_factory=list)
    content_hash: str | None = None  # set once by publishing.content_hash

    @property
    def post_id(self) -> str:
        return self.post.id


class RenderError(Exception):
    """A template could not be loaded or rendered; `mark` is where to look."""

    def __init__(self, mark: Mark, message: str):
        self.mark = mark
        self.message = message
        super().__init__(message)


class Absent(jinja2.StrictUndefined):
    """A post field that is not set: false in `{% if %}`, an error when printed."""

    __slots__ = ()

    def __bool__(self) -> bool:  # type: ignore[override]
        return False

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(())

    def __len__(self) -> int:  # type: ignore[override]
        return 0


@lru_cache(maxsize=4096)
def hashtag(word: str) -> str:
    """'safer streets' -> '#SaferStreets'; words already holding capitals keep them."""
    parts = [p for p in _WORDS.split(str(word).lstrip("#＃")) if p]
    return "#" + "".join(p if p != p.lower() else p[:1].upper() + p[1:] for p in parts)


_ABSENT = {
    name: Absent(hint=f"the post sets no '{name}' (guard it with {{% if {name} %}})")
    for name in ("title", "body", "link", "first_comment")
}


def hashtags(words: Any) -> str:
    """A list of hashtags as '#One #Two'."""
    if not words:
        return ""
    if isinstance(words, str):
        words = [words]
    return " ".join(hashtag(w) for w in words)


_LIST_ITEM = re.compile(r"^\s*([-*•‣]|\d+[.)])\s")


def unwrap(text: str) -> str:
    """Join lines broken inside a paragraph; blank lines and list items keep their breaks.

    Lets a post's body be wrapped in the YAML file and still flow on the platform.
    """
    out: list[str] = []
    for line in str(text).split("\n"):
        joinable = out and out[-1].strip() and line.strip() and not _LIST_ITEM.match(line)
        if joinable:
            out[-1] = out[-1].rstrip() + " " + line.strip()
        else:
            out.append(line)
    return "\n".join(out)


def without_links(text: str) -> str:
    """The text with web addresses taken out (for captions where links do not work)."""
    return re.sub(r"[ \t]{2,}", " ", _LINK.sub("", str(text))).strip()


def domain(url: str) -> str:
    """'https://www.pcc-kent.gov.uk/news' -> 'pcc-kent.gov.uk'."""
    host = urlsplit(str(url)).hostname or str(url)
    return host[4:] if host.startswith("www.") else host


def tidy(text: str) -> str:
    """Trailing spaces gone, at most one blank line in a row, no blank ends."""
    text = text.replace("\r\n", "\n")
    if " \n" in text or "\t\n" in text:
        text = _TRAILING_SPACE.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


class _Generator(CodeGenerator):
    """Template code whose `~` joins go through the sandbox's size check."""

    def visit_Concat(self, node: Any, frame: Any) -> None:
        self.write("environment.bounded_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


# str methods that make a text longer than their input says: their size is worked out first
_GROWS = frozenset({"replace", "ljust", "rjust", "center", "zfill", "expandtabs", "format"})


class _Sandbox(ImmutableSandboxedEnvironment):
    """Templates run sandboxed: no attribute of Python's insides (`__globals__`, `__class__`
    ..., the way to the process environment and its credentials, or to `os`), no changing
    the post's lists or mappings, and no `*`/`**` that would build a string or number too
    large to post (memory). Jinja2's own sandbox does the first two."""

    code_generator_class = _Generator
    intercepted_binops = frozenset({"*", "**", "%"})
    LIMIT = 100_000  # characters or items: far more than any post
    WORK = 200_000  # range() items one render may go through, however its loops are nested

    def bounded_join(self, parts: tuple[Any, ...]) -> str:
        joined = "".join(str(p) for p in parts)
        if len(joined) > self.LIMIT:
            raise SecurityError("a text that long is not allowed in a template")
        return joined

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str) and getattr(__obj, "__name__", "") in _GROWS:
            __self._check_growth(owner, __obj.__name__, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def _check_growth(self, text: str, name: str, args: tuple[Any, ...], kwargs: Any) -> None:
        size = len(text)
        if name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
            size += text.count(args[0]) * max(len(args[1]) - len(args[0]), 0) if args[0] else 0
        elif name == "expandtabs":
            size *= max([a for a in args if isinstance(a, int)] or [8])
        elif name == "format":
            if _WIDE_FORMAT.search(text):
                raise SecurityError("a format width that large is not allowed in a template")
        else:
            size = max([size, *[a for a in (*args, *kwargs.values()) if isinstance(a, int)]])
        if size > self.LIMIT:
            raise SecurityError(f"str.{name} would make a text too long for a template")

    def wrap_str_format(self, value: Any) -> Any:
        # str.format and format_map reach templates through here, not through call()
        owner = getattr(value, "__self__", None)
        if isinstance(owner, str) and _WIDE_FORMAT.search(owner):
            raise SecurityError("a format width that large is not allowed in a template")
        return super().wrap_str_format(value)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "%":
            if isinstance(left, str) and _WIDE_FORMAT.search(left):
                raise SecurityError("a format width that large is not allowed in a template")
        elif operator == "**":
            if isinstance(right, int) and abs(right) > 64:
                raise SecurityError("a power that large is not allowed in a template")
        else:
            seq, times = (left, right) if isinstance(right, int) else (right, left)
            sized = isinstance(seq, str | list | tuple) and isinstance(times, int)
            if sized and len(seq) * times > self.LIMIT:
                raise SecurityError("a repetition that long is not allowed in a template")
        return super().call_binop(context, operator, left, right)


_WIDE_FORMAT = re.compile(r"%[-+ #0]*\d{5,}|\{[^{}]*:[^{}]*\d{5,}[^{}]*\}|%[-+ #0]*\*")
# what is left of one render's loop budget (None outside a render); checked by range()
_BUDGET: ContextVar[list[int] | None] = ContextVar("crosspost_template_budget", default=None)


def _bounded_range(*args: int) -> range:
    """range(), counted against the render's budget: nested loops cannot run for ever."""
    found = range(*args)
    if len(found) > _Sandbox.LIMIT:
        raise SecurityError("a range that long is not allowed in a template")
    budget = _BUDGET.get()
    if budget is not None:
        budget[0] -= len(found)
        if budget[0] < 0:
            raise SecurityError("the template loops too long (nested loops); simplify it")
    return found


def _width_checked(name: str, original: Any) -> Any:
    """A filter that takes a width or a format, refused when it would build a huge text."""

    def filter_(value: Any, *args: Any, **kwargs: Any) -> Any:
        sizes = [a for a in (*args, *kwargs.values()) if isinstance(a, int)]
        if any(abs(n) > _Sandbox.LIMIT for n in sizes):
            raise SecurityError(f"a width that large is not allowed in the {name} filter")
        if name == "format" and isinstance(value, str) and _WIDE_FORMAT.search(value):
            raise SecurityError("a format width that large is not allowed in a template")
        return original(value, *args, **kwargs)

    return filter_


class _TemplateLoader(jinja2.FileSystemLoader):
    """Templates only from the templates folder, with every link followed: a template that
    is a link to a file elsewhere (the server's environment file) is not read."""

    def __init__(self, folder: Path):
        super().__init__(str(folder))
        self.real = folder.resolve()

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Any]:
        source, filename, uptodate = super().get_source(environment, template)
        if not Path(filename).resolve().is_relative_to(self.real):
            raise jinja2.TemplateNotFound(
                f"{template} (it is a link to a file outside the templates folder)"
            )
        return source, filename, uptodate


class Renderer:
    """Renders posts with the templates of one config; templates compile once."""

    def __init__(self, config: Config):
        self.config = config
        self.env = _Sandbox(
            loader=_TemplateLoader(config.templates_dir),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,
        )
        for name in ("center", "indent", "format", "wordwrap", "truncate"):
            self.env.filters[name] = _width_checked(name, self.env.filters[name])
        self.env.globals["range"] = _bounded_range
        self.env.globals.pop("lipsum", None)  # makes text as long as asked
        self.env.filters.update(
            hashtag=hashtag,
            hashtags=hashtags,
            unwrap=unwrap,
            without_links=without_links,
            domain=domain,
        )
        self._templates: dict[str, jinja2.Template | RenderError] = {}
        # the current post's channel-independent contexts, by (override scope, time)
        self._contexts: dict[tuple[str, Any], dict[str, Any]] = {}
        self._context_post: Post | None = None
        # the environment's globals (range, dict, namespace, ...), put in each post's context
        # once, so a render need not merge them in again (see _run)
        self._globals = dict(self.env.globals)
        self._channel_vars = {
            key: {"key": c.key, "handle": c.handle, "platform": c.platform}
            for key, c in config.channels.items()
        }

    def template_path(self, name: str) -> Path:
        return self.config.templates_dir / f"{name}.j2"

    def template(self, name: str, asked_at: Mark) -> jinja2.Template:
        """The compiled template `name`, or RenderError (cached either way)."""
        found = self._templates.get(name)
        if found is None:
            try:
                found = self.env.get_template(f"{name}.j2")
            except jinja2.TemplateNotFound as exc:
                linked = "outside the templates folder" in str(exc)
                found = RenderError(
                    asked_at,
                    f"template '{name}' is a link to a file outside the templates folder: "
                    f"templates are read only from {self.config.templates_dir}"
                    if linked
                    else f"template '{name}' not found: expected {self.template_path(name)}",
                )
            except jinja2.TemplateSyntaxError as exc:
                path = Path(exc.filename) if exc.filename else self.template_path(name)
                found = RenderError(
                    Mark(path, exc.lineno or 1), f"template syntax error: {exc.message}"
                )
            self._templates[name] = found
        if isinstance(found, RenderError):
            raise found
        return found

    def render(self, post: Post, channel: Channel) -> Rendered:
        """What `channel` will receive for `post`; RenderError if a template fails."""
        fields = post.fields_for(channel.key)
        rules = channel.rules
        media: list[Media] = fields.get("media", [])
        out = Rendered(
            post=post,
            channel=channel.key,
            platform=channel.platform,
            handle=channel.handle,
            publish_at=post.time_for(channel.key),
            text="",
            media=media,
            thread=list(fields.get("thread", [])) if rules.thread else [],
            link=fields.get("link") if rules.link_field else None,
            first_comment=fields.get("first_comment") if rules.first_comment else None,
            limit=rules.text_limit,
        )
        if "text" in fields:
            out.text = tidy(fields["text"])
        else:
            name = fields.get("template") or channel.template
            asked_at = post.mark if "template" in fields else channel.mark  # who named the template
            template = self.template(name, asked_at)
            out.template = template.filename
            out.text = tidy(self._run(template, self._context(post, channel, fields), post))
        out.thread = [tidy(part) for part in out.thread]
        if out.link and media and out.link not in out.text:
            # a photo post cannot carry a link preview: the link goes at the end of the text,
            # here, so that preview shows exactly what is sent
            out.text = f"{out.text}\n\n{out.link}" if out.text else out.link
        return out

    def _context(self, post: Post, channel: Channel, fields: dict[str, Any]) -> dict[str, Any]:
        when = post.time_for(channel.key)
        # what does not depend on the channel is built once per post (and per override:
        # a channel with overrides gets its own); a post's channels are rendered one after
        # another, so only the current post's are kept
        if self._context_post is not post:
            self._contexts.clear()
            self._context_post = post
        scope = channel.key if channel.key in post.overrides else ""
        base = self._contexts.get((scope, when))
        if base is None:
            context: dict[str, Any] = {**self._globals, **_ABSENT}
            context.update({k: v for k, v in fields.items() if k in ("title", "body", "link")})
            context.update(
                id=post.id,
                hashtags=fields.get("hashtags", []),
                vars=fields.get("vars", {}),
                media=[{"path": m.rel, "alt": m.alt} for m in fields.get("media", [])],
                thread=fields.get("thread", []),
                tags=post.tags,
                author=post.author,
                publish_at=when.astimezone(self.config.timezone) if when else None,
            )
            if "first_comment" in fields:
                context["first_comment"] = fields["first_comment"]
            base = self._contexts[scope, when] = context
        return {**base, "channel": dict(self._channel_vars[channel.key])}

    def _run(self, template: jinja2.Template, context: dict[str, Any], post: Post) -> str:
        """`template.render(context)`, less two copies of the context.

        `render` copies the context, then copies it again with the globals merged in (from a
        ChainMap, slowly). `context` is already a fresh dict holding the globals, so it is
        used as it is; `handle_exception` gives errors their template line, as `render` does.
        """
        env = template.environment
        _BUDGET.set([_Sandbox.WORK])
        try:
            try:
                ctx = new_context(env, template.name, template.blocks, context, shared=True)
                return env.concat(template.root_render_func(ctx))  # type: ignore[attr-defined]
            except Exception:
                env.handle_exception()
        except Exception as exc:  # noqa: BLE001 -- any failure of a template is the post's error
            # Jinja's own errors, and whatever Python raises inside a template ("%d" % "lots":
            # TypeError, a missing key, a division by zero): never an escape from rendering
            line = _template_line(template.filename)
            where = f"{Path(template.filename or '?').name}:{line}" if line else template.name
            said = (
                str(exc)
                if isinstance(exc, jinja2.TemplateError)
                else f"{type(exc).__name__}: {exc}"
            )
            raise RenderError(post.mark, f"template {where}: {said}") from None
        finally:
            _BUDGET.set(None)


def _template_line(filename: str | None) -> int | None:
    """The template line being rendered when the current exception was raised."""
    tb = sys.exc_info()[2]
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def content_hash(rendered: Rendered) -> str:
    """A hash of exactly what the channel receives: texts, link, comment, media bytes, alt."""
    if rendered.content_hash is not None:
        return rendered.content_hash
    h = hashlib.sha256()
    media = [[m.digest, m.alt] for m in rendered.media]
    payload = [
        rendered.channel,
        rendered.text,
        rendered.thread,
        rendered.link,
        rendered.first_comment,
        media,
    ]
    h.update(json.dumps(payload, ensure_ascii=False).encode("utf-8"))
    rendered.content_hash = "sha256:" + h.hexdigest()
    return rendered.content_hash
