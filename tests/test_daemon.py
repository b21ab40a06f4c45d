"""The daemon in-process with a controllable clock: timing, clock changes, downtime, faults,
edits and settlement. (tests/test_daemon_process.py kills real processes.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from crosspost.cli import main
from crosspost.scheduling.daemon import Daemon
from tests.conftest import ledger_of

from .conftest import CONFIG, write_config  # noqa: F401 -- used by other test modules

pytestmark = pytest.mark.both_stores


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def at(self, text: str) -> None:
        self.now = datetime.fromisoformat(text).astimezone(UTC)


def post(root: Path, name: str, when: str, title: str | None = None, extra: str = "") -> None:
    (root / "queue" / f"{name}.yaml").write_text(
        f"publish_at: {when}\ntitle: {title or 'Post ' + name}\n{extra}"
    )


def outbox(root: Path, channel: str = "x") -> list[dict]:
    path = root / "var" / f"{channel}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if "id" in line]


def daemon(root: Path, clock: Clock) -> Daemon:
    d = Daemon(root / "crosspost.yaml", clock=clock, environ={}, echo=lambda s: None,
               sleep=lambda s: None)  # fmt: skip
    d.load()
    return d


def state(root: Path, post_id: str, channel: str = "x") -> str:
    with ledger_of(root) as ledger:
        found = ledger.get(post_id, channel)
        return found.state if found else "absent"


CLOCK_CHANGES = [
    # (written, the UTC instant it must fire at)
    ("2027-03-28 00:30", "2027-03-28T00:30:00+00:00"),
    ("2027-03-28 02:30", "2027-03-28T01:30:00+00:00"),
    ("2027-10-31 00:30", "2027-10-30T23:30:00+00:00"),
    ("2027-10-31T01:30+01:00", "2027-10-31T00:30:00+00:00"),
    ("2027-10-31T01:30+00:00", "2027-10-31T01:30:00+00:00"),
    ("2027-10-31 02:30", "2027-10-31T02:30:00+00:00"),
]


def test_clock_changes_fire_at_the_right_utc_instants(site: Path) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    for i, (written, _) in enumerate(CLOCK_CHANGES):
        post(site, f"p{i}", written, extra="channels: [x]\n")
    clock = Clock(datetime(2027, 3, 1, tzinfo=UTC))
    d = daemon(site, clock)
    d.scheduler = BackgroundScheduler(timezone=UTC)
    d.scheduler.start(paused=True)  # timers computed, nothing runs
    try:
        d.schedule_all()
        runs = {job.args[0]: job.next_run_time for job in d.scheduler.get_jobs()}
    finally:
        d.scheduler.shutdown(wait=False)
    for i, (_, utc) in enumerate(CLOCK_CHANGES):
        assert runs[f"p{i}"] == datetime.fromisoformat(utc)
    # and the sweep publishes each exactly at its instant, not a second before
    for i, (_, utc) in enumerate(CLOCK_CHANGES):
        instant = datetime.fromisoformat(utc)
        clock.now = instant - timedelta(seconds=1)
        d.deliver_due()
        assert state(site, f"p{i}") == "pending"
        clock.now = instant
        d.deliver_due()
        assert state(site, f"p{i}") == "published"
    assert len(outbox(site)) == len(CLOCK_CHANGES)


def test_downtime_short_is_published_long_is_expired(site: Path) -> None:
    post(site, "recent", "2027-01-15 09:50", extra="channels: [x]\n")
    post(site, "old", "2027-01-15 08:00", extra="channels: [x]\n")
    clock = Clock(datetime(2027, 1, 15, 8, 0, tzinfo=UTC) - timedelta(days=1))
    daemon(site, clock)  # planned while the posts were in the future
    clock.at("2027-01-15T10:00+00:00")  # the server comes back
    d = daemon(site, clock)
    d.settle()
    d.deliver_due()
    assert state(site, "recent") == "published"
    assert state(site, "old") == "expired"
    assert [r["post_id"] for r in outbox(site)] == ["recent"]
    with ledger_of(site) as ledger:
        expired = ledger.get("old", "x")
        assert expired is not None and "not published late" in (expired.last_error or "")


def test_transient_errors_back_off_then_publish_once(site: Path) -> None:
    write_config(site, "    script: [transient, transient]")
    post(site, "p", "2027-01-15 10:00", extra="channels: [x]\n")
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    d = daemon(site, clock)
    d.deliver_due()
    with ledger_of(site) as ledger:
        first = ledger.get("p", "x")
        assert first is not None and first.state == "pending"
        assert first.retry_at == clock.now + timedelta(minutes=1)
    clock.now += timedelta(seconds=59)
    d.deliver_due()
    assert outbox(site) == []
    clock.now += timedelta(seconds=1)
    d.deliver_due()  # second failure: two minutes now
    with ledger_of(site) as ledger:
        second = ledger.get("p", "x")
        assert second is not None and second.retry_at == clock.now + timedelta(minutes=2)
    clock.now += timedelta(minutes=2)
    d.deliver_due()
    d.deliver_due()
    assert state(site, "p") == "published" and len(outbox(site)) == 1


def test_rate_limit_waits_for_the_reset(site: Path) -> None:
    write_config(site, "    script: [rate_limited]")
    post(site, "p", "2027-01-15 10:00", extra="channels: [x]\n")
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    d = daemon(site, clock)
    d.deliver_due()
    with ledger_of(site) as ledger:
        waiting = ledger.get("p", "x")
        assert waiting is not None and waiting.retry_at == clock.now + timedelta(seconds=60)
    clock.now += timedelta(seconds=60)
    d.deliver_due()
    assert state(site, "p") == "published"


def test_auth_error_holds_that_channel_only(site: Path) -> None:
    write_config(site, "    script: [auth]")
    post(site, "a", "2027-01-15 10:00")
    post(site, "b", "2027-01-15 11:00")
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    d = daemon(site, clock)
    d.deliver_due()
    clock.now += timedelta(hours=1)
    d.deliver_due()
    assert state(site, "a") == "held" and state(site, "b") == "held"
    assert state(site, "a", "fb") == "published" and state(site, "b", "fb") == "published"
    assert outbox(site) == []
    with ledger_of(site) as ledger:
        assert "hold:x" in ledger.controls("hold:")


def test_edits_deletions_and_drafts_are_reconciled(site: Path) -> None:
    post(site, "moved", "2027-01-15 10:00", extra="channels: [x]\n")
    post(site, "deleted", "2027-01-15 10:00", extra="channels: [x]\n")
    post(site, "drafted", "2027-01-15 10:00", extra="channels: [x]\n")
    post(site, "reworded", "2027-01-15 10:00", extra="channels: [x]\n")
    clock = Clock(datetime(2027, 1, 14, tzinfo=UTC))
    d = daemon(site, clock)
    post(site, "moved", "2027-01-15 12:00", extra="channels: [x]\n")
    (site / "queue" / "deleted.yaml").unlink()
    post(site, "drafted", "2027-01-15 10:00", extra="channels: [x]\nstatus: draft\n")
    post(site, "reworded", "2027-01-15 10:00", title="New words", extra="channels: [x]\n")
    d.load("edit")
    clock.at("2027-01-15T10:00+00:00")
    d.deliver_due()
    assert state(site, "deleted") == "cancelled" and state(site, "drafted") == "cancelled"
    assert state(site, "moved") == "pending"
    assert [r["text"] for r in outbox(site)] == ["New words"]
    with ledger_of(site) as ledger:
        gone = ledger.get("deleted", "x")
        assert gone is not None and "post file queue/deleted.yaml was deleted" in (
            gone.last_error or ""
        )


def test_a_draft_made_ready_again_and_a_restored_file_go_out(site: Path) -> None:
    """Cancelled when made a draft or deleted; back in the queue unchanged, planned again."""
    post(site, "drafted", "2027-01-15 10:00", extra="channels: [x]\n")
    post(site, "deleted", "2027-01-15 10:00", extra="channels: [x]\n")
    clock = Clock(datetime(2027, 1, 14, tzinfo=UTC))
    d = daemon(site, clock)
    post(site, "drafted", "2027-01-15 10:00", extra="channels: [x]\nstatus: draft\n")
    kept = (site / "queue" / "deleted.yaml").read_text()
    (site / "queue" / "deleted.yaml").unlink()
    d.load("edit")
    assert state(site, "drafted") == state(site, "deleted") == "cancelled"
    post(site, "drafted", "2027-01-15 10:00", extra="channels: [x]\n")  # ready again, as it was
    (site / "queue" / "deleted.yaml").write_text(kept)  # restored (a git revert)
    d.load("restored")
    clock.at("2027-01-15T10:00+00:00")
    d.deliver_due()
    assert sorted(r["post_id"] for r in outbox(site)) == ["deleted", "drafted"]
    with ledger_of(site) as ledger:
        said = [e.detail for e in ledger.events() if e.kind == "replanned"]
    assert said and all("back in the queue after it was cancelled" in d for d in said)


def test_edit_after_publishing_is_reported_not_republished(site: Path) -> None:
    post(site, "p", "2027-01-15 10:00", extra="channels: [x]\n")
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    d = daemon(site, clock)
    d.deliver_due()
    post(site, "p", "2027-01-15 10:00", title="Changed after", extra="channels: [x]\n")
    d.load("edit")
    d.deliver_due()
    assert len(outbox(site)) == 1
    with ledger_of(site) as ledger:
        done = ledger.get("p", "x")
        assert done is not None and done.state == "published" and done.edited_hash


@pytest.mark.parametrize(
    "broken",
    [
        "publish_at: 2027-01-15 10:00\ntitle: [broken\n",  # a syntax error
        "publish_at: 2027-01-15 10:00\ntitle: !!int abc\n",  # a value the loader refuses
        "publish_at: 2027-01-15 10:00\ntitle: Edited\nchannels: [x]\nbogus: 1\n",  # a field
    ],
    ids=["syntax", "typed-scalar", "unknown-key"],
)
def test_a_broken_file_holds_only_its_own_posts(site: Path, broken: str) -> None:
    """A post file that breaks is held, never published with the wording it had before
    (nobody sees that any more); every other post is planned from disk as it is now, a
    deletion included; fixing the file plans it again with what it now says."""
    post(site, "p", "2027-01-15 10:00", extra="channels: [x]\n")
    post(site, "q", "2027-01-15 10:00", title="Old words", extra="channels: [x]\n")
    post(site, "gone", "2027-01-15 10:00", extra="channels: [x]\n")
    clock = Clock(datetime(2027, 1, 14, tzinfo=UTC))
    d = daemon(site, clock)
    (site / "queue" / "p.yaml").write_text(broken)
    post(site, "q", "2027-01-15 10:00", title="New words", extra="channels: [x]\n")
    (site / "queue" / "gone.yaml").unlink()
    assert d.load("edits") is True
    assert state(site, "p") == "held" and state(site, "gone") == "cancelled"
    with ledger_of(site) as ledger:
        held = ledger.get("p", "x")
    assert held is not None and "queue/p.yaml has errors" in (held.last_error or "")
    clock.at("2027-01-15T10:00+00:00")
    d.deliver_due()
    assert [r["text"] for r in outbox(site)] == ["New words"]  # p and gone: nothing
    post(site, "p", "2027-01-15 10:00", title="Fixed words", extra="channels: [x]\n")
    d.load("fixed")
    d.deliver_due()
    assert [r["text"] for r in outbox(site)] == ["New words", "Fixed words"]
    (site / "crosspost.yaml").write_text("channels: {x: {platform: nope}}\n")
    assert d.load("broken config") is False  # an unusable config keeps the last good plan


def test_a_broken_file_at_start_does_not_stop_the_daemon(site: Path) -> None:
    post(site, "ok", "2027-01-15 10:00", extra="channels: [x]\n")
    (site / "queue" / "bad.yaml").write_text("publish_at: 2027-01-15 10:00\ntitle: !!int x\n")
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    d = daemon(site, clock)
    d.deliver_due()
    assert [r["text"] for r in outbox(site)] == ["Post ok"]


def test_an_approvals_file_with_a_merge_conflict_approves_nothing(site: Path) -> None:
    (site / "crosspost.yaml").write_text(
        (site / "crosspost.yaml").read_text() + "require_approval: true\n"
    )
    post(site, "p", "2027-01-15 10:00", extra="channels: [x]\n")
    approvals = site / "approvals.yaml"
    approvals.write_text(
        "<<<<<<< HEAD\np: {by: Jo, at: '2027-01-14T09:00', hash: 'sha256:aa'}\n=======\n"
        "q: {by: Sam, at: '2027-01-14T09:00', hash: 'sha256:bb'}\n>>>>>>> other\n"
    )
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    d = daemon(site, clock)
    d.deliver_due()
    assert state(site, "p") == "held" and outbox(site) == []
    with ledger_of(site) as ledger:
        held = ledger.get("p", "x")
    assert held is not None and "merge conflict" in (held.last_error or "")
    before = approvals.read_text()
    result = CliRunner().invoke(
        main, ["approve", "p", "--by", "Jo", "--config", str(site / "crosspost.yaml")]
    )
    assert result.exit_code == 1 and "will not overwrite" in result.output
    assert approvals.read_text() == before  # the conflict is the person's to resolve


def test_an_orphaned_claim_is_settled_by_looking_at_the_account(site: Path) -> None:
    post(site, "sent", "2027-01-15 10:00", title="Already out", extra="channels: [x]\n")
    post(site, "lost", "2027-01-15 10:00", title="Never sent", extra="channels: [x]\n")
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    d = daemon(site, clock)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    owner = f"{os.uname().nodename}:{dead}:daemon"
    with ledger_of(site, clock) as ledger:
        for post_id in ("sent", "lost"):
            ledger.claim(post_id, "x", owner, timedelta(minutes=10))
    # the dead daemon had sent one of them before it died
    d.adapter("x").publish(d.plan.deliveries[("sent", "x")])  # type: ignore[union-attr]
    d.settle()
    assert state(site, "sent") == "published" and state(site, "lost") == "pending"
    d.deliver_due()
    texts = sorted(r["text"] for r in outbox(site))
    assert texts == ["Already out", "Never sent"]  # each once


def test_run_once_dry_run_prints_and_leaves_the_real_ledger_alone(site: Path) -> None:
    post(site, "p", "2027-01-15 10:00", extra="channels: [x]\n")
    said: list[str] = []
    d = Daemon(site / "crosspost.yaml", dry_run=True, clock=Clock(
        datetime(2027, 1, 15, 10, 0, tzinfo=UTC)), environ={}, echo=said.append)  # fmt: skip
    assert d.run_once() == 0
    text = "\n".join(said)
    assert "crosspost: 1 deliveries pending (x 1, fb 0) (dry run" in text
    assert "would publish to x (X x): p\n    Post p" in text
    assert not (site / "var" / "ledger.db").exists() and outbox(site) == []


def test_without_a_look_up_a_send_in_doubt_waits_for_a_person(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crosspost.adapters.fake import FakeAdapter

    monkeypatch.setattr(FakeAdapter, "can_look_up", False)
    post(site, "p", "2027-01-15 10:00", extra="channels: [x]\n")
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    d = daemon(site, clock)
    with ledger_of(site, clock) as ledger:
        claimed = ledger.claim("p", "x", "elsewhere:1:daemon", timedelta(minutes=1))
        assert claimed is not None
    clock.now += timedelta(minutes=5)  # the lease ran out
    d.settle()
    d.deliver_due()
    clock.now += timedelta(hours=1)
    d.settle()
    d.deliver_due()
    assert state(site, "p") == "in_doubt" and outbox(site) == []


def test_a_look_up_that_cannot_reach_back_settles_nothing(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crosspost.adapters.fake import FakeAdapter

    monkeypatch.setattr(FakeAdapter, "look_up_limit", 2)
    for name in ("lost", "a", "b", "c"):
        post(site, name, "2027-01-15 10:00", extra="channels: [x]\n")
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    d = daemon(site, clock)
    with ledger_of(site, clock) as ledger:
        ledger.claim("lost", "x", "elsewhere:1:daemon", timedelta(seconds=1))
    for name in ("a", "b", "c"):  # the account posted more than one look-up can read since
        d.adapter("x").publish(d.plan.deliveries[(name, "x")])  # type: ignore[union-attr]
    clock.now += timedelta(seconds=5)
    d.settle()
    assert state(site, "lost") == "in_doubt"  # not provably absent: a person decides
    monkeypatch.setattr(FakeAdapter, "look_up_limit", 10)
    d.settle()
    assert state(site, "lost") == "pending"  # now the look-up saw everything since the claim


def test_rescheduling_survives_a_timer_that_fired_meanwhile(site: Path) -> None:
    from apscheduler.jobstores.base import JobLookupError
    from apscheduler.schedulers.background import BackgroundScheduler

    post(site, "p", "2027-01-15 10:00", extra="channels: [x]\n")
    d = daemon(site, Clock(datetime(2027, 1, 14, tzinfo=UTC)))
    d.scheduler = BackgroundScheduler(timezone=UTC)
    d.scheduler.start(paused=True)
    try:

        class Gone:  # a job that ran and was removed by the scheduler between look and remove
            id = "d:old|x"
            next_run_time = None

            def remove(self) -> None:
                raise JobLookupError(self.id)

        real = d.scheduler.get_jobs
        d.scheduler.get_jobs = lambda: [*real(), Gone()]  # type: ignore[method-assign]
        d.schedule_all()  # must not raise
        assert [job.id for job in real()] == ["d:p|x"]
    finally:
        d.scheduler.shutdown(wait=False)


def test_a_template_that_fails_holds_its_posts_and_the_rest_go_on(site: Path) -> None:
    """Not only Jinja's own errors: whatever Python raises inside a template ("%d" % "lots")
    holds the posts it renders, never the daemon or the other posts, never old wording."""
    post(site, "p", "2027-01-15 10:00", extra="channels: [x]\nvars: {places: lots}\n")
    post(site, "q", "2027-01-15 10:00", extra="channels: [fb]\n")
    clock = Clock(datetime(2027, 1, 14, tzinfo=UTC))
    d = daemon(site, clock)
    (site / "templates" / "x.j2").write_text("{{ '%d places left' % vars.places }}")
    assert d.load("template edit") is True
    clock.at("2027-01-15T10:00+00:00")
    d.deliver_due()
    assert state(site, "p") == "held" and state(site, "q", "fb") == "published"
    assert [r["post_id"] for r in outbox(site)] == []  # x's outbox: nothing with old words
