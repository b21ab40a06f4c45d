"""Cells of the CSV files crosspost writes (history, the event log) that a spreadsheet shows
as text and never runs."""

from __future__ import annotations

from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text, never runs: one starting with = + - @ (or a tab or
    carriage return) gets a leading apostrophe, as OWASP's CSV injection guidance says. A post
    or an alt text is written by people: "-20% crime" or "=SUM(...)" must stay words."""
    if isinstance(value, str) and value.lstrip(" \n").startswith(_FORMULA_START):
        return "'" + value  # also after leading blanks, which some spreadsheets skip
    return value
