"""Who wrote a post: the account that last saved its content in the web app (on record in
the ledger's event log, bound to the file's version), or else the author of the last git
commit that changed its file. Never the post's own `author` field, which anyone can write:
the two-person rule compares people the system knows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crosspost.scheduling.ledger import Ledger
from crosspost.web import store

WROTE = "wrote"  # event: an account saved a post's content (detail: the file's version)


@dataclass(frozen=True)
class Author:
    account: str | None  # the account's name, when the web app knows it
    identity: str  # as it stands on record: the account, or a git "Name <email>"
    source: str  # "web", "git", or "changed" (edited outside crosspost: not known)


def record(ledger: Ledger, account: str, post_id: str, path: Path) -> None:
    """An account saved this post's file as it is now."""
    ledger.event(account, WROTE, post_id, None, store.file_version(path))


def author_of(ledger: Ledger | None, post_id: str, path: Path) -> Author | None:
    """Who wrote the post's content as the file holds it now, or None if nobody knows."""
    if ledger is not None:
        wrote = ledger.last_event(post_id, [WROTE])
        if wrote is not None and wrote.detail == store.file_version(path):
            return Author(wrote.actor, wrote.actor, "web")
    if _changed_since_commit(path):  # edited outside crosspost and not committed: unknown
        return Author(None, "", "changed")
    identity = git_author(path)
    return Author(None, identity, "git") if identity else None


def is_author(wrote: Author | None, account: str, display: str | None, email: str | None,
              email_of: Any = None) -> bool:  # fmt: skip
    """Whether the person of `account` (with this display name and e-mail address) wrote the
    post: the same account, the same e-mail address as the account that did (one person may
    hold two), or, from git, the same name or address as the commit's author."""
    from crosspost.scheduling.controls import same_person

    if wrote is None or wrote.source == "changed":
        return False
    mine = (email or "").casefold()
    if wrote.account is not None:
        theirs = (email_of(wrote.account) or "").casefold() if email_of else ""
        return wrote.account == account or bool(mine and theirs == mine)
    name, _, address = wrote.identity.partition("<")
    address = address.rstrip(">").strip().casefold()
    names = [n for n in (display, account) if n]
    return any(same_person(name.strip(), n) for n in names) or bool(mine and address == mine)


def _changed_since_commit(path: Path) -> bool:
    """Whether the file differs from its last commit (or is not committed), in a repository."""
    from dulwich import porcelain
    from dulwich.errors import NotGitRepository
    from dulwich.repo import Repo

    try:
        repo = Repo.discover(str(path.parent))
    except (NotGitRepository, OSError):
        return False
    try:
        rel = path.resolve().relative_to(Path(repo.path).resolve()).as_posix().encode()
        status = porcelain.status(repo, untracked_files="no")
        changed = [*status.unstaged, *[p for group in status.staged.values() for p in group]]
        return rel in changed
    except (KeyError, ValueError, OSError):
        return False
    finally:
        repo.close()


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
