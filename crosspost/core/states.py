"""The names a delivery's life is written in, each spelled once.

A delivery in the ledger has a `State`, and an `error_kind` that says why it is in that
state: what a send met (`Met`, from `PublishError.kind`), what holds it (`Hold`, from the
gate), or what a person did (`Act`). The three sets share the one ledger column, so their
values never clash; `Kind` names any of them. What one call to publish came to is a
`Status`. Each is a `StrEnum`: its members are the very strings stored in the ledger and
printed in JSON, so files written before the enums read the same.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Where a delivery stands in the ledger."""

    PENDING = "pending"  # waiting for its time (or its retry)
    CLAIMED = "claimed"  # a process holds the lease and is sending it
    PUBLISHED = "published"
    FAILED = "failed"  # the platform refused it; a person must look
    IN_DOUBT = "in_doubt"  # a send's outcome is unknown until the account is read back
    EXPIRED = "expired"  # it missed its time and was not sent late
    HELD = "held"  # something in `Hold` keeps it back
    CANCELLED = "cancelled"  # its post or channel was removed


class Met(StrEnum):
    """What a send met (the `kind` of a `PublishError`)."""

    ERROR = "error"
    TRANSIENT = "transient"
    CHANGED = "changed"  # content changed between check and send
    RATE_LIMITED = "rate_limited"
    AUTH = "auth"
    CAPPED = "capped"  # the account's monthly allowance is used up
    REJECTED = "rejected"
    IN_DOUBT = "in_doubt"


class Hold(StrEnum):
    """What holds a delivery back (the gate's answer)."""

    DRAFT = "draft"
    BROKEN = "broken"  # its post file has errors
    PAUSED = "paused"
    CHANNEL = "held"  # the channel is held (credentials, a used-up cap) until doctor passes
    BLACKOUT = "blackout"
    APPROVAL = "approval"
    DUPLICATE = "duplicate"  # the same content went out on the channel under another id
    LATE = "expired"  # past lateness: it expires rather than going out late


class Act(StrEnum):
    """What a person (or the daemon on a person's behalf) did to a delivery."""

    APPROVED = "approved"
    RELEASED = "released"
    RELEASED_LATE = "released_late"
    RESOLVED = "resolved"  # settled by hand as not published
    FIXED = "fixed"  # its file was mended
    CANCELLED = "cancelled"


Kind = Met | Hold | Act


class Status(StrEnum):
    """What one call to publish a delivery came to."""

    PUBLISHED = "published"
    ALREADY = "already"  # published before; nothing sent
    FAILED = "failed"
    IN_DOUBT = "in_doubt"
    HELD = "held"
    RETRY = "retry"  # a temporary failure: it goes again later
    BUSY = "busy"  # another process has it


# Sets of states, named once
CLAIMABLE = (State.PENDING, State.FAILED)
OPEN = (State.PENDING, State.FAILED, State.HELD)  # the planner may still change these
NEEDS_ATTENTION = (State.FAILED, State.IN_DOUBT, State.EXPIRED, State.HELD)
