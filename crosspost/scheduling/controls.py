"""A public body's controls: emergency pause and approval bound to the exact content.

Pauses live in the ledger (controls `pause` and `pause:<channel>`), so a running daemon sees
them at once; the ledger's claim checks them in the same transaction, so nothing is sent
after a pause is recorded. Approvals live in `approvals.yaml` beside the config: committed
with the queue, visible in review, and bound to a hash of what every channel will receive.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from crosspost.rendering.render import Rendered
    from crosspost.scheduling.ledger import Ledger

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
    from crosspost.rendering.render import content_hash

    return approval_hash({r.channel: content_hash(r) for r in rendered})


class Approvals(dict[str, Approval]):
    """The approvals in approvals.yaml, by post id. `problem` (a located message) when the
    file cannot be used — a merge conflict, the wrong shape: then no post counts as approved,
    so nothing is published on the strength of a file nobody can read."""

    problem: tuple[Any, str] | None = None  # (Mark, message)

    def describe_problem(self) -> str | None:
        if self.problem is None:
            return None
        mark, message = self.problem
        return f"{mark}: {message}"


def load_approvals(path: Path | None) -> Approvals:
    """Every approval; never raises: an unusable file gives no approvals and a `problem`."""
    from crosspost.core.problems import Mark
    from crosspost.loading import yamlfile

    out = Approvals()
    if path is None or not path.exists():
        return out
    try:
        data = yamlfile.load(path)
    except yamlfile.YamlError as exc:
        message = exc.message
        if "<<<<<<<" in _head(path) or "=======" in _head(path):
            message = (
                "it holds a git merge conflict (<<<<<<< ... >>>>>>>): resolve it, keeping "
                "both sides' approvals, then run crosspost validate"
            )
        out.problem = (exc.mark, message)
        return out
    if data is None:
        return out
    if not isinstance(data, dict):
        out.problem = (Mark(path), "approvals.yaml must map post ids to approvals")
        return out
    for post_id, item in data.items():
        if isinstance(item, dict) and {"by", "at", "hash"} <= set(item):
            out[str(post_id)] = Approval(
                str(post_id), str(item["by"]), str(item["at"]), str(item["hash"])
            )
        else:
            mark = data.value_mark(post_id) if hasattr(data, "value_mark") else Mark(path)
            out.problem = (
                mark,
                f"the approval of '{post_id}' needs 'by', 'at' and 'hash' (crosspost approve "
                "writes them); do not edit approvals by hand",
            )
            out.clear()
            return out
    return out


def _head(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(1 << 20)
    except OSError:
        return ""


def same_person(a: str, b: str) -> bool:
    """Whether two names name one person, as a reader would see them: case, accents written
    as combining marks, no-break and repeated spaces, and spaces at the ends do not count."""
    return _name_key(a) == _name_key(b)


def _name_key(name: str) -> str:
    return " ".join(visible_name(name).casefold().split())


def visible_name(name: str) -> str:
    """A name as it reads: NFKC, without invisible format characters (zero-width spaces, soft
    hyphens, word joiners, byte-order marks), spaces folded."""
    import unicodedata

    shown = "".join(
        c for c in unicodedata.normalize("NFKC", name) if unicodedata.category(c) != "Cf"
    )
    return " ".join(shown.split())


@contextlib.contextmanager
def _approvals_locked(path: Path) -> Iterator[None]:
    """One writer of approvals.yaml at a time (read, change and write under the lock), so
    two approvals given at once are both kept."""
    import fcntl

    with open(path.parent / f".{path.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class ApprovalsUnusable(Exception):
    """approvals.yaml cannot be read, so it is not rewritten (that would lose what it holds)."""


def save_approval(path: Path, approval: Approval) -> None:
    """Add or replace one approval; the file is rewritten whole, atomically, under a lock.
    ApprovalsUnusable when the file has errors: it is never overwritten then."""
    with _approvals_locked(path):
        approvals = load_approvals(path)
        if approvals.problem is not None:
            raise ApprovalsUnusable(
                f"{approvals.describe_problem()}; fix it before approving (crosspost will not "
                "overwrite a file it cannot read)"
            )
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
    problem = approvals.describe_problem() if isinstance(approvals, Approvals) else None
    if problem is not None:
        return (
            f"approvals.yaml cannot be read ({problem}): no post counts as approved until it "
            "is fixed"
        )
    found = approvals.get(post_id)
    if found is None:
        return f"not approved: run crosspost approve {post_id} --by NAME after review"
    if found.hash != current_hash():
        return (
            f"approval is stale: approved by {found.by} at {found.at}, but the post has changed "
            "since; it must be approved again"
        )
    return None
