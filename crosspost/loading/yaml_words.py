"""The YAML mistakes people make most, said as what the line needs instead of in the
parser's words: a colon in a title, a value starting with '@', an unclosed quote, a tab, a
line indented too far or not lined up, a list cut short by '#'.

Each check looks at the parser's error and the text, and returns ((line, column), message),
0-based, or None (the parser's words are kept). A fix offered is one that parses and keeps
the meaning: a trailing `# comment` stays a comment, an item of a list stays an item. For a
config file (`show_values=False`) no value and no line is ever shown: it may hold a secret.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Said = tuple[tuple[int, int], str]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
KEY_VALUE = re.compile(r"^(\s*(?:-\s+)?)([^\s:#'\"-][^:#]*?):\s+(.*?)\s*$")
_TRAILING_COMMENT = re.compile(r"\s+#(?:\s.*)?$")  # ' # note' or a bare ' #' ends a value
_HASH_IN_LIST = re.compile(r"[\[,]\s*#")


def line_of(text: str, index: int) -> str:
    """Line `index` (0-based) as YAML counts lines (CR, LF and CRLF all break); '' past the
    end (an error after the last line break is reported on the line after it)."""
    lines = _LINE_BREAK.split(text)
    return lines[index] if 0 <= index < len(lines) else ""


def quoted(value: str) -> str:
    """`value` in double quotes, as YAML reads it back."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def without_comment(value: str) -> str:
    """A value as YAML reads it: a trailing ` # note` is a comment, not part of it."""
    return _TRAILING_COMMENT.sub("", value)


def indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def key_column(line: str) -> int:
    """Where a line's key starts: after its indentation and any '- ' of a list item."""
    stripped = line.lstrip(" ")
    dash = re.match(r"-\s+", stripped)
    return indent(line) + (dash.end() if dash else 0)


@dataclass
class _Mistake:
    problem: str
    context: str
    line: int
    column: int
    ctx: Any  # the parser's context mark, or None
    text: str
    show: bool

    @property
    def source(self) -> str:
        return line_of(self.text, self.line)

    def shown(self, line: int, column: int) -> str:
        """The line, and a caret under the column, to print under a message (never for a
        config file)."""
        if not self.show:
            return ""
        source = line_of(self.text, line).replace("\t", " ")
        return f"\n    {line + 1:>4} | {source}\n         | {' ' * column}^"

    def fix(self, key: str, value: str, item: bool = False) -> str:
        """`key: "value"` (or `- "value"` for a list item) to write instead."""
        if not self.show:
            return "put the whole value in quotes"
        value = without_comment(value)
        written = f"- {quoted(value)}" if item else f"{key}: {quoted(value)}"
        return f"put the whole text in quotes: {written}"


def explain(exc: Any, text: str, show_values: bool = True) -> Said | None:
    """A parser error as what the line needs, or None to keep the parser's words."""
    mark = exc.problem_mark
    if mark is None:
        return None
    m = _Mistake(exc.problem or "", exc.context or "", mark.line, mark.column,
                 exc.context_mark, text, show_values)  # fmt: skip
    if "${" in m.source[: m.column + 1]:
        return None  # an unquoted ${VAR}: the caller says to quote it
    for check in _CHECKS:
        said = check(m)
        if said is not None:
            return said
    return None


def _tab(m: _Mistake) -> Said | None:
    source = m.source
    at_tab = "tab" in m.problem or source[m.column : m.column + 1] == "\t"
    if not at_tab and "\t" not in source[: indent(source) + 1]:
        return None
    tab = source.find("\t")
    at = (m.line, tab if tab >= 0 else m.column)
    return at, (
        "a tab character: YAML lines up its lines with spaces only; replace the tab with "
        "spaces" + m.shown(*at)
    )


def _unclosed_quote(m: _Mistake) -> Said | None:
    """A quote opened and never closed: the parser says so, or trips over a later line."""
    if "while scanning a quoted scalar" in m.context and m.ctx is not None:
        at = (m.ctx.line, m.ctx.column)
    elif m.problem.startswith(
        ("did not find expected", "mapping values", "found character", "expected <block end>")
    ):
        found = _open_quote(m.text, m.line)
        if found is None:
            return None
        at = found
    else:
        return None
    quote = line_of(m.text, at[0])[at[1] : at[1] + 1] or '"'
    return at, (
        f"the quote ({quote}) that starts here is never closed: add the closing {quote} at the "
        "end of the text (a quote inside the text is written twice: '' in single quotes, "
        '\\" in double quotes)' + m.shown(*at)
    )


def _open_quote(text: str, upto: int) -> tuple[int, int] | None:
    """The first value, on or before line `upto`, that opens a quote and does not close it
    on its line, if the parse failed after it."""
    for number in range(upto + 1):
        line = line_of(text, number)
        found = re.match(r"^\s*(?:-\s+)?(?:[^\s:#'\"][^:#]*?:\s+)?([\"'])", line)
        if found is None:
            continue
        start = found.start(1)
        # the quoted text may go on over several lines: closed anywhere before the error?
        later = (line_of(text, n) for n in range(number + 1, upto))  # not the error line
        rest = "\n".join([line[start + 1 :], *later])
        if found[1] == '"':
            closed = re.search(r'(?<!\\)(?:\\\\)*"', rest) is not None
        else:
            closed = "'" in re.sub("''", "", rest)
        if not closed:
            return (number, start)
    return None


def _hashed_list(m: _Mistake) -> Said | None:
    """`hashtags: [#Kent, #Medway]`: the '#' starts a comment and cuts the list short."""
    kinds = ("node content", "expected ','", "found character")
    if not any(kind in m.problem for kind in kinds):
        return None
    lines = (m.line, m.ctx.line if m.ctx is not None else -1, m.line - 1)
    hashed = next((n for n in lines if _HASH_IN_LIST.search(line_of(m.text, n))), None)
    if hashed is None:
        return None
    source = line_of(m.text, hashed)
    found = KEY_VALUE.match(source)
    key = found[2] if found else "hashtags"
    items = without_comment(found[3]) if found else "[Kent, Medway]"
    items = re.sub(r"(^|[\[,]\s*)#", r"\1", items)
    at = (hashed, source.find("#"))
    fix = f"{key}: {items}" if m.show else f"{key}: [...] without '#'"
    return at, (
        "a '#' after '[' or a comma starts a comment in YAML, which cuts the list short: "
        f"write the hashtags without '#': {fix}" + m.shown(*at)
    )


def _bad_start(m: _Mistake) -> Said | None:
    """`title: @PCCKent visits`: a value cannot start with @, `, %, |, >, !, & or *."""
    source, column = m.source, m.column
    char = source[column : column + 1]
    if not m.problem.startswith("found character that cannot start any token"):
        return None
    if char not in "@`%|>!&*" or not char:
        return None
    if "[" in source[:column]:  # an item of a [flow, list]
        item = re.split(r"[,\]]", source[column:], maxsplit=1)[0].strip()
        fix = f": {quoted(item)}" if m.show else ""
        return (m.line, column), (
            f"an item cannot start with '{char}' in YAML: put that item in quotes{fix}"
            + m.shown(m.line, column)
        )
    found = KEY_VALUE.match(source)
    item = source.lstrip().startswith("-")
    value = found[3] if found else source[column:]
    key = found[2] if found else ""
    fix = m.fix(key, value, item=item and found is None) if (found or item) else "put it in quotes"
    return (m.line, column), (
        f"a value cannot start with '{char}' in YAML: {fix}" + m.shown(m.line, column)
    )


def _second_colon(m: _Mistake) -> Said | None:
    """`title: Update: road closures`: the second ': ' reads as another key."""
    if not m.problem.startswith("mapping values are not allowed"):
        return None
    source = m.source
    found = KEY_VALUE.match(source)
    if not found or m.column <= len(found[1]) + len(found[2]):
        return None
    if "-" in found[1]:  # `- Part 2: more: yes`: the whole item is the text
        whole = source[len(found[1]) :]
        fix = m.fix("", whole, item=True)
        what = "this item"
    else:
        fix, what = m.fix(found[2], found[3]), f"'{found[2]}'"
    return (m.line, m.column), (
        f"{what} holds a colon followed by a space, which YAML reads as the start of another "
        f"key: {fix}" + m.shown(m.line, m.column)
    )


def _indented_too_far(m: _Mistake) -> Said | None:
    """A line indented further than the line above: YAML reads it as more of its value."""
    if not m.problem.startswith("mapping values are not allowed"):
        return None
    above_number = next((i for i in range(m.line - 1, -1, -1) if line_of(m.text, i).strip()), -1)
    above, source = line_of(m.text, above_number), m.source
    if indent(source) <= key_column(above) and indent(source) <= indent(above):
        return None
    column = key_column(above)
    found = KEY_VALUE.match(above)
    more = ""
    if found and found[3] and found[3][0] not in "|>\"'":  # `title: text` with a plain value
        more = (
            f"; if it is more of the {found[2]}, put the whole {found[2]} in quotes on one "
            f"line, or write {found[2]}: >- and indent its text on the lines below"
        )
    return (m.line, indent(source)), (
        "this line is indented further than the line above, so YAML reads it as part of that "
        f"line's value. If it is a field of its own, start it in column {column + 1}, like "
        f"the line above{more}" + m.shown(m.line, indent(source))
    )


def _not_lined_up(m: _Mistake) -> Said | None:
    if m.ctx is None or not m.problem.startswith(
        ("did not find expected key", "did not find expected '-' indicator")
    ):
        return None
    return (m.line, m.column), (
        "this line is not lined up with the block it belongs to: keys of one block start in "
        f"the same column (column {m.ctx.column + 1}, as on the block's first line, "
        f"{m.ctx.line + 1}), and a text after | or > continues only on lines indented at least "
        "as far as its first" + m.shown(m.line, m.column)
    )


def _open_bracket(m: _Mistake) -> Said | None:
    if m.ctx is None:
        return None
    at = (m.ctx.line, m.ctx.column)
    if m.problem.startswith("did not find expected ',' or ']'"):
        return at, (
            "the list opened with [ here is not closed: end it with ] on the same line, and "
            "separate its items with commas" + m.shown(*at)
        )
    if m.problem.startswith("did not find expected ',' or '}'"):
        return at, (
            "the { opened here is not closed: end it with } and separate its items with "
            "commas" + m.shown(*at)
        )
    return None


_CHECKS: tuple[Callable[[_Mistake], Said | None], ...] = (
    _tab,
    _hashed_list,
    _unclosed_quote,
    _bad_start,
    _second_colon,
    _indented_too_far,
    _not_lined_up,
    _open_bracket,
)
