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


def reconcile(ledger: Ledger, plan: Plan, actor: str = "planner") -> Changes:
    """Make the ledger's open deliveries match the plan."""
    changes = Changes()
    config = plan.project.config
    known = {(d.post_id, d.channel): d for d in ledger.deliveries()}
    for (post_id, channel), rendered in plan.deliveries.items():
        changes.planned += 1
        current = known.get((post_id, channel))
        if current is not None and current.state == State.HELD and current.error_kind == BROKEN:
            # its file is fixed: planned afresh from what it says now
            ledger.set_state(
                current, State.PENDING, actor=actor, only_from=[State.HELD],
                error="its file was fixed: planned again", error_kind=Act.FIXED,
            )  # fmt: skip
            current = None
        if (
            current is not None
            and current.content_hash == plan.hashes[(post_id, channel)]
            and current.due_at == rendered.publish_at
        ):
            continue  # nothing to write: reloading a large queue stays cheap
        ledger.ensure(
            post_id,
            channel,
            rendered.publish_at,
            plan.hashes[(post_id, channel)],
            rendered.text,
            file=plan.file_of(rendered),
            actor=actor,
            thread=rendered.thread,
            media=[(m.rel, m.alt) for m in rendered.media],
        )
    posts = {p.id: p for p in plan.project.posts}
    for delivery in ledger.deliveries(OPEN_STATES):
        key = (delivery.post_id, delivery.channel)
        if key in plan.deliveries:
            continue
        if delivery.file in plan.broken_files:
            if delivery.state == State.HELD and delivery.error_kind == BROKEN:
                continue  # held already
            first = next(
                (str(p) for p in plan.errors if in_project(p.mark.path, plan.project.config.root)
                 == delivery.file), "it has errors",
            )  # fmt: skip
            held = ledger.set_state(
                delivery, State.HELD, actor=actor, only_from=OPEN_STATES, error_kind=BROKEN,
                error=f"held: the post file {delivery.file} has errors, so it is not "
                f"published with its earlier wording: {first}. Fix it (crosspost validate "
                "shows every error) and it is planned again",
            )  # fmt: skip
            if held.state == State.HELD:
                changes.held_broken.append(held)
            continue
        reason = _why_gone(delivery, posts, config.channels, config.root)
        ledger.set_state(
            delivery, State.CANCELLED, error=reason, error_kind=Act.CANCELLED, actor=actor,
            only_from=OPEN_STATES,
        )  # fmt: skip
        changes.cancelled.append((delivery, reason))
    return changes


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
