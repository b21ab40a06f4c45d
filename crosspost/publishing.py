"""Publishing one delivery through the ledger: claim, send, record — exactly once."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from .adapters.base import Adapter
from .config import Channel
from .errors import AuthError, InDoubt, PublishError, RateLimited, Rejected
from .ledger import Delivery, Ledger
from .render import Rendered

DEFAULT_LEASE = timedelta(minutes=10)


def content_hash(rendered: Rendered) -> str:
    """A hash of exactly what the channel receives: texts, link, comment, media bytes, alt."""
    h = hashlib.sha256()
    media = []
    for m in rendered.media:
        media.append([hashlib.sha256(m.path.read_bytes()).hexdigest(), m.alt])
    payload = [
        rendered.channel,
        rendered.text,
        rendered.thread,
        rendered.link,
        rendered.first_comment,
        media,
    ]
    h.update(json.dumps(payload, ensure_ascii=False).encode("utf-8"))
    return "sha256:" + h.hexdigest()


def owner_name(role: str) -> str:
    """Who holds a claim: host, process and role, for the event log."""
    return f"{socket.gethostname()}:{os.getpid()}:{role}"


@dataclass
class Outcome:
    """What happened to one delivery, in words for the person at the terminal."""

    post_id: str
    channel: str
    status: str  # published, already, failed, in_doubt, retry, busy
    message: str
    delivery: Delivery | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("published", "already")


def publish_delivery(
    rendered: Rendered,
    channel: Channel,
    adapter: Adapter,
    ledger: Ledger,
    owner: str,
    lease: timedelta = DEFAULT_LEASE,
) -> Outcome:
    """Publish one rendered post on one channel, unless the ledger says it already went."""
    post_id, key = rendered.post_id, channel.key
    delivery = ledger.ensure(
        post_id, key, rendered.publish_at, content_hash(rendered), rendered.text
    )
    if delivery.state == "published":
        return Outcome(post_id, key, "already", _already(delivery), delivery)
    if delivery.state == "in_doubt":
        return Outcome(
            post_id, key, "in_doubt",
            "an earlier send's outcome is unknown; it must be settled before anything is "
            f"sent again (last error: {delivery.last_error})", delivery,
        )  # fmt: skip
    if delivery.state == "claimed":
        lease_until = delivery.lease_until
        if lease_until and lease_until > ledger.clock():
            return Outcome(
                post_id, key, "busy",
                f"being published right now by {delivery.owner} (claim held until "
                f"{lease_until:%H:%M:%S} UTC)", delivery,
            )  # fmt: skip
        delivery = ledger.set_state(
            delivery, "in_doubt", error_kind="in_doubt", actor=owner,
            error=f"a claim by {delivery.owner} expired without a result: the send may or "
            "may not have happened",
        )  # fmt: skip
        return Outcome(post_id, key, "in_doubt", delivery.last_error or "", delivery)

    claimed = ledger.claim(post_id, key, owner, lease)
    if claimed is None:  # another process took it between our look and our claim
        current = ledger.get(post_id, key)
        state = current.state if current else "unknown"
        status = "already" if state == "published" else "busy"
        return Outcome(post_id, key, status, f"taken by another process ({state})", current)
    try:
        receipt = adapter.publish(
            rendered,
            resume=claimed.parts,
            on_part=lambda part: ledger.record_part(claimed, part),
        )
    except PublishError as exc:
        return _failed(ledger, claimed, exc, adapter)
    except Exception as exc:  # a bug: the send may have happened, so never retry blindly
        message = adapter.clean(f"unexpected {type(exc).__name__}: {exc}")
        done = ledger.set_state(claimed, "in_doubt", error=message, error_kind="in_doubt")
        return Outcome(post_id, key, "in_doubt", message, done)
    done = ledger.mark_published(
        claimed,
        remote_id=receipt.remote_id,
        url=receipt.url,
        published_at=receipt.published_at,
        parts=receipt.parts,
        comment_id=receipt.comment_id,
    )
    where = receipt.url or receipt.remote_id
    return Outcome(post_id, key, "published", f"published: {where}", done)


def _already(delivery: Delivery) -> str:
    when = f"{delivery.published_at:%Y-%m-%d %H:%M} UTC" if delivery.published_at else "earlier"
    return f"already published {when}: {delivery.url or delivery.remote_id} (nothing sent)"


def _failed(ledger: Ledger, claimed: Delivery, exc: PublishError, adapter: Adapter) -> Outcome:
    message = adapter.clean(str(exc))
    kind = exc.kind
    post_id, key = claimed.post_id, claimed.channel
    if isinstance(exc, InDoubt):
        done = ledger.set_state(claimed, "in_doubt", error=message, error_kind=kind)
        return Outcome(post_id, key, "in_doubt", f"outcome unknown: {message}", done)
    if isinstance(exc, RateLimited):
        due = exc.retry_at
        done = ledger.set_state(claimed, "pending", error=message, error_kind=kind)
        when = f" after {due:%H:%M} UTC" if due else " later"
        return Outcome(post_id, key, "retry", f"rate limited; try again{when}: {message}", done)
    if isinstance(exc, AuthError):
        done = ledger.set_state(claimed, "failed", error=message, error_kind=kind)
        return Outcome(
            post_id, key, "failed",
            f"the channel's credentials need attention (run crosspost doctor): {message}", done,
        )  # fmt: skip
    if isinstance(exc, Rejected):
        done = ledger.set_state(claimed, "failed", error=message, error_kind=kind)
        return Outcome(post_id, key, "failed", f"rejected: {message}", done)
    done = ledger.set_state(claimed, "pending", error=message, error_kind=kind)
    return Outcome(post_id, key, "retry", f"temporary failure; try again: {message}", done)


def make_adapter(
    channel: Channel, root: Path, environ: Mapping[str, str] | None = None
) -> Adapter:
    """The channel's adapter."""
    return channel.adapter(channel, root=root, environ=environ)


def dry_run_channel(channel: Channel, outbox: Path) -> Channel:
    """The same channel, published through a fake that imitates its platform."""
    from dataclasses import replace

    from .adapters.fake import FakeAdapter

    imitates = channel.platform if channel.platform in ("x", "facebook", "instagram") else None
    settings = {"outbox": str(outbox), "imitates": imitates}
    return replace(
        channel,
        platform="fake",
        adapter=FakeAdapter,
        settings=settings,
        credentials={},
        env_refs=[],
    )
