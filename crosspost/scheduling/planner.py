"""The planner: which deliveries (post × channel × time) should exist, reconciled with the ledger.

Run on every load. A new post becomes pending; a changed time or text re-plans a pending
delivery; a deleted file, a removed channel or a post turned draft cancels its pending
deliveries, with the reason in the event log; an edit after publication is reported, never
republished. A file with errors has its open deliveries *held* until it is fixed: nothing
is published with wording nobody sees any more, and every other post is planned from what
is on disk now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from crosspost.checking.project import LoadCache, Project, validate
from crosspost.core.paths import in_project
from crosspost.core.problems import Problem
from crosspost.core.states import OPEN, Act, Hold, State
from crosspost.rendering.render import Rendered, content_hash
from crosspost.scheduling.ledger import Delivery, Ledger

OPEN_STATES = OPEN
BROKEN = Hold.BROKEN  # error kind of a delivery held because its post file has errors


@dataclass
class Plan:
    """What the queue asks for, as of one load."""

    project: Project
    deliveries: dict[tuple[str, str], Rendered]  # (post id, channel) -> what it will receive
    hashes: dict[tuple[str, str], str]
    broken_files: set[str]  # files (relative to the project) with errors: left as they were
    errors: list[Problem] = field(default_factory=list)
    _by_post: dict[str, list[Rendered]] | None = field(default=None, repr=False, compare=False)

    def of_post(self, post_id: str) -> list[Rendered]:
        """Every channel's delivery of one post (indexed on first use: asked per delivery)."""
        if self._by_post is None:
            self._by_post = {}
            for (pid, _), rendered in self.deliveries.items():
                self._by_post.setdefault(pid, []).append(rendered)
        return self._by_post.get(post_id, [])

    def file_of(self, rendered: Rendered) -> str:
        return in_project(rendered.post.file, self.project.config.root)


def make_plan(
    config_path: Path | str,
    now: datetime | None = None,
    environ: Mapping[str, str] | None = None,
    cache: LoadCache | None = None,
) -> Plan:
    """Load and check everything; ConfigError if the config is unusable."""
    project = validate(config_path, now=now, environ=environ, cache=cache)
    root = project.config.root
    errors = project.problems.errors
    broken = {in_project(path, root) for path in project.broken_files()}
    deliveries: dict[tuple[str, str], Rendered] = {}
    hashes: dict[tuple[str, str], str] = {}
    for rendered in project.rendered:
        post = rendered.post
        if post.status != "ready" or rendered.publish_at is None:
            continue
        if in_project(post.file, root) in broken:
            continue
        key = (post.id, rendered.channel)
        deliveries[key] = rendered
        hashes[key] = content_hash(rendered)
    return Plan(project, deliveries, hashes, broken, errors)


@dataclass
class Changes:
    """What one reconciliation did, for the log."""

    planned: int = 0
    cancelled: list[tuple[Delivery, str]] = field(default_factory=list)
    held_broken: list[Delivery] = field(default_factory=list)  # newly held: their file broke


class Do(StrEnum):
    """What reconciliation does to one delivery."""

    UNHOLD = "unhold"  # it was held because its file had errors, and the file is fixed
    PLAN = "plan"  # new, or its time or content changed: planned (afresh)
    HOLD = "hold"  # its file has errors: held rather than published with earlier wording
    CANCEL = "cancel"  # its post, its channel or its time is gone


@dataclass(frozen=True)
class Step:
    """One change reconciliation makes to the ledger, and why."""

    do: Do
    key: tuple[str, str]  # (post id, channel)
    delivery: Delivery | None = None  # the ledger's row it changes, if there is one
    why: str = ""


def steps(plan: Plan, known: Mapping[tuple[str, str], Delivery]) -> list[Step]:
    """What must change for the ledger's deliveries (`known`, by key) to match the plan.

    Pure: it reads the plan and the rows given, and writes nothing; `reconcile` carries the
    steps out. A delivery that is not open (published, claimed, in doubt, expired, cancelled)
    is never touched here: only the ledger's own rules (`Ledger.ensure`) reopen one.
    """
    out: list[Step] = []
    for key, rendered in plan.deliveries.items():
        current = known.get(key)
        if current is not None and current.state == State.HELD and current.error_kind == BROKEN:
            out.append(Step(Do.UNHOLD, key, current))
            current = None
        if (
            current is not None
            and current.content_hash == plan.hashes[key]
            and current.due_at == rendered.publish_at
            and current.state != State.CANCELLED  # a cancelled one back in the queue: reopened
        ):
            continue  # nothing to write: reloading a large queue stays cheap
        out.append(Step(Do.PLAN, key, current))
    config = plan.project.config
    posts = {p.id: p for p in plan.project.posts}
    for key, delivery in known.items():
        if delivery.state not in OPEN_STATES or key in plan.deliveries:
            continue
        if delivery.file in plan.broken_files:
            if delivery.state == State.HELD and delivery.error_kind == BROKEN:
                continue  # held already
            out.append(Step(Do.HOLD, key, delivery, _why_held(plan, delivery)))
            continue
        why = _why_gone(delivery, posts, config.channels, config.root)
        out.append(Step(Do.CANCEL, key, delivery, why))
    return out


def reconcile(
    ledger: Ledger, plan: Plan, actor: str = "planner", plan_rev: str | None = None
) -> Changes:
    """Make the ledger's open deliveries match the plan. With `plan_rev` (several servers),
    every write checks in its transaction that this is still the newest plan (PlanMoved)."""
    changes = Changes(planned=len(plan.deliveries))
    known = {(d.post_id, d.channel): d for d in ledger.deliveries()}
    for step in steps(plan, known):
        _carry_out(ledger, plan, step, actor, changes, plan_rev)
    return changes


def _carry_out(
    ledger: Ledger, plan: Plan, step: Step, actor: str, changes: Changes, plan_rev: str | None
) -> None:
    """Write one step to the ledger (each guarded by the state it was decided from)."""
    if step.do is Do.UNHOLD:
        assert step.delivery is not None
        ledger.set_state(
            step.delivery, State.PENDING, actor=actor, only_from=[State.HELD],
            error="its file was fixed: planned again", error_kind=Act.FIXED, plan_rev=plan_rev,
        )  # fmt: skip
    elif step.do is Do.PLAN:
        rendered = plan.deliveries[step.key]
        ledger.ensure(
            *step.key,
            rendered.publish_at,
            plan.hashes[step.key],
            rendered.text,
            file=plan.file_of(rendered),
            actor=actor,
            thread=rendered.thread,
            media=[(m.rel, m.alt) for m in rendered.media],
            plan_rev=plan_rev,
        )
    elif step.do is Do.HOLD:
        assert step.delivery is not None
        held = ledger.set_state(
            step.delivery, State.HELD, actor=actor, only_from=OPEN_STATES, error_kind=BROKEN,
            error=step.why, plan_rev=plan_rev,
        )  # fmt: skip
        if held.state == State.HELD:
            changes.held_broken.append(held)
    else:
        assert step.delivery is not None
        ledger.set_state(
            step.delivery, State.CANCELLED, error=step.why, error_kind=Act.CANCELLED,
            actor=actor, only_from=OPEN_STATES, plan_rev=plan_rev,
        )  # fmt: skip
        changes.cancelled.append((step.delivery, step.why))


def _why_held(plan: Plan, delivery: Delivery) -> str:
    """Why a delivery whose file has errors is held, naming the file's first error."""
    root = plan.project.config.root
    first = next(
        (str(p) for p in plan.errors if in_project(p.mark.path, root) == delivery.file),
        "it has errors",
    )
    return (
        f"held: the post file {delivery.file} has errors, so it is not published with its "
        f"earlier wording: {first}. Fix it (crosspost validate shows every error) and it is "
        "planned again"
    )


def _why_gone(delivery: Delivery, posts: dict, channels: dict, root: Path) -> str:  # type: ignore[type-arg]
    if delivery.channel not in channels:
        return f"channel {delivery.channel} was removed from the config"
    post = posts.get(delivery.post_id)
    if post is None:
        if delivery.file and not (root / delivery.file).exists():
            return f"the post file {delivery.file} was deleted"
        return "the post is no longer in the queue"
    if post.status == "draft":
        return "the post was made a draft"
    if delivery.channel not in post.channels:
        return f"the post no longer names channel {delivery.channel}"
    return "the post no longer has a publication time"
