"""Shared fixtures of the web app's tests: a copy of the example project, accounts of each
role, and a client driving the real app in-process (Starlette's TestClient, over httpx)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from crosspost.web.accounts import AccountStore, Role
from crosspost.web.app import make_app

REPO = Path(__file__).resolve().parent.parent.parent
PASSWORD = "amber lantern quietly rowing"  # every test account's
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Clock:
    """A clock a test moves forward."""

    def __init__(self, now: datetime = NOW):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def office(tmp_path: Path, state_spec: Any) -> Path:
    """A copy of the repository's example project; returns the config file. Its ledger is
    the test's `state_spec` (a module marked both_stores runs on PostgreSQL too)."""
    root = tmp_path / "office"
    root.mkdir()
    shutil.copy(REPO / "config.example.yaml", root / "crosspost.yaml")
    shutil.copy(REPO / "approvals.yaml", root / "approvals.yaml")
    for folder in ("queue", "templates"):
        shutil.copytree(REPO / folder, root / folder)
    return root / "crosspost.yaml"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(office: Path, clock: Clock) -> Iterator[AccountStore]:
    cheap = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)  # still Argon2id
    store = AccountStore(office.parent / "var" / "accounts.db", clock=clock, hasher=cheap)
    store.add("ann", Role.AUTHOR, PASSWORD, display="Ann Author", email="ann@example.org")
    store.add("pat", Role.APPROVER, PASSWORD, display="Pat Approver")
    store.add("ada", Role.ADMIN, PASSWORD, display="Ada Admin")
    yield store
    store.close()


@pytest.fixture
def app(office: Path, accounts: AccountStore, clock: Clock):  # type: ignore[no-untyped-def]
    return make_app(office, accounts=accounts, clock=clock)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="http://localhost", follow_redirects=False) as c:
        yield c


def sign_in(client: TestClient, name: str = "ann", password: str = PASSWORD) -> str:
    """Sign in; the session's CSRF token (read from the page, as a browser would)."""
    answer = client.post("/login", data={"name": name, "password": password, "next": "/"})
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/posts/new").text)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)
