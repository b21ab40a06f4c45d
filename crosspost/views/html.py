"""A static HTML preview of the queue: a calendar of deliveries and a mock-up page per post.

`write_site` writes a folder that works opened straight from disk: relative links only, no
server, no network, no CDN; the stylesheet and every image are copied into the folder. The
pages are Jinja2 templates shipped in the package (`crosspost/views/html_templates/`), rendered with
autoescaping on, so nothing a post says can become markup.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import sys
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup, escape

from crosspost.checking.project import Project, render_all
from crosspost.core.paths import in_project
from crosspost.core.states import Hold, State
from crosspost.core.times import format_local
from crosspost.rendering.render import Rendered, RenderError
from crosspost.scheduling.gate import Controls, decide

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from crosspost.loading.config import Blackout
    from crosspost.scheduling.controls import Pause
    from crosspost.scheduling.ledger import Delivery, Ledger

log = logging.getLogger(__name__)

# Every state a delivery is shown in, in the order the legend lists them, with what it means.
STATES: dict[str, str] = {
    "draft": "not to be published until its status is ready",
    "blocked": "its file has errors; not to be published until they are fixed",
    "ready": "ready, waiting for approval",
    "approved": "approved; will be published at its time",
    "held": "held by a pause or a blackout window; a person must release it",
    "sending": "claimed by the daemon, being sent now",
    "published": "published; links to the live post",
    "failed": "publishing failed",
    "in_doubt": "sent, outcome unknown; being settled",
    "expired": "missed its time; not published late",
    "cancelled": "its post or channel was removed",
}
_LEDGER_STATES = {
    "held": "held",
    "claimed": "sending",
    "published": "published",
    "failed": "failed",
    "in_doubt": "in_doubt",
    "expired": "expired",
    "cancelled": "cancelled",
}
BANNER_HORIZON = timedelta(days=30)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
# a web address, an @mention or a #hashtag, in that order of preference
_TOKENS = re.compile(
    r"(?P<url>https?://[^\s<>\"]+)"
    r"|(?P<mention>(?<![\w@#])@[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?)"
    r"|(?P<hashtag>(?<![\w&#])[#＃][^\W_][\w]*)",
    re.IGNORECASE,
)
_TRAILING_PUNCTUATION = ".,;:!?)]}'\""


@dataclass
class Entry:
    """One delivery (post × channel) as the preview shows it."""

    rendered: Rendered
    state: str
    label: str  # the platform's name: X, Facebook, Instagram
    page: str  # posts/<id>.html, relative to the site root
    local: datetime | None  # publish time in the configured zone
    when: str  # the publish time as text
    url: str | None = None  # the live post, once published
    reason: str | None = None  # why it is in its state (held, failed ...)
    approval: str | None = None  # why it is not approved (require_approval only)
    item: Markup | None = None  # its calendar entry (macros.html.j2's delivery), made once
    notes: list[str] = field(default_factory=list)  # the adapter's mockup_notes

    @property
    def anchor(self) -> str:
        return "ch-" + _UNSAFE_NAME.sub("-", self.rendered.channel)


@dataclass
class Day:
    day: date
    in_month: bool
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Banner:
    kind: str  # "blackout" or "pause"
    active: bool
    text: str


def write_site(
    project: Project,
    out_dir: Path,
    ledger: Ledger | None = None,
    now: datetime | None = None,
) -> Path:
    """Write the HTML preview of `project` into `out_dir`; return the path of its index.html.

    Renders the queue unless `project.rendered` already holds a rendering (e.g. a selection).
    With a ledger, each delivery shows its ledger state and published ones link to their
    live URL; pauses recorded in the ledger are shown in a banner.
    """
    now = now or project.now
    out_dir = Path(out_dir)
    rendered = project.rendered or render_all(project)
    config = project.config
    zone = config.timezone
    rendered = [*rendered, *unrendered(project)]
    pages = page_names([r.post_id for r in rendered])
    entries = entries_of(project, rendered, pages, ledger, now)

    env = _environment()
    badges = _render_repeated(env, entries)
    images = _start_folder(project, rendered, out_dir)
    common = {
        "states": STATES,
        "badges": badges,
        "banners": banners(config.blackouts, pauses_in(ledger, now), now, zone),
        "generated": format_local(now, zone),
        "config_name": config.path.name,
    }
    post_pages = _PostPages(
        env.get_template("post.html.j2"), out_dir, pages, images, common, config.root, zone
    )
    index = out_dir / "index.html"
    _write_pages(project, env, entries, index, post_pages)
    return index


def entries_of(
    project: Project,
    rendered: list[Rendered],
    pages: dict[str, str],
    ledger: Ledger | None,
    now: datetime,
) -> list[Entry]:
    """Each delivery as the preview shows it: its state, local time, page and live URL."""
    config = project.config
    zone = config.timezone
    approvals = _approval_problems(project, rendered) if config.require_approval else {}
    broken = project.broken_files()  # as the daemon plans: nothing in them is published
    controls = Controls.read(ledger) if ledger is not None else Controls()
    known = {(d.post_id, d.channel): d for d in ledger.deliveries()} if ledger is not None else {}
    entries: list[Entry] = []
    for r in rendered:
        delivery = known.get((r.post_id, r.channel))
        state, reason = _state(project, r, delivery, approvals, controls, now, broken)
        local = r.publish_at.astimezone(zone) if r.publish_at else None
        entries.append(
            Entry(
                rendered=r,
                state=state,
                label=config.channels[r.channel].rules.label,
                page=f"posts/{pages[r.post_id]}",
                local=local,
                when=format_local(r.publish_at, zone) if r.publish_at else "no time set",
                url=delivery.url if delivery is not None and state == State.PUBLISHED else None,
                reason=reason,
                approval=approvals.get(r.post_id),
                notes=mockup_notes(config.channels[r.channel]),
            )
        )
    return entries


def mockup_notes(channel: Any) -> list[str]:
    """What the platform shows readers before the post, from the adapter (never fatal)."""
    try:
        return [str(n) for n in channel.adapter.mockup_notes(channel.settings)]
    except Exception:  # a plugin's bug must not break the preview
        return []


def _render_repeated(env: jinja2.Environment, entries: list[Entry]) -> dict[str, Markup]:
    """Render once what the calendars repeat; return the state badges, set each `Entry.item`."""
    # the state badges, and each delivery's entry (it stands in both the month and the week view)
    macros = env.get_template("macros.html.j2").module
    badges = {state: macros.badge(state) for state in STATES}  # type: ignore[attr-defined]
    for e in entries:
        if e.local is not None:
            e.item = macros.delivery(e, "", badges)  # type: ignore[attr-defined]
    return badges


def _start_folder(project: Project, rendered: list[Rendered], out_dir: Path) -> dict[Path, str]:
    """Make the site's folders, copy in the stylesheet and images; return `_copy_images`'s map."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "posts").mkdir(exist_ok=True)
    (out_dir / "style.css").write_bytes(_static("style.css"))
    return _copy_images(project, rendered, out_dir)


@dataclass
class _PostPages:
    """Writes the page of each post, given groups of its entries and a file writer."""

    template: jinja2.Template  # post.html.j2
    out_dir: Path
    pages: dict[str, str]  # post id -> file name in posts/
    images: dict[Path, str]
    common: dict[str, object]  # what every page is rendered with
    root: Path  # the project's, for the file each post comes from
    zone: ZoneInfo

    def __call__(self, groups: list[list[Entry]], write: Callable[[Path, str], None]) -> None:
        """Render and write the page of each group's post."""
        for group in groups:
            post = group[0].rendered.post
            when = format_local(post.publish_at, self.zone) if post.publish_at else "no time set"
            write(
                self.out_dir / "posts" / self.pages[post.id],
                self.template.render(
                    root="../",
                    post=post,
                    entries=group,
                    images=self.images,
                    when=when,
                    file=in_project(post.file, self.root),
                    **self.common,
                ),
            )


def _write_pages(
    project: Project,
    env: jinja2.Environment,
    entries: list[Entry],
    index: Path,
    post_pages: _PostPages,
) -> None:
    """Write `index` and every post's page, a share of the pages in a second process."""
    scheduled = sorted((e for e in entries if e.local), key=_order)
    by_post: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        by_post[e.rendered.post_id].append(e)
    groups = list(by_post.values())
    split = len(groups) * 2 // 5  # here: the index and 40 % of the pages, about half the work
    with _meanwhile(partial(post_pages, groups[split:]), len(groups)), _Writer() as write:
        write(
            index,
            env.get_template("index.html.j2").render(
                root="",
                months=months(scheduled),
                weeks=weeks(scheduled),
                unscheduled=[e for e in entries if e.local is None],
                channels=_by_channel(project, entries),
                counts=counts(entries),
                posts=len(post_pages.pages),
                unreadable=_unreadable(project),
                **post_pages.common,
            ),
        )
        post_pages(groups[:split], write)


FORK_MIN_POSTS = 200  # below this, a second process costs more than it saves


@contextmanager
def _meanwhile(work: Callable[[Callable[[Path, str], None]], None], posts: int) -> Iterator[None]:
    """Run `work` (given a file writer) in a forked child while the `with` body runs here.

    Rendering pages is CPU work for one core, and each page is independent, so a large site
    is written by two processes: the child writes its share of the files itself, and nothing
    comes back but its exit status. Where forking is unsafe or pointless (no fork, other
    threads running, one CPU, a small site) or the child fails, `work` runs here, after the
    body, instead; the files are the same either way.
    """
    pid = _fork() if posts >= FORK_MIN_POSTS else None
    if pid == 0:  # the child: never returns into the caller
        code = 1
        try:
            with _Writer() as write:
                work(write)
            code = 0
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)
    try:
        yield
    except BaseException:
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
        raise
    if pid is not None:
        _, status = os.waitpid(pid, 0)
        if status == 0:
            return
        log.warning("the second process writing the HTML preview failed; writing its pages here")
    with _Writer() as write:
        work(write)


def _fork() -> int | None:
    """os.fork(), where it is safe and worth it; None where not."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return None  # forking with other threads running can deadlock the child
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if (cpus or 1) < 2:
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        return os.fork()
    except OSError:
        return None


class _Writer:
    """Writes files on a thread of its own, so that creating them (slow on some disks: the
    kernel's time, measured up to 1 ms a file here) overlaps rendering the next pages.

    At most `backlog` pages wait in memory; leaving the `with` waits for every write and
    raises the first error.
    """

    def __init__(self, backlog: int = 64):
        from concurrent.futures import Future, ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crosspost-html")
        self.pending: deque[Future[int]] = deque()
        self.backlog = backlog

    def __enter__(self) -> _Writer:
        return self

    def __call__(self, path: Path, text: str) -> None:
        self.pending.append(self.pool.submit(path.write_text, text, encoding="utf-8"))
        if len(self.pending) > self.backlog:
            self.pending.popleft().result()

    def __exit__(self, *exc: object) -> None:
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)


# --- states --------------------------------------------------------------------------------


def _state(
    project: Project,
    r: Rendered,
    delivery: Delivery | None,
    approvals: dict[str, str | None],
    controls: Controls,
    now: datetime,
    broken: set[Path],
) -> tuple[str, str | None]:
    """The state a delivery is shown in, and why: the ledger's, or what the gate would say
    at the delivery's time (a pause until tomorrow does not hold next week's post)."""
    if delivery is not None and delivery.state in _LEDGER_STATES:
        return _LEDGER_STATES[delivery.state], delivery.last_error or delivery.retraction
    verdict = decide(
        r, config=project.config, now=max(now, r.publish_at) if r.publish_at else now,
        controls=controls, broken=broken, approval=approvals.get(r.post_id),
    )  # fmt: skip
    if verdict.hold is Hold.DRAFT:
        return "draft", None
    if verdict.hold is Hold.BROKEN:
        return "blocked", _BLOCKED
    if verdict.hold is Hold.APPROVAL:
        return "ready", None
    if verdict.hold is not None:
        return "held", verdict.why
    return ("approved" if project.config.require_approval else "ready"), None


_BLOCKED = "the post file has errors (crosspost validate lists them); nothing in it is published"


def _unreadable(project: Project) -> list[dict[str, str]]:
    """Post files that could not be read at all (no post came out of them), each with its
    first error and where it is: shown as blocked, never left out of the preview."""
    loaded = {post.file for post in project.posts}
    queue = project.config.queue_dir
    out: dict[Path, dict[str, str]] = {}
    for problem in project.problems.errors:
        path = problem.mark.path
        if path is None or path in loaded or path in out or not path.is_relative_to(queue):
            continue
        out[path] = {
            "file": in_project(path, project.config.root),
            "where": f"line {problem.mark.line}, column {problem.mark.column}"
            if problem.mark.line
            else "",
            "message": problem.message,
        }
    return [out[p] for p in sorted(out, key=str)]


def unrendered(project: Project) -> list[Rendered]:
    """A stand-in for each (post, channel) that could not be rendered, carrying why, so that
    the preview shows it (as blocked) instead of leaving it out."""
    out = []
    for post, key, message in project.failures:
        channel = project.config.channels[key]
        out.append(
            Rendered(
                post=post,
                channel=key,
                platform=channel.platform,
                handle=channel.handle,
                publish_at=post.time_for(key),
                text="",
                problems=[f"cannot be rendered: {message}"],
            )
        )
    return out


def _approval_problems(project: Project, rendered: list[Rendered]) -> dict[str, str | None]:
    """Post id -> why it is not approved (None: approved), for ready posts."""
    from crosspost.scheduling.controls import approval_problem, load_approvals

    approvals = load_approvals(project.config.approvals_path)
    groups: dict[str, list[Rendered]] = defaultdict(list)
    for r in rendered:
        groups[r.post_id].append(r)
    out: dict[str, str | None] = {}
    for post_id, group in groups.items():
        try:
            # approval covers every channel of the post, as `crosspost approve` hashes it,
            # even when only some channels were selected for the preview
            problem = approval_problem(approvals, post_id, partial(_approval_hash, project, group))
            out[post_id] = problem
        except (OSError, RenderError) as exc:  # unreadable image, broken template
            out[post_id] = f"cannot check the approval: {exc}"
    return out


def _approval_hash(project: Project, group: list[Rendered]) -> str:
    from crosspost.scheduling.controls import post_approval_hash

    return post_approval_hash(_every_channel(project, group))


def _every_channel(project: Project, group: list[Rendered]) -> list[Rendered]:
    post = group[0].post
    have = {r.channel: r for r in group}
    return [
        have.get(key) or project.renderer.render(post, project.config.channels[key])
        for key in post.channels
        if key in project.config.channels
    ]


def pauses_in(ledger: Ledger | None, now: datetime) -> list[Pause]:
    if ledger is None:
        return []
    from crosspost.scheduling.controls import pauses

    return pauses(ledger, now)


def banners(
    blackouts: list[Blackout], pauses: list[Pause], now: datetime, zone: object
) -> list[Banner]:
    out = [Banner("pause", True, "Emergency pause: " + p.describe()) for p in pauses]
    for b in blackouts:
        if b.end <= now or b.start > now + BANNER_HORIZON:
            continue
        active = b.start <= now
        scope = ", ".join(b.channels) if b.channels else "every channel"
        span = f"{format_local(b.start, zone)} to {format_local(b.end, zone)}"  # type: ignore[arg-type]
        lead = "Blackout window in force" if active else "Blackout window coming up"
        exempt = (
            f"; posts tagged {', '.join(sorted(b.allow_tags))} are exempt" if b.allow_tags else ""
        )
        out.append(
            Banner(
                "blackout",
                active,
                f"{lead}: {b.name} ({b.reason}), {span}, on {scope}: deliveries in it are "
                f"held{exempt}.",
            )
        )
    return out


# --- calendar ------------------------------------------------------------------------------


def _order(e: Entry) -> tuple[datetime, str, str]:
    assert e.local is not None
    return (e.local, e.rendered.post_id, e.rendered.channel)


def _by_day(entries: list[Entry]) -> dict[date, list[Entry]]:
    days: dict[date, list[Entry]] = defaultdict(list)
    for e in entries:
        assert e.local is not None
        days[e.local.date()].append(e)
    return days


def months(entries: list[Entry]) -> list[dict[str, object]]:
    """One month grid (whole Monday-to-Sunday weeks) per month that has deliveries."""
    days = _by_day(entries)
    months = sorted({(d.year, d.month) for d in days})
    out = []
    for year, month in months:
        first = date(year, month, 1)
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        start = first - timedelta(days=first.weekday())
        end = last + timedelta(days=6 - last.weekday())
        grid = [
            Day(d, d.month == month, days.get(d, []) if d.month == month else [])
            for d in (start + timedelta(days=i) for i in range((end - start).days + 1))
        ]
        out.append(
            {
                "id": f"month-{year}-{month:02d}",
                "title": first.strftime("%B %Y"),
                "days": grid,
                "count": sum(len(days.get(d.day, [])) for d in grid if d.in_month),
            }
        )
    return out


def weeks(entries: list[Entry]) -> list[dict[str, object]]:
    """One Monday-to-Sunday row per ISO week that has deliveries."""
    days = _by_day(entries)
    mondays = sorted({d - timedelta(days=d.weekday()) for d in days})
    out = []
    for monday in mondays:
        sunday = monday + timedelta(days=6)
        year, week, _ = monday.isocalendar()
        grid = [
            Day(monday + timedelta(days=i), True, days.get(monday + timedelta(days=i), []))
            for i in range(7)
        ]
        out.append(
            {
                "id": f"week-{year}-W{week:02d}",
                "title": f"Week {week} of {year}: {_span(monday, sunday)}",
                "days": grid,
                "count": sum(len(d.entries) for d in grid),
            }
        )
    return out


def _span(first: date, last: date) -> str:
    if first.year != last.year:
        return f"{first:%-d %b %Y} to {last:%-d %b %Y}"
    if first.month != last.month:
        return f"{first:%-d %b} to {last:%-d %b %Y}"
    return f"{first:%-d} to {last:%-d %b %Y}"


def _by_channel(project: Project, entries: list[Entry]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for key, channel in project.config.channels.items():
        mine = [e for e in entries if e.rendered.channel == key]
        mine.sort(key=lambda e: (e.local is None, e.local or datetime.min, e.rendered.post_id))
        out.append(
            {
                "key": key,
                "id": "ch-" + _UNSAFE_NAME.sub("-", key),
                "label": channel.rules.label,
                "handle": channel.handle,
                "entries": mine,
            }
        )
    return out


def counts(entries: list[Entry]) -> dict[str, int]:
    counts = dict.fromkeys(STATES, 0)
    for e in entries:
        counts[e.state] += 1
    return counts


# --- files ---------------------------------------------------------------------------------


def page_names(post_ids: list[str]) -> dict[str, str]:
    """Post id -> file name under posts/ (the id itself when it is a safe file name)."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for post_id in dict.fromkeys(post_ids):
        stem = _UNSAFE_NAME.sub("_", post_id).lstrip(".") or "post"
        name, n = f"{stem}.html", 1
        while name.lower() in taken:
            n += 1
            name = f"{stem}-{n}.html"
        taken.add(name.lower())
        out[post_id] = name
    return out


def _copy_images(project: Project, rendered: list[Rendered], out_dir: Path) -> dict[Path, str]:
    """Copy every readable image into out_dir/media; source path -> path relative to the site."""
    out: dict[Path, str] = {}
    root = project.config.root
    for r in rendered:
        for m in r.media:
            if m.path in out or not m.path.is_file():
                continue
            try:
                rel = m.path.resolve().relative_to(root.resolve())
            except ValueError:
                rel = Path(f"outside-{len(out)}-{m.path.name}")
            parts = [_UNSAFE_NAME.sub("_", p) for p in rel.parts]
            target = out_dir.joinpath("media", *parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(m.path, target)
            out[m.path] = "/".join(["media", *parts])
    return out


def _static(name: str) -> bytes:
    from importlib.resources import files

    return files("crosspost.views").joinpath("html_templates", name).read_bytes()


# --- templates -----------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("crosspost.views", "html_templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # the templates are the package's own: no stat of each per page
    )
    env.filters["post_text"] = post_text
    env.filters["slug"] = lambda text: _UNSAFE_NAME.sub("-", str(text))
    env.filters["thousands"] = lambda n: f"{n:,}"
    return env


def post_text(text: str, links: bool = True) -> Markup:
    """The text, escaped, with web addresses as links and @mentions and #hashtags marked.

    With `links=False` (a platform where links in the text are not clickable) web addresses
    are marked but not linked. The text content of the result is exactly `text`.
    """
    out: list[str] = []
    pos = 0
    for match in _TOKENS.finditer(text):
        token = match.group(0)
        kind = match.lastgroup
        if kind == "url":
            stripped = token.rstrip(_TRAILING_PUNCTUATION)
            if stripped.count("(") > stripped.count(")") and token[len(stripped) :].startswith(")"):
                stripped += ")"  # a link ending in a bracket of its own (Wikipedia style)
            token = stripped
        elif kind == "mention":
            token = token.rstrip(".")
        out.append(str(escape(text[pos : match.start()])))
        safe = escape(token)
        if kind == "url" and links:
            out.append(f'<a class="url" href="{safe}" rel="nofollow noopener">{safe}</a>')
        else:
            out.append(f'<span class="{kind}">{safe}</span>')
        pos = match.start() + len(token)
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))
