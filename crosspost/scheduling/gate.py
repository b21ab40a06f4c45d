"""The gate: may this delivery go out now? One answer, asked by everything that needs it.

The daemon asks it before every send, `crosspost publish` before a person's send, the HTML
preview for each delivery it shows, and the ledger's claim for the pause (inside the claim's
own transaction). Nothing else decides: a copy of this policy elsewhere would drift, and a
drift here publishes a paused post.

The answer is a `Verdict`: go, or held — by what (`Hold`), why, and what a person can do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crosspost.core.states import Act, Hold, Met
from crosspost.scheduling.controls import Pause, active_pause, approval_problem

if TYPE_CHECKING:
    from crosspost.loading.config import Config
    from crosspost.rendering.render import Rendered
    from crosspost.scheduling.ledger import Delivery, Ledger

HOLD_PREFIX = "hold:"  # ledger control holding one channel: hold:<channel>
TWIN_WINDOW = timedelta(days=30)  # the same content published this recently holds a delivery
# Nothing is published later than `lateness` after its time, whatever held it (downtime, a
# pause, a late approval, a channel hold): it expires. Only these go on however late: a send
# that was tried on time and is waiting for its retry or its settlement, one a person settled
# as not published, and one a person released late on purpose (`release --late`).
GOES_ON_LATE = frozenset(
    {Met.TRANSIENT, Met.RATE_LIMITED, Met.IN_DOUBT, Act.RELEASED_LATE, Act.RESOLVED}
)
RELEASED = frozenset({Act.RELEASED, Act.RELEASED_LATE})  # a person said "send it"


_REMEDIES = {
    Hold.DRAFT: "set status: ready in the post file",
    Hold.BROKEN: "fix the file (crosspost validate shows every error); it is then planned again",
    Hold.PAUSED: "crosspost resume --by NAME, then {release}",
    Hold.CHANNEL: "crosspost doctor: once the channel's check passes, its held posts go out",
    Hold.BLACKOUT: "once the window no longer applies: {release}",
    Hold.APPROVAL: "review it, then crosspost approve {post_id} --by NAME",
    Hold.DUPLICATE: "if so, nothing needs doing; to publish it again all the same: {release}",
    Hold.LATE: "to send it late all the same: {release} --late",
}


def remedy(hold: Hold | str, post_id: str, channel: str) -> str:
    """What a person can do about a delivery held by `hold`, with the real post and channel
    in the command (the one wording, for the gate and for status); "" for another kind."""
    try:
        template = _REMEDIES[Hold(hold)]
    except ValueError:
        return ""
    release = f"crosspost release {post_id} --channel {channel} --by NAME"
    return template.format(post_id=post_id, release=release)


@dataclass(frozen=True)
class Verdict:
    """Go (`hold` is None), or held by `hold`, with why and what a person can do."""

    hold: Hold | None = None
    why: str = ""
    remedy: str = ""

    @property
    def go(self) -> bool:
        return self.hold is None


GO = Verdict()


def hold_key(channel: str) -> str:
    return f"{HOLD_PREFIX}{channel}"


@dataclass(frozen=True)
class Controls:
    """The ledger's controls as the gate reads them: pauses and channel holds."""

    values: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, ledger: Ledger) -> Controls:
        """Only the controls the gate reads (pauses, channel holds): the table also keeps a
        line per delivery ever alerted, which grows for as long as the office publishes."""
        from crosspost.scheduling.controls import PAUSE

        return cls({**ledger.controls(PAUSE), **ledger.controls(HOLD_PREFIX)})

    def pause(self, channel: str, now: datetime) -> Pause | None:
        return active_pause(dict(self.values), channel, now)

    def channel_hold(self, channel: str) -> str | None:
        return self.values.get(hold_key(channel))


def pause_holding(controls: Mapping[str, str], channel: str, now: datetime) -> Pause | None:
    """The pause in force for `channel` (the claim asks this inside its transaction)."""
    return active_pause(dict(controls), channel, now)


def decide(
    rendered: Rendered,
    *,
    config: Config,
    now: datetime,
    controls: Controls = Controls(),
    approvals: Mapping[str, Any] | None = None,
    approval_hash: Callable[[], str] | None = None,
    broken: set[Path] | frozenset[Path] = frozenset(),
    delivery: Delivery | None = None,
    twin: Callable[[], Delivery | None] | None = None,
    by_person: bool = False,
    approval: str | None = None,
) -> Verdict:
    """May `rendered` go out now?

    `delivery` is its ledger row, if any (for lateness and what a person released); `twin`
    finds the same content already published on the channel under another id. `by_person`:
    a person is sending it by hand now (`crosspost publish`): lateness and the renamed-file
    check are theirs to judge, everything else holds for them too. `approval`: why the post
    is not approved, when the caller already asked `approval_problem` (the preview does, once
    per post), instead of `approvals` and `approval_hash`.
    """
    post, channel = rendered.post, rendered.channel
    ids = (post.id, channel)
    if post.status == "draft":
        return Verdict(Hold.DRAFT, "a draft", remedy(Hold.DRAFT, post.id, channel))
    if post.file in broken:
        return Verdict(
            Hold.BROKEN,
            "its post file has errors",
            remedy(Hold.BROKEN, post.id, channel),
        )
    return (
        _held_by_controls(controls, ids, now)
        or _held_by_blackout(config, rendered, now if by_person else rendered.publish_at, delivery)
        or _held_for_approval(config, post.id, approval, approvals, approval_hash)
        or _held_as_twin(delivery, twin if not by_person else None, ids)
        or (None if by_person else _held_as_late(delivery, config, now, ids))
        or GO
    )


def _held_by_controls(controls: Controls, ids: tuple[str, str], now: datetime) -> Verdict | None:
    """A pause (of everything or of this channel), or a hold on the channel."""
    pause = controls.pause(ids[1], now)
    if pause is not None:
        return Verdict(Hold.PAUSED, pause.describe(), remedy(Hold.PAUSED, *ids))
    hold = controls.channel_hold(ids[1])
    if hold is not None:
        return Verdict(Hold.CHANNEL, f"channel held: {hold}", remedy(Hold.CHANNEL, *ids))
    return None


def _held_by_blackout(
    config: Config, rendered: Rendered, when: datetime | None, delivery: Delivery | None = None
) -> Verdict | None:
    """A blackout window covering the time it would go out, unless a person released this
    delivery (knowing the window: the release is theirs to make)."""
    if delivery is not None and delivery.error_kind in RELEASED:
        return None
    blackout = config.blackout_for(rendered.channel, when, rendered.post.tags)
    if blackout is None:
        return None
    return Verdict(
        Hold.BLACKOUT,
        f"blackout window '{blackout.name}': {blackout.reason}",
        remedy(Hold.BLACKOUT, rendered.post_id, rendered.channel),
    )


def _held_for_approval(
    config: Config,
    post_id: str,
    problem: str | None,
    approvals: Mapping[str, Any] | None,
    approval_hash: Callable[[], str] | None,
) -> Verdict | None:
    """No approval of exactly this content, when the office requires one."""
    if not config.require_approval:
        return None
    if approvals is not None and approval_hash is not None:
        problem = approval_problem(approvals, post_id, approval_hash)  # type: ignore[arg-type]
    if problem is None:
        return None
    return Verdict(
        Hold.APPROVAL,
        problem,
        remedy(Hold.APPROVAL, post_id, ""),
    )


def _held_as_twin(
    delivery: Delivery | None,
    twin: Callable[[], Delivery | None] | None,
    ids: tuple[str, str],
) -> Verdict | None:
    """The same content already published on the channel under another id (a renamed
    file), unless a person released this one."""
    if twin is None or (delivery is not None and delivery.error_kind in RELEASED):
        return None
    found = twin()
    if found is None:
        return None
    return Verdict(
        Hold.DUPLICATE,
        f"exactly this was already published on {ids[1]} as post '{found.post_id}' "
        f"({found.url or found.remote_id}): was the file renamed?",
        remedy(Hold.DUPLICATE, *ids),
    )


def _held_as_late(
    delivery: Delivery | None, config: Config, now: datetime, ids: tuple[str, str]
) -> Verdict | None:
    """Past its lateness: it expires rather than going out late."""
    late = _late(delivery, config.daemon.lateness, now) if delivery is not None else None
    if late is None:
        return None
    return Verdict(Hold.LATE, late, remedy(Hold.LATE, *ids))


def _late(delivery: Delivery, lateness: timedelta, now: datetime) -> str | None:
    """Why a delivery is too late to go out by itself, or None."""
    due = delivery.due_at
    started = bool(delivery.parts)  # a thread partly out: stopping halfway helps nobody
    if due is None or started or delivery.error_kind in GOES_ON_LATE or now - due <= lateness:
        return None
    return (
        f"due {due:%Y-%m-%d %H:%M} UTC, {_minutes(now - due)} late: more than the "
        f"{_minutes(lateness)} allowed, so it was not published late"
    )


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes} minute{'s' * (minutes != 1)}"
