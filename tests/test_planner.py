"""The planner's reconciliation as a pure decision: given the plan and the ledger's rows,
which steps it takes. No ledger is opened here; test_daemon checks the steps carried out."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crosspost.core.states import Act, Hold, State
from crosspost.scheduling.ledger import Delivery
from crosspost.scheduling.planner import Do, Plan, Step, make_plan, steps

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    """The example project's plan, made once: steps() never changes it."""
    root = tmp_path_factory.mktemp("planner")
    shutil.copy(REPO / "config.example.yaml", root / "crosspost.yaml")
    for folder in ("templates", "queue"):
        shutil.copytree(REPO / folder, root / folder)
    made = make_plan(root / "crosspost.yaml", now=NOW, environ={})
    assert len(made.deliveries) >= 6 and not made.broken_files
    return made


def row(plan: Plan, key: tuple[str, str], **changes: object) -> Delivery:
    """The ledger's row for `key` as if planned from `plan` and untouched since."""
    rendered = plan.deliveries.get(key)
    values: dict[str, object] = {
        "id": hash(key) & 0xFFFF, "post_id": key[0], "channel": key[1],
        "due_at": rendered.publish_at if rendered else NOW, "state": State.PENDING,
        "content_hash": plan.hashes.get(key, "old"), "attempts": 0, "owner": None,
        "lease_until": None, "remote_id": None, "url": None, "text": "", "parts": (),
        "comment_id": None, "published_at": None, "last_error": None, "error_kind": None,
        "updated_at": NOW, "file": plan.file_of(rendered) if rendered else "queue/gone.yaml",
    }  # fmt: skip
    values.update(changes)
    return Delivery(**values)  # type: ignore[arg-type]


def known(*rows: Delivery) -> dict[tuple[str, str], Delivery]:
    return {(d.post_id, d.channel): d for d in rows}


def test_an_empty_ledger_plans_every_delivery(plan: Plan) -> None:
    assert steps(plan, {}) == [Step(Do.PLAN, key) for key in plan.deliveries]


def test_an_unchanged_ledger_needs_no_step(plan: Plan) -> None:
    """Reloading a large queue writes nothing."""
    assert steps(plan, known(*(row(plan, key) for key in plan.deliveries))) == []


@pytest.mark.parametrize("change", ["content_hash", "due_at"])
def test_an_edited_text_or_time_plans_again(plan: Plan, change: str) -> None:
    key = next(iter(plan.deliveries))
    other = {"content_hash": "an older hash", "due_at": NOW}[change]
    edited = row(plan, key, **{change: other})
    rows = known(*(row(plan, k) for k in plan.deliveries), edited)
    assert steps(plan, rows) == [Step(Do.PLAN, key, edited)]


def test_a_fixed_file_is_unheld_then_planned_afresh(plan: Plan) -> None:
    key = next(iter(plan.deliveries))
    held = row(plan, key, state=State.HELD, error_kind=Hold.BROKEN)
    rows = known(*(row(plan, k) for k in plan.deliveries), held)
    assert steps(plan, rows) == [Step(Do.UNHOLD, key, held), Step(Do.PLAN, key, None)]


def test_a_delivery_held_for_another_reason_stays_held(plan: Plan) -> None:
    """Only a hold for a broken file is the planner's to lift; a pause is a person's."""
    key = next(iter(plan.deliveries))
    held = row(plan, key, state=State.HELD, error_kind=Hold.PAUSED)
    assert steps(plan, known(*(row(plan, k) for k in plan.deliveries), held)) == []


@pytest.mark.parametrize("state", [State.PENDING, State.FAILED, State.HELD])
def test_an_open_delivery_no_longer_asked_for_is_cancelled_with_the_reason(
    plan: Plan, state: State
) -> None:
    gone = row(plan, ("deleted-post", "PCCKent"), state=state, error_kind=Hold.PAUSED)
    rows = known(*(row(plan, k) for k in plan.deliveries), gone)
    assert steps(plan, rows) == [
        Step(Do.CANCEL, ("deleted-post", "PCCKent"), gone,
             "the post file queue/gone.yaml was deleted"),
    ]  # fmt: skip


def test_a_removed_channel_is_named_as_the_reason(plan: Plan) -> None:
    post_id = next(iter(plan.deliveries))[0]
    gone = row(plan, (post_id, "Mastodon"))
    (step,) = steps(plan, known(*(row(plan, k) for k in plan.deliveries), gone))
    assert step.do is Do.CANCEL and step.why == "channel Mastodon was removed from the config"


@pytest.mark.parametrize(
    "state", [State.PUBLISHED, State.CLAIMED, State.IN_DOUBT, State.EXPIRED, State.CANCELLED]
)
def test_a_delivery_that_is_not_open_is_never_touched(plan: Plan, state: State) -> None:
    """Published, being sent, in doubt: the planner cancels or holds none of them."""
    gone = row(plan, ("deleted-post", "PCCKent"), state=state)
    assert steps(plan, known(*(row(plan, k) for k in plan.deliveries), gone)) == []


def test_a_broken_file_holds_its_open_deliveries_naming_the_first_error(plan: Plan) -> None:
    key = next(iter(plan.deliveries))
    rows = known(*(row(plan, k) for k in plan.deliveries))
    file = rows[key].file
    assert file is not None
    broken = Plan(
        plan.project,
        {k: r for k, r in plan.deliveries.items() if plan.file_of(r) != file},
        plan.hashes,
        {file},
        [],
    )
    held = steps(broken, rows)
    assert held and all(s.do is Do.HOLD and s.delivery is rows[s.key] for s in held)
    assert {s.key for s in held} == {k for k, d in rows.items() if d.file == file}
    assert f"the post file {file} has errors" in held[0].why
    assert "Fix it (crosspost validate shows every error)" in held[0].why
    # held already: nothing more to do
    again = {**rows, **{s.key: row(plan, s.key, state=State.HELD, error_kind=Hold.BROKEN)
                        for s in held}}  # fmt: skip
    assert steps(broken, again) == []


def test_a_release_to_send_late_is_kept_by_an_unchanged_plan(plan: Plan) -> None:
    key = next(iter(plan.deliveries))
    released = row(plan, key, error_kind=Act.RELEASED_LATE)
    assert steps(plan, known(*(row(plan, k) for k in plan.deliveries), released)) == []


def test_a_cancelled_delivery_back_in_the_plan_is_planned_again(plan: Plan) -> None:
    """Its post was made a draft (or its file deleted) and is back as it was."""
    key = next(iter(plan.deliveries))
    cancelled = row(plan, key, state=State.CANCELLED)
    rows = known(*(row(plan, k) for k in plan.deliveries), cancelled)
    assert steps(plan, rows) == [Step(Do.PLAN, key, cancelled)]
