"""The web app in Debian's Chromium, driven by Playwright, served by uvicorn as in production:
sign in, compose a post with an image and its alt text, watch the three mock-ups follow the
typing (an over-long X text shown as a problem at its field), save, find the file and
validate it, edit it keeping its comment, and be refused when the file changed underneath.
axe-core checks every page; screenshots are saved (CROSSPOST_SCREENSHOTS names the folder)."""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from argon2 import PasswordHasher
from PIL import Image

from crosspost.checking.project import validate
from crosspost.web.accounts import AccountStore, Role
from crosspost.web.app import make_app
from crosspost.web.server import watch

from ..conftest import NOW
from ..test_html_browser import CHROMIUM, CHROMIUM_ARGS, axe_script, missing
from .conftest import PASSWORD


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def serve_project() -> Iterator[Any]:
    """Start the app on a project (a free local port, uvicorn in a thread, the accounts ann,
    an author, and pat, an approver); its address. Everything stops after the test."""
    started: list[tuple[Any, threading.Thread, AccountStore]] = []

    def start(office: Path) -> str:
        accounts = AccountStore(
            office.parent / "var" / "accounts.db",
            hasher=PasswordHasher(time_cost=1, memory_cost=64, parallelism=1),
        )
        accounts.add("ann", Role.AUTHOR, PASSWORD, display="Ann Author")
        accounts.add("pat", Role.APPROVER, PASSWORD, display="Pat Approver")
        app = make_app(office, accounts=accounts)
        watcher = threading.Thread(target=watch, args=(app.state.web, stop), daemon=True)
        watcher.start()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                log_level="warning"))  # fmt: skip
        thread = threading.Thread(target=running.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not running.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running.started
        started.append((running, thread, accounts))
        return f"http://127.0.0.1:{port}"

    stop = threading.Event()
    yield start
    stop.set()
    for running, thread, accounts in started:
        running.should_exit = True
        thread.join(10)
        accounts.close()


@pytest.fixture
def server(office: Path, serve_project: Any) -> str:
    return str(serve_project(office))


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CROSSPOST_SCREENSHOTS", tmp_path / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def jpeg(path: Path) -> Path:
    out = io.BytesIO()
    Image.new("RGB", (1200, 630), (0, 60, 120)).save(out, "JPEG")
    path.write_bytes(out.getvalue())
    return path


def sign_in(page: Any, server: str, name: str = "ann") -> None:
    page.goto(server + "/posts/new")
    assert "/login" in page.url  # sent to sign in first
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/posts/new")


def test_compose_preview_save_edit_and_conflict(
    chromium: Any, server: str, office: Path, shots: Path, tmp_path: Path
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, server)
    page.get_by_label("Publication time").fill("2027-01-20 10:00")
    page.get_by_label("Ready: published at its time").check()
    page.get_by_label("Title").fill("Come and see us at the County Show.")
    page.get_by_label("Body").fill("Come and see us at the County Show: stand 12, all day.")
    page.get_by_label("Hashtags").fill("County Show, Kent")
    mockups = page.locator("#mockups")
    for channel in ("PCCKent", "KentPCC", "kent_opcc"):
        page.wait_for_selector(f'#mockups [data-channel="{channel}"]', timeout=5000)
    # (no wait_for_function: the page's CSP forbids the eval it would need, as it should)
    mockups.locator('[data-channel="PCCKent"] .post-text', has_text="County Show.").wait_for()
    # the live mock-ups follow the typing: an over-long X text is shown at once, at its field
    page.get_by_label("Title").fill("Safer streets for Kent and Medway. " * 10)
    page.wait_for_selector("#errors-title .field-error", timeout=5000)
    assert "over X's limit of 280" in page.locator("#errors-title").inner_text()
    assert "too many" in mockups.locator('[data-channel="PCCKent"]').inner_text()
    page.screenshot(path=str(shots / "compose-problem.png"), full_page=True)
    page.get_by_label("Title").fill("Come and see us at the County Show.")
    page.wait_for_selector("#errors-title .field-error", state="detached")
    # an image, with its alt text
    page.get_by_label("Add an image").set_input_files(str(jpeg(tmp_path / "stand.jpg")))
    page.get_by_label("Alt text for the new image").fill("Our stand at the County Show.")
    page.screenshot(path=str(shots / "compose.png"), full_page=True)
    page.get_by_role("button", name="Save to the queue").click()
    page.wait_for_url("**/posts/2027-01-20-*?saved=1")
    assert page.get_by_text("Saved to the queue").is_visible()
    [saved] = (office.parent / "queue").glob("2027-01-20-*.yaml")
    text = saved.read_text()
    assert "media/stand.jpg" in text and "Our stand at the County Show." in text
    project = validate(office, now=NOW, environ={})
    assert not [p for p in project.problems.errors if p.mark.path == saved]
    # edit it: a comment an officer wrote in the file is kept
    saved.write_text("# Checked with the events team.\n" + text)
    page.goto(server + f"/posts/{saved.stem}")
    page.get_by_label("Body").fill("Stand 12, all day, with the Commissioner from 2pm.")
    page.get_by_role("button", name="Save to the queue").click()
    page.wait_for_url("**?saved=1")
    edited = saved.read_text()
    assert edited.startswith("# Checked with the events team.\n") and "from 2pm" in edited
    # refused when the file changed underneath
    page.goto(server + f"/posts/{saved.stem}")
    saved.write_text(edited.replace("from 2pm", "from 3pm"))
    page.get_by_label("Body").fill("My version.")
    page.get_by_role("button", name="Save to the queue").click()
    page.wait_for_selector("#conflict")
    assert "from 3pm" in page.locator("#theirs").inner_text()
    assert "My version." in page.locator("#mine").inner_text()
    assert "from 3pm" in saved.read_text()  # theirs kept
    page.screenshot(path=str(shots / "conflict.png"), full_page=True)
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()


def test_no_serious_accessibility_violations_on_any_page(
    chromium: Any, server: str, shots: Path
) -> None:
    script = axe_script()
    context = chromium.new_context(bypass_csp=True)  # only to inject axe-core
    page = context.new_page()
    page.goto(server + "/login")
    pages = ["/login"]
    _axe(page, script, "/login")
    sign_in(page, server, "pat")  # an approver sees every page an author does, and more
    pages_to_check = (
        "/", "/?view=week&month=2026-12", "/?month=2026-12", "/posts", "/posts?q=safer",
        "/posts/new", "/posts/2026-12-01-safer-streets-funding",
        "/posts/2026-12-01-safer-streets-funding/delete", "/status", "/history",
        "/posts/2026-12-01-safer-streets-funding/approve",
    )  # fmt: skip
    for path in pages_to_check:
        page.goto(server + path)
        _axe(page, script, path)
        pages.append(path)
        name = path.strip("/").replace("/", "-").replace("?", "-").replace("&", "-") or "calendar"
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    context.close()


def test_pages_work_at_phone_width_and_with_a_keyboard(chromium: Any, server: str) -> None:
    context = chromium.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    sign_in(page, server)
    for path in ("/?month=2026-12", "/posts", "/posts/new"):
        page.goto(server + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
    page.goto(server + "/posts/new")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.id || document.activeElement.name")
    assert focused, "the keyboard reaches the form"
    context.close()


def _axe(page: Any, script: Path, path: str) -> None:
    page.add_script_tag(path=str(script))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    serious = [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]  # fmt: skip
    assert not serious, f"{path}: {json.dumps(serious, indent=2)}"
