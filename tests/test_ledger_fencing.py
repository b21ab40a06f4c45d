"""Several servers on one ledger: fencing tokens, takeovers, heartbeats, the newest plan and
compare-and-set controls, on SQLite and on PostgreSQL (the same tests, parametrised)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crosspost.core.errors import PartReceipt
from crosspost.core.states import State
from tests.test_ledger import OPEN, spec_arg

pytestmark = pytest.mark.both_stores

T0 = datetime(2027, 1, 15, 10, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _taken_over(ledger: Any, clock: Clock) -> tuple[Any, Any]:
    """A claims p; its lease runs out; B takes it over and claims it again."""
    ledger.ensure("p", "x", T0, "h", "text")
    first = ledger.claim("p", "x", "host-a:1:daemon", LEASE)
    clock.now = T0 + LEASE + timedelta(seconds=1)
    doubt = ledger.set_state(
        first, State.IN_DOUBT, error="taken over", actor="host-b:2:daemon", fenced=True,
        expired_by=clock.now,
    )  # fmt: skip
    assert doubt.state == State.IN_DOUBT
    back = ledger.set_state(doubt, State.PENDING, actor="host-b:2:daemon", fenced=True)
    assert back.state == State.PENDING
    second = ledger.claim("p", "x", "host-b:2:daemon", LEASE)
    assert second is not None and second.fence == first.fence + 1
    return first, second


def test_every_claim_takes_a_new_fencing_token(open_store: Any) -> None:
    with open_store() as ledger:
        ledger.ensure("p", "x", T0, "h", "text")
        first = ledger.claim("p", "x", "a", LEASE)
        assert first is not None and first.fence == 1
        ledger.set_state(first, State.PENDING, fenced=True)
        second = ledger.claim("p", "x", "a", LEASE)
        assert second is not None and second.fence == 2
        details = [e.detail for e in ledger.events() if e.kind == "claimed"]
        assert details == ["attempt 1, fence 1", "attempt 2, fence 2"]


def test_a_late_writer_is_refused_everywhere_and_the_log_says_so(open_store: Any) -> None:
    """Host A was paused past its lease; B took over and published. A's every write after
    it continues is refused: part, note, renewal, failure, and its publication."""
    clock = Clock()
    with open_store(clock) as ledger:
        first, second = _taken_over(ledger, clock)
        published = ledger.mark_published(
            second, remote_id="b-1", url="u", published_at=clock.now, actor="host-b:2:daemon"
        )
        assert published.state == State.PUBLISHED and published.remote_id == "b-1"
        # A wakes up
        assert ledger.record_part(first, PartReceipt(0, "a-1", "u")) is False
        assert ledger.record_note(first, "container", "c-1") is False
        assert ledger.renew(first, first.owner, LEASE) is False
        failed = ledger.set_state(first, State.FAILED, error="a's error", fenced=True)
        late = ledger.mark_published(first, remote_id="a-1", url="u", published_at=clock.now)
        assert failed.state == late.state == State.PUBLISHED
        assert late.remote_id == "b-1" and late.parts == () and late.notes == {}
        fenced = [e for e in ledger.events() if e.kind == "fenced"]
        assert len(fenced) == 4  # (a refused renewal is the heartbeat's, not a record)
        assert {e.actor for e in fenced} == {"host-a:1:daemon"}
        assert "it was claimed, fence 1; now published, fence 2" in fenced[-1].detail


def test_a_writer_that_still_holds_its_claim_is_not_refused(open_store: Any) -> None:
    """(The fence must not refuse the rightful holder: without this the test above would
    pass with every write refused.)"""
    with open_store() as ledger:
        ledger.ensure("p", "x", T0, "h", "text")
        claimed = ledger.claim("p", "x", "a", LEASE)
        assert ledger.record_part(claimed, PartReceipt(0, "1", "u")) is True
        assert ledger.record_note(claimed, "k", "v") is True
        assert ledger.renew(claimed, "a", LEASE) is True
        done = ledger.mark_published(claimed, remote_id="1", url="u", published_at=T0)
        assert done.state == State.PUBLISHED and done.notes == {"k": "v"}
        assert not [e for e in ledger.events() if e.kind == "fenced"]


def test_a_takeover_loses_to_a_renewal(open_store: Any) -> None:
    """B read A's claim as expired, but A renewed it before B wrote: B's takeover is refused."""
    clock = Clock()
    with open_store(clock) as ledger:
        ledger.ensure("p", "x", T0, "h", "text")
        claimed = ledger.claim("p", "x", "a", LEASE)
        seen_by_b = ledger.get("p", "x")
        clock.now = T0 + LEASE - timedelta(seconds=1)
        assert ledger.renew(claimed, "a", LEASE)  # until T0 + 2 * LEASE - 1 s
        clock.now = T0 + LEASE + timedelta(seconds=1)  # B thinks the first lease ran out
        kept = ledger.set_state(
            seen_by_b, State.IN_DOUBT, error="b", fenced=True, expired_by=clock.now
        )
        assert kept.state == State.CLAIMED
        clock.now = T0 + 2 * LEASE + timedelta(seconds=1)
        taken = ledger.set_state(
            seen_by_b, State.IN_DOUBT, error="b", fenced=True, expired_by=clock.now
        )
        assert taken.state == State.IN_DOUBT


def test_only_the_newest_plan_may_claim(open_store: Any) -> None:
    with open_store() as ledger:
        ledger.ensure("p", "x", T0, "h", "text")
        assert ledger.newest_plan() is None
        assert ledger.register_plan("rev1", "host-a", None)
        assert ledger.register_plan("rev1", "host-b", None)  # the same revision: agreed
        assert ledger.register_plan("rev2", "host-b", "rev1")  # moved on from rev1
        assert ledger.newest_plan() == ("rev2", "host-b")
        # a server that checked against rev1 while rev2 was being registered: refused
        assert not ledger.register_plan("rev3", "host-a", "rev1")
        assert ledger.claim("p", "x", "host-a:1:daemon", LEASE, plan_rev="rev1") is None
        assert ledger.get("p", "x").state == State.PENDING  # untouched
        claimed = ledger.claim("p", "x", "host-b:1:daemon", LEASE, plan_rev="rev2")
        assert claimed is not None and claimed.state == State.CLAIMED


def test_daemons_beat_and_leave(open_store: Any) -> None:
    clock = Clock()
    with open_store(clock) as ledger:
        ledger.beat("host-a:1:daemon", "host-a", "rev1", timedelta(seconds=60))
        ledger.beat("host-b:2:daemon", "host-b", None, timedelta(seconds=60))
        clock.now = T0 + timedelta(seconds=90)
        ledger.beat("host-b:2:daemon", "host-b", "rev2", timedelta(seconds=60))
        beats = {b.host_id: b for b in ledger.daemons()}
        assert beats["host-a"].plan_rev == "rev1" and not beats["host-a"].alive(clock.now)
        assert beats["host-b"].plan_rev == "rev2" and beats["host-b"].alive(clock.now)
        assert beats["host-b"].started_at == T0 and beats["host-b"].last_beat == clock.now
        ledger.gone("host-a:1:daemon")
        assert [b.host_id for b in ledger.daemons()] == ["host-b"]


SWAPPER = (
    OPEN
    + """
import time
ledger = open_ledger(spec)
start = float(sys.argv[2])
time.sleep(max(0, start - time.time()))
won = sum(ledger.swap_control(f"alert:{i}", None, "sent") for i in range(int(sys.argv[3])))
print(won)
"""
)


def test_alerts_are_claimed_once_by_several_processes(state_spec: Any) -> None:
    """The compare-and-set that makes an alert go out once, raced by four processes."""
    from crosspost.scheduling.stores import open_ledger

    open_ledger(state_spec).close()  # created (migrated) first
    start = time.time() + 1.5
    count = 60
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SWAPPER, spec_arg(state_spec), str(start), str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [o[1] for o in outs]
    assert sum(int(o[0]) for o in outs) == count


OPENER = (
    OPEN
    + """
import time
start = float(sys.argv[2])
time.sleep(max(0, start - time.time()))
open_ledger(spec).close()
"""
)


@pytest.mark.fresh_schema
def test_processes_migrating_a_new_ledger_at_once_all_get_it(state_spec: Any) -> None:
    """Eight daemons started together on an empty database (or file): each migration runs
    once, and every one of them opens the ledger."""
    from crosspost.scheduling.stores import open_ledger

    start = time.time() + 1.5
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, spec_arg(state_spec), str(start)],
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(8)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    with open_ledger(state_spec) as ledger:
        versions = [r[0] for r in ledger.db.execute("SELECT version FROM schema_migrations")]
        assert sorted(versions) == list(range(1, len(ledger.migrations) + 1))


def test_a_channel_hold_is_read_inside_the_claim(open_store: Any) -> None:
    """Like a pause: once a channel is held, no claim on it goes through."""
    with open_store() as ledger:
        ledger.ensure("p", "x", T0, "h", "text")
        ledger.set_control("hold:x", "auth: the token was revoked", "daemon", "")
        assert ledger.claim("p", "x", "a", LEASE) is None
        held = ledger.get("p", "x")
        assert held.state == State.HELD and held.error_kind == "held"
        assert "channel held: auth: the token was revoked" in (held.last_error or "")


def test_a_late_sender_cannot_hold_the_channel(open_store: Any) -> None:
    """A sender whose claim was taken over gets an authentication error: it may not hold
    the channel for every server (the hold is written with its fenced change, or not)."""
    clock = Clock()
    with open_store(clock) as ledger:
        first, second = _taken_over(ledger, clock)
        refused = ledger.set_state(
            first, State.HELD, error="auth", error_kind="auth", fenced=True,
            control=("hold:x", "auth: refused"),
        )  # fmt: skip
        assert refused.state == State.CLAIMED and refused.fence == second.fence
        assert ledger.control("hold:x") is None
        done = ledger.set_state(
            second, State.HELD, error="auth", error_kind="auth", fenced=True,
            control=("hold:x", "auth: refused"),
        )  # fmt: skip
        assert done.state == State.HELD and ledger.control("hold:x") == "auth: refused"
