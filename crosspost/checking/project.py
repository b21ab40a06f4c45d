"""Config + queue + templates: loading, rendering every (post, channel) pair, and checking it."""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from crosspost.adapters.rules import Finding
from crosspost.checking.accessibility import lint as accessibility_lint
from crosspost.core.problems import ERROR, Mark, Problems
from crosspost.loading.config import Config, load_config
from crosspost.loading.posts import FileCache, Post, load_queue
from crosspost.loading.yamlfile import LocatedDict, LocatedList
from crosspost.rendering.render import Rendered, Renderer, RenderError


@dataclass
class Project:
    """Everything `validate` and `preview` look at, loaded once."""

    config: Config
    posts: list[Post]
    problems: Problems
    now: datetime
    renderer: Renderer
    rendered: list[Rendered] = field(default_factory=list)
    cache: LoadCache | None = None
    stamp: object = None
    checkers: dict[str, Any] = field(default_factory=dict)  # one adapter per channel, offline
    # (post, channel, why) for each pair that could not be rendered (a broken or missing
    # template): the HTML preview shows them
    failures: list[tuple[Post, str, str]] = field(default_factory=list)
    # (post id, publication time) already warned about as in the past: once per post
    past_noted: set[tuple[str, datetime]] = field(default_factory=set)

    def broken_files(self) -> set[Path]:
        """Files with errors, post files with a rendering that has problems among them: the
        daemon plans nothing in them (an edit that breaks a file keeps what it had)."""
        broken = {p.mark.path for p in self.problems.errors}
        broken.update(r.post.file for r in self.rendered if r.problems)
        return broken

    def checker(self, key: str) -> Any:
        """The channel's adapter, made once, for its offline checks."""
        if key not in self.checkers:
            channel = self.config.channels[key]
            self.checkers[key] = channel.adapter(channel, root=self.config.root)
        return self.checkers[key]


@dataclass
class LoadCache:
    """What a long-running process keeps between loads, so a reload costs what changed."""

    files: FileCache = field(default_factory=dict)
    # (post id, channel) -> (the post it was made from, templates+config stamp, result)
    renders: dict[tuple[str, str], tuple[Post, object, Rendered, list[Finding]]] = field(
        default_factory=dict
    )


def _environment_stamp(config: Config) -> object:
    """Changes when the config or any template changes."""
    files = [config.path, *sorted(p for p in config.templates_dir.rglob("*") if p.is_file())]
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building a large, long-lived structure.

    Loading a queue allocates hundreds of thousands of objects that all stay alive; the
    collector would walk them again and again for nothing (measured: 30 % of validate's time
    on 10,000 posts). Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            # What survived the pause is long-lived; move it straight to the oldest generation
            # (freeze, then unfreeze, does just that) rather than let the first collections walk
            # all of it twice on its way there (measured: 7 % of validate's time). A cycle of
            # garbage made meanwhile is still found, by the next full collection.
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def load_project(
    config_path: Path | str, now: datetime | None = None, cache: LoadCache | None = None
) -> Project:
    """Load config and queue; ConfigError if the config is unusable."""
    config = load_config(config_path)
    problems = Problems()
    problems.extend(config.warnings)  # the config's own warnings (a literal password ...)
    with gc_paused():
        posts = load_queue(config, problems, cache.files if cache is not None else None)
    return Project(
        config=config,
        posts=posts,
        problems=problems,
        now=now or datetime.now(UTC),
        renderer=Renderer(config),
        cache=cache,
        stamp=_environment_stamp(config) if cache is not None else None,
    )


def render_all(
    project: Project,
    post_ids: Iterable[str] | None = None,
    channels: Iterable[str] | None = None,
) -> list[Rendered]:
    """Render and check every selected (post, channel) pair, recording problems."""
    with gc_paused():
        return _render_all(project, post_ids, channels)


def _render_all(
    project: Project, post_ids: Iterable[str] | None, channels: Iterable[str] | None
) -> list[Rendered]:
    wanted_posts = set(post_ids) if post_ids else None
    wanted_channels = set(channels) if channels else None
    out: list[Rendered] = []
    for post in project.posts:
        if wanted_posts is not None and post.id not in wanted_posts:
            continue
        for key in post.channels:
            if wanted_channels is not None and key not in wanted_channels:
                continue
            rendered = render_one(project, post, key)
            if rendered is not None:
                out.append(rendered)
    project.rendered = out
    return out


def render_every_channel(project: Project, post: Post) -> list[Rendered]:
    """The post as each of its channels receives it (those that render): what an approval
    covers, whichever channels are being looked at."""
    return [r for key in post.channels if (r := render_one(project, post, key)) is not None]


def render_one(project: Project, post: Post, key: str) -> Rendered | None:
    channel = project.config.channels[key]
    cache = project.cache
    hit = cache.renders.get((post.id, key)) if cache is not None else None
    if hit is not None and hit[0] is post and hit[1] == project.stamp:
        rendered, findings = hit[2], hit[3]
        rendered.problems, rendered.warnings = [], []
    else:
        try:
            rendered = project.renderer.render(post, channel)
        except RenderError as exc:
            message = f"{channel.key}: {exc.message}"
            project.problems.error(exc.mark, message)
            project.failures.append((post, key, exc.message))
            if exc.mark.path != post.file:  # a broken template: say which post it stopped
                project.problems.error(post.mark, f"{channel.key}: template failed ({exc.mark})")
            return None
        findings = project.checker(key).check(rendered)
        findings += accessibility_lint(rendered)
        if cache is not None:
            cache.renders[(post.id, key)] = (post, project.stamp, rendered, findings)
    for finding in findings:
        target = rendered.problems if finding.severity == ERROR else rendered.warnings
        target.append(finding.message)
        mark = finding.mark or post.mark
        message = f"{channel.key}: {finding.message}"
        if finding.too_long is not None:
            mark, ways_out = _too_long(project, post, key, rendered, finding.too_long)
            message += ways_out
        if finding.severity == ERROR:
            project.problems.error(mark, message)
        else:
            project.problems.warning(mark, message)
    when = rendered.publish_at
    if when is not None and when < project.now and post.status == "ready":
        message = past_message(when, project.now, project.config.daemon.lateness, post.id)
        rendered.warnings.append(message)
        if (post.id, when) not in project.past_noted:  # once per post, not per channel
            project.past_noted.add((post.id, when))
            project.problems.warning(_time_mark(post, key), message)
    if post.status == "draft":
        rendered.warnings.append("draft: will not be published until status is ready")
    blackout = project.config.blackout_for(key, rendered.publish_at, post.tags)
    if blackout is not None and post.status == "ready":
        message = (
            f"due inside the blackout window '{blackout.name}' ({blackout.reason}): it will be "
            "held, not published"
        )
        rendered.warnings.append(message)
        project.problems.warning(_time_mark(post, key), f"{key}: {message}")
    return rendered


_TEXT_FIELDS = ("title", "body", "link")


def _too_long(
    project: Project, post: Post, key: str, rendered: Rendered, part: int
) -> tuple[Mark, str]:
    """Where a text over the limit comes from (the field that makes up most of it, in the
    post or its override for the channel) and the ways out, for a person to act on."""
    if part > 0:  # a thread part: its own item of `thread`
        items = _field_data(post, key, "thread").get("thread")
        mark = items.item_mark(part - 1) if isinstance(items, LocatedList) else post.mark
        return mark, f": shorten part {part + 1} of the thread, or split it into two parts"
    fields = post.fields_for(key)
    flat = " ".join(rendered.text.split())
    found = [
        name for name in _TEXT_FIELDS
        if isinstance(fields.get(name), str) and " ".join(fields[name].split())[:40] in flat
    ]  # fmt: skip
    if not found:  # the template's own words: the template is what to shorten
        return post.mark, f": shorten the post, or the words of the template for {key}"
    name = max(found, key=lambda n: len(fields[n]))
    data = _field_data(post, key, name)
    overridden = name in post.overrides.get(key, {})
    ways = [f"shorten the {name}" + (f" under overrides: {key}" if overridden else "")]
    if not overridden:
        ways.append(f"give {key} a shorter {name} of its own (overrides: {key}: {name}: ...)")
    if project.checker(key).channel.rules.thread:
        ways.append("split it into a thread (thread: [next part, ...])")
    return data.value_mark(name), f"; the {name} is most of it. Ways out: " + "; or ".join(ways)


def _field_data(post: Post, key: str, name: str) -> LocatedDict:
    """The located mapping field `name` of channel `key` was read from: the channel's
    override when it sets that field, else the post itself."""
    data = post.data if post.data is not None else LocatedDict()
    if not hasattr(data, "path"):  # a post made in code, not read from a file
        data.path, data.pos, data.key_pos, data.value_pos = post.file, 0, {}, {}
    overrides = data.get("overrides")
    own = overrides.get(key) if isinstance(overrides, LocatedDict) else None
    return own if isinstance(own, LocatedDict) and name in own else data


def past_message(when: datetime, now: datetime, lateness: timedelta, post_id: str) -> str:
    """What a daemon running now would do with a post whose time has passed (the same rule
    as the daemon's: within `lateness` it still goes out, after it it expires)."""
    late = now - when
    minutes = int(late.total_seconds() // 60)
    allowed = int(lateness.total_seconds() // 60)
    ago = f"{minutes} minute{'s' * (minutes != 1)} ago" if minutes < 120 else "long ago"
    if late <= lateness:
        return (
            f"publish_at {when.isoformat()} has passed ({ago}): a daemon running now would "
            f"still publish it, late but within the {allowed} minutes allowed"
        )
    return (
        f"publish_at {when.isoformat()} is in the past ({ago}), more than the {allowed} "
        "minutes allowed: the daemon would expire it, not publish it late (to send it late "
        f"all the same: crosspost release {post_id} --late)"
    )


def _time_mark(post: Post, key: str):  # type: ignore[no-untyped-def]
    data = post.data
    if data is None:
        return post.mark
    overrides = data.get("overrides") or {}
    if key in overrides and "publish_at" in overrides[key]:
        return overrides[key].value_mark("publish_at")
    return data.value_mark("publish_at") if "publish_at" in data else post.mark


def check_quotas(project: Project) -> None:
    """Warn where the queue would publish more in a rolling window than a channel's quota."""
    times: dict[str, list[tuple[float, Rendered]]] = defaultdict(list)
    for rendered in project.rendered:
        if rendered.post.status != "ready" or rendered.publish_at is None:
            continue
        for _ in range(1 + len(rendered.thread)):  # each thread part is a post of its own
            times[rendered.channel].append((rendered.publish_at.timestamp(), rendered))
    for key, entries in times.items():
        quota = project.config.channels[key].quota
        if quota is None:
            continue
        entries.sort(key=lambda e: e[0])
        window = quota.per.total_seconds()
        start = 0
        reported: set[str] = set()
        for end, (when, rendered) in enumerate(entries):
            while when - entries[start][0] >= window:
                start += 1
            count = end - start + 1
            if count > quota.posts and rendered.post.id not in reported:
                reported.add(rendered.post.id)
                message = (
                    f"{key}: {count} posts within {_span(quota.per)} up to this one; the "
                    f"channel's quota is {quota.posts} per {_span(quota.per)}"
                )
                rendered.warnings.append(message)
                project.problems.warning(_time_mark(rendered.post, key), message)


def _span(delta) -> str:  # type: ignore[no-untyped-def]
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def check_approvals(project: Project) -> None:
    """Warn about ready posts that are not approved, or whose approval is stale."""
    from crosspost.scheduling.controls import approval_problem, load_approvals, post_approval_hash

    approvals = load_approvals(project.config.approvals_path)
    if approvals.problem is not None:  # once, where it is; then each post is not approved
        mark, message = approvals.problem
        project.problems.error(mark, f"approvals.yaml cannot be read: {message}")
    by_post: dict[str, list[Rendered]] = defaultdict(list)
    for one in project.rendered:
        if one.post.status == "ready" and one.publish_at is not None:
            by_post[one.post_id].append(one)
    for post_id, group in by_post.items():
        problem = approval_problem(approvals, post_id, partial(post_approval_hash, group))
        if problem is not None:
            for r in group:
                r.warnings.append(problem)
            project.problems.warning(group[0].post.mark, problem)


def validate(
    config_path: Path | str,
    now: datetime | None = None,
    environ: Mapping[str, str] | None = None,
    require_credentials: bool = False,
    cache: LoadCache | None = None,
) -> Project:
    """Load, render and check everything; the project's problems hold the findings."""
    with gc_paused():
        return _validate(config_path, now, environ, require_credentials, cache)


def _validate(
    config_path: Path | str,
    now: datetime | None,
    environ: Mapping[str, str] | None,
    require_credentials: bool,
    cache: LoadCache | None,
) -> Project:
    project = load_project(config_path, now, cache)
    for problem in project.config.environment_problems(environ):
        if require_credentials:
            project.problems.error(problem.mark, problem.message)
        else:
            project.problems.warning(problem.mark, problem.message + "; publishing would fail")
    if require_credentials:  # what the server's setup needs before it stops working
        for key, channel in project.config.channels.items():
            for warning in project.checker(key).setup_warnings(project.now.date()):
                project.problems.warning(channel.mark, f"channel {key}: {warning}")
    render_all(project)
    check_quotas(project)
    if project.config.require_approval:
        check_approvals(project)
    return project
