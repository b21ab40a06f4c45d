"""Publishing one delivery through the ledger: claim, send, record — exactly once."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from crosspost.adapters.base import Adapter, Receipt, SendDeadline, boot_clock, send_deadline
from crosspost.core.errors import (
    AuthError,
    InDoubt,
    LeaseLost,
    PartReceipt,
    PublishError,
    RateLimited,
    Rejected,
)
from crosspost.core.paths import in_project
from crosspost.core.states import Hold, Met, State, Status
from crosspost.loading.config import Channel
from crosspost.rendering.render import Rendered, content_hash
from crosspost.scheduling.gate import hold_key
from crosspost.scheduling.ledger import Delivery, Ledger

DEFAULT_LEASE = timedelta(minutes=10)


def host_id(configured: str | None = None) -> str:
    """This server's name in claims and heartbeats: $CROSSPOST_HOST_ID, else the config's
    `daemon: host_id`, else the host name (two servers must never share one)."""
    return os.environ.get("CROSSPOST_HOST_ID") or configured or socket.gethostname()


def owner_name(role: str, host: str | None = None) -> str:
    """Who holds a claim: host, process and role, for the event log."""
    return f"{host or host_id()}:{os.getpid()}:{role}"


@dataclass
class Outcome:
    """What happened to one delivery, in words for the person at the terminal."""

    post_id: str
    channel: str
    status: Status
    message: str
    delivery: Delivery | None = None

    @property
    def ok(self) -> bool:
        return self.status in (Status.PUBLISHED, Status.ALREADY)


def publish_delivery(
    rendered: Rendered,
    channel: Channel,
    adapter: Adapter,
    ledger: Ledger,
    owner: str,
    lease: timedelta = DEFAULT_LEASE,
    approved_by: str | None = None,
) -> Outcome:
    """Publish one rendered post on one channel now, unless the ledger says it already went."""
    post_id, key = rendered.post_id, channel.key
    delivery = ledger.ensure(
        post_id, key, rendered.publish_at, content_hash(rendered), rendered.text,
        file=in_project(rendered.post.file, adapter.root), actor=owner, thread=rendered.thread,
        media=[(m.rel, m.alt) for m in rendered.media],
    )  # fmt: skip
    if delivery.state == State.PUBLISHED:
        return Outcome(post_id, key, Status.ALREADY, _already(delivery), delivery)
    if delivery.state == State.IN_DOUBT:
        return Outcome(
            post_id, key, Status.IN_DOUBT,
            "an earlier send's outcome is unknown; it must be settled before anything is "
            f"sent again (last error: {delivery.last_error})", delivery,
        )  # fmt: skip
    if delivery.state == State.CLAIMED:
        lease_until = delivery.lease_until
        if lease_until and lease_until > ledger.clock():
            return Outcome(
                post_id, key, Status.BUSY,
                f"being published right now by {delivery.owner} (claim held until "
                f"{lease_until:%H:%M:%S} UTC)", delivery,
            )  # fmt: skip
        delivery = ledger.set_state(
            delivery, State.IN_DOUBT, error_kind=Met.IN_DOUBT, actor=owner,
            fenced=True, expired_by=ledger.clock(),
            error=f"a claim by {delivery.owner} expired without a result: the send may or "
            "may not have happened",
        )  # fmt: skip
        return Outcome(post_id, key, Status.IN_DOUBT, delivery.last_error or "", delivery)
    # a person asking for it now may publish what the daemon would not (expired, cancelled)
    manual = (State.PENDING, State.FAILED, State.HELD, State.EXPIRED, State.CANCELLED)
    return send(rendered, adapter, ledger, owner, lease, states=manual, approved_by=approved_by)


def send(
    rendered: Rendered,
    adapter: Adapter,
    ledger: Ledger,
    owner: str,
    lease: timedelta = DEFAULT_LEASE,
    *,
    states: tuple[str, ...] = (State.PENDING,),
    backoff: Callable[[int], timedelta | None] | None = None,
    approved_by: str | None = None,
    plan_rev: str | None = None,
) -> Outcome:
    """Claim the delivery (committed), call the platform, record what happened.

    With `backoff` (the daemon's retry policy) a temporary failure is retried at a later
    time until the attempts are spent; without it (a person at the terminal) it is left
    pending for them to try again.
    """
    post_id, key = rendered.post_id, adapter.channel.key
    claimed = ledger.claim(post_id, key, owner, lease, states=states, plan_rev=plan_rev)
    if claimed is None:  # paused, or another process took it between our look and our claim
        return _not_claimed(ledger, post_id, key)
    seconds = lease.total_seconds()
    # a request begun just before the deadline ends, at its HTTP timeout at the latest, before
    # the lease runs out (with the default 60 s lease on PostgreSQL, a 30 s timeout fits)
    margin = max(seconds / 3, min(adapter.timeout, seconds / 2))
    deadline = SendDeadline(seconds, margin=margin)
    on_part, on_note = _recorders(ledger, claimed)
    try:
        with _heartbeat(ledger, claimed, owner, lease, deadline), send_deadline(deadline):
            receipt = adapter.publish(
                rendered, resume=claimed.parts, on_part=on_part, notes=claimed.notes,
                on_note=on_note,
            )  # fmt: skip
    except PublishError as exc:
        return _failed(ledger, claimed, exc, adapter, backoff)
    except Exception as exc:  # a bug: the send may have happened, so never retry blindly
        message = adapter.clean(f"unexpected {type(exc).__name__}: {exc}")
        done = ledger.set_state(
            claimed, State.IN_DOUBT, error=message, error_kind=Met.IN_DOUBT, fenced=True
        )
        return Outcome(post_id, key, Status.IN_DOUBT, message, done)
    done = ledger.mark_published(
        claimed,
        remote_id=receipt.remote_id,
        url=receipt.url,
        published_at=receipt.published_at,
        parts=receipt.parts,
        comment_id=receipt.comment_id,
        approved_by=approved_by,
        media=[(m.rel, m.alt) for m in rendered.media],
        warnings=receipt.warnings,
    )
    return _published(claimed, done, receipt)


def _recorders(
    ledger: Ledger, claimed: Delivery
) -> tuple[Callable[[PartReceipt], None], Callable[[str, str], None]]:
    """What the adapter calls as it goes: a part published, a note before a publishing call.
    Each is written only while the claim is still this sender's; if not, the send stops."""

    def on_part(part: PartReceipt) -> None:
        if not ledger.record_part(claimed, part):
            raise InDoubt(
                f"part {part.index + 1} was published, but this server's claim had been "
                "taken over: the server that took it settles it"
            )

    def on_note(name: str, value: str) -> None:
        if not ledger.record_note(claimed, name, value):
            raise LeaseLost("not sent: this server's claim was taken over by another")

    return on_part, on_note


def _not_claimed(ledger: Ledger, post_id: str, key: str) -> Outcome:
    """Why a claim was not had: held by a pause, published already, or another's now."""
    current = ledger.get(post_id, key)
    state = current.state if current else "unknown"
    if current is not None and current.error_kind == Hold.PAUSED and state == State.HELD:
        return Outcome(post_id, key, Status.HELD, current.last_error or Hold.PAUSED, current)
    status = Status.ALREADY if state == State.PUBLISHED else Status.BUSY
    return Outcome(post_id, key, status, f"taken by another process ({state})", current)


def _published(claimed: Delivery, done: Delivery, receipt: Receipt) -> Outcome:
    """A send that went out: recorded, or (its claim taken over meanwhile) left to the
    server that took it over, which settles it by reading the account."""
    post_id, key = claimed.post_id, claimed.channel
    where = receipt.url or receipt.remote_id
    if done.state != State.PUBLISHED or done.fence != claimed.fence:
        return Outcome(
            post_id, key, Status.IN_DOUBT,
            f"published ({where}), but this server's claim had been taken over meanwhile: "
            "the server that took it over settles it", done,
        )  # fmt: skip
    if receipt.warnings:
        said = "; ".join(receipt.warnings)
        return Outcome(post_id, key, Status.PUBLISHED, f"published: {where} (but {said})", done)
    return Outcome(post_id, key, Status.PUBLISHED, f"published: {where}", done)


@contextlib.contextmanager
def _heartbeat(
    ledger: Ledger, claimed: Delivery, owner: str, lease: timedelta, deadline: SendDeadline
) -> Iterator[None]:
    """Renew the claim's lease while the send runs (a quarter of the lease at a time), so a
    long send — a GIF X is processing, an Instagram container being polled — is never taken
    for an abandoned one and sent again by another daemon. Each renewal moves the send's
    deadline on; a refused one (taken over) leaves it to run out."""
    if ledger.kind == "sqlite" and str(ledger.path) == ":memory:":
        yield
        return
    stop = threading.Event()
    seconds = lease.total_seconds()
    every = max(seconds / 4, 0.5)

    def beat() -> None:
        if stop.wait(every):
            return  # most sends end before the first beat: no second connection for them
        with contextlib.suppress(Exception), ledger.reopen() as own:
            while True:
                started = boot_clock()
                if not own.renew(claimed, owner, lease):
                    return
                deadline.renewed(started, seconds)
                if stop.wait(every):
                    return

    thread = threading.Thread(target=beat, name="crosspost-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def _already(delivery: Delivery) -> str:
    when = f"{delivery.published_at:%Y-%m-%d %H:%M} UTC" if delivery.published_at else "earlier"
    return f"already published {when}: {delivery.url or delivery.remote_id} (nothing sent)"


def _failed(
    ledger: Ledger,
    claimed: Delivery,
    exc: PublishError,
    adapter: Adapter,
    backoff: Callable[[int], timedelta | None] | None,
) -> Outcome:
    message = adapter.clean(str(exc))
    kind = exc.kind
    post_id, key = claimed.post_id, claimed.channel
    now = ledger.clock()
    if isinstance(exc, InDoubt):
        done = ledger.set_state(
            claimed, State.IN_DOUBT, error=message, error_kind=kind, fenced=True
        )
        return Outcome(post_id, key, Status.IN_DOUBT, f"outcome unknown: {message}", done)
    if exc.holds_channel:  # credentials, or an allowance used up for a long time
        if backoff is not None:  # the daemon holds the channel until `crosspost doctor` passes
            done = ledger.set_state(
                claimed, State.HELD, error=message, error_kind=kind, fenced=True,
                control=(hold_key(key), f"{kind}: {message}"),
            )  # fmt: skip
            if done.fence != claimed.fence or done.state != State.HELD:
                return Outcome(post_id, key, Status.BUSY, "taken over by another server", done)
            return Outcome(post_id, key, Status.HELD, f"channel held: {message}", done)
        done = ledger.set_state(claimed, State.FAILED, error=message, error_kind=kind, fenced=True)
        if isinstance(exc, AuthError):
            message = f"the channel's credentials need attention (run crosspost doctor): {message}"
        return Outcome(post_id, key, Status.FAILED, message, done)
    if isinstance(exc, Rejected):
        done = ledger.set_state(claimed, State.FAILED, error=message, error_kind=kind, fenced=True)
        return Outcome(post_id, key, Status.FAILED, f"rejected: {message}", done)
    # temporary: a passing fault or a rate limit
    delay = backoff(claimed.attempts) if backoff is not None else None
    if backoff is not None and delay is None:
        done = ledger.set_state(
            claimed, State.FAILED, error=f"gave up after {claimed.attempts} attempts: {message}",
            error_kind=kind, fenced=True,
        )  # fmt: skip
        return Outcome(post_id, key, Status.FAILED, done.last_error or message, done)
    retry_at = now + delay if delay is not None else None
    if isinstance(exc, RateLimited) and exc.retry_at is not None:
        retry_at = exc.retry_at
    done = ledger.set_state(
        claimed, State.PENDING, error=message, error_kind=kind, retry_at=retry_at, fenced=True
    )
    when = f" after {retry_at:%H:%M:%S} UTC" if retry_at else ""
    if isinstance(exc, RateLimited):
        return Outcome(
            post_id, key, Status.RETRY, f"rate limited; try again{when}: {message}", done
        )
    return Outcome(
        post_id, key, Status.RETRY, f"temporary failure; try again{when}: {message}", done
    )


def dry_run_channel(channel: Channel, outbox: Path) -> Channel:
    """The same channel, published through a fake that imitates its platform."""
    from dataclasses import replace

    from crosspost.adapters.fake import FakeAdapter

    imitates = channel.platform if channel.platform != "fake" else None  # any registered one
    settings = {"outbox": str(outbox), "imitates": imitates}
    return replace(
        channel,
        platform="fake",
        adapter=FakeAdapter,
        settings=settings,
        credentials={},
        env_refs=[],
    )
