"""The HTML preview in a real browser: Playwright driving the system's Chromium, from disk.

Needs the `playwright` Python package and a Chromium at /usr/bin/chromium (Debian's
`chromium` package; `playwright install` is never needed). The accessibility check also needs
axe-core: CROSSPOST_AXE_JS names axe.min.js, or it is installed with npm into a cache folder.
Without them the tests skip, saying why, unless CROSSPOST_REQUIRE_BROWSER=1 (CI): then they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crosspost.checking.project import load_project, render_all
from crosspost.rendering.render import Rendered

from .conftest import NOW
from .test_html_preview import add_long_x_post

CHROMIUM = Path(os.environ.get("CROSSPOST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
REQUIRED = os.environ.get("CROSSPOST_REQUIRE_BROWSER") == "1"


def missing(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (CROSSPOST_REQUIRE_BROWSER=1 requires the browser tests to run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        try:
            launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except Exception as exc:  # an unusable browser: say why
            missing(f"Chromium at {CHROMIUM} does not start: {exc}")
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    # the site must work from disk alone: any request off file:// fails the test
    off_disk: list[str] = []
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith("file://")
            else (off_disk.append(route.request.url), route.abort())
        ),
    )
    tab = context.new_page()
    yield tab
    context.close()
    assert not off_disk, f"the preview requested {off_disk}"


@pytest.fixture
def site(example: Path, tmp_path: Path) -> tuple[Path, list[Rendered], str]:
    from crosspost.views.html import write_site

    post_id = add_long_x_post(example)
    project = load_project(example / "crosspost.yaml", now=NOW)
    rendered = render_all(project)
    return write_site(project, tmp_path / "site", now=NOW), rendered, post_id


def test_calendar_to_post_mockups(
    page: Any, site: tuple[Path, list[Rendered], str], tmp_path: Path
) -> None:
    index, rendered, long_id = site
    page.goto(index.as_uri())
    assert page.title().startswith("Calendar")
    assert page.locator("html").get_attribute("lang") == "en-GB"
    page.screenshot(path=str(tmp_path / "calendar.png"), full_page=True)
    # the stylesheet loaded from disk: the month grid has seven columns
    columns = page.locator("#month-view .calendar").first.evaluate(
        "el => getComputedStyle(el).gridTemplateColumns.split(' ').length"
    )
    assert columns == 7

    post_id = "2026-12-01-safer-streets-funding"
    page.locator("#month-view li.delivery", has_text="@PCCKent").filter(has_text=post_id).locator(
        "a.delivery-link"
    ).click()
    page.wait_for_load_state()
    assert page.url.endswith(f"posts/{post_id}.html#ch-PCCKent")
    assert page.locator("h1").inner_text() == f"Post {post_id}"
    mine = [r for r in rendered if r.post_id == post_id]
    assert {r.channel for r in mine} == {"PCCKent", "KentPCC", "kent_opcc"}
    for r in mine:
        card = page.locator(f"article.card[data-channel='{r.channel}']")
        assert card.is_visible()
        assert card.locator(".post-text").first.text_content() == r.text
        images = card.locator("img")
        assert images.count() == len(r.media)
        for i, m in enumerate(r.media):
            img = images.nth(i)
            assert img.get_attribute("alt") == m.alt
            assert img.evaluate("el => el.complete && el.naturalWidth > 0"), "image did not load"
            assert m.alt in card.locator("figcaption").nth(i).inner_text()
        meter = card.locator("meter").first
        assert meter.get_attribute("value") == str(r.length)
    page.screenshot(path=str(tmp_path / "post.png"), full_page=True)

    page.locator("a", has_text="Back to the calendar").first.click()
    page.wait_for_load_state()
    assert page.url.endswith("index.html")
    page.locator("#month-view li.delivery", has_text="@PCCKent").filter(has_text=long_id).locator(
        "a.delivery-link"
    ).click()
    page.wait_for_load_state()
    [x] = [r for r in rendered if r.post_id == long_id and r.channel == "PCCKent"]
    problems = page.locator("article.card[data-channel='PCCKent'] section.problems")
    assert problems.is_visible()
    for problem in x.problems:
        assert problem in problems.inner_text()
    assert (
        "too many"
        in page.locator("article.card[data-channel='PCCKent'] .length").first.inner_text()
    )
    page.screenshot(path=str(tmp_path / "too-long.png"), full_page=True)


def test_zoom_200_percent_does_not_scroll_sideways(
    page: Any, site: tuple[Path, list[Rendered], str]
) -> None:
    index, _, long_id = site
    page.set_viewport_size({"width": 640, "height": 450})  # 1280 × 900 at 200 %
    for url in (index.as_uri(), (index.parent / "posts" / f"{long_id}.html").as_uri()):
        page.goto(url)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{url} scrolls sideways by {overflow}px at 200 % zoom"


def axe_script() -> Path:
    named = os.environ.get("CROSSPOST_AXE_JS")
    if named:
        return Path(named)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "crosspost-axe"
    script = cache / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            missing("axe-core is not available: set CROSSPOST_AXE_JS or install npm")
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache), "axe-core@4"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0 or not script.exists():
            missing(f"npm could not install axe-core: {done.stderr.strip()[-500:]}")
    return script


def test_no_serious_accessibility_violations(
    page: Any, site: tuple[Path, list[Rendered], str]
) -> None:
    script = axe_script()
    index, _, long_id = site
    posts = index.parent / "posts"
    for path in (index, posts / f"{long_id}.html", posts / "2026-12-03-vawg-inquiry-report.html"):
        page.goto(path.as_uri())
        page.add_script_tag(path=str(script))
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        serious = [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "nodes": [n["target"] for n in v["nodes"]][:5],
            }
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert not serious, f"{path.name}: {json.dumps(serious, indent=2)}"
