"""A public body's controls: emergency pause and approval bound to the exact content.

Pauses live in the ledger (controls `pause` and `pause:<channel>`), so a running daemon sees
them at once; the ledger's claim checks them in the same transaction, so nothing is sent
after a pause is recorded. Approvals live in `approvals.yaml` beside the config: committed
with the queue, visible in review, and bound to a hash of what every channel will receive.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from .ledger import Ledger
    from .render import Rendered

PAUSE = "pause"


def pause_key(channel: str | None) -> str:
    return f"{PAUSE}:{channel}" if channel else PAUSE


@dataclass(frozen=True)
class Pause:
    key: str
    reason: str
    by: str
    at: str
    until: datetime | None

    @property
    def channel(self) -> str | None:
        return self.key.partition(":")[2] or None

    def describe(self) -> str:
        scope = f"channel {self.channel}" if self.channel else "every channel"
        until = f" until {self.until:%Y-%m-%d %H:%M} UTC" if self.until else ""
        return f"{scope} paused by {self.by}{until}: {self.reason}"


def encode_pause(reason: str, by: str, at: datetime, until: datetime | None) -> str:
    return json.dumps(
        {"reason": reason, "by": by, "at": at.isoformat(), "until": until and until.isoformat()}
    )


def decode_pause(key: str, value: str) -> Pause:
    data = json.loads(value)
    until = datetime.fromisoformat(data["until"]) if data.get("until") else None
    return Pause(key, data.get("reason", ""), data.get("by", "?"), data.get("at", ""), until)


def active_pause(controls: dict[str, str], channel: str, now: datetime) -> Pause | None:
    """The pause that holds `channel` now (a global one first), if any."""
    for key in (PAUSE, pause_key(channel)):
        if key in controls:
            pause = decode_pause(key, controls[key])
            if pause.until is None or now < pause.until:
                return pause
    return None


def pauses(ledger: Ledger, now: datetime) -> list[Pause]:
    """Every pause in force."""
    found = [decode_pause(k, v) for k, v in ledger.controls(PAUSE).items()]
    return [p for p in found if p.until is None or now < p.until]


# --- approval ------------------------------------------------------------------------------

APPROVALS_HEADER = (
    "# Approvals, written by `crosspost approve`. Each is bound to a hash of exactly what\n"
    "# every channel will receive (text, link, comment, images, alt text): edit the post and\n"
    "# the approval goes stale, so the post is held until it is approved again.\n"
)


@dataclass(frozen=True)
class Approval:
    post_id: str
    by: str
    at: str
    hash: str


def approval_hash(content_hashes: dict[str, str]) -> str:
    """One hash over every channel's content hash: what the approver saw, all of it."""
    joined = "\n".join(f"{channel} {digest}" for channel, digest in sorted(content_hashes.items()))
    return "sha256:" + hashlib.sha256(joined.encode("utf-8")).hexdigest()


def post_approval_hash(rendered: list[Rendered]) -> str:
    from .publishing import content_hash

    return approval_hash({r.channel: content_hash(r) for r in rendered})


def load_approvals(path: Path | None) -> dict[str, Approval]:
    if path is None or not path.exists():
        return {}
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) or {}
    out = {}
    for post_id, item in data.items():
        if isinstance(item, dict) and {"by", "at", "hash"} <= set(item):
            out[str(post_id)] = Approval(
                str(post_id), str(item["by"]), str(item["at"]), item["hash"]
            )
    return out


def save_approval(path: Path, approval: Approval) -> None:
    """Add or replace one approval; the file is rewritten whole, atomically."""
    approvals = load_approvals(path)
    approvals[approval.post_id] = approval
    body: dict[str, Any] = {
        a.post_id: {"by": a.by, "at": a.at, "hash": a.hash}
        for a in sorted(approvals.values(), key=lambda a: a.post_id)
    }
    text = APPROVALS_HEADER + yaml.safe_dump(body, sort_keys=False, allow_unicode=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".approvals-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def approval_problem(
    approvals: dict[str, Approval], post_id: str, current_hash: Callable[[], str]
) -> str | None:
    """Why this post may not be published under require_approval, or None if it may.

    `current_hash` gives the post's approval hash now; it is called only for a post that has
    an approval to compare with (hashing means rendering every channel and hashing media).
    """
    found = approvals.get(post_id)
    if found is None:
        return "not approved: run crosspost approve POST_ID --by NAME after review"
    if found.hash != current_hash():
        return (
            f"approval is stale: approved by {found.by} at {found.at}, but the post has changed "
            "since; it must be approved again"
        )
    return None
