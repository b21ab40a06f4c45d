"""What the web app reads: the queue, rendered and checked, kept loaded between requests.

The queue on disk is the truth. A `Site` loads it once (as the daemon does, with a
`LoadCache`, so a reload costs what changed) and loads again when a file under the project
changes; the calendar's entries are made again only when the queue or the ledger changed.
Every request reads from the last load, so pages stay fast on a 10,000-post queue.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from crosspost.checking.project import LoadCache, Project, load_project, render_all, render_one
from crosspost.core.problems import Problem, Problems
from crosspost.loading.posts import Post, load_text
from crosspost.rendering.render import Rendered
from crosspost.scheduling.ledger import Ledger
from crosspost.scheduling.stores import open_ledger
from crosspost.views import html


@dataclass
class Loaded:
    """One load of the project, with everything pages need from it."""

    project: Project
    rendered: list[Rendered]
    entries: list[html.Entry]
    by_post: dict[str, list[html.Entry]]
    stamp: tuple[int, Hashable]  # (queue generation, ledger data version) it was made for


@dataclass
class Checked:
    """A post as typed into the form, checked as validate checks it: its problems (with the
    YAML key each belongs to, when known) and each channel's rendering."""

    post: Post | None
    problems: list[Problem]
    rendered: list[Rendered]
    fields_of: dict[int, str]  # problem index -> top-level key of the form it belongs to
    from_loading: int = 0  # the first this many problems are the file's own (not rendering's)

    def blocking(self, ready: bool) -> list[Problem]:
        """The errors that stop a save: the file's own always, the channels' when the post
        is ready (a draft may be saved unfinished: it is never published)."""
        errors = [p for p in self.problems[: self.from_loading] if p.severity == "error"]
        if ready:
            errors += [p for p in self.problems[self.from_loading :] if p.severity == "error"]
        return errors


class Site:
    """The project as the web app shows it: loaded once, loaded again after a change."""

    def __init__(self, config_path: Path | str, clock: Callable[[], datetime] | None = None):
        self.config_path = Path(config_path)
        self.clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._cache = LoadCache()
        self._generation = 0  # bumped when a file changes (the watcher, or a save here)
        self._loaded: Loaded | None = None
        self._local = threading.local()

    # --- loading ----------------------------------------------------------------------------

    def changed(self) -> None:
        """A file under the project changed: the next request loads again."""
        self._generation += 1

    def ledger(self) -> Ledger | None:
        """This thread's connection to the ledger, if there is one yet (the daemon creates
        it; SQLite connections stay in their thread)."""
        return self._ledger_for(self.project())

    def _ledger_for(self, project: Project) -> Ledger | None:
        spec = project.config.ledger_spec
        if not spec.exists():
            return None
        ledger = getattr(self._local, "ledger", None)
        if ledger is None or not ledger.same_store(spec):
            ledger = open_ledger(spec, migrate=False)
            self._local.ledger = ledger
        return ledger

    def _ledger_version(self, project: Project) -> Hashable:
        """The ledger's newest event id (-1: no ledger yet)."""
        ledger = self._ledger_for(project)
        return ledger.last_change() if ledger is not None else -1

    def project(self) -> Project:
        """The last load's project (loaded again if a file changed since)."""
        return self.loaded().project

    def loaded(self) -> Loaded:
        """The last load, made again if the queue or the ledger changed since."""
        with self._lock:
            current = self._loaded
            if current is None or current.stamp[0] != self._generation:
                generation = self._generation
                project = load_project(self.config_path, now=self.clock(), cache=self._cache)
                rendered = [*render_all(project), *html.unrendered(project)]
            else:
                generation, project, rendered = current.stamp[0], current.project, current.rendered
            version = self._ledger_version(project)
            if current is not None and current.stamp == (generation, version):
                return current
            entries = html.entries_of(
                project, rendered, html.page_names([r.post_id for r in rendered]),
                self._ledger_for(project), self.clock(),
            )  # fmt: skip
            by_post: dict[str, list[html.Entry]] = {}
            for e in entries:
                by_post.setdefault(e.rendered.post_id, []).append(e)
            self._loaded = Loaded(project, rendered, entries, by_post, (generation, version))
            return self._loaded

    # --- checking what is typed --------------------------------------------------------------

    def check(self, text: str, path: Path) -> Checked:
        """Check a post's YAML `text` as if it were the file at `path`, and render it for
        each of its channels, without writing anything: what validate would say."""
        project = self.project()
        problems = Problems()
        posts = load_text(text, path, project.config, problems)
        from_loading = sum(1 for p in problems.items if p.mark.path == path)
        rendered: list[Rendered] = []
        scratch = dataclasses.replace(
            project, posts=posts, problems=problems, rendered=[], cache=None,
            failures=[], past_noted=set(),
        )  # fmt: skip
        post = posts[0] if posts else None
        if post is not None:
            for key in post.channels:
                one = render_one(scratch, post, key)
                if one is not None:
                    rendered.append(one)
        items = [p for p in problems.items if p.mark.path == path]
        return Checked(post, items, rendered, _fields_of(items, text), from_loading)


def _fields_of(problems: list[Problem], text: str) -> dict[int, str]:
    """Which top-level key of the post each problem's line belongs to (none for a problem
    about the post as a whole, at its first line)."""
    owners: list[str] = []
    current = ""
    for source in text.splitlines():
        if source and not source[0].isspace() and not source.startswith("#") and ":" in source:
            current = source.split(":", 1)[0].strip()
        owners.append(current)
    out: dict[int, str] = {}
    for i, problem in enumerate(problems):
        index = problem.mark.line - 1
        if 0 <= index < len(owners) and owners[index] and (index or problem.mark.column > 1):
            out[i] = owners[index]
    return out
