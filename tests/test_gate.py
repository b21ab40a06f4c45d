"""The gate: one answer to "may this delivery go out now?", asked by the daemon, `publish`
and the preview alike (issue 12: the policy lived in five places and could drift)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from crosspost.cli import main
from crosspost.core.errors import PartReceipt
from crosspost.scheduling.gate import GO, Controls, Hold, decide, hold_key
from crosspost.scheduling.ledger import Ledger

from .conftest import render_post
from .test_daemon import Clock, daemon, outbox, post, state

DUE = datetime(2027, 1, 15, 10, 0, tzinfo=UTC)
POST = "publish_at: 2027-01-15 10:00\ntitle: Safer Streets funding.\nchannels: [PCCKent]\n"


@pytest.fixture
def rendered(project: Path):  # type: ignore[no-untyped-def]
    return render_post(project, POST, "PCCKent")


def _decide(rendered, project: Path, **kwargs):  # type: ignore[no-untyped-def]
    from crosspost.loading.config import load_config

    config = kwargs.pop("config", None) or load_config(project / "crosspost.yaml")
    return decide(rendered, config=config, now=kwargs.pop("now", DUE), **kwargs)


def _pause(until: datetime | None = None) -> Controls:
    value = {"reason": "incident", "by": "Sam", "at": "x", "until": until and until.isoformat()}
    return Controls({"pause": json.dumps(value)})


def test_a_ready_post_on_time_goes(rendered, project: Path) -> None:  # type: ignore[no-untyped-def]
    assert _decide(rendered, project) == GO and GO.go


def test_each_hold_says_why_and_what_to_do(rendered, project: Path) -> None:  # type: ignore[no-untyped-def]
    from crosspost.loading.config import load_config

    config = load_config(project / "crosspost.yaml")
    paused = _decide(rendered, project, controls=_pause())
    assert paused.hold is Hold.PAUSED and "incident" in paused.why and "resume" in paused.remedy
    held = _decide(rendered, project, controls=Controls({hold_key("PCCKent"): "auth: keys"}))
    assert held.hold is Hold.CHANNEL and "doctor" in held.remedy
    broken = _decide(rendered, project, broken={rendered.post.file})
    assert broken.hold is Hold.BROKEN
    approval = _decide(rendered, project, config=replace(config, require_approval=True),
                       approvals={}, approval_hash=lambda: "sha256:x")  # fmt: skip
    assert approval.hold is Hold.APPROVAL and "crosspost approve" in approval.remedy


def test_lateness_and_who_may_send_late(rendered, project: Path) -> None:  # type: ignore[no-untyped-def]
    from crosspost.scheduling.ledger import Ledger

    with Ledger(project / "l.db") as ledger:
        delivery = ledger.ensure("post", "PCCKent", DUE, "h", "t")
    late = DUE + timedelta(hours=2)
    assert _decide(rendered, project, now=late, delivery=delivery).hold is Hold.LATE
    assert _decide(rendered, project, now=late, delivery=delivery, by_person=True).go
    for kind in ("transient", "rate_limited", "in_doubt", "released_late", "resolved"):
        assert _decide(rendered, project, now=late,
                       delivery=replace(delivery, error_kind=kind)).go, kind  # fmt: skip
    for kind in ("approved", "released", None):
        verdict = _decide(rendered, project, now=late, delivery=replace(delivery, error_kind=kind))
        assert verdict.hold is Hold.LATE, kind
    started = replace(delivery, parts=(PartReceipt(0, "1"),))
    assert _decide(rendered, project, now=late, delivery=started).go  # a thread partly out


def test_the_order_of_holds(rendered, project: Path) -> None:  # type: ignore[no-untyped-def]
    """What a person must deal with first comes first: the pause before the channel hold
    before the approval, lateness last (it is only the consequence of the others)."""
    from crosspost.scheduling.ledger import Ledger

    with Ledger(project / "l.db") as ledger:
        delivery = ledger.ensure("post", "PCCKent", DUE, "h", "t")
    everything = Controls({**_pause().values, hold_key("PCCKent"): "auth"})
    verdict = _decide(rendered, project, controls=everything, delivery=delivery,
                      now=DUE + timedelta(hours=3))  # fmt: skip
    assert verdict.hold is Hold.PAUSED


def test_a_pause_that_ends_before_the_post_does_not_hold_it(rendered, project: Path) -> None:  # type: ignore[no-untyped-def]
    assert _decide(rendered, project, controls=_pause(until=DUE - timedelta(hours=1))).go
    assert _decide(rendered, project, controls=_pause(until=DUE + timedelta(hours=1))).hold


# --- everyone asks the gate, so everyone agrees ----------------------------------------


@pytest.mark.parametrize("control", ["pause:x", "hold:x"])
def test_the_daemon_publish_and_the_preview_agree(site: Path, control: str) -> None:
    post(site, "p", "2027-01-15 10:00", extra="channels: [x]\n")
    with Ledger(site / "var" / "ledger.db") as ledger:
        value = json.dumps({"reason": "incident", "by": "Sam", "at": "x", "until": None})
        ledger.set_control(control, value if control.startswith("pause") else "auth: x", "Sam")
    d = daemon(site, Clock(DUE))
    d.deliver_due()
    assert state(site, "p") == "held" and outbox(site) == []
    result = CliRunner().invoke(main, ["publish", "p", "--config", str(site / "crosspost.yaml")])
    assert result.exit_code == 1 and outbox(site) == []
    assert ("paused" if control.startswith("pause") else "channel held") in result.output
    html = site / "site"
    CliRunner().invoke(
        main, ["preview", "--html", str(html), "--config", str(site / "crosspost.yaml")]
    )
    page = (html / "index.html").read_text()
    assert "state-held" in page


def test_a_delivery_a_person_released_goes_out_through_its_blackout_window(
    rendered, project: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from crosspost.core.states import Act
    from crosspost.loading.config import Blackout, load_config

    config = load_config(project / "crosspost.yaml")
    window = Blackout(
        name="pre-election", start=DUE - timedelta(days=1), end=DUE + timedelta(days=1),
        channels=None, reason="pre-election period", allow_tags=frozenset(), mark=config.mark,
    )  # fmt: skip
    config = replace(config, blackouts=[window])
    held = _decide(rendered, project, config=config)
    assert held.hold is Hold.BLACKOUT
    with Ledger(tmp_path / "l.db") as ledger:
        d = ledger.ensure(rendered.post_id, "PCCKent", DUE, "h", "t")
        released = replace(d, error_kind=Act.RELEASED)
    assert _decide(rendered, project, config=config, delivery=released).go
