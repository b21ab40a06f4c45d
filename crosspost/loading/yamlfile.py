"""Safe YAML reading that remembers where every key and value came from.

Values come back as plain Python objects, except mappings and lists, which are `Located`
subclasses of dict and list that carry the file position of themselves, their keys and their
values. Aliases are refused (they make "billion laughs" bombs possible and are no use in a
post), files over a size limit are refused before they are read, and bytes that are not UTF-8
are reported with their line and column.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from crosspost.core.problems import Mark
from crosspost.loading import yaml_words

try:
    _Base: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Base = yaml.SafeLoader

_PLAIN_TAGS: dict[str, str] = {}  # plain scalar -> its implicit tag, for short scalars
_PLAIN_CACHED_LENGTH = 64
_PLAIN_CACHE_SIZE = 20_000


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """The safe loader, with the tags of short plain scalars remembered.

    The parser asks for the tag of every scalar; a plain one is matched against the implicit
    types' patterns each time. Keys ("title", "alt", ...) and short values repeat in every
    post, so their answers are kept (a plain scalar's tag depends on its text alone).
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            tag = _PLAIN_TAGS.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(value) <= _PLAIN_CACHED_LENGTH and len(_PLAIN_TAGS) < _PLAIN_CACHE_SIZE:
                    _PLAIN_TAGS[value] = tag
            return tag
        return super().resolve(kind, value, implicit)


MAX_FILE_BYTES = 1024 * 1024

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SCALAR_TAGS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:binary",
}


class YamlError(Exception):
    """A file that cannot be read as YAML; `mark` says where."""

    def __init__(self, mark: Mark, message: str):
        self.mark = mark
        self.message = message
        super().__init__(f"{mark}: {message}")


class LocatedDict(dict):  # type: ignore[type-arg]
    """A mapping that knows where it, each key and each value stand in the file.

    Positions are kept packed in one int each (see `_pos`) and made into marks only when
    asked for: most are never needed, and a queue holds hundreds of thousands of them. Ints,
    unlike the parser's own mark objects, are not containers: the garbage collector never
    walks them, nor the dicts that hold only them.
    """

    path: Path
    pos: int
    key_pos: dict[Any, int]
    value_pos: dict[Any, int]
    raw: dict[Any, str]
    # keys left empty because their value was written after '#' (`title: #Kent news`, read
    # as a comment): (the text after the key, its 0-based column); set only when there is one
    comments: dict[Any, tuple[str, int]] = {}  # noqa: RUF012 (never changed: replaced)

    def comment_mark(self, key: Any) -> Mark:
        line = (self.key_pos[key] >> _COLUMN_BITS) + 1
        return Mark(self.path, line, self.comments[key][1] + 1)

    @property
    def mark(self) -> Mark:
        return _mark(self.path, self.pos)

    def key_mark(self, key: Any) -> Mark:
        return _mark(self.path, self.key_pos.get(key, self.pos))

    def value_mark(self, key: Any) -> Mark:
        return _mark(self.path, self.value_pos.get(key, self.pos))


class LocatedList(list):  # type: ignore[type-arg]
    """A list that knows where it and each item stand in the file."""

    path: Path
    pos: int
    item_pos: list[int]
    raw: list[str | None]
    # items left empty because they were written after '#' (`- #Kent`, read as a comment):
    # index -> the text after the dash; set only when there is one
    comments: dict[int, str] = {}  # noqa: RUF012 (never changed: replaced)

    @property
    def mark(self) -> Mark:
        return _mark(self.path, self.pos)

    def item_mark(self, index: int) -> Mark:
        pos = self.item_pos[index] if index < len(self.item_pos) else self.pos
        return _mark(self.path, pos)


_COLUMN_BITS = 32
_NULL = "tag:yaml.org,2002:null"
_COMMENT_AS_ITEM = re.compile(r"^\s*-[ \t]+(#[^\s#].*)$")
_COMMENT_AS_VALUE = re.compile(r"\s*:[ \t]+(#[^\s#].*)$")


def _pos(mark: Any) -> int:
    """A parser mark (0-based line and column) packed into one int."""
    return mark.line << _COLUMN_BITS | mark.column


def _mark(path: Path, pos: int) -> Mark:
    return Mark(path, (pos >> _COLUMN_BITS) + 1, (pos & ((1 << _COLUMN_BITS) - 1)) + 1)


def read_text(path: Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    """Read a UTF-8 text file, refusing oversized files and anything that is not a regular
    file (a FIFO would block for ever) before reading them."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; a regular file ignores it
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise YamlError(Mark(path), f"cannot read file: {exc.strerror}") from None
    except ValueError:  # a NUL byte in the name
        raise YamlError(Mark(path), "cannot read file: its name holds a NUL byte") from None
    try:
        with open(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise YamlError(
                    Mark(path), "not a regular file (a pipe, device or folder): remove it"
                )
            size = st.st_size
            if size > max_bytes:
                raise YamlError(
                    Mark(path),
                    f"file is {size / 1e6:.1f} MB; files here are limited to "
                    f"{max_bytes / 1e6:.1f} MB (is this really a post?)",
                )
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise YamlError(Mark(path), f"cannot read file: {exc.strerror}") from None
    if len(data) > max_bytes:  # it grew after the size was read
        raise YamlError(Mark(path), f"file is over {max_bytes / 1e6:.1f} MB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise YamlError(
            Mark(path, line, column),
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
        ) from None


def load(path: Path, max_bytes: int = MAX_FILE_BYTES, show_values: bool = True) -> Any:
    """Load one YAML document from `path` with positions; raise YamlError on any failure.
    `show_values=False` (a config file, which may hold a secret): an error never shows a
    value or a line of the file."""
    return loads(read_text(path, max_bytes), path, show_values)


def loads(text: str, path: Path, show_values: bool = True) -> Any:
    """Load one YAML document from `text` as if it were the file at `path` (the web app checks
    a post before it is written); raise YamlError on any failure."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise YamlError(Mark(path), f"text is over {MAX_FILE_BYTES / 1e6:.1f} MB")
    if text.startswith("\ufeff"):
        text = text[1:]
    if "*" in text:
        _refuse_aliases(path, text)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        plain = yaml_words.explain(exc, text, show_values) if mark is not None else None
        if plain is not None:
            (line, column), said = plain
            raise YamlError(Mark(path, line + 1, column + 1), said) from None
        where = Mark(path, mark.line + 1, mark.column + 1) if mark else Mark(path)
        problem = exc.problem or "invalid YAML"
        ctx = exc.context_mark
        if exc.context and ctx is not None and mark is not None and ctx.line != mark.line:
            problem += f" ({exc.context} that starts at {ctx.line + 1}:{ctx.column + 1})"
        if mark is not None and "${" in _line(text, mark.line)[: mark.column + 1]:
            problem += '; quote ${VAR} references inside [ ] or { }: "${VAR}"'
        if exc.context and "expected a single document" in exc.context:
            problem = "more than one YAML document (---) in the file; put one document per file"
        raise YamlError(where, f"invalid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, ESC ...)
        line, column = _position(text, exc.position)
        what = f"U+{exc.character:04X}" if isinstance(exc.character, int) else "a character"
        raise YamlError(
            Mark(path, line, column),
            f"invalid YAML: {what} is a control character that cannot stand in a YAML file; "
            "delete it (it is often pasted in invisibly)",
        ) from None
    except yaml.YAMLError as exc:
        raise YamlError(Mark(path), f"invalid YAML: {exc}") from None
    except RecursionError:
        raise YamlError(Mark(path), "invalid YAML: nested too deeply") from None
    finally:
        loader.dispose()
    if node is None:
        return None
    try:
        return _Converter(path, loader, text).convert(node)
    except RecursionError:
        raise YamlError(Mark(path), "nested too deeply: a post is a few levels at most") from None


_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_line = yaml_words.line_of


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset, counting lines as YAML does."""
    before = text[:offset]
    breaks = list(_LINE_BREAK.finditer(before))
    start = breaks[-1].end() if breaks else 0
    return len(breaks) + 1, offset - start + 1


def _refuse_aliases(path: Path, text: str) -> None:
    """Refuse the first alias where it is written (composing would lose its position)."""
    loader = _Loader(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.AliasEvent):
                m = event.start_mark
                line, column = (m.line + 1, m.column + 1) if m is not None else (1, 1)
                raise YamlError(
                    Mark(path, line, column),
                    f"YAML aliases (*{event.anchor}) are not allowed here; write the value out "
                    "in full",
                )
    except yaml.YAMLError:
        return  # a syntax error: composing reports it with its position
    finally:
        loader.dispose()


class _Converter:
    def __init__(self, path: Path, loader: Any, text: str = ""):
        self.path = path
        self.loader = loader
        self.text = text
        self.seen: set[int] = set()

    def comment_after(self, key_node: yaml.Node) -> tuple[str, int] | None:
        """A comment that starts with '#' and a word right after a key with no value
        (`hashtags: #Kent`): what the person meant as the value, and its column."""
        mark = key_node.end_mark
        line = _line(self.text, mark.line)
        found = _COMMENT_AS_VALUE.match(line, mark.column)
        return (yaml_words.without_comment(found[1]).rstrip(), found.start(1)) if found else None

    def mark(self, node: yaml.Node) -> Mark:
        return _mark(self.path, _pos(node.start_mark))

    def convert(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if id(node) in self.seen:
            raise YamlError(
                self.mark(node),
                "YAML aliases (*name) are not allowed here; write the value out in full",
            )
        self.seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node)
        if isinstance(node, yaml.SequenceNode):
            return self.sequence(node)
        raise YamlError(
            self.mark(node), f"unsupported YAML node {type(node).__name__}"
        )  # pragma: no cover

    def scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag == _STR:
            return node.value
        if node.tag not in _SCALAR_TAGS:
            raise YamlError(self.mark(node), f"unsupported YAML tag {node.tag}")
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value  # times are parsed by us, with the configured timezone
        if node.tag == "tag:yaml.org,2002:binary":
            raise YamlError(self.mark(node), "binary values (!!binary) are not allowed here")
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, ArithmeticError, LookupError, yaml.YAMLError):
            # an explicit tag on text that is not of its type (!!int abc), or a number too
            # long for Python to convert (over 4,300 digits)
            kind = node.tag.rsplit(":", 1)[-1]
            shown = node.value if len(node.value) <= 40 else node.value[:40] + "…"
            raise YamlError(
                self.mark(node),
                f"'{shown}' cannot be read as {kind}: correct it, or put it in quotes to keep it "
                "as text",
            ) from None

    def mapping(self, node: yaml.MappingNode) -> LocatedDict:
        if node.tag != _MAP:
            raise YamlError(self.mark(node), f"unsupported YAML tag {node.tag}")
        out = LocatedDict()
        out.path, out.pos = self.path, _pos(node.start_mark)
        key_pos: dict[Any, int] = {}
        value_pos: dict[Any, int] = {}
        raw: dict[Any, str] = {}
        out.key_pos, out.value_pos, out.raw = key_pos, value_pos, raw
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError(self.mark(key_node), "a key must be a plain name")
            key = key_node.value
            if key == "<<" and key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlError(self.mark(key_node), "YAML merge keys (<<) are not allowed here")
            if key in key_pos:
                first = (key_pos[key] >> _COLUMN_BITS) + 1
                raise YamlError(
                    self.mark(key_node), f"duplicate key '{key}' (first at line {first})"
                )
            # _pos, written out: this loop runs for every key of every post
            mark = key_node.start_mark
            key_pos[key] = mark.line << _COLUMN_BITS | mark.column
            mark = value_node.start_mark
            value_pos[key] = mark.line << _COLUMN_BITS | mark.column
            if isinstance(value_node, yaml.ScalarNode):
                raw[key] = value = value_node.value
                out[key] = value if value_node.tag == _STR else self.scalar(value_node)
                if value == "" and value_node.tag == _NULL and not value_node.style:
                    comment = self.comment_after(key_node)
                    if comment is not None:
                        if not out.comments:
                            out.comments = {}
                        out.comments[key] = comment
            else:
                out[key] = self.convert(value_node)
        return out

    def sequence(self, node: yaml.SequenceNode) -> LocatedList:
        if node.tag != _SEQ:
            raise YamlError(self.mark(node), f"unsupported YAML tag {node.tag}")
        out = LocatedList()
        out.path, out.pos = self.path, _pos(node.start_mark)
        out.item_pos = []
        out.raw = []
        for item in node.value:
            out.item_pos.append(_pos(item.start_mark))
            if isinstance(item, yaml.ScalarNode):
                out.raw.append(item.value)
                out.append(item.value if item.tag == _STR else self.scalar(item))
                if item.value == "" and item.tag == _NULL and not item.style:
                    found = _COMMENT_AS_ITEM.match(_line(self.text, item.start_mark.line))
                    if found:
                        if not out.comments:
                            out.comments = {}
                        out.comments[len(out) - 1] = yaml_words.without_comment(found[1])
            else:
                out.raw.append(None)
                out.append(self.convert(item))
        return out


def plain(value: Any) -> Any:
    """A loaded value as plain dicts and lists (without positions)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
