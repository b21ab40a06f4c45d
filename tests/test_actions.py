"""The action layer: what a person can do, as functions any front end calls (the command line
now, the web app next), each taking who acts and recording it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crosspost import actions
from crosspost.loading.config import load_config
from crosspost.scheduling.gate import hold_key
from crosspost.scheduling.ledger import Ledger

from .test_daemon import Clock

pytestmark = pytest.mark.both_stores

T0 = datetime(2027, 1, 15, 10, 0, tzinfo=UTC)


@pytest.fixture
def ledger(open_store: Any):  # type: ignore[no-untyped-def]
    with open_store(Clock(T0)) as opened:
        yield opened


def test_pause_and_resume_are_recorded_with_who(site: Path, ledger: Ledger) -> None:
    config = load_config(site / "crosspost.yaml")
    done = actions.pause(ledger, config, by="  Sam  Jones ", reason="incident", channel="x")
    assert done.scope == "channel x" and done.by == "Sam Jones"
    with pytest.raises(actions.ActionRefused, match="no channel 'nope'"):
        actions.pause(ledger, config, by="Sam", reason="r", channel="nope")
    with pytest.raises(actions.ActionRefused, match="say who is acting"):
        actions.pause(ledger, config, by="  ", reason="r")
    with pytest.raises(actions.ActionRefused, match="give the reason"):
        actions.pause(ledger, config, by="Sam", reason=" ")
    resumed = actions.resume(ledger, by="Jo", channel="x")
    assert resumed.held == [] and not resumed.released
    with pytest.raises(actions.ActionRefused, match="channel x is not paused"):
        actions.resume(ledger, by="Jo", channel="x")
    controls = [(e.actor, e.detail) for e in ledger.events() if e.kind == "control"]
    assert [a for a, _ in controls] == ["Sam Jones", "Jo"]


def test_release_keeps_to_lateness_unless_told(site: Path, ledger: Ledger) -> None:
    config = load_config(site / "crosspost.yaml")
    ledger.ensure("p", "x", T0, "h", "t")
    delivery = ledger.get("p", "x")
    assert delivery is not None
    ledger.set_state(delivery, "held", error="paused", error_kind="paused")
    ledger.clock.now = T0 + timedelta(hours=2)  # type: ignore[attr-defined]
    done = actions.release(ledger, config, "p", by="Sam")
    assert done.released == [] and [(d.channel, m) for d, m in done.refused] == [("x", 120)]
    done = actions.release(ledger, config, "p", by="Sam", late=True)
    assert [(d.channel, late) for d, late in done.released] == [("x", True)]
    released = ledger.get("p", "x")
    assert released is not None and released.error_kind == "released_late"
    with pytest.raises(actions.ActionRefused, match="has no held deliveries"):
        actions.release(ledger, config, "p", by="Sam")


def test_resolve_and_lift_hold(ledger: Ledger) -> None:
    ledger.ensure("p", "x", T0, "h", "t")
    claimed = ledger.claim("p", "x", "host:1:d", timedelta(minutes=5))
    assert claimed is not None
    ledger.set_state(claimed, "in_doubt", error="timed out", error_kind="in_doubt")
    done = actions.resolve(ledger, "p", "x", by="Sam", remote_id="123")
    assert done.state == "published" and done.remote_id == "123"
    with pytest.raises(actions.ActionRefused, match="not in doubt"):
        actions.resolve(ledger, "p", "x", by="Sam")
    assert actions.lift_hold(ledger, "x", by="Sam") is None
    ledger.ensure("q", "x", T0, "h2", "t2")
    held = ledger.get("q", "x")
    assert held is not None
    ledger.set_state(held, "held", error="auth", error_kind="held")
    ledger.set_control(hold_key("x"), "auth: keys", "daemon")
    assert actions.lift_hold(ledger, "x", by="Sam") == 1
    again = ledger.get("q", "x")
    assert again is not None and again.state == "pending"
