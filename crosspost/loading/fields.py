"""Typed reading of YAML mappings: every wrong key or type becomes a located problem."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import timedelta
from typing import Any

from crosspost.core.problems import Mark, Problems, did_you_mean
from crosspost.loading.yaml_words import quoted
from crosspost.loading.yamlfile import LocatedDict, LocatedList

_TYPE_NAMES = {
    str: "text",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a mapping",
    type(None): "nothing",
}


def type_name(value: Any) -> str:
    for t, name in _TYPE_NAMES.items():
        if type(value) is t or (t in (list, dict) and isinstance(value, t)):
            return name
    return type(value).__name__


class Reader:
    """Reads fields out of one mapping, recording problems instead of raising."""

    def __init__(self, data: LocatedDict, problems: Problems, what: str):
        self.data = data
        self.problems = problems
        self.what = what

    def error(self, mark: Mark, message: str) -> None:
        self.problems.error(mark, message)

    def check_keys(self, allowed: Collection[str]) -> None:
        for key in self.data:
            if key not in allowed:
                hint = did_you_mean(key, allowed)
                self.error(self.data.key_mark(key), f"unknown key '{key}' in {self.what}{hint}")

    def require(self, key: str) -> bool:
        if key not in self.data or self.data[key] is None:
            self.error(self.data.mark, f"{self.what} needs '{key}'")
            return False
        return True

    def _wrong(self, key: str, expected: str) -> None:
        self.error(
            self.data.value_mark(key),
            f"'{key}' must be {expected}, not {type_name(self.data[key])}"
            + _colon_hint(expected, self.data[key]),
        )

    def text(self, key: str, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if key in self.data.comments:
                self.commented(key)
            elif required:
                self.require(key)
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool | int | float) and key in self.data.raw:
            return self.data.raw[key]  # `title: No` is text here, not false
        self._wrong(key, "text")
        return None

    def commented(self, key: str) -> None:
        """`key: #Kent news`: YAML read the value as a comment and left the key empty."""
        text, _ = self.data.comments[key]
        self.error(
            self.data.comment_mark(key),
            f"'{key}' is empty: in YAML a '#' after a space starts a comment, so '{text}' was "
            f"left out. To start the {key} with '#', put it in quotes: {key}: {quoted(text)}",
        )

    def text_list(self, key: str) -> list[str] | None:
        """A list of texts; a single text is taken as a list of one."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            return [value]
        if not isinstance(value, LocatedList):
            self._wrong(key, "a list of texts")
            return None
        out = []
        for i, item in enumerate(value):
            if item is None and i in value.comments:  # `- #Kent`: YAML read it as a comment
                written = value.comments[i]
                self.error(
                    value.item_mark(i),
                    f"item {i + 1} of '{key}' is empty: in YAML a '#' after '- ' starts a "
                    f"comment. Write it in quotes: - {quoted(written)}"
                    + (f", or for a hashtag without '#': - {written.lstrip('#')}"
                       if key == "hashtags" else ""),
                )  # fmt: skip
            elif isinstance(item, str):
                out.append(item)
            elif isinstance(item, bool | int | float) and (raw := value.raw[i]) is not None:
                out.append(raw)
            else:
                self.error(
                    value.item_mark(i),
                    f"items of '{key}' must be text, not {type_name(item)}"
                    + _colon_hint("text", item),
                )
        return out

    def mapping(self, key: str, required: bool = False) -> LocatedDict | None:
        if required and not self.require(key):
            return None
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, LocatedDict):
            self._wrong(key, "a mapping (key: value lines)")
            return None
        return value

    def items(self, key: str) -> LocatedList | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, LocatedList):
            self._wrong(key, "a list")
            return None
        return value

    def number(self, key: str, minimum: float | None = None) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._wrong(key, "a number")
            return None
        if minimum is not None and value < minimum:
            self.error(self.data.value_mark(key), f"'{key}' must be at least {minimum}")
            return None
        return float(value)

    def integer(self, key: str, minimum: int | None = None) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong(key, "a whole number")
            return None
        if minimum is not None and value < minimum:
            self.error(self.data.value_mark(key), f"'{key}' must be at least {minimum}")
            return None
        return value

    def boolean(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            self._wrong(key, "true or false")
            return None
        return value

    def choice(self, key: str, choices: Collection[str], required: bool = False) -> str | None:
        value = self.text(key, required)
        if value is None:
            return None
        if value not in choices:
            hint = did_you_mean(value, choices)
            self.error(
                self.data.value_mark(key),
                f"'{key}' must be one of {', '.join(sorted(choices))}, not '{value}'{hint}",
            )
            return None
        return value

    def duration(self, key: str, minimum: timedelta = timedelta(0)) -> timedelta | None:
        raw = self.text(key)
        if raw is None:
            return None
        try:
            value = parse_duration(raw)
        except ValueError as exc:
            self.error(self.data.value_mark(key), f"'{key}': {exc}")
            return None
        if value < minimum or (minimum and not value):
            least = _describe(minimum) if minimum else "more than 0s"
            self.error(self.data.value_mark(key), f"'{key}': {raw} is too short: at least {least}")
            return None
        return value


def _colon_hint(expected: str, value: Any) -> str:
    if "text" in expected and isinstance(value, dict):
        return " (text containing ': ' must be put in quotes)"
    return ""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hours?|d|days?|w|weeks?)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


MAX_DURATION = timedelta(days=3650)  # nothing crosspost waits for is longer than ten years


def parse_duration(text: str) -> timedelta:
    """'90s', '15m', '24h', '7d' or '2w' as a timedelta (at most ten years)."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"'{text}' is not a duration; write e.g. 90s, 15m, 24h, 7d")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)[0]]
    if not seconds <= MAX_DURATION.total_seconds():  # also catches inf and nan
        raise ValueError(f"'{text}' is longer than ten years; write e.g. 90s, 15m, 24h, 7d")
    return timedelta(seconds=seconds)


def _describe(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
