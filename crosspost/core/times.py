"""Publication times: local wall-clock times in the configured zone, never ambiguous."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SPACED_OFFSET = re.compile(r"\s+([+-]\d{2}:?\d{2})$")


class TimeError(ValueError):
    """A publication time that cannot be used; the message says how to fix it."""


def _offset(dt: datetime) -> str:
    off = dt.utcoffset() or timedelta(0)
    sign = "+" if off >= timedelta(0) else "-"
    minutes = abs(int(off.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def parse_publish_at(value: object, zone: ZoneInfo) -> datetime:
    """Turn a post's `publish_at` into an aware datetime, refusing gaps and overlaps."""
    text = str(value).strip()
    if _DATE_ONLY.match(text):
        raise TimeError(f"'{text}' has no time of day; write e.g. '{text} 10:00'")
    candidate = text.replace(" ", "T", 1) if len(text) > 10 and text[10] == " " else text
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    # allow '2027-10-31 01:30 +01:00' (a space before the offset)
    if len(candidate.split(None, 1)) > 1:  # any whitespace left (cheaper than the pattern)
        candidate = _SPACED_OFFSET.sub(r"\1", candidate)
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        raise TimeError(
            f"'{text}' is not a date and time; write e.g. '2027-01-15 10:00' "
            "(local time) or '2027-01-15T10:00+00:00'"
        ) from None
    if not 2000 <= parsed.year <= 2100:  # the ends of the calendar overflow in arithmetic
        raise TimeError(f"'{text}' is not a year crosspost schedules in (2000 to 2100)")
    if parsed.tzinfo is not None:
        return parsed
    return localize(parsed, zone)


def localize(naive: datetime, zone: ZoneInfo) -> datetime:
    """Attach `zone` to a wall-clock time, or explain why that time is not one instant."""
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    before_offset, after_offset = first.utcoffset(), second.utcoffset()
    if before_offset == after_offset:
        return first  # the usual case: one instant (PEP 495: fold only matters at a change)
    wall = naive.strftime("%Y-%m-%d %H:%M")
    assert before_offset is not None and after_offset is not None
    if before_offset < after_offset:  # clocks go forward: the wall time is skipped
        before = (first.astimezone(UTC) - timedelta(hours=3)).astimezone(zone)
        after = first.astimezone(UTC).astimezone(zone)
        raise TimeError(
            f"{wall} does not exist in {zone.key}: the clocks go forward that night "
            f"({_offset(before)} to {_offset(after)}), skipping it. Choose a time outside the "
            "gap, or give the offset you mean, e.g. "
            f"'{naive.date()}T{naive:%H:%M}{_offset(before)}'"
        )
    # clocks go back: the wall time happens twice
    raise TimeError(
        f"{wall} happens twice in {zone.key}: the clocks go back that night. Give the offset "
        f"to say which: '{naive.date()}T{naive:%H:%M}{_offset(first)}' "
        f"(the first, {first.tzname()}) or '{naive.date()}T{naive:%H:%M}{_offset(second)}' "
        f"(the second, {second.tzname()})"
    )


def zone_or_error(name: str) -> ZoneInfo:
    """A ZoneInfo for an IANA name, or ValueError with a hint."""
    from zoneinfo import ZoneInfoNotFoundError, available_timezones

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, a name too long
        from crosspost.core.problems import did_you_mean

        hint = did_you_mean(name, available_timezones())
        raise ValueError(
            f"unknown timezone '{name}'{hint}; use an IANA name such as Europe/London"
        ) from None


def format_local(dt: datetime, zone: tzinfo) -> str:
    """'Tue 01 Dec 2026 10:00 GMT' in the given zone."""
    local = dt.astimezone(zone)
    return local.strftime("%a %d %b %Y %H:%M ") + (local.tzname() or "")


def iso_utc(moment: datetime | None, timespec: str = "microseconds") -> str | None:
    """ISO 8601 in UTC with its offset, as the ledger and reports store and print times;
    None stays None. Microseconds keep stored times in order; reports use seconds."""
    return moment.astimezone(UTC).isoformat(timespec=timespec) if moment else None


def from_iso(text: str | None) -> datetime | None:
    """The time an ISO 8601 text names; None or empty stays None."""
    return datetime.fromisoformat(text) if text else None
