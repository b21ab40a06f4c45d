"""What the ledger says: `crosspost status` (what needs attention, what comes next) and
`crosspost history` (what was published, where and when).

Pure functions over a Ledger and a Config: the command line only parses options and prints.
Every time in a report is ISO 8601 in UTC with its offset (`2026-12-01T10:00:00+00:00`);
the readable text shows local times in the configured zone.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from crosspost.core.cells import csv_cell
from crosspost.core.states import Hold, Met, State
from crosspost.core.times import format_local, from_iso, iso_utc, localize
from crosspost.loading.config import Config
from crosspost.scheduling.controls import Pause, decode_pause, load_approvals, post_approval_hash
from crosspost.scheduling.gate import HOLD_PREFIX, Controls, decide, hold_key, remedy
from crosspost.scheduling.ledger import STATES, TOKEN_PREFIX, Delivery, Ledger
from crosspost.scheduling.planner import Plan

HISTORY_COLUMNS = (
    "post_id", "channel", "platform", "handle", "scheduled_at", "published_at", "remote_id",
    "url", "parts", "comment_id", "file", "edited_after_publishing", "approved_by",
    "alt_texts", "retracted_at", "retraction", "warning", "text",
)  # fmt: skip
WARNING_SHOWN_FOR = timedelta(days=7)  # status lists a publication's warning this long
_FOREVER = datetime.max.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    """Reports print times to the second."""
    return iso_utc(moment, "seconds")


def _counts(deliveries: Iterable[Delivery]) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(STATES, 0)
    for d in deliveries:
        counts[d.state] = counts.get(d.state, 0) + 1
    return counts


# --- status ----------------------------------------------------------------------------------


def status_report(
    ledger: Ledger, config: Config, now: datetime, upcoming_limit: int = 20
) -> dict[str, Any]:
    """Everything `crosspost status` shows, JSON-ready.

    Keys: `now`, `timezone`, `needs_attention` (bool), `counts` (deliveries per state),
    `channels` (each configured channel: key, platform, label, handle, held, hold_reason,
    paused, pause_reason, counts), `paused` (pause controls: key, channel (None for
    everything), reason),
    `upcoming` (pending, by next try, at most `upcoming_limit`; `upcoming_total` counts all),
    `in_progress`, `held`, `failed`, `in_doubt`, `expired`, `edited_after_publishing`,
    `published_with_warning` (published in the last week, with what failed after it).
    A delivery whose channel is no longer configured still appears, with handle and
    platform None.
    """
    everything = ledger.deliveries()
    by_state: dict[str, list[Delivery]] = {state: [] for state in STATES}
    for d in everything:
        by_state.setdefault(d.state, []).append(d)

    pending = sorted(
        by_state[State.PENDING], key=lambda d: (d.next_at or _FOREVER, d.post_id, d.channel)
    )
    upcoming = _upcoming(config, pending[: max(upcoming_limit, 0)], now)
    in_progress = _in_progress(config, by_state[State.CLAIMED], now)
    problems = _problems(config, by_state, now)

    tokens = _tokens(ledger.controls(TOKEN_PREFIX), now)
    holds = ledger.controls(HOLD_PREFIX)
    paused = _paused(ledger.controls("pause"), now)
    channels = _channels(config, everything, holds, paused)

    stale = [c for c in in_progress if c["lease_expired"]]
    held_channels = [c for c in channels if c["held"]]
    daemons = _daemons(ledger, now)
    return {
        "now": _iso(now),
        "timezone": config.timezone.key,
        "needs_attention": bool(
            any(problems.values())
            or stale
            or held_channels
            or paused
            or tokens
            or any(d["behind"] for d in daemons if d["alive"])
        ),
        "daemons": daemons,
        "tokens_expiring": tokens,
        "counts": _counts(everything),
        "channels": channels,
        "paused": paused,
        "upcoming": upcoming,
        "upcoming_total": len(pending),
        "in_progress": in_progress,
        **problems,  # held, failed, in_doubt, expired, edited_after_publishing, ..._warning
    }


def queued(plan: Plan, controls: Controls, now: datetime, limit: int = 20) -> dict[str, Any]:
    """What the queue asks for, for a ledger no daemon has planned yet (a dry run never
    writes to it): each delivery soonest first, with what the gate would hold it by, and
    the post files with errors (nothing in them is planned)."""
    config = plan.project.config
    approvals = load_approvals(config.approvals_path) if config.require_approval else {}
    items = sorted(plan.deliveries.items(), key=lambda kv: (kv[1].publish_at, kv[0]))
    listed = []
    for (post_id, channel), rendered in items:
        verdict = decide(
            rendered, config=config, now=max(rendered.publish_at or now, now),
            controls=controls, approvals=approvals,
            approval_hash=partial(post_approval_hash, plan.of_post(post_id)),
        )  # fmt: skip
        listed.append(
            {"post_id": post_id, "channel": channel, "due_at": _iso(rendered.publish_at),
             "file": plan.file_of(rendered), "held": verdict.why if verdict.hold else None,
             "remedy": verdict.remedy if verdict.hold else None}
        )  # fmt: skip
    held = [i for i in listed if i["held"]]
    return {
        "queued": listed[:limit],
        "queued_total": len(listed),
        "queued_held": held,
        "broken_files": sorted(plan.broken_files),
    }


def _base(config: Config, d: Delivery) -> dict[str, Any]:
    """The fields every delivery in the status report has."""
    channel = config.channels.get(d.channel)
    return {
        "post_id": d.post_id,
        "channel": d.channel,
        "platform": channel.platform if channel else None,
        "handle": channel.handle if channel else None,
        "due_at": _iso(d.due_at),
        "attempts": d.attempts,
        "file": d.file,
    }


def _upcoming(config: Config, pending: list[Delivery], now: datetime) -> list[dict[str, Any]]:
    """The status report's pending deliveries, with their next try and last error."""
    return [
        {
            **_base(config, d),
            "retry_at": _iso(d.retry_at),
            "next_at": _iso(d.next_at),
            "overdue": d.next_at is not None and d.next_at <= now,
            "last_error": d.last_error,
            "error_kind": d.error_kind,
        }
        for d in pending
    ]


def _in_progress(config: Config, claimed: list[Delivery], now: datetime) -> list[dict[str, Any]]:
    """The status report's claimed deliveries, with who holds the claim and until when."""
    return [
        {
            **_base(config, d),
            "owner": d.owner,
            "claimed_at": _iso(d.claimed_at),
            "lease_until": _iso(d.lease_until),
            "lease_expired": d.lease_until is not None and d.lease_until <= now,
        }
        for d in claimed
    ]


def _problems(
    config: Config, by_state: dict[str, list[Delivery]], now: datetime
) -> dict[str, list[dict[str, Any]]]:
    """The status report's lists of deliveries that need a person, in the report's order."""
    base = partial(_base, config)
    return {
        "held": [
            {**base(d), "reason": d.last_error, "error_kind": d.error_kind}
            for d in by_state[State.HELD]
        ],
        "failed": [
            {**base(d), "last_error": d.last_error, "error_kind": d.error_kind}
            for d in by_state[State.FAILED]
        ],
        "in_doubt": [
            {
                **base(d),
                "last_error": d.last_error,
                "error_kind": d.error_kind,
                "claimed_at": _iso(d.claimed_at),
                "parts": _parts(d),  # thread parts known to be out before the doubt
            }
            for d in by_state[State.IN_DOUBT]
        ],
        "expired": [{**base(d), "last_error": d.last_error} for d in by_state[State.EXPIRED]],
        "edited_after_publishing": [
            _published(config, d) for d in by_state[State.PUBLISHED] if d.edited_hash
        ],
        "published_with_warning": [
            {**_published(config, d), "warning": d.warning}
            for d in by_state[State.PUBLISHED]
            if d.warning
            and d.published_at is not None
            and now - d.published_at <= WARNING_SHOWN_FOR
        ],
    }


def _published(config: Config, d: Delivery) -> dict[str, Any]:
    """A published delivery in the status report: where the live post is, and since when."""
    return {
        **_base(config, d),
        "remote_id": d.remote_id,
        "url": d.url,
        "published_at": _iso(d.published_at),
    }


TOKEN_WARNING_DAYS = 14


def _daemons(ledger: Ledger, now: datetime) -> list[dict[str, Any]]:
    """Every daemon that has beaten on this ledger: host, pid, last heartbeat, whether it is
    alive, and the queue revision it plans from (`behind` when that is not the newest)."""
    newest = ledger.newest_plan()
    out = []
    for beat in ledger.daemons():
        behind = bool(newest and beat.plan_rev and beat.plan_rev != newest[0])
        out.append(
            {
                "owner": beat.owner, "host": beat.host_id, "pid": beat.pid,
                "started_at": _iso(beat.started_at), "last_beat": _iso(beat.last_beat),
                "alive": beat.alive(now), "plan_rev": beat.plan_rev, "behind": behind,
                "newest_plan": newest[0] if newest else None,
                "newest_plan_host": newest[1] if newest else None,
            }
        )  # fmt: skip
    return out


def _tokens(values: dict[str, str], now: datetime) -> list[dict[str, Any]]:
    """Channels whose token expires within two weeks (or has), as the last check found."""
    out = []
    for key, value in sorted(values.items()):
        expires = from_iso(value) if value else None
        if expires is not None and (expires - now).days < TOKEN_WARNING_DAYS:
            out.append({"channel": key.removeprefix(TOKEN_PREFIX), "expires_at": _iso(expires)})
    return out


def _paused(pauses: dict[str, str], now: datetime) -> list[dict[str, Any]]:
    """The pauses in force: key, channel (None for everything), reason, by, since, until."""
    out = []
    for key, value in pauses.items():
        try:
            pause = decode_pause(key, value)
        except (ValueError, TypeError, AttributeError):  # written by hand: shown as it is
            pause = Pause(key, value, "?", "", None)
        if pause.until is not None and pause.until <= now:
            continue  # it lifted itself
        out.append(
            {"key": key, "channel": pause.channel, "reason": pause.reason, "by": pause.by,
             "since": pause.at or None, "until": _iso(pause.until)}
        )  # fmt: skip
    return out


def _channels(
    config: Config,
    everything: list[Delivery],
    holds: dict[str, str],
    paused: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Each configured channel in the status report: held, paused, and its counts."""
    channels = []
    by_channel = {p["channel"]: p["reason"] for p in paused}
    for key, channel in config.channels.items():
        hold = holds.get(hold_key(key))
        pause = by_channel.get(key, by_channel.get(None))
        channels.append(
            {
                "key": key,
                "platform": channel.platform,
                "label": channel.rules.label,
                "handle": channel.handle,
                "held": hold is not None,
                "hold_reason": hold,
                "paused": pause is not None,
                "pause_reason": pause,
                "counts": _counts(d for d in everything if d.channel == key),
            }
        )
    return channels


def _parts(d: Delivery) -> list[dict[str, Any]]:
    return [{"index": p.index, "remote_id": p.remote_id, "url": p.url} for p in d.parts]


def format_status_text(report: dict[str, Any], zone: ZoneInfo) -> str:
    """The status report for a person: problems first with what to do next, then what is
    in progress and upcoming, then a one-line summary. Times are local to `zone`."""
    out = _StatusText(zone, {c["key"]: c for c in report["channels"]})
    out.lines.append(f"crosspost status · {out.when(report['now'])}")
    for write in (
        _status_paused,
        _status_tokens,
        _status_failed,
        _status_in_doubt,
        _status_held,
        _status_expired,
        _status_edited,
        _status_warned,
        _status_in_progress,
        _status_upcoming,
        _status_queued,
        _status_daemons,
    ):
        write(out, report)
    out.lines.append("")
    out.lines.append(_status_summary(report))
    return "\n".join(out.lines)


@dataclass
class _StatusText:
    """The status text being written: its lines, and how it shows times and channels."""

    zone: ZoneInfo
    channels: dict[str, dict[str, Any]]  # the report's channels by key
    lines: list[str] = field(default_factory=list)

    def when(self, value: str | None) -> str:
        """A report's time as local text."""
        moment = from_iso(value)
        return format_local(moment, self.zone) if moment else "no time set"

    def where(self, item: dict[str, Any]) -> str:
        """An item's channel, with its platform and handle when it is still configured."""
        known = self.channels.get(item["channel"])
        if known is None:
            return f"{item['channel']} (no longer configured)"
        return f"{item['channel']} ({known['label']} {known['handle']})"

    def head(self, mark: str, item: dict[str, Any], *extra: str) -> str:
        """An item's first line: mark, post and channel, then `extra` notes."""
        return "  " + " · ".join((f"{mark} {item['post_id']} → {self.where(item)}", *extra))

    def section(self, title: str) -> None:
        """Start a section: a blank line, then its title."""
        self.lines.append("")
        self.lines.append(title)


def _status_daemons(out: _StatusText, report: dict[str, Any]) -> None:
    """The daemons on this ledger (several servers): alive or silent, and at which plan."""
    daemons = report.get("daemons") or []
    if not daemons:
        return
    out.section("Daemons")
    for d in daemons:
        mark = "✓" if d["alive"] else "✗"
        state = "alive" if d["alive"] else "silent"
        rev = f"plan {d['plan_rev'][:12]}" if d["plan_rev"] else "queue not in git"
        line = (
            f"  {mark} {d['host']} (pid {d['pid']}) · {state}, last heartbeat "
            f"{out.when(d['last_beat'])} · {rev}"
        )
        out.lines.append(line)
        if d["behind"]:
            out.lines.append(
                f"    ! behind the plan of {d['newest_plan_host']} (at "
                f"{d['newest_plan'][:12]}): it publishes nothing until its queue is pulled"
            )


def _attempts(n: int) -> str:
    """`1 attempt`, `2 attempts`."""
    return f"{n} attempt{'s' * (n != 1)}"


def _status_paused(out: _StatusText, report: dict[str, Any]) -> None:
    """A section for each pause: what is paused, by whom, since when, why, and how to resume."""
    for pause in report["paused"]:
        what = f"channel {pause['channel']}" if pause["channel"] else "every channel"
        since = f" since {out.when(pause['since'])}" if pause["since"] else ""
        out.section(f"⏸ PAUSED: {what}, by {pause['by']}{since}")
        if pause["reason"]:
            out.lines.append(f"  why: {pause['reason']}")
        if pause["until"]:
            out.lines.append(f"  lifts itself at {out.when(pause['until'])}")
        scope = f"on {pause['channel']}" if pause["channel"] else "anywhere"
        resume = "crosspost resume" + (f" --channel {pause['channel']}" if pause["channel"] else "")
        out.lines.append(f"  → nothing is published {scope} until resumed: {resume} --by NAME")


def _status_tokens(out: _StatusText, report: dict[str, Any]) -> None:
    """Tokens that expire soon (or have), as the last credentials check found."""
    if not report.get("tokens_expiring"):
        return
    out.section("! Tokens expiring")
    for item in report["tokens_expiring"]:
        out.lines.append(f"  ! {out.where(item)}: its token expires {out.when(item['expires_at'])}")
    out.lines.append("  → renew it (docs/credentials.md), then crosspost doctor")


def _status_failed(out: _StatusText, report: dict[str, Any]) -> None:
    """Failed deliveries, each with its error and how to retry it."""
    if not report["failed"]:
        return
    out.section(f"✗ Failed ({len(report['failed'])}): not published")
    for item in report["failed"]:
        out.lines.append(
            out.head("✗", item, f"due {out.when(item['due_at'])}", _attempts(item["attempts"]))
        )
        out.lines.append(f"      {item['last_error'] or 'no error recorded'}")
        retry = f"crosspost publish {item['post_id']} --channel {item['channel']}"
        if item["error_kind"] == Met.AUTH:
            out.lines.append(f"      credentials: run crosspost doctor, then retry with: {retry}")
        elif item["error_kind"] == Met.REJECTED:
            out.lines.append(
                f"      fix the post (an edit plans it again), or retry now with: {retry}"
            )
        else:
            out.lines.append(f"      retry now with: {retry}")


def _status_in_doubt(out: _StatusText, report: dict[str, Any]) -> None:
    """Deliveries in doubt, with the thread parts known to be out and how to settle them."""
    if not report["in_doubt"]:
        return
    out.section(
        f"! In doubt ({len(report['in_doubt'])}): the send may or may not have happened; "
        "never send it again blindly"
    )
    for item in report["in_doubt"]:
        out.lines.append(out.head("!", item, f"claimed {out.when(item['claimed_at'])}"))
        out.lines.append(f"      {item['last_error'] or 'no error recorded'}")
        for part in item["parts"]:
            out.lines.append(
                f"      part {part['index'] + 1} is out: {part['url'] or part['remote_id']}"
            )
        out.lines.append(
            f"      look at the account, then settle with: crosspost resolve "
            f"{item['post_id']} --channel {item['channel']} --published REMOTE_ID "
            "| --not-published"
        )


def _status_held(out: _StatusText, report: dict[str, Any]) -> None:
    """Held channels and held deliveries, then what to do about them."""
    held_channels = [c for c in report["channels"] if c["held"]]
    if not (report["held"] or held_channels):
        return
    count = len(report["held"])
    out.section(f"✗ Held ({count})" if count else "✗ Held")
    for channel in held_channels:
        out.lines.append(
            f"  ✗ channel {channel['key']} ({channel['label']} {channel['handle']}) is held"
            + (f": {channel['hold_reason']}" if channel["hold_reason"] else "")
        )
    for item in report["held"]:
        out.lines.append(out.head("✗", item, f"due {out.when(item['due_at'])}"))
        if item["reason"]:
            out.lines.append(f"      {item['reason']}")
        todo = remedy(item["error_kind"] or "", item["post_id"], item["channel"])
        paused = {p["channel"] for p in report["paused"]}
        if item["error_kind"] == Hold.PAUSED and not ({None, item["channel"]} & paused):
            todo = (
                "the pause is over, and a delivery it held is not sent by itself: "
                f"crosspost release {item['post_id']} --channel {item['channel']} --by NAME"
            )
        if todo:
            out.lines.append(f"      → {todo}")
    if held_channels:
        out.lines.append("  → a held channel: run crosspost doctor to see what it needs")


def _status_expired(out: _StatusText, report: dict[str, Any]) -> None:
    """Expired deliveries, and how to publish them after all."""
    if not report["expired"]:
        return
    out.section(
        f"! Expired ({len(report['expired'])}): not published, it was too late when the "
        "daemon got to it"
    )
    for item in report["expired"]:
        out.lines.append(out.head("!", item, f"was due {out.when(item['due_at'])}"))
        if item["last_error"]:
            out.lines.append(f"      {item['last_error']}")
        out.lines.append(
            f"      to publish it, give it a new publish_at in {item['file'] or 'its file'}"
            " (it is then planned again)"
        )


def _status_edited(out: _StatusText, report: dict[str, Any]) -> None:
    """Posts edited after publishing, each with the live post to fix by hand."""
    if not report["edited_after_publishing"]:
        return
    out.section(
        f"! Edited after publishing ({len(report['edited_after_publishing'])}): "
        "the live post shows the earlier version; it is not published again"
    )
    for item in report["edited_after_publishing"]:
        out.lines.append(out.head("!", item, f"published {out.when(item['published_at'])}"))
        out.lines.append(
            f"      if the change matters, edit or delete the live post by hand: "
            f"{item['url'] or item['remote_id']}"
        )


def _status_warned(out: _StatusText, report: dict[str, Any]) -> None:
    """Publications with a warning: what failed after them, and the live post."""
    if not report["published_with_warning"]:
        return
    out.section(
        f"! Published, but something after it failed ({len(report['published_with_warning'])})"
    )
    for item in report["published_with_warning"]:
        out.lines.append(out.head("!", item, f"published {out.when(item['published_at'])}"))
        out.lines.append(f"      {item['warning']}")
        out.lines.append(f"      the post: {item['url'] or item['remote_id']}")


def _status_in_progress(out: _StatusText, report: dict[str, Any]) -> None:
    """Deliveries being sent, and claims that ran out without a result."""
    if not report["in_progress"]:
        return
    out.section(f"… In progress ({len(report['in_progress'])})")
    for item in report["in_progress"]:
        if item["lease_expired"]:
            out.lines.append(out.head("!", item, f"claimed {out.when(item['claimed_at'])}"))
            out.lines.append(
                f"      the claim by {item['owner']} ran out at {out.when(item['lease_until'])} "
                "without a result: it will be settled as in doubt"
            )
        else:
            out.lines.append(out.head("…", item, f"claimed {out.when(item['claimed_at'])}"))
            out.lines.append(
                f"      being sent by {item['owner']} (claim until {out.when(item['lease_until'])})"
            )


def _status_upcoming(out: _StatusText, report: dict[str, Any]) -> None:
    """Upcoming deliveries, one line each with notes, and how many more there are."""
    if not report["upcoming"]:
        return
    total = report["upcoming_total"]
    shown = len(report["upcoming"])
    out.section(f"Upcoming ({shown} of {total})" if shown < total else f"Upcoming ({total})")
    for item in report["upcoming"]:
        line = f"  {out.when(item['next_at'])}  {item['post_id']} → {out.where(item)}"
        notes = []
        channel = out.channels.get(item["channel"])
        if channel and channel["held"]:
            notes.append("channel held")
        if channel and channel["paused"]:
            notes.append("paused")
        if item["overdue"]:
            notes.append("overdue")
        if item["retry_at"]:
            notes.append(f"retry {item['attempts'] + 1}, due {out.when(item['due_at'])}")
        if item["last_error"]:
            notes.append(f"last error: {item['last_error']}")
        out.lines.append(" · ".join([line, *notes]))
    if shown < total:
        out.lines.append(f"  … and {total - shown} more")


def _status_queued(out: _StatusText, report: dict[str, Any]) -> None:
    """For a ledger nothing has been planned in: that it is untouched, and what is queued."""
    if "queued" not in report:
        return
    out.section(
        "No deliveries in the ledger yet: no daemon has planned the queue, and a dry run "
        "(crosspost run --dry-run) never writes to the ledger."
    )
    for file in report["broken_files"]:
        out.lines.append(f"  ✗ {file} has errors: nothing in it is planned (crosspost validate)")
    total = report["queued_total"]
    if not total:
        out.lines.append("  Nothing in the queue is ready with a time.")
        return
    out.lines.append(f"  In the queue, ready ({total}), soonest first:")
    for item in report["queued"]:
        out.lines.append(f"    {out.when(item['due_at'])}  {item['post_id']} → {out.where(item)}")
        if item["held"]:
            out.lines.append(f"      ✗ will be held: {item['held']}")
            out.lines.append(f"        → {item['remedy']}")
    if total > len(report["queued"]):
        out.lines.append(f"    … and {total - len(report['queued'])} more")
    out.lines.append(
        "  The daemon plans them, and publishes each on time, once it runs: crosspost run"
    )


def _status_summary(report: dict[str, Any]) -> str:
    stale = sum(1 for c in report["in_progress"] if c["lease_expired"])
    problems = [
        (len(report["failed"]), "failed"),
        (len(report["in_doubt"]), "in doubt"),
        (len(report["held"]), "held"),
        (sum(1 for c in report["channels"] if c["held"]), "channel held|channels held"),
        (stale, "claim run out|claims run out"),
        (len(report["expired"]), "expired"),
        (len(report["edited_after_publishing"]), "edited after publishing"),
        (len(report["published_with_warning"]), "published with a warning|published with warnings"),
    ]
    said = [f"{n} {_plural(n, what)}" for n, what in problems if n]
    counts = report["counts"]
    rest = [
        f"{report['upcoming_total']} upcoming",
        f"{counts['published']} published",
        f"{len(report['channels'])} channel{'s' * (len(report['channels']) != 1)}",
    ]
    if "queued" in report:
        rest[0] = f"{report['queued_total']} queued, not yet planned"
        held, broken = len(report["queued_held"]), len(report["broken_files"])
        if held:
            said.append(f"{held} will be held")
        if broken:
            said.append(f"{broken} {_plural(broken, 'file with errors|files with errors')}")
    if report.get("tokens_expiring"):
        n = len(report["tokens_expiring"])
        said.insert(0, f"{n} {_plural(n, 'token expiring|tokens expiring')}")
    if report["paused"]:
        said.insert(0, "paused")
    if said:
        return "✗ needs attention: " + ", ".join(said) + " · " + " · ".join(rest)
    return "✓ nothing needs attention · " + " · ".join(rest)


def _plural(n: int, forms: str) -> str:
    one, _, many = forms.partition("|")
    return one if n == 1 or not many else many


# --- history ---------------------------------------------------------------------------------


def history_rows(
    ledger: Ledger, config: Config, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Published deliveries (published at or after `since`, when given), oldest first.

    Each row: post_id, channel, platform, handle (None when the channel is no longer
    configured), scheduled_at, published_at, remote_id, url, text (exactly what was sent),
    parts (thread parts: index, remote_id, url), comment_id, file, edited_after_publishing.
    """
    rows = []
    published = [
        d
        for d in ledger.deliveries([State.PUBLISHED])
        if since is None or (d.published_at is not None and d.published_at >= since)
    ]
    published.sort(key=lambda d: (d.published_at or _FOREVER, d.post_id, d.channel))
    for d in published:
        channel = config.channels.get(d.channel)
        rows.append(
            {
                "post_id": d.post_id,
                "channel": d.channel,
                "platform": channel.platform if channel else None,
                "handle": channel.handle if channel else None,
                "scheduled_at": _iso(d.due_at),
                "published_at": _iso(d.published_at),
                "remote_id": d.remote_id,
                "url": d.url,
                "text": d.text,
                "parts": _parts(d),
                "comment_id": d.comment_id,
                "file": d.file,
                "edited_after_publishing": d.edited_hash is not None,
                "approved_by": d.approved_by,
                "media": [{"path": path, "alt": alt} for path, alt in d.media],
                "retracted_at": _iso(d.retracted_at),
                "retraction": d.retraction,
                "warning": d.warning,
            }
        )
    return rows


def platform_label(platform: str) -> str:
    """The platform's own name for itself (its adapter's rules), or its key."""
    from crosspost.adapters import UnknownPlatform, adapter_class

    try:
        return adapter_class(platform).rules.label
    except UnknownPlatform:
        return platform


def format_history(rows: list[dict[str, Any]], fmt: str, zone: ZoneInfo) -> str:
    """`text` (readable, local times), `json` (one array) or `csv` (a header, one row per
    delivery, thread parts as their URLs joined by spaces). No trailing newline."""
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    **{key: csv_cell(row[key]) for key in HISTORY_COLUMNS if key in row},
                    "alt_texts": csv_cell(
                        " | ".join(f"{m['path']}: {m['alt']}" for m in row["media"])
                    ),
                    "parts": csv_cell(" ".join(p["url"] or p["remote_id"] for p in row["parts"])),
                    "edited_after_publishing": "true"
                    if row["edited_after_publishing"]
                    else "false",
                }
            )
        return out.getvalue().removesuffix("\n")
    if fmt == "text":
        return _history_text(rows, zone)
    raise ValueError(f"unknown format '{fmt}': use text, json or csv")


def _history_text(rows: list[dict[str, Any]], zone: ZoneInfo) -> str:
    def when(value: str | None) -> str:
        moment = from_iso(value)
        return format_local(moment, zone) if moment else "unknown time"

    lines: list[str] = []
    for row in rows:
        if row["handle"] is None:
            where = f"{row['channel']} (no longer configured)"
        else:
            label = platform_label(row["platform"])
            where = f"{row['channel']} ({label} {row['handle']})"
        if lines:
            lines.append("")
        lines.append(f"✓ {when(row['published_at'])} · {row['post_id']} → {where}")
        lines.append(f"    {row['url'] or 'no URL'} · id {row['remote_id']}")
        if row["scheduled_at"] and when(row["scheduled_at"]) != when(row["published_at"]):
            lines.append(f"    scheduled {when(row['scheduled_at'])}")
        for line in (row["text"] or "(no text)").split("\n"):
            lines.append(f"    │ {line}".rstrip())
        for part in row["parts"]:
            if part["index"] > 0:
                lines.append(f"    part {part['index'] + 1}: {part['url'] or part['remote_id']}")
        if row["comment_id"]:
            lines.append(f"    first comment: id {row['comment_id']}")
        if row["edited_after_publishing"]:
            lines.append("    ! edited after publishing: the live post shows the earlier version")
        if row.get("warning"):
            lines.append(f"    ! {row['warning']}")
    if lines:
        lines.append("")
    n = len(rows)
    lines.append(f"{n} publication{'s' * (n != 1)}" if rows else "nothing published")
    return "\n".join(lines)


# --- --since ---------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^(\d+)\s*(m|min|mins|minutes?|h|hours?|d|days?|w|weeks?)$", re.IGNORECASE)
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, zone: ZoneInfo, now: datetime | None = None) -> datetime:
    """`--since`: a date (2026-12-01: from the start of that local day), a local date and
    time (2026-12-01 10:00), an ISO time with offset (2026-12-01T10:00+00:00, or Z), or a
    duration back from `now` (30m, 24h, 7d, 2w). ValueError saying what is accepted
    otherwise, or why a local time is not one instant (clock changes)."""
    text = value.strip()
    forms = (
        "use a date (2026-12-01: from the start of that day in "
        f"{zone.key}), a local date and time (2026-12-01 10:00), a time with offset "
        "(2026-12-01T10:00+00:00) or a duration back from now (30m, 24h, 7d, 2w)"
    )
    if not text:
        raise ValueError(f"--since needs a value: {forms}")
    relative = _RELATIVE.match(text)
    if relative:
        unit = _UNITS[relative.group(2)[0].lower()]
        delta = timedelta(**{unit: int(relative.group(1))})
        return (now or datetime.now(UTC)) - delta
    if _DATE_ONLY.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"'{text}' is not a real date: {forms}") from None
        # at a midnight the clocks skip, fold=0 names the moment the day starts; the round
        # trip through UTC turns it into a real local time (01:00, not a 00:00 that never was)
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC).astimezone(zone)
    candidate = text.replace(" ", "T", 1) if len(text) > 10 and text[10] == " " else text
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    candidate = re.sub(r"\s+([+-]\d{2}:?\d{2})$", r"\1", candidate)
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        raise ValueError(f"'{text}' is not a time --since understands: {forms}") from None
    if parsed.tzinfo is None:
        return localize(parsed, zone)  # TimeError (a ValueError) for gaps and overlaps
    return parsed
