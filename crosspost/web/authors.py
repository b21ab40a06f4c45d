"""Who wrote a post: the account that last saved its content in the web app (on record in
the ledger's event log, bound to the file's version), or else the author of the last git
commit that changed its file. Never the post's own `author` field, which anyone can write:
the two-person rule compares people the system knows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crosspost.scheduling.ledger import Ledger
from crosspost.web import store

WROTE = "wrote"  # event: an account saved a post's content (detail: the file's version)


@dataclass(frozen=True)
class Author:
    account: str | None  # the account's name, when the web app knows it
    identity: str  # as it stands on record: the account, or a git "Name <email>"
    source: str  # "web" or "git"


def record(ledger: Ledger, account: str, post_id: str, path: Path) -> None:
    """An account saved this post's file as it is now."""
    ledger.event(account, WROTE, post_id, None, store.file_version(path))


def author_of(ledger: Ledger | None, post_id: str, path: Path) -> Author | None:
    """Who wrote the post's content as the file holds it now, or None if nobody knows."""
    if ledger is not None:
        wrote = ledger.last_event(post_id, [WROTE])
        if wrote is not None and wrote.detail == store.file_version(path):
            return Author(wrote.actor, wrote.actor, "web")
    identity = git_author(path)
    return Author(None, identity, "git") if identity else None


def git_author(path: Path) -> str | None:
    """The author ("Name <email>") of the newest commit that changed `path`, if the file is
    in a git repository and committed; None otherwise."""
    from dulwich.errors import NotGitRepository
    from dulwich.repo import Repo

    try:
        repo = Repo.discover(str(path.parent))
    except (NotGitRepository, OSError):
        return None
    try:
        rel = path.resolve().relative_to(Path(repo.path).resolve()).as_posix().encode()
        for entry in repo.get_walker(paths=[rel], max_entries=1):
            return entry.commit.author.decode("utf-8", "replace")
    except (KeyError, ValueError, OSError):
        return None
    finally:
        repo.close()
    return None
