"""What a person can do to the queue's publishing: pause, resume, release, resolve, lift a
channel hold. Each is a function that takes who is acting and returns what happened, so the
command line (now) and the web app (next) act through the same code and record the same
events. A refusal is an `ActionRefused` whose message says what to do instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crosspost.core.problems import did_you_mean
from crosspost.core.states import Act, Hold, Met, State
from crosspost.scheduling.controls import Pause, encode_pause, pause_key, pauses
from crosspost.scheduling.gate import Controls, hold_key

if TYPE_CHECKING:
    from crosspost.adapters.base import Adapter, CredentialReport
    from crosspost.checking.project import Project
    from crosspost.loading.config import Channel, Config
    from crosspost.loading.posts import Post
    from crosspost.scheduling.ledger import Delivery, Ledger


class ActionRefused(Exception):
    """The action cannot be done as asked; the message says why and what to do."""


def _who(by: str) -> str:
    who = " ".join(by.split())
    if not who:
        raise ActionRefused("say who is acting: every control is recorded with a name")
    return who


@dataclass
class Paused:
    scope: str  # "every channel" or "channel X"
    by: str
    reason: str


def pause(
    ledger: Ledger, config: Config, *, by: str, reason: str, channel: str | None = None,
    until: datetime | None = None,
) -> Paused:  # fmt: skip
    """Stop publishing (everything, or one channel) until resumed, or until `until`."""
    by = _who(by)
    if channel is not None and channel not in config.channels:
        raise ActionRefused(f"no channel '{channel}' in the config")
    if not reason.strip():
        raise ActionRefused("give the reason for the pause: the office sees it")
    if until is not None and until <= ledger.clock():  # it would pause nothing
        raise ActionRefused("the pause's end has passed: give a time still to come, or none")
    ledger.set_control(pause_key(channel), encode_pause(reason, by, ledger.clock(), until), by,
                       reason)  # fmt: skip
    return Paused(f"channel {channel}" if channel else "every channel", by, reason)


@dataclass
class Resumed:
    held: list[Delivery]  # held during the pause: overdue now
    released: bool  # they were released (late, on this person's word)
    still: list[Pause] = field(default_factory=list)  # other pauses still in force
    lifted: bool = True  # a pause was lifted (False: it was lifted before; only released now)


def resume(
    ledger: Ledger, *, by: str, channel: str | None = None, release_overdue: bool = False
) -> Resumed:
    """Lift a pause. What it held is overdue: released only when asked (`release_overdue`)."""
    by = _who(by)
    key = pause_key(channel)
    held = [
        d for d in ledger.deliveries([State.HELD])
        if d.error_kind == Hold.PAUSED and (channel is None or d.channel == channel)
    ]  # fmt: skip
    lifted = ledger.control(key) is not None
    if lifted:
        ledger.set_control(key, None, by, "resumed")
    elif not (release_overdue and held):  # after a plain resume, its held posts can follow
        raise ActionRefused(("channel " + channel if channel else "publishing") + " is not paused")
    if release_overdue:  # the option says it: overdue, sent late on this person's word
        controls, now = Controls.read(ledger), ledger.clock()
        held = [d for d in held if controls.pause(d.channel, now) is None]  # not still paused
        for delivery in held:
            _back_in_queue(ledger, delivery, by, late=True)
    ledger.wake()
    return Resumed(held, release_overdue, pauses(ledger, ledger.clock()), lifted)


@dataclass
class Released:
    released: list[tuple[Delivery, bool]]  # (delivery, released late)
    refused: list[tuple[Delivery, int]]  # overdue without `late`: (delivery, minutes late)


def release(
    ledger: Ledger, config: Config, post_id: str, *, by: str,
    channels: tuple[str, ...] = (), late: bool = False,
) -> Released:  # fmt: skip
    """Send held deliveries of a post. Nothing goes out later than the lateness allowed unless
    `late` (which also sends deliveries that expired), recorded with who asked."""
    by = _who(by)
    lateness = config.daemon.lateness
    now = ledger.clock()

    def mine(states: list[str]) -> list[Delivery]:
        return [
            d for d in ledger.deliveries(states)
            if d.post_id == post_id and (not channels or d.channel in channels)
        ]  # fmt: skip

    found = mine([State.HELD, State.EXPIRED] if late else [State.HELD])
    if not found:
        if mine([State.EXPIRED]):
            raise ActionRefused(
                f"{post_id} expired (it was not published late); to send it late all the "
                f"same: crosspost release {post_id} --late"
            )
        raise ActionRefused(_nothing_held(ledger, post_id))
    _still_held(ledger, post_id, found)
    result = Released([], [])
    for delivery in found:
        overdue = delivery.due_at is not None and now - delivery.due_at > lateness
        if overdue and not late:
            assert delivery.due_at is not None
            result.refused.append((delivery, int((now - delivery.due_at).total_seconds() // 60)))
            continue
        _back_in_queue(ledger, delivery, by, late=overdue)
        result.released.append((delivery, overdue))
    ledger.wake()
    return result


def _still_held(ledger: Ledger, post_id: str, found: list[Delivery]) -> None:
    """Refuse a release that would be held again at once: a pause still in force on the
    channel, or a post held for approval (an approval releases it, not a release)."""
    controls = Controls.read(ledger)
    now = ledger.clock()
    for delivery in found:
        pause = controls.pause(delivery.channel, now)
        if pause is not None:
            raise ActionRefused(
                f"{post_id} on {delivery.channel} would be held again: {pause.describe()}. "
                f"Resume first (crosspost resume), then release it"
            )
        if delivery.error_kind == Hold.APPROVAL:
            raise ActionRefused(
                f"{post_id} is held because it is not approved: review it, then crosspost "
                f"approve {post_id} --by NAME (a running daemon then sends it)"
            )


def _nothing_held(ledger: Ledger, post_id: str) -> str:
    """Why there is nothing to release: no such post, or where its deliveries stand."""
    everything = ledger.deliveries()
    mine = [d for d in everything if d.post_id == post_id]
    if not mine:
        ids = sorted({d.post_id for d in everything})
        return (
            f"there is no post '{post_id}' in the ledger{did_you_mean(post_id, ids)}: "
            "crosspost status lists what is queued and held"
        )
    where = ", ".join(f"{d.state.replace('_', ' ')} on {d.channel}" for d in mine)
    return f"{post_id} has no held deliveries (it is {where})"


def resolve(
    ledger: Ledger, post_id: str, channel: str, *, by: str, remote_id: str | None = None
) -> Delivery:
    """Settle a send in doubt after looking at the account: published as `remote_id`, or
    (None) not published, back in the queue to be sent again."""
    by = _who(by)
    delivery = ledger.get(post_id, channel)
    if delivery is None:
        raise ActionRefused(f"no delivery of {post_id} on {channel} in the ledger")
    if delivery.state != State.IN_DOUBT:
        raise ActionRefused(
            f"{post_id} on {channel} is {delivery.state}, not in doubt: nothing to settle"
        )
    if remote_id:
        return ledger.mark_published(
            delivery, remote_id=remote_id, url=None, published_at=ledger.clock(),
            parts=delivery.parts, actor=by, detail=f"resolved by {by}: published",
        )  # fmt: skip
    again = ledger.set_state(
        delivery, State.PENDING, error=f"resolved by {by}: not published", error_kind=Act.RESOLVED,
        actor=by, only_from=[State.IN_DOUBT], retry_at=ledger.clock(),
    )  # fmt: skip
    ledger.wake()
    return again


def lift_hold(ledger: Ledger, channel: str, *, by: str) -> int | None:
    """Lift a channel's hold once its check passed; how many deliveries went back to the
    queue (None: there was no hold). Overdue ones then expire, as lateness says."""
    by = _who(by)
    if ledger.control(hold_key(channel)) is None:
        return None
    ledger.set_control(hold_key(channel), None, by, "the credentials check passed")
    held = [d for d in ledger.deliveries([State.HELD]) if d.channel == channel]
    for delivery in held:
        ledger.set_state(
            delivery, State.PENDING, actor=by, only_from=[State.HELD],
            error="released: the channel's credentials work again",
        )  # fmt: skip
    ledger.wake()
    return len(held)


@dataclass
class Retraction:
    channel: str
    done: bool  # the post is gone from the channel (or was already)
    said: str  # what happened, in words
    by_hand: bool = False  # a person must delete it (the platform cannot; no longer configured)


def retract(
    ledger: Ledger, config: Config, post_id: str, *, by: str, reason: str,
    channels: tuple[str, ...] = (),
) -> list[Retraction]:  # fmt: skip
    """Delete a published post where the platform allows it (a thread's last part first),
    and record who and why; where it cannot (Instagram), record the request and say what a
    person must do in the app."""
    from crosspost.core.errors import PublishError

    by = _who(by)
    if not reason.strip():
        raise ActionRefused("give the reason for the retraction: it stands on the record")
    published = [
        d for d in ledger.deliveries([State.PUBLISHED])
        if d.post_id == post_id and (not channels or d.channel in channels)
    ]  # fmt: skip
    if not published:
        raise ActionRefused(f"{post_id} has no published deliveries to retract")
    out = []
    for delivery in published:
        key = delivery.channel
        if delivery.retracted_at is not None:
            out.append(Retraction(key, True, f"already retracted ({delivery.retraction})"))
            continue
        channel = config.channels.get(key)
        if channel is None:
            said = f"no longer configured; delete it by hand: {delivery.url}"
            out.append(Retraction(key, False, said, by_hand=True))
            continue
        adapter = channel.adapter(channel, root=config.root)
        label = channel.rules.label
        if not adapter.can_delete:
            note = (
                f"requested by {by}: {reason}. {label} cannot delete posts through its "
                f"API: delete it in the {label} app ({delivery.url or delivery.remote_id})"
            )
            ledger.mark_retracted(delivery, note, by)
            out.append(Retraction(key, False, note, by_hand=True))
            continue
        ids = [p.remote_id for p in delivery.parts] or [delivery.remote_id or ""]
        try:
            for remote_id in reversed(ids):  # a thread's last part first
                adapter.delete(remote_id)
        except PublishError as exc:
            message = adapter.clean(str(exc))
            ledger.event(by, "retract_failed", post_id, key, message)
            out.append(Retraction(key, False, f"could not delete it: {message}"))
            continue
        ledger.mark_retracted(delivery, f"deleted by {by}: {reason}", by)
        out.append(Retraction(key, True, f"deleted from {label} {channel.handle}"))
    return out


@dataclass
class Approved:
    post_id: str
    by: str
    digest: str  # the approval hash: what every channel will receive
    channels: list[str]
    overdue: list[str]  # channels whose time passed beyond lateness: not published late


def approve(
    ledger: Ledger, project: Project, post: Post, *, by: str, pinned: str | None = None,
    author: str | None = None,
) -> Approved:  # fmt: skip
    """Approve a post exactly as every channel will receive it, by a person other than its
    author (with forbid_self_approval), pinned to what they were shown when `pinned` (a
    prefix of the approval hash, from preview). Recorded in approvals.yaml and the ledger."""
    import re

    from crosspost.checking.project import render_every_channel
    from crosspost.scheduling.controls import (
        Approval,
        ApprovalsUnusable,
        post_approval_hash,
        same_person,
        save_approval,
        visible_name,
    )

    by = visible_name(by)  # as it stands on record: no stray, no-break or invisible characters
    if not by:
        raise ActionRefused("give the approver's name")
    config = project.config
    if config.forbid_self_approval:  # who wrote it, as known (author), and as the file says
        bare = re.sub(r"\s*\([^()]*\)$", "", by)  # "Jo Smith (jsmith, ...)" is Jo Smith
        for wrote in (author, post.author):
            if wrote and (same_person(wrote, by) or same_person(wrote, bare)):
                raise ActionRefused(
                    f"{post.id} was written by {wrote}: someone else must approve it"
                )
    rendered = _approvable(project, post, render_every_channel(project, post))
    digest = post_approval_hash(rendered)
    pin = (pinned or "").strip()
    if pinned is not None and not (
        re.fullmatch(r"sha256:[0-9a-f]{8,64}", pin) and digest.startswith(pin)
    ):
        raise ActionRefused(
            f"{post.id} is not what you were shown: its approval hash is now {digest[:19]}…, "
            f"not {pin[:19] or 'blank'}. Look at it again (crosspost preview {post.id}) and "
            "approve what it says now"
        )
    assert config.approvals_path is not None
    when = datetime.now().astimezone().isoformat(timespec="seconds")
    try:
        save_approval(config.approvals_path, Approval(post.id, by, when, digest))
    except ApprovalsUnusable as exc:
        raise ActionRefused(str(exc)) from None
    ledger.event(by, "approved", post.id, None, digest)
    now = ledger.clock()
    overdue = [
        d.channel for d in ledger.deliveries([State.HELD, State.EXPIRED])
        if d.post_id == post.id and d.due_at is not None
        and now - d.due_at > config.daemon.lateness
    ]  # fmt: skip
    return Approved(post.id, by, digest, [r.channel for r in rendered], overdue)


def _approvable(project: Project, post: Post, rendered: list[Any]) -> list[Any]:
    """Every channel's rendering of the post, or ActionRefused listing its problems."""
    problems = [f"{r.channel}: {p}" for r in rendered for p in r.problems]
    if len(rendered) < len(post.channels) or problems:
        listed = problems or [str(p) for p in project.problems.errors]
        raise ActionRefused(
            "\n".join([*(f"✗ {p}" for p in listed), f"{post.id} has problems: fix them "
                        "before approving"])
        )  # fmt: skip
    return rendered


def export_events(ledger: Ledger, path: Path, since: datetime | None = None) -> int:
    """Write the event log (who did what, when, why) to `path`, for records requests: CSV for
    a .csv name (cells never start as formulas), JSON Lines otherwise; how many events."""
    import csv
    import json

    from crosspost.core.cells import csv_cell

    events = ledger.events(since=since)
    fields = ("id", "at", "actor", "kind", "post_id", "channel", "detail")
    rows = [
        {"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "kind": e.kind,
         "post_id": e.post_id, "channel": e.channel, "detail": e.detail}
        for e in events
    ]  # fmt: skip
    with path.open("w", encoding="utf-8", newline="") as fh:
        if path.suffix.lower() == ".csv":
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
        else:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def _back_in_queue(ledger: Ledger, delivery: Delivery, by: str, *, late: bool) -> None:
    """Held (or expired) back to pending now; `late`: past its lateness, sent on `by`'s word."""
    ledger.set_state(
        delivery, State.PENDING, actor=by, only_from=[State.HELD, State.EXPIRED],
        retry_at=ledger.clock(),
        error=f"released {'late ' if late else ''}by {by}",
        error_kind=Act.RELEASED_LATE if late else Act.RELEASED,
    )  # fmt: skip


CREDENTIALS_DOC = "docs/credentials.md"


@dataclass
class ChannelCheck:
    """One channel's check by `check_channels`: what the platform said, and what followed."""

    key: str
    label: str  # e.g. "X @PCCKent"
    report: CredentialReport
    released: int | None = None  # its hold was lifted: this many deliveries back in the queue
    hold_kept: bool = False  # it passed, but nobody named is checking: its hold stays


SKEW_WARN = 2.0  # seconds between this server's clock and the database's: say so


@dataclass
class LedgerCheck:
    """What `crosspost doctor` found of the ledger: reachable, its schema, the clocks."""

    where: str
    ok: bool
    problems: list[str]
    notes: list[str]


def check_ledger(config: Config) -> LedgerCheck:
    """Open the ledger the config names (which also migrates it) and report on it; with
    PostgreSQL, how far this server's clock is from the database's, and the daemons seen."""
    from crosspost.scheduling.ledger import LedgerError
    from crosspost.scheduling.stores import open_ledger

    spec = config.ledger_spec
    missing = [p.message for p in config.environment_problems() if "ledger" in p.message]
    if missing:
        return LedgerCheck(spec.describe(), False, missing, [])
    problems: list[str] = []
    try:
        with open_ledger(spec, migrate=False) as ledger:
            notes = [f"schema version {ledger.schema_version}"]
            if spec.is_postgresql:
                _check_shared(ledger, config, problems, notes)
    except LedgerError as exc:
        return LedgerCheck(spec.describe(), False, [str(exc)], [])
    return LedgerCheck(spec.describe(), not problems, problems, notes)


def _check_shared(ledger: Ledger, config: Config, problems: list[str], notes: list[str]) -> None:
    """Several servers: the clocks agree, the daemons beat, the queue is in git."""
    from datetime import UTC, datetime

    from crosspost.scheduling.revision import queue_revision

    skew = (ledger.database_clock() - datetime.now(UTC)).total_seconds()
    said = f"this server's clock is {abs(skew):.1f} s from the database's"
    if abs(skew) > SKEW_WARN:
        problems.append(said + ": run NTP (chrony) on every server (docs/server.md)")
    else:
        notes.append(said)
    alive = [d for d in ledger.daemons() if d.alive(ledger.clock())]
    hosts = ", ".join(sorted({d.host_id for d in alive}))
    notes.append(f"{len(alive)} daemon(s) alive" + (f" on {hosts}" if hosts else ""))
    if queue_revision(config.queue_dir) is None:
        problems.append(
            "the queue is not a git checkout: several servers need it in git, so that one "
            "whose copy fell behind never publishes a post deleted elsewhere"
        )


def check_channels(
    config: Config, environ: Mapping[str, str] | None = None, *, by: str | None
) -> list[ChannelCheck]:
    """Check every channel's credentials, permissions and quota online (`crosspost doctor`).

    A channel whose ${VARIABLES} are not all set is not asked online: every missing one is
    listed, with where to find it. A channel that passes has its hold lifted; a token that
    expires soon, or a channel that fails, is alerted (once). `by`: who is checking (None:
    nobody named, so a hold is not lifted)."""
    from crosspost.scheduling.alerts import Alerter
    from crosspost.scheduling.ledger import LedgerError

    env = os.environ if environ is None else environ
    alerter = Alerter(config.alerts, env, timezone=config.timezone)
    checks = []
    for key, channel in config.channels.items():
        label = f"{channel.rules.label} {channel.handle}"
        check = ChannelCheck(key, label, _channel_report(config, key, env))
        # when the ledger cannot be used, `check_ledger` says why; this check still stands
        with contextlib.suppress(LedgerError):
            _record_check(config, alerter, check, channel.handle, by)
        checks.append(check)
    return checks


def _record_check(
    config: Config, alerter: Any, check: ChannelCheck, handle: str | None, by: str | None
) -> None:
    """What a channel's check means for the ledger: the token's expiry noted, a hold lifted
    (only with a name on record), and alerts (once)."""
    from crosspost.scheduling.stores import open_ledger

    if not (config.ledger_spec.exists() or config.alerts.enabled):
        return
    key, report = check.key, check.report
    with open_ledger(config.ledger_spec, migrate=False) as ledger:
        if report.ok:
            ledger.note_token(key, report.expires_at)
            if by is None:  # a hold is a control: lifted only with a name on record
                check.hold_kept = ledger.control(hold_key(key)) is not None
            else:
                check.released = lift_hold(ledger, key, by=by)
            if check.released is not None:
                alerter.clear_channel_alert(ledger, key, Met.AUTH)
        if config.alerts.enabled:
            if report.expires_at is not None:
                alerter.token_expiring(ledger, key, report.expires_at, handle=handle)
            if not report.ok:
                said = "; ".join(report.problems)
                alerter.channel_alert(ledger, key, Met.AUTH, said, handle=handle)


def _channel_report(config: Config, key: str, env: Mapping[str, str]) -> CredentialReport:
    """What one channel's check found, with its setup warnings (a retiring API version)."""
    channel = config.channels[key]
    adapter = channel.adapter(channel, root=config.root, environ=env)
    report = _online_report(adapter, channel, env)
    report.warnings[:0] = adapter.setup_warnings(adapter.now().date())  # e.g. API version
    return report


def _online_report(adapter: Adapter, channel: Channel, env: Mapping[str, str]) -> CredentialReport:
    """Every missing variable, or else what the platform says of the credentials."""
    from crosspost.adapters.base import CredentialReport
    from crosspost.core.errors import PublishError

    missing = [(var, used_by) for var, used_by, _ in channel.env_refs if not env.get(var)]
    if missing:
        problems = [f"environment variable {var} is not set (for {used})" for var, used in missing]
        if adapter.setup_help:
            problems.append(adapter.setup_help)
        problems.append(
            f"{CREDENTIALS_DOC} says where each {channel.rules.label} value is found and how to "
            "give it to the server; then run crosspost doctor again"
        )
        return CredentialReport(ok=False, problems=problems)
    try:
        return adapter.check_credentials()
    except PublishError as exc:
        return CredentialReport(ok=False, problems=[adapter.clean(str(exc))])
    except NotImplementedError:
        return CredentialReport(ok=True, warnings=["this platform cannot check credentials"])


@dataclass
class PublishedNow:
    """What `publish_now` did on one channel: the outcome, or why nothing was tried."""

    channel: str
    ok: bool
    message: str
    preview: str | None = None  # a dry run: what would go out (label, then the text)


def publish_refusal(project: Project, post: Post, channels: list[str]) -> str | None:
    """Why a person may not publish this post by hand now (the gate's word), or None."""
    from datetime import UTC, datetime

    from crosspost.checking.project import render_every_channel, render_one
    from crosspost.scheduling.controls import PAUSE, load_approvals, post_approval_hash
    from crosspost.scheduling.gate import HOLD_PREFIX, decide
    from crosspost.scheduling.stores import read_controls

    config = project.config
    # read only: a dry run (and a refusal) changes nothing, on either store
    controls = Controls(read_controls(config.ledger_spec, (PAUSE, HOLD_PREFIX)))
    approvals = load_approvals(config.approvals_path)
    now = datetime.now(UTC)
    for key in channels:
        rendered = render_one(project, post, key)
        if rendered is None:
            continue  # reported where it is published
        verdict = decide(
            rendered, config=config, now=now, controls=controls, approvals=approvals,
            approval_hash=lambda: post_approval_hash(render_every_channel(project, post)),
            by_person=True,
        )  # fmt: skip
        if not verdict.go:
            return f"{key}: {verdict.why} (to go on: {verdict.remedy})"
    return None


def _refuse_if_behind(ledger: Ledger, config: Config) -> None:
    """Several servers: a person on a server whose queue is behind the newest plan must not
    publish its older copy (a post withdrawn or corrected elsewhere)."""
    from crosspost.scheduling.revision import is_ancestor, queue_revision

    newest = ledger.newest_plan()
    rev = queue_revision(config.queue_dir)
    if newest is None or rev is None or is_ancestor(config.queue_dir, newest[0], rev):
        return
    raise ActionRefused(
        f"this server's queue (at {rev[:12]}) is behind the plan of {newest[1]} (at "
        f"{newest[0][:12]}): pull the queue first (git pull), then publish"
    )


def publish_now(
    project: Project, post: Post, channels: list[str], *, dry_run: bool, scratch: Path
) -> list[PublishedNow]:
    """Publish a post now on these channels, through the ledger (claimed first, recorded
    after: a second run publishes nothing); `dry_run`: through a fake of each platform and a
    scratch ledger in `scratch`, touching no account. Refused (ActionRefused) when the post is
    a draft or the gate holds it."""
    from crosspost.checking.project import render_one
    from crosspost.scheduling.controls import load_approvals
    from crosspost.scheduling.ledger import Ledger
    from crosspost.scheduling.publishing import dry_run_channel, owner_name, publish_delivery
    from crosspost.scheduling.stores import open_ledger

    if post.status == "draft":
        raise ActionRefused(f"{post.id} is a draft: set status: ready to publish it")
    refusal = publish_refusal(project, post, channels)
    if refusal:
        raise ActionRefused(refusal)
    config = project.config
    out: list[PublishedNow] = []
    ledger = (
        Ledger(scratch / "dry.db") if dry_run else open_ledger(config.ledger_spec, migrate=False)
    )
    with ledger:
        if not dry_run and config.ledger_spec.is_postgresql:
            _refuse_if_behind(ledger, config)
        for key in channels:
            channel = config.channels[key]
            rendered = render_one(project, post, key)
            if rendered is None or rendered.problems:
                problems = "; ".join(rendered.problems) if rendered else "it does not render"
                out.append(PublishedNow(key, False, f"not published: {problems}"))
                continue
            preview = None
            if dry_run:
                channel = dry_run_channel(channel, scratch / f"{key}.jsonl")
                preview = f"{channel.rules.label} {channel.handle}\n{rendered.text}"
            adapter = channel.adapter(channel, root=config.root)
            approval = load_approvals(config.approvals_path).get(post.id)
            outcome = publish_delivery(
                rendered, channel, adapter, ledger, owner_name("cli-publish"),
                approved_by=approval.by if approval else None,
            )  # fmt: skip
            out.append(PublishedNow(key, outcome.ok, outcome.message, preview))
    return out
