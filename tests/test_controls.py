"""A public body's controls: emergency pause, approval bound to content, blackout windows."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from crosspost.cli import main
from tests.conftest import ledger_of
from tests.test_ledger import OPEN, spec_arg

from .conftest import NOW, Hook
from .test_daemon import Clock, daemon, outbox, post, state, write_config
from .test_daemon_process import Daemon as Process
from .test_daemon_process import make_site, wait_for

pytestmark = pytest.mark.both_stores


def cli(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, [*args, "--config", str(root / "crosspost.yaml")], env={"USER": "comms-officer"}
    )
    return result.exit_code, result.output


def add_to_config(root: Path, text: str) -> None:
    path = root / "crosspost.yaml"
    path.write_text(path.read_text() + text)


# --- pause -------------------------------------------------------------------------------


def test_a_pause_is_checked_inside_the_claim(open_store: Any) -> None:
    with open_store() as ledger:
        ledger.ensure("p", "x", None, "h", "t")
        ledger.set_control("pause", json.dumps({"reason": "incident", "by": "Sam"}), "Sam", "")
        assert ledger.claim("p", "x", "daemon", timedelta(minutes=5)) is None
        held = ledger.get("p", "x")
        assert held is not None and held.state == "held" and held.error_kind == "paused"
        assert "incident" in (held.last_error or "")


def test_pause_with_a_real_daemon_holds_until_an_explicit_release(tmp_path: Path) -> None:
    root = make_site(tmp_path, posts=1, spread=0, start_in=6.0, latency=0)
    code, out = cli(root, "pause", "--reason", "Critical incident in Maidstone", "--by", "Sam")
    assert code == 0 and "paused by Sam" in out
    proc = Process(root)
    try:
        assert wait_for(lambda: proc.running, 15)
        # both channels' deliveries fall due together; the daemon holds one, then the other
        assert wait_for(
            lambda: state(root, "p0000") == "held" and state(root, "p0000", "fb") == "held", 20
        )
        code, out = cli(root, "resume", "--by", "Sam")
        assert code == 0 and "2 deliveries held during the pause are overdue" in out
        time.sleep(2.5)  # the sweeper runs every second here: nothing goes by itself
        assert outbox(root) == [] and state(root, "p0000") == "held"
        code, out = cli(root, "release", "p0000", "--channel", "x", "--by", "Sam")
        assert code == 0
        assert wait_for(lambda: state(root, "p0000") == "published", 10)
        assert state(root, "p0000", "fb") == "held"
    finally:
        code, _ = proc.stop()
    assert code == 0
    assert len(outbox(root)) == 1
    with ledger_of(root) as ledger:
        kinds = [(e.kind, e.actor) for e in ledger.events() if e.kind == "control"]
    assert kinds == [("control", "Sam"), ("control", "Sam")]  # pause and resume, with who


def test_resume_release_overdue_and_a_channel_pause(site: Path) -> None:
    post(site, "p", "2027-01-15 10:00")
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    code, _ = cli(site, "pause", "--channel", "x", "--reason", "mourning")
    assert code == 0
    d = daemon(site, clock)
    d.deliver_due()
    assert state(site, "p") == "held" and state(site, "p", "fb") == "published"
    clock.now += timedelta(hours=3)
    code, out = cli(site, "resume", "--channel", "x", "--release-overdue")
    assert code == 0 and "1 held deliveries released" in out
    d.deliver_due()
    assert state(site, "p") == "published"  # hours late, but a person asked for it


def test_a_pause_until_a_time_lifts_itself(site: Path) -> None:
    post(site, "p", "2027-01-15 10:00", extra="channels: [x]\n")
    code, _ = cli(site, "pause", "--reason", "briefing", "--until", "2027-01-15 09:59")
    assert code == 0
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    daemon(site, clock).deliver_due()
    assert state(site, "p") == "published"


# --- approval ----------------------------------------------------------------------------


def test_approve_then_edit_is_held_as_stale_and_approving_again_publishes(site: Path) -> None:
    add_to_config(site, "require_approval: true\n")
    post(site, "p", "2027-01-15 10:00", title="Approved words", extra="author: Alex\n")
    code, out = cli(site, "approve", "p", "--by", "Jo")
    assert code == 0 and "approved by Jo" in out
    approvals = yaml.safe_load((site / "approvals.yaml").read_text())
    assert approvals["p"]["by"] == "Jo" and approvals["p"]["hash"].startswith("sha256:")
    post(site, "p", "2027-01-15 10:00", title="Edited words", extra="author: Alex\n")
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    d = daemon(site, clock)
    d.deliver_due()
    assert state(site, "p") == "held" and outbox(site) == []
    with ledger_of(site) as ledger:
        held = ledger.get("p", "x")
        assert held is not None and "approval is stale" in (held.last_error or "")
    code, _ = cli(site, "approve", "p", "--by", "Jo")
    assert code == 0
    d.load("approvals changed")
    d.deliver_due()
    assert state(site, "p") == "published" and state(site, "p", "fb") == "published"
    assert [r["text"] for r in outbox(site)] == ["Edited words"]


def test_unapproved_posts_are_held_and_validate_warns(site: Path) -> None:
    add_to_config(site, "require_approval: true\n")
    post(site, "p", "2027-01-15 10:00")
    result = CliRunner().invoke(
        main, ["validate", "--config", str(site / "crosspost.yaml")],
        env={"CROSSPOST_NOW": NOW.isoformat()},
    )  # fmt: skip
    assert result.exit_code == 0 and "not approved: run crosspost approve p --by NAME" in (
        result.output
    )
    code, out = cli(site, "publish", "p")
    assert code == 1 and "not approved" in out and outbox(site) == []
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    daemon(site, clock).deliver_due()
    assert state(site, "p") == "held"


def test_self_approval_can_be_forbidden(site: Path) -> None:
    add_to_config(site, "require_approval: true\nforbid_self_approval: true\n")
    post(site, "p", "2027-01-15 10:00", extra="author: Alex Smith\n")
    code, out = cli(site, "approve", "p", "--by", "alex smith")
    assert code == 1 and "someone else must approve it" in out
    assert not (site / "approvals.yaml").exists()
    code, _ = cli(site, "approve", "p", "--by", "Jo Bloggs")
    assert code == 0


# --- blackout windows --------------------------------------------------------------------

BLACKOUT = """\
blackouts:
  - name: pre-election period
    start: 2027-04-01 00:00
    end: 2027-05-07 00:00
    reason: PCC election on 6 May 2027
    allow_tags: [public-safety]
"""


def test_a_blackout_holds_ordinary_posts_and_lets_exempt_ones_through(site: Path) -> None:
    add_to_config(site, BLACKOUT)
    post(site, "ordinary", "2027-04-15 10:00", extra="channels: [x]\n")
    post(site, "safety", "2027-04-15 10:00", extra="channels: [x]\ntags: [public-safety]\n")
    post(site, "after", "2027-05-07 10:00", extra="channels: [x]\n")
    result = CliRunner().invoke(
        main, ["validate", "--config", str(site / "crosspost.yaml")],
        env={"CROSSPOST_NOW": NOW.isoformat()},
    )  # fmt: skip
    assert "ordinary.yaml:1:13: warning: x: due inside the blackout window" in result.output
    assert "safety.yaml" not in result.output
    clock = Clock(datetime(2027, 4, 15, 9, 0, tzinfo=UTC))
    d = daemon(site, clock)
    d.deliver_due()
    assert state(site, "ordinary") == "held" and state(site, "safety") == "published"
    clock.now = datetime(2027, 5, 7, 9, 0, tzinfo=UTC)
    d.deliver_due()
    assert state(site, "after") == "published" and state(site, "ordinary") == "held"
    assert sorted(r["post_id"] for r in outbox(site)) == ["after", "safety"]


def test_blackout_config_errors_are_located(site: Path) -> None:
    add_to_config(site, BLACKOUT.replace("end: 2027-05-07", "end: 2027-03-01"))
    code, out = cli(site, "validate")
    assert code == 2 and "ends before it starts" in out


def test_pause_is_visible_to_another_process_at_once(open_store: Any, state_spec: Any) -> None:
    # the CLI and a daemon are separate processes sharing the ledger
    with open_store() as ledger:
        ledger.ensure("p", "x", None, "h", "t")
    script = OPEN + (
        "l = open_ledger(spec)\n"
        "l.set_control('pause:x', json.dumps({'reason': 'r', 'by': 'b'}), 'b', 'r')\n"
    )
    subprocess.run([sys.executable, "-c", script, spec_arg(state_spec)], check=True)
    with open_store() as ledger:
        assert ledger.claim("p", "x", "daemon", timedelta(minutes=1)) is None


# --- alerts, end to end through the daemon ----------------------------------------------


def test_the_daemon_alerts_a_failure_once_through_apprise(site: Path, hook: Hook) -> None:
    write_config(site, "    script: [rejected]")
    add_to_config(site, f"alerts:\n  urls: ['{hook.url()}']\n")
    post(site, "p", "2027-01-15 10:00", extra="channels: [x]\n")
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    d = daemon(site, clock)
    d.sweep()
    assert wait_for(lambda: len(hook.payloads()) == 1, 10)
    [payload] = hook.payloads()
    assert "p" in payload["title"] and "x" in payload["title"]
    assert (
        "queue/p.yaml" in payload["message"] and "fake: scripted rejection" in (payload["message"])
    )
    d.sweep()
    d.sweep()
    time.sleep(0.5)
    assert len(hook.payloads()) == 1  # no duplicate on later sweeps


# --- lateness: nothing goes out later than allowed unless a person says so -----------------


def _london(moment: datetime) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Europe/London")).strftime("%Y-%m-%d %H:%M")


def test_a_late_approval_does_not_publish_late(site: Path) -> None:
    """Approving an overdue post used to publish it at once, however late. An approval does
    not lift lateness: the delivery expires, and only `release --late` sends it, on record."""
    add_to_config(site, "require_approval: true\n")
    due = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    post(site, "p", _london(due), extra="channels: [x]\n")
    clock = Clock(due)
    d = daemon(site, clock)
    d.deliver_due()
    assert state(site, "p") == "held"
    clock.now = datetime.now(UTC)  # three hours later, the approver gets to it
    code, out = cli(site, "approve", "p", "--by", "Jo")
    assert code == 0 and "it is not published late" in out and "release p --late" in out
    d.load("approvals changed")
    d.deliver_due()
    assert state(site, "p") == "expired" and outbox(site) == []
    with ledger_of(site) as ledger:
        expired = ledger.get("p", "x")
    assert expired is not None and "crosspost release p --channel x --late" in (
        expired.last_error or ""
    )
    code, out = cli(site, "release", "p", "--by", "Jo")
    assert code == 1 and "--late" in out and outbox(site) == []
    code, out = cli(site, "release", "p", "--late", "--by", "Sam")
    assert code == 0 and "released late" in out
    clock.now = datetime.now(UTC) + timedelta(seconds=1)
    d.deliver_due()
    assert state(site, "p") == "published" and len(outbox(site)) == 1
    with ledger_of(site) as ledger:
        released = [e for e in ledger.events() if e.detail == "released late by Sam"]
    assert [(e.actor, e.kind) for e in released] == [("Sam", "pending")]


def test_releasing_an_overdue_held_post_needs_late(site: Path) -> None:
    due = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    post(site, "p", _london(due), extra="channels: [x]\n")
    code, _ = cli(site, "pause", "--reason", "incident", "--by", "Sam")
    assert code == 0
    clock = Clock(due)
    d = daemon(site, clock)
    d.deliver_due()
    assert state(site, "p") == "held"
    code, out = cli(site, "resume", "--by", "Sam")
    assert code == 0
    clock.now = datetime.now(UTC)
    code, out = cli(site, "release", "p", "--by", "Sam")
    assert code == 1 and "due 120 minutes ago" in out and "--late" in out
    d.deliver_due()
    assert state(site, "p") == "held" and outbox(site) == []
    code, out = cli(site, "release", "p", "--channel", "x", "--late", "--by", "Sam")
    assert code == 0
    clock.now = datetime.now(UTC) + timedelta(seconds=1)
    d.deliver_due()
    assert state(site, "p") == "published"


def test_a_hold_lifted_after_lateness_expires_the_post(site: Path) -> None:
    """A delivery tried on time that hit a credentials failure (the channel is held) is not
    sent hours later when `doctor` lifts the hold: past lateness, it expires too."""
    config = site / "crosspost.yaml"
    config.write_text(
        config.read_text().replace("outbox: var/x.jsonl", "outbox: var/x.jsonl\n    script: [auth]")
    )
    post(site, "p", "2027-01-15 10:00", extra="channels: [x]\n")
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    d = daemon(site, clock)
    d.deliver_due()
    assert state(site, "p") == "held"  # tried once: the scripted credentials failure
    code, out = cli(site, "doctor")
    assert "channel hold lifted: 1 deliveries back in the queue" in out
    clock.now += timedelta(hours=5)
    d.deliver_due()
    assert state(site, "p") == "expired" and outbox(site) == []


def test_a_send_resolved_as_not_published_goes_again_however_late(site: Path) -> None:
    """A person settled a send tried on time as not published: it goes again, late."""
    due = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    post(site, "p", _london(due), extra="channels: [x]\n")
    clock = Clock(due)
    d = daemon(site, clock)
    with ledger_of(site, clock) as ledger:
        claimed = ledger.claim("p", "x", "other-host:1:daemon", timedelta(minutes=5))
        assert claimed is not None
        ledger.set_state(claimed, "in_doubt", error="timed out", error_kind="in_doubt")
    code, _ = cli(site, "resolve", "p", "--channel", "x", "--not-published", "--by", "Sam")
    assert code == 0
    clock.now = datetime.now(UTC) + timedelta(seconds=5)  # the CLI stamps retry_at now
    d.deliver_due()
    assert state(site, "p") == "published"
