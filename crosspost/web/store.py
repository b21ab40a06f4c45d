"""How the web app writes the queue: post files as ordinary YAML, edits that keep a person's
comments and layout, atomic saves, uploaded images and (when the queue is in git) commits.

The queue stays the single source of truth: everything here writes files an officer could
have written by hand, and every text is read back with crosspost's own loader before it is
returned, so what is saved is what crosspost will read.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import stat
import time
import unicodedata
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RuamelError
from ruamel.yaml.nodes import ScalarNode as RuamelScalarNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    PlainScalarString,
)

from crosspost.core.media import ImageInfo, forget, image_info
from crosspost.loading.posts import POST_KEYS, QUEUE_SUFFIXES, queue_files
from crosspost.loading.yamlfile import (
    MAX_FILE_BYTES,
    LocatedDict,
    LocatedList,
    YamlError,
    loads,
    plain,
)


class StoreError(Exception):
    """A post or image that cannot be saved; the message says what to do about it."""


# the order of keys in a post file the web app writes; other keys follow in the given order
KEY_ORDER = (
    "publish_at",
    "status",
    "author",
    "tags",
    "title",
    "body",
    "link",
    "hashtags",
    "media",
    "first_comment",
    "thread",
    "channels",
    "overrides",
)
_RANK = {key: i for i, key in enumerate((*KEY_ORDER, "text", "path", "alt"))}
FLOW_KEYS = frozenset({"hashtags", "channels", "tags"})  # written as [a, b]
# the keys an edit may delete; `id` names the post and is never touched
_DELETABLE = frozenset(POST_KEYS) - {"id"}
LONG_TEXT = 80  # single-line texts longer than this are written as folded (>-) blocks
FOLD_AT = 88  # the column folded blocks are wrapped at
_WIDTH = 4096  # ruamel's own wrapping is off: folds are placed by _fold_positions
_HOUSE_INDENT = (2, 4, 2)  # mapping, sequence, offset: `media:\n  - path: ...`
_BLOCK_UNSAFE = re.compile("[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|\ufeff")
# what a text in [ ] must not start with or hold to be written without quotes
_FLOW_UNSAFE = re.compile(r"^[-?:,\[\]{}#&*!|>'\"%@`\s]|[,\[\]{}]|:(?:\s|$)|\s#|\s$")
_DATE_TIME = re.compile(r"^\d{4}-\d\d?-\d\d?(?:[Tt ]\d\d?:\d\d(?::\d\d(?:\.\d*)?)?)?$")
_STR_TAG = "tag:yaml.org,2002:str"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_LINE = re.compile(r"[^\r\n\x85\u2028\u2029]*(?:\r\n|[\r\n\x85\u2028\u2029]|$)")

try:
    _PyLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _PyLoader = yaml.SafeLoader
# how crosspost's loader (PyYAML, YAML 1.1) reads a plain scalar: `yes`, `10:00`, `0x1F`
# are not text there, though ruamel (YAML 1.2) would write them unquoted
_PY_RESOLVER = yaml.resolver.Resolver()
_RUAMEL_RESOLVER = VersionedResolver()


def _py_tag(text: str) -> str:
    return str(_PY_RESOLVER.resolve(yaml.ScalarNode, text, (True, False)))


class _Bare(PlainScalarString):
    """A date and time written without quotes (`2026-12-01 10:00`): crosspost reads times
    as text, whichever type YAML gives them."""

    __slots__ = ()


def _represent_bare(representer: Any, data: _Bare) -> Any:
    tag = _RUAMEL_RESOLVER.resolve(RuamelScalarNode, str(data), (True, False))
    return representer.represent_scalar(tag, str(data))


def _yaml(indent: tuple[int, int, int] = _HOUSE_INDENT) -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = _WIDTH
    y.allow_unicode = True
    mapping, sequence, offset = indent
    y.indent(mapping=mapping, sequence=sequence, offset=offset)
    y.representer.add_representer(_Bare, _represent_bare)
    return y


def _dump(data: Any, indent: tuple[int, int, int] = _HOUSE_INDENT) -> str:
    out = io.StringIO()
    try:
        _yaml(indent).dump(data, out)
    except RuamelError as exc:  # a value of a type a post file cannot hold
        raise StoreError(f"cannot write this post: {exc}") from None
    return out.getvalue()


def _load(text: str) -> Any:
    """`text` as crosspost reads it, or a StoreError saying why it cannot be read."""
    try:
        return loads(text, Path("post.yaml"))
    except YamlError as exc:
        mark = exc.mark
        where = f"line {mark.line}: " if getattr(mark, "line", None) else ""
        raise StoreError(f"{where}{exc.message}") from None


# --- values in the house style ------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple | dict) and len(value) == 0)


def _ordered(mapping: Mapping[Any, Any]) -> list[Any]:
    keys = list(mapping)
    return sorted(keys, key=lambda k: (_RANK.get(k, len(_RANK)), keys.index(k)))


def _fold_positions(text: str, width: int) -> list[int]:
    """Where to fold `text` (single spaces between words) so its lines stay within `width`."""
    width = max(width, 40)
    folds: list[int] = []
    start, previous = 0, -1
    for i in range(1, len(text) - 1):
        if text[i] != " " or text[i - 1] == " " or text[i + 1] == " ":
            continue
        if i - start > width and previous > start:
            folds.append(previous)
            start = previous + 1
        previous = i
    if len(text) - start > width and previous > start:
        folds.append(previous)
    return folds


def _round_trips(value: str) -> bool:
    try:
        return _load(_dump({"k": value})) == {"k": str(value)}
    except StoreError:
        return False


def _text(value: str, key: Any, column: int, flow: bool, careful: bool) -> str:
    """`value` as the string type that writes it in the house style: `|` for several lines,
    `>-` for a long line, quotes where crosspost's loader would read something else (and,
    `careful`, quotes everywhere)."""
    is_time = _DATE_TIME.match(value) and _py_tag(value) in (_STR_TAG, _TIMESTAMP_TAG)
    if key == "publish_at" and is_time:
        return _Bare(value)
    if careful:
        return DoubleQuotedScalarString(value)
    if not flow and not _BLOCK_UNSAFE.search(value):
        block: str | None = None
        if "\n" in value:
            block = LiteralScalarString(value)
        elif len(value) > LONG_TEXT and value == value.strip() and "  " not in value:
            folded = FoldedScalarString(value)
            folded.fold_pos = _fold_positions(value, FOLD_AT - column)  # type: ignore[attr-defined]
            block = folded
        if block is not None and _round_trips(block):
            return block
    if "\n" not in value and _py_tag(value) != _STR_TAG:
        return DoubleQuotedScalarString(value)
    if flow and _FLOW_UNSAFE.search(value):  # ruamel writes `[? x]` and `[: x]` unquoted
        return DoubleQuotedScalarString(value)
    # a ScalarString, not a str: ruamel would give a plain str the style of the value it
    # replaces (a one-word title written as a >- block)
    return PlainScalarString(value)


class _Writer:
    """Makes values to write: ruamel objects in the house style, or (for checking what the
    loader must read back) plain Python values."""

    def __init__(self, styled: bool, indent: tuple[int, int, int], careful: bool = False):
        self.styled = styled
        self.mapping, self.sequence, _ = indent
        self.careful = careful  # every text in quotes: the way out when a nicer style fails

    def make(self, value: Any, key: Any, column: int) -> Any:
        """`value` (of `key`, whose key stands in `column`) to write; None when empty."""
        if _empty(value):
            return None
        if isinstance(value, str):
            return self.text(value, key, column + self.mapping)
        if isinstance(value, Mapping):
            return self.mapping_of(value, column + self.mapping)
        if isinstance(value, list | tuple):
            return self.sequence_of(value, key, column + self.sequence)
        return value

    def text(self, value: str, key: Any, column: int, flow: bool = False) -> str:
        if not self.styled:
            return value
        return _text(value, key, column, flow, self.careful)

    def mapping_of(self, value: Mapping[Any, Any], column: int) -> Any:
        out: MutableMapping[Any, Any] = CommentedMap() if self.styled else {}
        for key in _ordered(value):
            made = self.make(value[key], key, column)
            if made is not None:
                out[key] = made
        return out or None

    def sequence_of(self, value: Sequence[Any], key: Any, column: int) -> Any:
        flow = key in FLOW_KEYS and all(
            isinstance(item, str | int | float | bool) for item in value
        )
        out: MutableSequence[Any] = CommentedSeq() if self.styled else []
        for item in value:
            made = self.item(item, key, column, flow)
            if made is not None:
                out.append(made)
        if flow and isinstance(out, CommentedSeq):
            out.fa.set_flow_style()
        return out or None

    def item(self, item: Any, key: Any, column: int, flow: bool) -> Any:
        if _empty(item):
            return None
        if isinstance(item, str):
            return self.text(item, key, column, flow)
        if isinstance(item, Mapping):
            return self.mapping_of(item, column)
        if isinstance(item, list | tuple):
            return self.sequence_of(item, key, column + self.sequence)
        return item


def _check(text: str, expected: Any) -> bool:
    try:
        return bool(plain(_load(text)) == expected)
    except StoreError:
        return False


# --- new posts ----------------------------------------------------------------------------


def new_post_text(fields: dict[str, Any]) -> str:
    """YAML text of a new post file holding `fields`, in the house style."""
    expected = _Writer(False, _HOUSE_INDENT).mapping_of(fields, 0)
    if expected is None:
        raise StoreError("the post is empty: give it at least a title, a body or a link")
    for careful in (False, True):  # the house style is a nicety: never at the cost of the text
        data = _Writer(True, _HOUSE_INDENT, careful).mapping_of(fields, 0)
        text = _dump(data)
        _size_ok(text)
        if _check(text, expected):
            return text
    raise StoreError(
        "the post could not be written so that it reads back exactly; check it for unusual "
        "characters"
    )


def _size_ok(text: str) -> None:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise StoreError(
            f"the post would be {size / 1e6:.1f} MB; post files are limited to "
            f"{MAX_FILE_BYTES / 1e6:.1f} MB: shorten it"
        )


# --- edits --------------------------------------------------------------------------------


def _same(old: Any, raw: Any, new: Any) -> bool:
    """Whether the file's value (`raw`: its text, for a scalar) already is `new`."""
    if isinstance(new, str):
        if isinstance(old, str):
            return old == new
        return isinstance(old, bool | int | float) and raw == new
    if isinstance(new, Mapping):
        return isinstance(old, LocatedDict) and all(
            (k not in old) if _empty(v) else (k in old and _same(old[k], old.raw.get(k), v))
            for k, v in new.items()
        )
    if isinstance(new, list | tuple):
        items = [item for item in new if not _empty(item)]
        return (
            isinstance(old, LocatedList)
            and len(old) == len(items)
            and all(_same(o, r, n) for o, r, n in zip(old, old.raw, items, strict=True))
        )
    return type(old) is type(new) and old == new


# what an edit did to one key: set afresh, deleted, or (a mapping) edited key by key
_SET = "set"
_DELETE = "delete"
Changes = dict[Any, Any]


class _Editor:
    """Applies `fields` to a loaded post: to ruamel's round-trip data (to write) or to a
    plain copy (what the loader must then read)."""

    def __init__(self, writer: _Writer):
        self.writer = writer

    def put(self, target: MutableMapping[Any, Any], key: Any, value: Any) -> None:
        if key in target or not isinstance(target, CommentedMap):
            target[key] = value
            return
        keys = list(target)
        rank = _RANK.get(key, len(_RANK))
        before = [i for i, k in enumerate(keys) if _RANK.get(k, len(_RANK)) < rank]
        after = [i for i, k in enumerate(keys) if rank < _RANK.get(k, len(_RANK)) < len(_RANK)]
        if before:
            position = before[-1] + 1
        elif after:
            position = after[0]
        else:
            position = len(keys)
        target.insert(position, key, value)

    def edit_mapping(
        self,
        target: MutableMapping[Any, Any],
        old: LocatedDict,
        new: Mapping[Any, Any],
        column: int,
        top: bool,
    ) -> Changes:
        changes: Changes = {}
        for key, value in new.items():
            if top and key == "id":
                continue
            if _empty(value):
                if key in old and (not top or key in _DELETABLE):
                    del target[key]
                    changes[key] = _DELETE
                continue
            if key in old and _same(old[key], old.raw.get(key), value):
                continue
            current = old.get(key)
            if isinstance(current, LocatedDict) and isinstance(value, Mapping):
                inner = self.edit_mapping(
                    target[key], current, value, column + self.writer.mapping, False
                )
                if len(inner) == len(current) and all(v == _DELETE for v in inner.values()):
                    del target[key]  # every key deleted: the mapping goes too
                    changes[key] = _DELETE
                elif inner:
                    changes[key] = inner
                continue
            made = self.writer.make(value, key, column)
            if made is None:  # a mapping or list of empty values only
                if key in old and (not top or key in _DELETABLE):
                    del target[key]
                    changes[key] = _DELETE
                continue
            if (
                isinstance(current, LocatedList)
                and isinstance(value, list | tuple)
                and isinstance(target[key], MutableSequence)
            ):
                self.edit_sequence(target[key], current, value, key, column)
            else:
                self.put(target, key, made)
            changes[key] = _SET
        return changes

    def edit_sequence(
        self,
        target: MutableSequence[Any],
        old: LocatedList,
        new: Sequence[Any],
        key: Any,
        column: int,
    ) -> None:
        """Replace the items of a list in place, keeping its flow or block style and the
        items that are unchanged."""
        flow = isinstance(target, CommentedSeq) and bool(target.fa.flow_style())
        items = []
        for item in new:
            made = self.writer.item(item, key, column + self.writer.sequence, flow)
            if made is not None:
                items.append((item, made))
        for i, (item, made) in enumerate(items):
            if i >= len(target):
                target.append(made)
            elif i >= len(old) or not _same(old[i], old.raw[i], item):
                target[i] = made
        while len(target) > len(items):
            target.pop()


def _indent_of(data: CommentedMap) -> tuple[int, int, int]:
    """The mapping and list indentation a file uses (the house style where it shows none)."""
    mapping = sequence = offset = None

    def walk(node: Any) -> None:
        nonlocal mapping, sequence, offset
        if isinstance(node, CommentedMap):
            for key, value in node.items():
                key_column = node.lc.key(key)[1]
                if isinstance(value, CommentedMap) and value and not value.fa.flow_style():
                    first = next(iter(value))
                    if mapping is None and value.lc.key(first)[0] > node.lc.key(key)[0]:
                        mapping = value.lc.key(first)[1] - key_column
                    walk(value)
                elif isinstance(value, CommentedSeq) and value and not value.fa.flow_style():
                    if sequence is None and value.lc.line > node.lc.key(key)[0]:
                        offset = value.lc.col - key_column
                        sequence = value.lc.item(0)[1] - key_column
                    for item in value:
                        walk(item)

    walk(data)
    m = mapping if mapping and mapping > 0 else _HOUSE_INDENT[0]
    s = sequence if sequence and sequence > 0 else _HOUSE_INDENT[1]
    o = offset if offset is not None and 0 <= offset < s else _HOUSE_INDENT[2]
    if s < o + 2:
        s, o = _HOUSE_INDENT[1], _HOUSE_INDENT[2]
    return m, s, o


def _lines(text: str) -> list[str]:
    """`text` split into lines as YAML counts them, each with its line break."""
    lines = _LINE.findall(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _last_line(node: yaml.Node) -> int:
    """The last line (0-based) a value is written on, comments after it not counted."""
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        end = node.end_mark
        return end.line - 1 if end.column == 0 and end.line > node.start_mark.line else end.line
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            children += [key, value]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    return max([node.start_mark.line, *(_last_line(child) for child in children)])


def _block_mapping(node: Any) -> bool:
    """A mapping written one key a line, each key on its own line and no key complex."""
    if not isinstance(node, yaml.MappingNode) or node.flow_style or not node.value:
        return False
    lines = [key.start_mark.line for key, _ in node.value]
    column = node.value[0][0].start_mark.column
    return (
        all(isinstance(key, yaml.ScalarNode) for key, _ in node.value)
        and len(set(lines)) == len(lines)
        and all(key.start_mark.column == column for key, _ in node.value)
        and all(a < b for a, b in zip(lines, lines[1:], strict=False))
    )


class _Splicer:
    """Builds the edited text from the old file's own lines, taking from ruamel's rendering
    only the keys the edit changed: untouched keys, comments and blank lines stay exactly as
    they were written."""

    def __init__(self, old: str, new: str, crlf: bool):
        self.old = _lines(old)
        self.new = _lines(new)
        self.crlf = crlf

    def fresh(self, start: int, end: int) -> list[str]:
        lines = self.new[start:end]
        if self.crlf:
            lines = [line[:-1] + "\r\n" if line.endswith("\n") else line for line in lines]
        return lines

    def mapping(self, old: yaml.MappingNode, new: yaml.MappingNode, changes: Changes) -> list[str]:
        """The lines of the edited mapping, from its first key to the end of its last value."""
        old_items = [(key.value, key, value) for key, value in old.value]
        new_items = {key.value: (key, value) for key, value in new.value}
        new_order = [key.value for key, _ in new.value]
        old_names = {name for name, _, _ in old_items}
        # keys the edit adds go after the key before them in the new order (before that
        # key's trailing comments, which say something about the key after it)
        added: dict[Any, list[str]] = {}
        anchor = None
        for name in new_order:
            if name in old_names:
                anchor = name
            else:
                added.setdefault(anchor, []).append(name)
        out: list[str] = []
        for name in added.get(None, []):
            out += self.fresh_value(*new_items[name])
        for i, (name, key, value) in enumerate(old_items):
            last = _last_line(value)
            following = old_items[i + 1][1].start_mark.line if i + 1 < len(old_items) else last + 1
            trailing = self.old[last + 1 : following]
            change = changes.get(name)
            if change == _DELETE or name not in new_items:
                out += trailing
                continue
            if change is None:
                out += self.old[key.start_mark.line : last + 1]
            elif isinstance(change, dict) and self.nested(value, new_items[name][1]):
                first = value.value[0][0].start_mark.line
                out += self.old[key.start_mark.line : first]
                out += self.mapping(value, new_items[name][1], change)
            else:
                out += self.fresh_value(*new_items[name])
            for extra in added.get(name, []):
                out += self.fresh_value(*new_items[extra])
            out += trailing
        return out

    def fresh_value(self, key: yaml.Node, value: yaml.Node) -> list[str]:
        return self.fresh(key.start_mark.line, _last_line(value) + 1)

    @staticmethod
    def nested(old: yaml.Node, new: yaml.Node) -> bool:
        return (
            _block_mapping(old)
            and _block_mapping(new)
            and old.value[0][0].start_mark.column == new.value[0][0].start_mark.column
        )


def _compose(text: str) -> Any:
    return yaml.compose(text, Loader=_PyLoader)


def _spliced(old_text: str, new_text: str, changes: Changes) -> str | None:
    """The edit made on the old file's own lines, or None when its layout does not allow it
    (a mapping written in { } on one line, say)."""
    try:
        old_root, new_root = _compose(old_text), _compose(new_text)
    except yaml.YAMLError:
        return None
    if not (_block_mapping(old_root) and _block_mapping(new_root)):
        return None
    if old_root.value[0][0].start_mark.column != 0 or new_root.value[0][0].start_mark.column:
        return None
    splicer = _Splicer(old_text, new_text, "\r\n" in old_text)
    first = old_root.value[0][0].start_mark.line
    lines = splicer.old[:first] + splicer.mapping(old_root, new_root, changes)
    lines += splicer.old[_last_line(old_root.value[-1][1]) + 1 :]  # comments at the end
    # a last line without a line break that now has lines after it
    for i, line in enumerate(lines[:-1]):
        if not _LINE_BREAK_END.search(line):
            lines[i] = line + ("\r\n" if splicer.crlf else "\n")
    return "".join(lines)


_LINE_BREAK_END = re.compile(r"[\r\n\x85\u2028\u2029]$")


def updated_post_text(old_text: str, fields: dict[str, Any]) -> str:
    """`old_text` (a file holding one post) with `fields` set: changed keys rewritten, empty
    ones deleted, and every other line, comment included, kept as it was."""
    old = _load(old_text)
    if isinstance(old, LocatedList):
        raise StoreError("this file holds several posts; edit it by hand")
    if not isinstance(old, LocatedDict):
        raise StoreError(
            "this file does not hold a post (a list of keys and values); edit it by hand"
        )
    try:
        data = _yaml().load(old_text)
    except RuamelError as exc:
        raise StoreError(f"this file cannot be edited here ({exc}); edit it by hand") from None
    if not isinstance(data, CommentedMap):  # pragma: no cover - the loader said a mapping
        raise StoreError("this file does not hold a single post; edit it by hand")
    indent = _indent_of(data)
    for careful in (False, True):  # the house style is a nicety: never at the cost of the text
        if careful:
            data = _yaml().load(old_text)
        changes = _Editor(_Writer(True, indent, careful)).edit_mapping(data, old, fields, 0, True)
        if not changes:
            return old_text
        expected = plain(old)
        _Editor(_Writer(False, indent)).edit_mapping(expected, old, fields, 0, True)
        new_text = _dump(data, indent)
        _size_ok(new_text)
        spliced = _spliced(old_text, new_text, changes)
        if spliced is not None and _check(spliced, expected):
            return spliced
        if _check(new_text, expected):
            return new_text
    raise StoreError(  # pragma: no cover - every value is written quoted by then
        "the post could not be saved so that it reads back exactly; edit the file by hand"
    )


# --- files --------------------------------------------------------------------------------


def file_version(path: Path) -> str:
    """'sha256:<hex>' of the file's bytes, or 'absent' when there is no file."""
    try:
        with open(path, "rb") as fh:
            return "sha256:" + hashlib.file_digest(fh, "sha256").hexdigest()
    except FileNotFoundError:
        return "absent"
    except OSError as exc:
        raise StoreError(f"cannot read {path.name}: {exc.strerror}") from None


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - a system that cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - a file system that does not sync folders
        pass
    finally:
        os.close(fd)


def _temp_file(folder: Path, stem: str) -> tuple[Path, int]:
    """A new hidden file in `folder` whose name ends in '.tmp' (the daemon watches *.yaml),
    created with the permissions a new file gets there."""
    for _ in range(100):
        temp = folder / f".{stem}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(
                temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666
            )
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        return temp, fd
    raise StoreError(f"cannot create a temporary file in {folder}")  # pragma: no cover


def _write_temp(folder: Path, stem: str, data: bytes, mode: int | None = None) -> Path:
    """`data` written and synced to a new temporary file in `folder`."""
    try:
        temp, fd = _temp_file(folder, stem)
    except OSError as exc:
        raise StoreError(f"cannot save in {folder}: {exc.strerror}") from None
    try:
        with open(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(temp, mode)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def atomic_write(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) in one step: readers see the old file or the new
    one, never half of either."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise StoreError(
            f"the text holds a character that cannot be saved ({exc.reason})"
        ) from None
    try:
        mode: int | None = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = None
    temp = _write_temp(path.parent, path.name, data, mode)
    try:
        os.replace(temp, path)
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise StoreError(f"cannot save {path.name}: {exc.strerror}") from None
        raise
    _fsync_folder(path.parent)


def _slug(text: str, words: int, limit: int = 60) -> str:
    """`text` as lowercase ASCII words joined with hyphens: 'Safer Streets funding' ->
    'safer-streets-funding'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    found = re.findall(r"[a-z0-9]+", re.sub(r"['`]", "", ascii_text.lower()))[:words]
    slug = ""
    for word in found:
        joined = f"{slug}-{word}" if slug else word
        if len(joined) > limit:
            break
        slug = joined
    return slug or (found[0][:limit] if found else "")


def new_post_path(queue_dir: Path, publish_at: str | None, title: str) -> Path:
    """A free, readable file name for a new post: queue/2026-12-01-safer-streets-funding.yaml."""
    date = re.match(r"\s*(\d{4}-\d\d-\d\d)", publish_at or "")
    slug = _slug(title, 6) or "post"
    stem = f"{date[1]}-{slug}" if date else slug
    try:
        taken = {p.stem.lower() for p in queue_files(queue_dir)}  # a post's id is its stem
    except OSError:  # pragma: no cover - an unreadable queue: the existence check still holds
        taken = set()
    n = 1
    while True:
        name = stem if n == 1 else f"{stem}-{n}"
        candidates = [queue_dir / f"{name}{suffix}" for suffix in QUEUE_SUFFIXES]
        if name.lower() not in taken and not any(os.path.lexists(p) for p in candidates):
            path = candidates[0]
            break
        n += 1
    if path.parent != queue_dir or not path.name[:1].isalnum():  # pragma: no cover
        raise StoreError(f"cannot make a file name from the title {title!r}")
    return path


_EXTENSIONS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp"}


MAX_PIXELS = 40_000_000  # a decompression bomb is refused before any pixel is decoded


def save_image(queue_dir: Path, filename: str, data: bytes, max_bytes: int = 8_000_000) -> str:
    """Store an uploaded image in queue/media/ under a safe, unique name; return its path as a
    post's media `path` holds it ('media/county-show.jpg')."""
    base = re.split(r"[/\\]", filename)[-1]  # browsers on Windows may send C:\\...\\x.jpg
    shown = base or "the image"
    if len(data) > max_bytes:
        raise StoreError(
            f"{shown} is {len(data) / 1e6:.1f} MB; images are limited to {max_bytes / 1e6:.1f} MB: "
            "save it smaller (a photo 2,000 pixels wide is plenty) and upload it again"
        )
    if not data:
        raise StoreError(f"{shown} is empty: upload the image again")
    media = queue_dir / "media"
    try:
        media.mkdir(exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot make the folder for images ({media}): {exc.strerror}") from None
    temp = _write_temp(media, "upload", data)
    try:
        info = image_info(temp)
        forget(temp)
        if not isinstance(info, ImageInfo):
            raise StoreError(f"{shown} cannot be used: {info}")
        if info.width * info.height > MAX_PIXELS:  # a small file that unpacks to gigabytes
            raise StoreError(
                f"{shown} is {info.width:,} × {info.height:,} pixels; images are limited to "
                f"{MAX_PIXELS // 1_000_000} million pixels (no platform shows more)"
            )
        extension = _EXTENSIONS.get(info.format)
        if extension is None:
            raise StoreError(
                f"{shown} is a {info.format} image; crosspost takes JPEG, PNG, GIF or WebP: "
                "save it as JPEG or PNG and upload it again"
            )
        stem = _slug(os.path.splitext(base)[0], 10) or "image"
        name = _place(temp, media, stem, extension)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_folder(media)
    return f"media/{name}"


def _place(temp: Path, folder: Path, stem: str, extension: str) -> str:
    """Move `temp` to a free name in `folder` without ever replacing a file; its name."""
    n = 1
    while True:
        name = f"{stem}{extension}" if n == 1 else f"{stem}-{n}{extension}"
        target = folder / name
        try:
            os.link(temp, target)  # fails, atomically, if the name is taken
            return name
        except FileExistsError:
            n += 1
        except OSError as exc:  # a file system without hard links
            if os.path.lexists(target):
                n += 1
                continue
            try:
                os.replace(temp, target)
            except OSError:
                raise StoreError(f"cannot store the image: {exc.strerror}") from None
            return name


def delete_post_file(path: Path) -> None:
    """Remove a post file (not its images: other posts may use them)."""
    if not path.name.endswith(QUEUE_SUFFIXES):
        raise StoreError(f"{path.name} is not a post file (.yaml): it is not deleted")
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            raise StoreError(f"{path.name} is not a regular file: it is not deleted")
        os.unlink(path)
    except FileNotFoundError:
        raise StoreError(
            f"{path.name} is not there: it may have been deleted or renamed already"
        ) from None
    except OSError as exc:
        raise StoreError(f"cannot delete {path.name}: {exc.strerror}") from None
    _fsync_folder(path.parent)


# --- git ----------------------------------------------------------------------------------


def _repository_of(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _identity(author: str, email: str, message: str) -> bytes:
    """`Name <email>` for the commit, refused when either part is blank or could forge
    another header line, or the message is blank."""
    for part in (author, email):
        if not part.strip() or re.search(r"[<>\r\n\0]", part):
            raise StoreError(
                f"cannot commit as {author!r} <{email!r}>: a name and an email address are "
                "needed, without < > or line breaks"
            )
    if not message.strip():
        raise StoreError("a commit needs a message")
    return f"{author.strip()} <{email.strip()}>".encode()


def _tree_with(repo: Any, relative: list[bytes]) -> tuple[Any, Any]:
    """(the last commit's tree, that tree with exactly these staged paths changed)."""
    from dulwich.object_store import commit_tree_changes
    from dulwich.objects import Commit, ObjectID, Tree

    index = repo.open_index()
    try:
        head: ObjectID | None = repo.head()
    except KeyError:  # no commits yet
        head = None
    if head is not None:
        last = repo[head]
        assert isinstance(last, Commit)
        base = last.tree
    else:
        empty = Tree()
        repo.object_store.add_object(empty)
        base = empty.id
    changes: list[tuple[bytes, int | None, ObjectID | None]] = []
    for name in relative:
        if name in index:
            entry = index[name]
            changes.append((name, entry.mode, entry.sha))
        else:
            changes.append((name, None, None))
    return base, commit_tree_changes(repo.object_store, base, changes)


def commit(root: Path, paths: list[Path], message: str, author: str, email: str) -> str | None:
    """Commit exactly `paths` (added, changed or deleted) as `author`, when the queue folder
    `root` is in a git repository; the commit id, or None when it is not in one (or nothing
    in `paths` changed). Other changes, staged or not, are left as they are."""
    from dulwich.repo import Repo

    top = _repository_of(Path(os.path.realpath(root)))
    if top is None:
        return None
    identity = _identity(author, email, message)
    relative: list[bytes] = []
    for path in paths:
        full = Path(os.path.realpath(path.parent)) / path.name
        try:
            relative.append(full.relative_to(top).as_posix().encode("utf-8"))
        except ValueError:
            raise StoreError(f"{path} is not in the git repository at {top}") from None
    try:
        with Repo(str(top)) as repo:
            worktree = repo.get_worktree()
            worktree.stage([os.fsdecode(p) for p in relative])  # exactly these: as `git add`
            base, tree = _tree_with(repo, relative)
            if tree == base:
                return None
            zone = time.localtime().tm_gmtoff
            commit_id = worktree.commit(
                message=message.encode("utf-8"),
                author=identity,
                committer=identity,
                commit_timezone=zone,
                author_timezone=zone,
                tree=tree,
                merge_heads=[],
                no_verify=True,
                sign=False,
                signoff=False,
            )
            return commit_id.decode("ascii")
    except StoreError:
        raise
    except Exception as exc:  # dulwich's errors have no common base: a locked index, a
        # full disk, a broken object all end the same way for the person saving
        raise StoreError(f"the change was saved but could not be committed to git: {exc}") from None
