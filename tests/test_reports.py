"""`status` and `history` reports over a real ledger file, and `--since` parsing."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crosspost.core.errors import PartReceipt
from crosspost.loading.config import Config, load_config
from crosspost.scheduling.controls import encode_pause
from crosspost.scheduling.ledger import Delivery, Ledger
from crosspost.views.reports import (
    HISTORY_COLUMNS,
    format_history,
    format_status_text,
    history_rows,
    parse_since,
    status_report,
)

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # GMT: local time is UTC
TRICKY = 'Funding, at last: "£1.4 million" for\nsafer streets.\n\n#SaferStreets'
LEASE = timedelta(minutes=10)


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _config(project: Path) -> Config:
    return load_config(project / "crosspost.yaml")


def _publish(
    ledger: Ledger,
    clock: Clock,
    post_id: str,
    channel: str,
    due: datetime,
    published: datetime,
    text: str = "text",
    parts: tuple[PartReceipt, ...] = (),
    comment_id: str | None = None,
) -> None:
    clock.now = due
    ledger.ensure(post_id, channel, due, "sha256:1", text, file=f"queue/{post_id}.yaml")
    claimed = ledger.claim(post_id, channel, "host:1:daemon", LEASE)
    assert claimed is not None
    first = parts[0] if parts else PartReceipt(0, f"{post_id}-id", f"https://example/{post_id}")
    ledger.mark_published(
        claimed,
        remote_id=first.remote_id,
        url=first.url,
        published_at=published,
        parts=parts,
        comment_id=comment_id,
    )


def _claimed(
    ledger: Ledger, clock: Clock, post_id: str, channel: str, due: datetime, when: datetime
) -> Delivery:
    clock.now = when
    ledger.ensure(post_id, channel, due, "sha256:1", "text", file=f"queue/{post_id}.yaml")
    claimed = ledger.claim(post_id, channel, "host:1:daemon", LEASE)
    assert claimed is not None
    return claimed


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A ledger with a delivery in every state, as the daemon leaves them, at NOW."""
    clock = Clock(at(30, 10, month=11))
    with Ledger(tmp_path / "var" / "ledger.db", clock=clock) as ledger:
        # published, then its file was edited (reported, never republished)
        _publish(
            ledger, clock, "funding", "PCCKent", at(30, 10, month=11), at(30, 10, 0, 4, month=11),
            parts=(
                PartReceipt(0, "1001", "https://x.com/PCCKent/status/1001"),
                PartReceipt(1, "1002", "https://x.com/PCCKent/status/1002"),
            ),
        )  # fmt: skip
        ledger.ensure("funding", "PCCKent", at(30, 10, month=11), "sha256:2", "edited")
        _publish(
            ledger, clock, "funding", "KentPCC", at(1, 9, 30), at(1, 9, 32, 2), text=TRICKY,
            parts=(PartReceipt(0, "104857600_1", "https://www.facebook.com/104857600_1"),),
            comment_id="104857600_1_9",
        )  # fmt: skip
        # a channel since removed from the config
        _publish(ledger, clock, "launch", "Mastodon", at(1, 8), at(1, 8, 0, 1))
        ledger.ensure("old-channel", "Mastodon", at(2, 8), "sha256:1", "text")

        failed = _claimed(ledger, clock, "survey", "KentPCC", at(1, 8), at(1, 8))
        ledger.set_state(
            failed,
            "failed",
            error="rejected: (#506) Duplicate status message",
            error_kind="rejected",
        )
        doubt = _claimed(ledger, clock, "report", "PCCKent", at(1, 11), at(1, 11))
        ledger.record_part(doubt, PartReceipt(0, "2001", "https://x.com/PCCKent/status/2001"))
        ledger.set_state(
            doubt,
            "in_doubt",
            error="no answer from X within 30 s",
            error_kind="in_doubt",
        )
        held = _claimed(ledger, clock, "towns", "kent_opcc", at(1, 11, 30), at(1, 11, 30))
        ledger.set_control("hold:kent_opcc", "auth: the access token has expired", "daemon")
        ledger.set_state(
            held,
            "held",
            error="the access token has expired",
            error_kind="auth",
        )
        clock.now = at(1, 7)
        expired = ledger.ensure("open-days", "KentPCC", at(1, 6), "sha256:1", "text")
        ledger.set_state(
            expired,
            "expired",
            error="due 2026-12-01 06:00 UTC, 60 minutes late: not published late",
            error_kind="expired",
        )
        _claimed(ledger, clock, "prevention", "PCCKent", at(1, 11, 58), at(1, 11, 58))
        _claimed(ledger, clock, "stale", "KentPCC", at(1, 11), at(1, 11))  # lease ran out 11:10
        retry = _claimed(ledger, clock, "audit", "PCCKent", at(1, 11, 50), at(1, 11, 50))
        ledger.set_state(
            retry,
            "pending",
            error="X is unavailable (503)",
            error_kind="transient",
            retry_at=at(2, 9),
        )
        ledger.ensure("vawg", "KentPCC", at(3, 9, 30), "sha256:1", "text")
        ledger.ensure("safer-towns", "PCCKent", at(2, 10), "sha256:1", "text")
        withdrawn = ledger.ensure("withdrawn", "PCCKent", at(4, 9), "sha256:1", "text")
        ledger.set_state(withdrawn, "cancelled", error="its file was deleted")
        clock.now = NOW
        yield ledger


def test_status_report_lists_every_state(ledger: Ledger, project: Path) -> None:
    report = status_report(ledger, _config(project), NOW)
    assert json.loads(json.dumps(report)) == report  # JSON-ready as it stands
    assert report["now"] == "2026-12-01T12:00:00+00:00"
    assert report["needs_attention"] is True
    assert report["counts"] == {
        "pending": 4, "claimed": 2, "published": 3, "failed": 1, "in_doubt": 1,
        "expired": 1, "held": 1, "cancelled": 1,
    }  # fmt: skip
    # upcoming by next try: the retry (due 11:50, retry tomorrow 09:00) after 08:00 tomorrow
    assert [(u["post_id"], u["channel"]) for u in report["upcoming"]] == [
        ("old-channel", "Mastodon"),
        ("audit", "PCCKent"),
        ("safer-towns", "PCCKent"),
        ("vawg", "KentPCC"),
    ]
    assert report["upcoming_total"] == 4
    assert report["upcoming"][1] == {
        "post_id": "audit",
        "channel": "PCCKent",
        "platform": "x",
        "handle": "@PCCKent",
        "due_at": "2026-12-01T11:50:00+00:00",
        "retry_at": "2026-12-02T09:00:00+00:00",
        "next_at": "2026-12-02T09:00:00+00:00",
        "overdue": False,
        "attempts": 1,
        "last_error": "X is unavailable (503)",
        "error_kind": "transient",
        "file": "queue/audit.yaml",
    }
    assert [(c["post_id"], c["lease_expired"]) for c in report["in_progress"]] == [
        ("stale", True),
        ("prevention", False),
    ]
    assert report["in_progress"][1]["owner"] == "host:1:daemon"
    assert report["in_progress"][1]["claimed_at"] == "2026-12-01T11:58:00+00:00"
    assert report["in_progress"][1]["lease_until"] == "2026-12-01T12:08:00+00:00"
    [held] = report["held"]
    assert (held["post_id"], held["channel"], held["handle"]) == (
        "towns",
        "kent_opcc",
        "@kent_opcc",
    )
    assert (held["reason"], held["error_kind"]) == ("the access token has expired", "auth")
    [failed] = report["failed"]
    assert failed["post_id"] == "survey" and failed["attempts"] == 1
    assert failed["last_error"] == "rejected: (#506) Duplicate status message"
    assert failed["error_kind"] == "rejected"
    [doubt] = report["in_doubt"]
    assert doubt["post_id"] == "report" and doubt["claimed_at"] == "2026-12-01T11:00:00+00:00"
    assert doubt["last_error"] == "no answer from X within 30 s"
    assert doubt["parts"] == [
        {"index": 0, "remote_id": "2001", "url": "https://x.com/PCCKent/status/2001"}
    ]
    [expired] = report["expired"]
    assert expired["post_id"] == "open-days" and expired["due_at"] == "2026-12-01T06:00:00+00:00"
    assert report["edited_after_publishing"] == [
        {
            "post_id": "funding",
            "channel": "PCCKent",
            "platform": "x",
            "handle": "@PCCKent",
            "due_at": "2026-11-30T10:00:00+00:00",
            "attempts": 1,
            "file": "queue/funding.yaml",
            "remote_id": "1001",
            "url": "https://x.com/PCCKent/status/1001",
            "published_at": "2026-11-30T10:00:04+00:00",
        }
    ]


def test_status_channels_show_holds_and_counts(ledger: Ledger, project: Path) -> None:
    channels = {c["key"]: c for c in status_report(ledger, _config(project), NOW)["channels"]}
    assert list(channels) == ["PCCKent", "KentPCC", "kent_opcc"]  # configured only, in order
    assert channels["kent_opcc"]["held"] is True
    assert channels["kent_opcc"]["hold_reason"] == "auth: the access token has expired"
    assert channels["PCCKent"]["held"] is False and channels["PCCKent"]["hold_reason"] is None
    assert (channels["KentPCC"]["platform"], channels["KentPCC"]["handle"]) == (
        "facebook",
        "@KentPCC",
    )
    assert channels["PCCKent"]["counts"] == {
        "pending": 2, "claimed": 1, "published": 1, "failed": 0, "in_doubt": 1,
        "expired": 0, "held": 0, "cancelled": 1,
    }  # fmt: skip
    assert channels["KentPCC"]["counts"]["failed"] == 1
    assert channels["KentPCC"]["counts"]["expired"] == 1
    assert channels["kent_opcc"]["counts"]["held"] == 1


def test_removed_channel_still_appears(ledger: Ledger, project: Path) -> None:
    config = _config(project)
    assert "Mastodon" not in config.channels
    report = status_report(ledger, config, NOW)
    [old] = [u for u in report["upcoming"] if u["channel"] == "Mastodon"]
    assert (old["post_id"], old["handle"], old["platform"]) == ("old-channel", None, None)
    assert "  Wed 02 Dec 2026 08:00 GMT  old-channel → Mastodon (no longer configured)" in (
        format_status_text(report, LONDON).splitlines()
    )
    [row] = [r for r in history_rows(ledger, config) if r["channel"] == "Mastodon"]
    assert (row["post_id"], row["handle"], row["platform"]) == ("launch", None, None)


def test_status_upcoming_limit_and_overdue(ledger: Ledger, project: Path) -> None:
    report = status_report(ledger, _config(project), at(2, 9, 30), upcoming_limit=2)
    assert [u["post_id"] for u in report["upcoming"]] == ["old-channel", "audit"]
    assert [u["overdue"] for u in report["upcoming"]] == [True, True]
    assert report["upcoming_total"] == 4
    text = format_status_text(report, LONDON)
    assert "Upcoming (2 of 4)" in text and "  … and 2 more" in text
    assert "old-channel → Mastodon (no longer configured) · overdue" in text


STATUS_TEXT = """\
crosspost status · Tue 01 Dec 2026 12:00 GMT

✗ Failed (1): not published
  ✗ survey → KentPCC (Facebook @KentPCC) · due Tue 01 Dec 2026 08:00 GMT · 1 attempt
      rejected: (#506) Duplicate status message
      fix the post (an edit plans it again), or retry now with: \
crosspost publish survey --channel KentPCC

! In doubt (1): the send may or may not have happened; never send it again blindly
  ! report → PCCKent (X @PCCKent) · claimed Tue 01 Dec 2026 11:00 GMT
      no answer from X within 30 s
      part 1 is out: https://x.com/PCCKent/status/2001
      look at the account, then settle with: \
crosspost resolve report --channel PCCKent --published REMOTE_ID | --not-published

✗ Held (1)
  ✗ channel kent_opcc (Instagram @kent_opcc) is held: auth: the access token has expired
  ✗ towns → kent_opcc (Instagram @kent_opcc) · due Tue 01 Dec 2026 11:30 GMT
      the access token has expired
  → a held channel: run crosspost doctor to see what it needs

! Expired (1): not published, it was too late when the daemon got to it
  ! open-days → KentPCC (Facebook @KentPCC) · was due Tue 01 Dec 2026 06:00 GMT
      due 2026-12-01 06:00 UTC, 60 minutes late: not published late
      to publish it, give it a new publish_at in its file (it is then planned again)

! Edited after publishing (1): the live post shows the earlier version; it is not published again
  ! funding → PCCKent (X @PCCKent) · published Mon 30 Nov 2026 10:00 GMT
      if the change matters, edit or delete the live post by hand: https://x.com/PCCKent/status/1001

… In progress (2)
  ! stale → KentPCC (Facebook @KentPCC) · claimed Tue 01 Dec 2026 11:00 GMT
      the claim by host:1:daemon ran out at Tue 01 Dec 2026 11:10 GMT without a result: \
it will be settled as in doubt
  … prevention → PCCKent (X @PCCKent) · claimed Tue 01 Dec 2026 11:58 GMT
      being sent by host:1:daemon (claim until Tue 01 Dec 2026 12:08 GMT)

Upcoming (4)
  Wed 02 Dec 2026 08:00 GMT  old-channel → Mastodon (no longer configured)
  Wed 02 Dec 2026 09:00 GMT  audit → PCCKent (X @PCCKent) · retry 2, \
due Tue 01 Dec 2026 11:50 GMT · last error: X is unavailable (503)
  Wed 02 Dec 2026 10:00 GMT  safer-towns → PCCKent (X @PCCKent)
  Thu 03 Dec 2026 09:30 GMT  vawg → KentPCC (Facebook @KentPCC)

✗ needs attention: 1 failed, 1 in doubt, 1 held, 1 channel held, 1 claim run out, 1 expired, \
1 edited after publishing · 4 upcoming · 3 published · 3 channels"""


def test_status_text_problems_first_with_what_to_do(ledger: Ledger, project: Path) -> None:
    report = status_report(ledger, _config(project), NOW)
    assert format_status_text(report, LONDON) == STATUS_TEXT


def test_status_text_of_a_quiet_ledger_is_one_summary(tmp_path: Path, project: Path) -> None:
    with Ledger(tmp_path / "empty.db", clock=lambda: NOW) as empty:
        report = status_report(empty, _config(project), NOW)
        assert report["needs_attention"] is False
        assert format_status_text(report, LONDON) == (
            "crosspost status · Tue 01 Dec 2026 12:00 GMT\n\n"
            "✓ nothing needs attention · 0 upcoming · 0 published · 3 channels"
        )
        empty.ensure("next", "KentPCC", at(2, 10), "sha256:1", "text")
        text = format_status_text(status_report(empty, _config(project), NOW), LONDON)
        assert text.splitlines()[2:] == [
            "Upcoming (1)",
            "  Wed 02 Dec 2026 10:00 GMT  next → KentPCC (Facebook @KentPCC)",
            "",
            "✓ nothing needs attention · 1 upcoming · 0 published · 3 channels",
        ]


def test_pauses_are_reported(tmp_path: Path, project: Path) -> None:
    with Ledger(tmp_path / "l.db", clock=lambda: NOW) as ledger:
        ledger.set_control(
            "pause:PCCKent", encode_pause("incident in Maidstone", "Jo Smith", NOW, None), "Jo"
        )
        ledger.set_control("hold:KentPCCX", "not a pause", "comms")
        report = status_report(ledger, _config(project), NOW)
        assert report["paused"] == [
            {"key": "pause:PCCKent", "channel": "PCCKent", "reason": "incident in Maidstone",
             "by": "Jo Smith", "since": NOW.isoformat(), "until": None}
        ]  # fmt: skip
        channels = {c["key"]: c for c in report["channels"]}
        assert channels["PCCKent"]["paused"] is True
        assert channels["PCCKent"]["pause_reason"] == "incident in Maidstone"
        assert channels["KentPCC"]["paused"] is False
        until = NOW + timedelta(hours=6)
        ledger.set_control("pause", encode_pause("pre-election period", "Sam", NOW, until), "Sam")
        report = status_report(ledger, _config(project), NOW)
        assert [p["channel"] for p in report["paused"]] == [None, "PCCKent"]
        assert all(c["paused"] for c in report["channels"])
        assert report["needs_attention"] is True
        lines = format_status_text(report, LONDON).splitlines()
        assert lines[2:11] == [
            "⏸ PAUSED: every channel, by Sam since Tue 01 Dec 2026 12:00 GMT",
            "  why: pre-election period",
            "  lifts itself at Tue 01 Dec 2026 18:00 GMT",
            "  → nothing is published anywhere until resumed: crosspost resume --by NAME",
            "",
            "⏸ PAUSED: channel PCCKent, by Jo Smith since Tue 01 Dec 2026 12:00 GMT",
            "  why: incident in Maidstone",
            "  → nothing is published on PCCKent until resumed: crosspost resume --channel "
            "PCCKent --by NAME",
            "",
        ]
        assert lines[-1] == "✗ needs attention: paused · 0 upcoming · 0 published · 3 channels"
        assert "{" not in "\n".join(lines)  # never the stored JSON
        # a pause whose time is up lifted itself: no longer reported
        later = status_report(ledger, _config(project), until + timedelta(minutes=1))
        assert [p["channel"] for p in later["paused"]] == ["PCCKent"]


def test_local_times_across_the_clock_change(tmp_path: Path, project: Path) -> None:
    # London: GMT until 01:00 UTC on 28 March 2027, BST (UTC+1) after
    before = datetime(2027, 3, 27, 10, 0, tzinfo=UTC)
    after = datetime(2027, 3, 29, 9, 0, tzinfo=UTC)
    clock = Clock(before)
    with Ledger(tmp_path / "l.db", clock=clock) as ledger:
        _publish(ledger, clock, "saturday", "KentPCC", before, before)
        ledger.ensure("monday", "KentPCC", after, "sha256:1", "text")
        clock.now = before
        text = format_status_text(status_report(ledger, _config(project), before), LONDON)
        assert "  Mon 29 Mar 2027 10:00 BST  monday → KentPCC (Facebook @KentPCC)" in text
        _publish(ledger, clock, "monday", "KentPCC", after, after)
        rows = history_rows(ledger, _config(project))
        assert [r["published_at"] for r in rows] == [
            "2027-03-27T10:00:00+00:00",
            "2027-03-29T09:00:00+00:00",
        ]
        heads = [line for line in format_history(rows, "text", LONDON).split("\n") if "✓" in line]
        assert heads == [
            "✓ Sat 27 Mar 2027 10:00 GMT · saturday → KentPCC (Facebook @KentPCC)",
            "✓ Mon 29 Mar 2027 10:00 BST · monday → KentPCC (Facebook @KentPCC)",
        ]


def test_history_rows_oldest_first_with_everything(ledger: Ledger, project: Path) -> None:
    rows = history_rows(ledger, _config(project))
    assert [(r["post_id"], r["channel"]) for r in rows] == [
        ("funding", "PCCKent"),
        ("launch", "Mastodon"),
        ("funding", "KentPCC"),
    ]
    assert rows[0] == {
        "post_id": "funding",
        "channel": "PCCKent",
        "platform": "x",
        "handle": "@PCCKent",
        "scheduled_at": "2026-11-30T10:00:00+00:00",
        "published_at": "2026-11-30T10:00:04+00:00",
        "remote_id": "1001",
        "url": "https://x.com/PCCKent/status/1001",
        "text": "text",  # what went out, not the later edit
        "parts": [
            {"index": 0, "remote_id": "1001", "url": "https://x.com/PCCKent/status/1001"},
            {"index": 1, "remote_id": "1002", "url": "https://x.com/PCCKent/status/1002"},
        ],
        "comment_id": None,
        "file": "queue/funding.yaml",
        "edited_after_publishing": True,
        "approved_by": None,
        "media": [],
        "retracted_at": None,
        "retraction": None,
        "warning": None,
    }
    assert rows[2]["text"] == TRICKY and rows[2]["comment_id"] == "104857600_1_9"
    assert rows[2]["edited_after_publishing"] is False


def test_history_since(ledger: Ledger, project: Path) -> None:
    config = _config(project)
    since = [r["post_id"] for r in history_rows(ledger, config, since=at(1, 8, 0, 1))]
    assert since == ["launch", "funding"]  # published exactly at `since` is included
    assert [r["channel"] for r in history_rows(ledger, config, since=at(1, 8, 0, 2))] == ["KentPCC"]
    assert history_rows(ledger, config, since=NOW) == []
    rows = history_rows(ledger, config, since=parse_since("2026-12-01", LONDON))
    assert [r["post_id"] for r in rows] == ["launch", "funding"]


def test_history_csv_round_trip(ledger: Ledger, project: Path) -> None:
    rows = history_rows(ledger, _config(project))
    out = format_history(rows, "csv", LONDON)
    assert out.encode("utf-8").decode("utf-8") == out and "£1.4 million" in out
    assert out.splitlines()[0] == ",".join(HISTORY_COLUMNS)
    assert '"Funding, at last: ""£1.4 million"" for\nsafer streets.' in out  # quoted, kept
    read = list(csv.DictReader(io.StringIO(out, newline="")))
    assert [r["post_id"] for r in read] == ["funding", "launch", "funding"]
    assert read[2]["text"] == TRICKY
    assert read[0]["parts"] == (
        "https://x.com/PCCKent/status/1001 https://x.com/PCCKent/status/1002"
    )
    assert read[0]["edited_after_publishing"] == "true"
    assert read[2]["edited_after_publishing"] == "false"
    assert read[1] == {
        "post_id": "launch",
        "channel": "Mastodon",
        "platform": "",
        "handle": "",
        "scheduled_at": "2026-12-01T08:00:00+00:00",
        "published_at": "2026-12-01T08:00:01+00:00",
        "remote_id": "launch-id",
        "url": "https://example/launch",
        "parts": "",
        "comment_id": "",
        "file": "queue/launch.yaml",
        "edited_after_publishing": "false",
        "approved_by": "",
        "alt_texts": "",
        "retracted_at": "",
        "retraction": "",
        "warning": "",
        "text": "text",
    }
    assert format_history([], "csv", LONDON) == ",".join(HISTORY_COLUMNS)


def test_history_json_is_one_array(ledger: Ledger, project: Path) -> None:
    rows = history_rows(ledger, _config(project))
    out = format_history(rows, "json", LONDON)
    assert json.loads(out) == rows
    assert "£1.4 million" in out  # UTF-8, not \u escapes
    assert json.loads(format_history([], "json", LONDON)) == []


def test_history_text(ledger: Ledger, project: Path) -> None:
    rows = history_rows(ledger, _config(project))
    assert format_history(rows, "text", LONDON) == (
        "✓ Mon 30 Nov 2026 10:00 GMT · funding → PCCKent (X @PCCKent)\n"
        "    https://x.com/PCCKent/status/1001 · id 1001\n"
        "    │ text\n"
        "    part 2: https://x.com/PCCKent/status/1002\n"
        "    ! edited after publishing: the live post shows the earlier version\n"
        "\n"
        "✓ Tue 01 Dec 2026 08:00 GMT · launch → Mastodon (no longer configured)\n"
        "    https://example/launch · id launch-id\n"
        "    │ text\n"
        "\n"
        "✓ Tue 01 Dec 2026 09:32 GMT · funding → KentPCC (Facebook @KentPCC)\n"
        "    https://www.facebook.com/104857600_1 · id 104857600_1\n"
        "    scheduled Tue 01 Dec 2026 09:30 GMT\n"
        '    │ Funding, at last: "£1.4 million" for\n'
        "    │ safer streets.\n"
        "    │\n"
        "    │ #SaferStreets\n"
        "    first comment: id 104857600_1_9\n"
        "\n"
        "3 publications"
    )
    assert format_history([], "text", LONDON) == "nothing published"
    with pytest.raises(ValueError, match="use text, json or csv"):
        format_history(rows, "xml", LONDON)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-01", datetime(2026, 12, 1, 0, 0, tzinfo=UTC)),  # GMT
        ("2027-06-01", datetime(2027, 5, 31, 23, 0, tzinfo=UTC)),  # BST: the local midnight
        ("2026-12-01 10:00", datetime(2026, 12, 1, 10, 0, tzinfo=UTC)),
        ("2027-06-01T10:00", datetime(2027, 6, 1, 9, 0, tzinfo=UTC)),
        ("2027-06-01T10:00+00:00", datetime(2027, 6, 1, 10, 0, tzinfo=UTC)),
        ("2026-12-01T10:00+01:00", datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
        ("2026-12-01T10:00Z", datetime(2026, 12, 1, 10, 0, tzinfo=UTC)),
        ("2027-10-31 01:30 +01:00", datetime(2027, 10, 31, 0, 30, tzinfo=UTC)),
        ("7d", NOW - timedelta(days=7)),
        ("24h", NOW - timedelta(hours=24)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2w", NOW - timedelta(weeks=2)),
        (" 3 days ", NOW - timedelta(days=3)),
    ],
)
def test_parse_since(value: str, expected: datetime) -> None:
    assert parse_since(value, LONDON, now=NOW) == expected


def test_parse_since_day_whose_midnight_is_skipped() -> None:
    # Chile moves its clocks from 00:00 to 01:00 on 6 September 2026: the day starts at 01:00
    santiago = ZoneInfo("America/Santiago")
    assert parse_since("2026-09-06", santiago) == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", r"'yesterday' is not a time --since understands: use a date \(2026-12-01"),
        ("7 fortnights", "a duration back from now"),
        ("2026-02-30", "'2026-02-30' is not a real date"),
        ("2027-03-28 01:30", "does not exist in Europe/London"),
        ("2027-10-31 01:30", "happens twice in Europe/London"),
        ("  ", "--since needs a value"),
    ],
)
def test_parse_since_errors(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_since(value, LONDON, now=NOW)
