"""The static HTML preview (crosspost.views.html): parsed with the standard library, no browser."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

from crosspost.checking.project import load_project, render_all
from crosspost.rendering.render import Rendered
from crosspost.scheduling.controls import encode_pause, pause_key
from crosspost.scheduling.ledger import Ledger
from crosspost.views.html import post_text, write_site

from .conftest import NOW

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

LONG_X_POST = """\
id: too-long-for-x
publish_at: 2026-12-04 08:15
author: Comms team
tags: [events]
title: A very long announcement
body: Facebook can carry this.
overrides:
  PCCKent:
    text: >-
      {words}
"""


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):  # type: ignore[no-untyped-def]
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag)
            and (cls is None or cls in (n.attrs.get("class") or "").split())
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, cls, **attrs)
        assert found, f"no <{tag} class={cls} {attrs}>"
        return found[0]


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(path: Path) -> Node:
    builder = TreeBuilder()
    builder.feed(path.read_text(encoding="utf-8"))
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    return builder.root


def build(example: Path, out: Path, ledger: Ledger | None = None) -> tuple[Path, list[Rendered]]:
    project = load_project(example / "crosspost.yaml", now=NOW)
    rendered = render_all(project)
    return write_site(project, out, ledger=ledger, now=NOW), rendered


def add_long_x_post(example: Path) -> str:
    words = " ".join(["Kent and Medway are safer together."] * 12)  # ~430 characters
    (example / "queue" / "too-long.yaml").write_text(
        LONG_X_POST.format(words=words), encoding="utf-8"
    )
    return "too-long-for-x"


def card(page: Node, channel: str) -> Node:
    return page.find("article", cls="card", data_channel=channel)


def test_index_links_to_every_post_and_is_accessible_markup(example: Path, tmp_path: Path) -> None:
    index, rendered = build(example, tmp_path / "site")
    assert index == tmp_path / "site" / "index.html"
    doc = parse(index)
    html = doc.find("html")
    assert html.attrs["lang"] == "en-GB"
    for landmark in ("header", "nav", "main", "footer"):
        assert doc.find_all(landmark), landmark
    assert len(doc.find_all("h1")) == 1
    assert doc.find("a", cls="skip-link").attrs["href"] == "#main"
    assert doc.find("main").attrs["id"] == "main"
    hrefs = {a.attrs["href"] for a in doc.find_all("a")}
    post_ids = {r.post_id for r in rendered}
    assert len(post_ids) == 7
    for post_id in post_ids:
        assert any((h or "").startswith(f"posts/{post_id}.html") for h in hrefs), post_id
        assert (tmp_path / "site" / "posts" / f"{post_id}.html").is_file()
    # month and week views, each delivery placed on its day with its local time and its state
    assert doc.find("h3", id="month-2026-12").text().startswith("December 2026")
    assert doc.find("h3", id="month-2027-01")
    week = doc.find("section", cls="week")
    assert "Week 49 of 2026" in week.text()
    day = next(
        li
        for li in doc.find("section", id="month-view").find_all("li", cls="day")
        if li.find("time").attrs["datetime"] == "2026-12-03"
    )
    entries = day.find_all("li", cls="delivery")
    assert len(entries) == 3  # X, Facebook, Instagram
    assert all("09:30" in e.text() for e in entries)  # GMT in December: local == UTC
    assert {e.find("span", cls="badge").text() for e in entries} == {"approved"}
    # the draft shows as a draft, in words, not only in colour
    draft = [e for e in doc.find_all("li", cls="delivery") if "prevention-programme" in e.text()]
    assert draft and all(e.find("span", cls="badge").text() == "draft" for e in draft)
    legend = doc.find("section", id="legend").text()
    for state in ("draft", "ready", "approved", "held", "published", "failed", "expired"):
        assert state in legend


def test_post_pages_show_exact_text_alt_text_and_meters(example: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    _, rendered = build(example, site)
    for r in rendered:
        page = parse(site / "posts" / f"{r.post_id}.html")
        assert len(page.find_all("h1")) == 1
        assert page.find("a", href="../index.html")
        c = card(page, r.channel)
        assert r.handle in c.find("h2").text()
        assert c.find("div", cls="post-text").text() == r.text
        images = c.find_all("img")
        assert [img.attrs["alt"] for img in images] == [m.alt for m in r.media]
        for img in images:
            src = img.attrs["src"] or ""
            assert not re.match(r"(?i)^(https?:)?//", src)
            assert (site / "posts" / src).resolve().is_file()
        captions = [f.text() for f in c.find_all("figcaption", cls="alt-text")]
        assert captions == [f"Alt text: {m.alt}" for m in r.media]  # shown, not only an attribute
        meter = c.find("meter", id=f"ch-{r.channel}-length")
        assert (meter.attrs["value"], meter.attrs["max"]) == (str(r.length), str(r.limit))
        assert f"{r.length:,} of {r.limit:,}" in c.find("p", cls="length").text()
        parts = c.find_all("li", cls="thread-part")
        assert [p.find("div", cls="post-text").text() for p in parts] == r.thread
        if r.first_comment:
            assert c.find("section", cls="first-comment").find("div", cls="post-text").text() == (
                r.first_comment
            )
        if r.link and not r.media:  # Facebook draws a link preview only without photos
            assert c.find("p", cls="link-preview").find("a").attrs["href"] == r.link
        elif r.link:
            assert r.link in c.find("div", cls="post-text").text()  # carried in the text
        for warning in r.warnings:
            assert warning in c.find("section", cls="warnings").text()


def test_over_long_x_post_shows_its_problem(example: Path, tmp_path: Path) -> None:
    post_id = add_long_x_post(example)
    site = tmp_path / "site"
    _, rendered = build(example, site)
    [x] = [r for r in rendered if r.post_id == post_id and r.channel == "PCCKent"]
    assert x.length > x.limit and x.problems
    page = parse(site / "posts" / f"{post_id}.html")
    c = card(page, "PCCKent")
    problems = c.find("section", cls="problems")
    assert "will not be published" in problems.find("h3").text()
    assert [li.text() for li in problems.find_all("li")] == x.problems
    assert "too many" in c.find("p", cls="length").text()
    assert not card(page, "KentPCC").find_all("section", cls="problems")
    index = parse(site / "index.html")
    flagged = [e for e in index.find_all("li", cls="delivery") if post_id in e.text()]
    assert any(e.find_all("span", cls="flag-problem") for e in flagged)
    # as the daemon plans it: an error in the file holds every delivery in it, so each card
    # says blocked, the Facebook one (which has no problem of its own) too
    for channel in ("PCCKent", "KentPCC"):
        assert card(page, channel).attrs["data-state"] == "blocked"
    assert {e.attrs["class"] for e in flagged} == {"delivery state-blocked"}
    assert "blocked" in index.find("section", id="legend").text()


def test_a_post_that_cannot_be_rendered_is_shown_blocked_with_why(
    example: Path, tmp_path: Path
) -> None:
    (example / "queue" / "no-template.yaml").write_text(
        "publish_at: 2026-12-05 10:00\ntitle: Open day\nbody: Come along.\n"
        "template: open-day\nchannels: [KentPCC]\n",
        encoding="utf-8",
    )
    site = tmp_path / "site"
    _, rendered = build(example, site)
    assert "no-template" not in {r.post_id for r in rendered}  # nothing to render...
    page = parse(site / "posts" / "no-template.html")  # ...but the preview shows it
    c = card(page, "KentPCC")
    assert c.attrs["data-state"] == "blocked"
    [why] = c.find("section", cls="problems").find_all("li")
    assert "cannot be rendered" in why.text() and "template 'open-day' not found" in why.text()
    index = parse(site / "index.html")
    assert any("no-template" in e.text() for e in index.find_all("li", cls="delivery"))


def test_no_external_assets(example: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    build(example, site)
    pages = [site / "index.html", *sorted((site / "posts").glob("*.html"))]
    for path in pages:
        doc = parse(path)
        for node in doc.iter():
            if node.tag in ("img", "script", "source", "iframe"):
                assert not re.match(r"(?i)^(https?:)?//", node.attrs.get("src") or ""), path
            if node.tag == "link":
                href = node.attrs.get("href") or ""
                assert not re.match(r"(?i)^(https?:)?//", href), path
                assert (path.parent / href).resolve().is_file()
        assert not doc.find_all("script")
    css = (site / "style.css").read_text(encoding="utf-8")
    assert "http" not in css and "@import" not in css and "px" not in re.sub(r"1px", "", css)


def test_ledger_state_colours_published_delivery_and_links_to_it(
    example: Path, tmp_path: Path
) -> None:
    ledger = Ledger(tmp_path / "ledger.db", clock=lambda: NOW)
    post_id, url = "2026-12-01-safer-streets-funding", "https://x.com/PCCKent/status/1860000000000"
    ledger.ensure(post_id, "PCCKent", NOW, "sha256:x", "text")
    claimed = ledger.claim(post_id, "PCCKent", "test", timedelta(minutes=5))
    assert claimed is not None
    ledger.mark_published(claimed, remote_id="1860000000000", url=url, published_at=NOW)
    failed = ledger.ensure(post_id, "KentPCC", NOW, "sha256:y", "text")
    ledger.set_state(failed, "failed", error="rejected: (#100) invalid parameter")
    site = tmp_path / "site"
    build(example, site, ledger=ledger)

    page = parse(site / "posts" / f"{post_id}.html")
    x = card(page, "PCCKent")
    assert x.attrs["data-state"] == "published"
    assert "state-published" in (x.attrs["class"] or "").split()
    assert x.find("span", cls="badge").text() == "published"
    assert x.find("a", cls="live").attrs["href"] == url
    fb = card(page, "KentPCC")
    assert fb.find("span", cls="badge").text() == "failed"
    assert "invalid parameter" in fb.find("p", cls="reason").text()
    assert not fb.find_all("a", cls="live")
    assert card(page, "kent_opcc").find("span", cls="badge").text() == "approved"

    index = parse(site / "index.html")
    [entry] = [
        e
        for e in index.find("section", id="month-view").find_all("li", cls="delivery")
        if post_id in e.text() and "@PCCKent" in e.text()
    ]
    assert "state-published" in (entry.attrs["class"] or "").split()
    assert entry.find("a", cls="live").attrs["href"] == url
    ledger.close()


def test_pause_and_blackout_banners(example: Path, tmp_path: Path) -> None:
    config = example / "crosspost.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("start: 2028-03-23 00:00", "start: 2026-12-10 00:00"), encoding="utf-8"
    )
    ledger = Ledger(tmp_path / "ledger.db", clock=lambda: NOW)
    ledger.set_control(
        pause_key(None), encode_pause("major incident in Maidstone", "Duty officer", NOW, None), "t"
    )
    site = tmp_path / "site"
    build(example, site, ledger=ledger)
    for path in (site / "index.html", site / "posts" / "safer-streets-towns.html"):
        banners = [p.text() for p in parse(path).find_all("p", cls="banner")]
        assert any("major incident in Maidstone" in b for b in banners), banners
        assert any("Blackout window coming up: pre-election period 2028" in b for b in banners)
    page = parse(site / "posts" / "safer-streets-towns.html")  # 15 December: in the window
    assert card(page, "KentPCC").find("span", cls="badge").text() == "held"
    ledger.close()


def test_post_text_escapes_and_marks_up() -> None:
    text = "Hi @PCCKent & <b>you</b>: see https://example.org/a_(b). #SaferStreets #1 a@b.com"
    html = str(post_text(text))
    assert "<b>" not in html and "&lt;b&gt;" in html and "&amp;" in html
    assert '<span class="mention">@PCCKent</span>' in html
    assert '<a class="url" href="https://example.org/a_(b)"' in html
    assert '<span class="hashtag">#SaferStreets</span>' in html
    assert "a@b.com" in html and 'mention">@b' not in html
    builder = TreeBuilder()
    builder.feed(f"<div>{html}</div>")
    assert builder.root.text() == text
    inert = str(post_text("see https://example.org", links=False))
    assert "<a " not in inert and '<span class="url">https://example.org</span>' in inert


def test_selection_of_channels_keeps_approval(example: Path, tmp_path: Path) -> None:
    project = load_project(example / "crosspost.yaml", now=NOW)
    render_all(project, channels=["KentPCC"])
    write_site(project, tmp_path / "site", now=NOW)
    page = parse(tmp_path / "site" / "posts" / "2026-12-01-safer-streets-funding.html")
    assert [a.attrs["data-channel"] for a in page.find_all("article", cls="card")] == ["KentPCC"]
    assert card(page, "KentPCC").find("span", cls="badge").text() == "approved"


SITE_IN_TWO_PROCESSES = """
import json, logging, os, sys
from datetime import datetime
from pathlib import Path
import crosspost.views.html as html
from crosspost.checking.project import load_project

config, out, fail_child = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "fail-child"
logging.basicConfig(level=logging.WARNING, format="%(message)s")
html.FORK_MIN_POSTS = 1
parent, forked = os.getpid(), []
real_fork = html._fork
def fork():
    pid = real_fork()
    if pid:
        forked.append(pid)
    return pid
html._fork = fork
if fail_child:
    real_call = html._Writer.__call__
    def call(self, path, text):
        if os.getpid() != parent:
            raise OSError("the disk is full (in the child)")
        real_call(self, path, text)
    html._Writer.__call__ = call
project = load_project(config, now=datetime.fromisoformat(sys.argv[4]))
html.write_site(project, out)
print(json.dumps({"forked": len(forked)}))
"""


def _site_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _write_in_two_processes(example: Path, out: Path, mode: str) -> tuple[dict[str, int], str]:
    import json
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", SITE_IN_TWO_PROCESSES, str(example / "crosspost.yaml"), str(out),
         mode, NOW.isoformat()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_a_large_site_is_written_by_two_processes_with_the_same_files(
    example: Path, tmp_path: Path
) -> None:
    write_site(load_project(example / "crosspost.yaml", now=NOW), tmp_path / "one")
    report, _ = _write_in_two_processes(example, tmp_path / "two", "normal")
    assert report["forked"] == 1  # a second process did write part of the site
    one, two = _site_files(tmp_path / "one"), _site_files(tmp_path / "two")
    assert len(two) > 7 and two.keys() == one.keys()
    changed = [name for name in one if one[name] != two[name]]
    assert changed == []


def test_when_the_second_process_fails_its_pages_are_written_by_the_first(
    example: Path, tmp_path: Path
) -> None:
    write_site(load_project(example / "crosspost.yaml", now=NOW), tmp_path / "one")
    report, stderr = _write_in_two_processes(example, tmp_path / "two", "fail-child")
    assert report["forked"] == 1
    assert "disk is full (in the child)" in stderr  # the child's traceback, for the log
    assert "writing its pages here" in stderr
    assert _site_files(tmp_path / "two") == _site_files(tmp_path / "one")
