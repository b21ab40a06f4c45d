"""Shared fixtures: a throwaway copy of the example project, and test images made with Pillow."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CASES = Path(__file__).resolve().parent / "cases"
# A fixed clock: before every example post, so "in the past" warnings are deliberate.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def shared_file(*parts: str) -> Path:
    """A file from ../shared; skip with the reason when this checkout has none beside it."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI must have ../shared beside the checkout")
        pytest.skip(f"{path} not found: the official test vectors live in ../shared")
    return path


def make_images(folder: Path) -> None:
    """Images the cases refer to, in every shape and format the rules care about."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (1080, 1080), (10, 40, 90)).save(folder / "square.jpg", "JPEG")
    Image.new("RGB", (540, 960), (10, 40, 90)).save(folder / "tall.jpg", "JPEG")
    Image.new("RGB", (1000, 500), (10, 40, 90)).save(folder / "wide.jpg", "JPEG")
    Image.new("RGB", (800, 800), (10, 40, 90)).save(folder / "photo.png", "PNG")
    frames = [Image.new("P", (64, 64), i) for i in range(3)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    # a real JPEG header followed by zeros to 9 MB: extended by truncate, so the file is
    # sparse and hundreds of tests do not write gigabytes
    big = folder / "big.jpg"
    Image.new("RGB", (1200, 1200), (200, 40, 90)).save(big, "JPEG")
    with big.open("r+b") as fh:
        fh.truncate(9 * 1024 * 1024)
    (folder / "notes.jpg").write_text("these are meeting notes, not an image\n")


STORES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module marked `both_stores` runs each test using the ledger on both stores."""
    if metafunc.definition.get_closest_marker("both_stores") is None:
        return
    if "store_kind" in metafunc.fixturenames:
        metafunc.parametrize("store_kind", STORES, indirect=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    from tests.pg import start_server

    yield from start_server()


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """Which store the ledger is on: SQLite, unless the module runs on both."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def state_spec(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Where a test's ledger lives: a SQLite file, or a fresh schema on the PostgreSQL server."""
    from crosspost.loading.state import StateSpec

    if store_kind == "sqlite":
        yield StateSpec.sqlite((tmp_path / "var" / "crosspost.db").resolve())
        return
    server = request.getfixturevalue("pg_server")
    spec = server.spec(tmp_path)
    if request.node.get_closest_marker("fresh_schema") is None:
        # as docs/server.md §16 prepares one (`crosspost ledger migrate`): the front ends
        # never change a shared schema, so a test's CLI commands find it ready
        from crosspost.scheduling.stores import open_ledger

        open_ledger(spec).close()
    # every config the test writes names a SQLite file: on this run, each one's ledger is
    # this schema instead (in this process; a test's child processes get `use_store`)
    from crosspost.loading import config as config_module

    parse = config_module.parse_state
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setattr(
        config_module, "parse_state",
        lambda reader, root: spec if not parse(reader, root).is_postgresql else parse(reader, root),
    )  # fmt: skip
    try:
        yield spec
    finally:
        server.drop(spec)
    # nothing fell back to a SQLite ledger unseen (the web app's accounts.db aside)
    stray = [p for p in tmp_path.rglob("*.db") if p.name != "accounts.db"]
    assert not stray, f"a test on PostgreSQL made SQLite ledgers: {stray}"


def use_store(root: Path, spec: Any, server: Any = None) -> None:
    """Point the project's config at the ledger `spec` names."""
    import re

    config = root / "crosspost.yaml"
    text = config.read_text(encoding="utf-8")
    state = server.config_state(spec) if spec.is_postgresql else f"state: {spec.path}\n"
    text = re.sub(r"^state:.*\n", "", text, flags=re.M)
    config.write_text(state + text, encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path, state_spec: Any) -> Path:
    """A copy of the example project with an empty queue and the test images; returns its root.
    Its ledger is the test's `state_spec` (SQLite at var/crosspost.db, unless the module runs
    on both stores)."""
    shutil.copy(REPO / "config.example.yaml", tmp_path / "crosspost.yaml")
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    shutil.copy(CASES / "templates" / "event.j2", tmp_path / "templates" / "event.j2")
    (tmp_path / "queue").mkdir()
    make_images(tmp_path / "queue" / "media")
    return tmp_path


def ledger_of(root: Path, clock: Any = None) -> Any:
    """The ledger of the project at `root`, on whichever store its config names."""
    from crosspost.loading.config import load_config
    from crosspost.scheduling.stores import open_ledger

    spec = load_config(root / "crosspost.yaml").ledger_spec
    return open_ledger(spec, **({"clock": clock} if clock else {}))


@pytest.fixture
def open_store(state_spec: Any) -> Any:
    """Open the test's ledger (`open_store(clock=...)`), on whichever store it is."""
    from crosspost.scheduling.stores import open_ledger

    return lambda clock=None: open_ledger(state_spec, **({"clock": clock} if clock else {}))


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of the repository's example project (config, queue, templates)."""
    root = tmp_path / "example"
    root.mkdir()
    shutil.copy(REPO / "config.example.yaml", root / "crosspost.yaml")
    shutil.copytree(REPO / "templates", root / "templates")
    shutil.copytree(REPO / "queue", root / "queue")
    shutil.copy(REPO / "approvals.yaml", root / "approvals.yaml")
    return root


CANARY = "CANARY-s3cr3t-7f1e9a"  # placed in every credential by adapter tests


def canary_environ(prefix: str = "") -> dict[str, str]:
    """Every credential variable of the example config set to a value holding the canary."""
    names = [
        "X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET",
        "FB_PAGE_ACCESS_TOKEN", "IG_ACCESS_TOKEN",
    ]  # fmt: skip
    env = {name: f"{CANARY}-{name}" for name in names}
    env.update(FB_PAGE_ID="104857600", IG_USER_ID="17841400000000000")
    return env


def render_post(root: Path, post_yaml: str, channel: str, name: str = "post.yaml"):  # type: ignore[no-untyped-def]
    """Write one post into the project at `root` and return what `channel` would receive."""
    from crosspost.checking.project import load_project, render_all

    (root / "queue" / name).write_text(post_yaml, encoding="utf-8")
    loaded = load_project(root / "crosspost.yaml", now=NOW)
    rendered = render_all(loaded, channels=[channel])
    assert not loaded.problems.errors, loaded.problems.errors
    [one] = rendered
    return one


def make_adapter(root: Path, channel: str, environ: dict[str, str] | None = None, **kwargs):  # type: ignore[no-untyped-def]
    """The adapter of `channel` in the project at `root`, with the canary environment."""
    from crosspost.loading.config import load_config

    config = load_config(root / "crosspost.yaml")
    ch = config.channels[channel]
    env = canary_environ() if environ is None else environ
    return ch.adapter(ch, root=config.root, environ=env, **kwargs)


class Hook:
    """A local JSON endpoint: records the path and JSON body of every POST it receives."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.delay = 0.0
        self.lock = threading.Lock()
        self.port = 0

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.received]

    def payloads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [payload for _, payload in self.received]


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            payload = json.loads(self.rfile.read(length) or b"null")
            with state.lock:
                state.received.append((self.path, payload))
            if state.delay:
                time.sleep(state.delay)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


# --- a small site on fake channels, for the daemon, controls and the gate ------------------

CONFIG = """\
timezone: Europe/London
state: var/ledger.db
daemon:
  settle_after: 0s
channels:
  x:
    platform: fake
    imitates: x
    outbox: var/x.jsonl
{x_extra}
  fb:
    platform: fake
    imitates: facebook
    outbox: var/fb.jsonl
"""


def write_config(root: Path, x_extra: str = "") -> None:
    (root / "crosspost.yaml").write_text(CONFIG.format(x_extra=x_extra))


@pytest.fixture
def site(project: Path) -> Path:
    write_config(project)
    for name in ("x", "fb"):
        (project / "templates" / f"{name}.j2").write_text("{{ title }}")
    return project


def install_plugins(target: Path, *plugins: Path) -> Path:
    """Plugin packages installed as a third party would (pip, from their pyproject files),
    into a folder of their own: put on PYTHONPATH, crosspost finds them by entry point."""
    import subprocess
    import sys

    for plugin in plugins:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
             "--no-index", "--target", str(target), str(plugin)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
    return target
