"""Which revision of the queue a daemon plans from, and whether it is behind another's.

Several servers each read their own checkout of the queue, and checkouts are briefly out of
step (each pulls on its own timer). The rule (docs/decisions.md, "one plan for all"): every
daemon records the git commit its checkout is at (`plan_rev`) in the shared ledger; the newest
recorded revision is the plan, and a daemon publishes only while its own checkout *is* that
revision. A checkout that moved on (the newest is an ancestor of it) makes its revision the
newest; a checkout that is behind, or went another way, publishes nothing until it is pulled.
So a post deleted or edited on one host never goes out from a host that has not seen the
change yet.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def queue_revision(queue_dir: Path) -> str | None:
    """The commit the queue's git checkout is at; None when it is not in git."""
    from dulwich.errors import NotGitRepository
    from dulwich.repo import Repo

    try:
        with Repo.discover(str(queue_dir)) as repo:
            return repo.head().decode("ascii")
    except (NotGitRepository, KeyError, OSError):
        return None


def is_ancestor(queue_dir: Path, older: str, newer: str) -> bool:
    """Whether commit `older` is `newer` or one of its ancestors, in this checkout (a commit
    this checkout has not fetched is not)."""
    from dulwich.graph import can_fast_forward
    from dulwich.repo import Repo

    if older == newer:
        return True
    try:
        with Repo.discover(str(queue_dir)) as repo:
            store: Any = repo.object_store
            if older.encode() not in store:
                return False
            return bool(can_fast_forward(repo, older.encode(), newer.encode()))  # type: ignore[arg-type]
    except Exception:  # a damaged or missing object: not known to be an ancestor
        log.debug("cannot compare %s with %s", older, newer, exc_info=True)
        return False
