"""Issue 15's acceptance, end to end: a real daemon (`crosspost run`, a fake channel and its
outbox) and the web app (uvicorn) on one project, driven in Chromium. An author writes a
post; an author cannot approve; an approver approves; an edit makes the approval stale and
the post is held when due; a pause from the browser stops the daemon; a release sends it,
once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crosspost.scheduling.ledger import Ledger

from ..test_daemon_process import Daemon as Process
from ..test_daemon_process import wait_for
from .conftest import PASSWORD
from .test_browser import chromium, serve_project  # noqa: F401 (fixtures)

CONFIG = """\
timezone: Europe/London
state: var/ledger.db
require_approval: true
daemon:
  sweep_interval: 60s
  settle_after: 0s
channels:
  x:
    platform: fake
    imitates: x
    outbox: var/x.jsonl
"""


@pytest.fixture
def office(tmp_path: Path) -> Path:
    root = tmp_path / "office"
    (root / "queue").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "templates" / "x.j2").write_text("{{ title }}")
    (root / "crosspost.yaml").write_text(CONFIG)
    return root / "crosspost.yaml"


def outbox(root: Path) -> list[dict[str, Any]]:
    path = root / "var" / "x.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def state(root: Path, post_id: str) -> tuple[str, str | None] | None:
    path = root / "var" / "ledger.db"
    if not path.exists():
        return None
    with Ledger(path) as ledger:
        d = ledger.get(post_id, "x")
        return (d.state, d.error_kind) if d else None


def sign_in(page: Any, server: str, name: str) -> None:
    page.context.clear_cookies()
    page.goto(server + "/login")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server + "/")


def test_write_approve_edit_pause_release_with_a_real_daemon(
    chromium: Any,  # noqa: F811
    office: Path,
    serve_project: Any,  # noqa: F811
) -> None:
    root = office.parent
    server = serve_project(office)
    daemon = Process(root)
    try:
        assert wait_for(lambda: daemon.running, 20)
        page = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
        due = datetime.now(UTC) + timedelta(seconds=25)
        # an author writes a post
        sign_in(page, server, "ann")
        page.goto(server + "/posts/new")
        page.get_by_label("Publication time").fill(due.isoformat(timespec="seconds"))
        page.get_by_label("Ready: published at its time").check()
        page.get_by_label("Title").fill("Road closures in Maidstone this weekend.")
        page.get_by_role("button", name="Save to the queue").click()
        page.wait_for_url("**?saved=1")
        post_id = page.url.split("/posts/")[1].split("?")[0]
        # an author cannot approve
        page.goto(server + f"/posts/{post_id}/approve")
        assert "This needs the approver role" in page.content()
        # an approver approves it
        sign_in(page, server, "pat")
        page.goto(server + f"/posts/{post_id}/approve")
        assert "Written by" in page.content() and "ann" in page.content()
        page.get_by_role("button", name="Approve exactly this").click()
        page.wait_for_url("**approved=1")
        # the author edits it: the approval is stale; at its time the daemon holds it
        sign_in(page, server, "ann")
        page.goto(server + f"/posts/{post_id}")
        page.get_by_label("Title").fill("Road closures in Maidstone on Saturday only.")
        page.get_by_role("button", name="Save to the queue").click()
        page.wait_for_url("**?saved=1")
        assert wait_for(lambda: state(root, post_id) == ("held", "approval"), 60)
        assert outbox(root) == []
        # a pause from the browser, then the approver approves the edit: still nothing goes out
        page.goto(server + "/status")
        page.get_by_label("Reason (everyone sees it)").fill("Incident in Maidstone")
        page.get_by_role("button", name="Pause publishing").click()
        page.get_by_role("button", name="Yes: pause publishing").click()
        page.wait_for_url("**/status?done=*")
        assert "Paused:" in page.content()
        sign_in(page, server, "pat")
        page.goto(server + f"/posts/{post_id}/approve")
        page.get_by_role("button", name="Approve exactly this").click()
        page.wait_for_url("**approved=1")
        assert wait_for(lambda: state(root, post_id) == ("held", "paused"), 20)
        assert outbox(root) == []
        # resume, then release it: it goes out once
        page.goto(server + "/status")
        page.get_by_role("button", name="Resume").click()
        page.get_by_role("button", name="Yes: resume publishing").click()
        page.wait_for_url("**/status?done=*")
        page.get_by_role("button", name="Release").first.click()
        page.get_by_role("button", name="Yes: release held deliveries").click()
        page.wait_for_url("**/status?done=*")
        assert wait_for(lambda: len(outbox(root)) == 1, 20), state(root, post_id)
        assert "Saturday only" in outbox(root)[0]["text"]
        assert not wait_for(lambda: len(outbox(root)) > 1, 4)  # once
        page.context.close()
    finally:
        daemon.stop()
