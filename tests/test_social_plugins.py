"""Bluesky and Mastodon are plugin packages (plugins/): installed as a third party would
install them, with no edit to crosspost, they are found through the public entry point; they
validate offline by their own rules, preview with their mock-ups, run in dry run (imitated by
the fake), tell `doctor` what to create where, and pass their own tests (crosspost's contract
kit, the real SDKs with only HTTP intercepted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO, install_plugins

PLUGINS = {
    "bluesky": REPO / "plugins" / "crosspost-bluesky",
    "mastodon": REPO / "plugins" / "crosspost-mastodon",
}
CONFIG = """\
timezone: Europe/London
channels:
  bsky:
    platform: bluesky
    handle: "@kentpcc.bsky.social"
    credentials: {identifier: "${BSKY_ID}", app_password: "${BSKY_PW}"}
  masto:
    platform: mastodon
    handle: "@kentpcc@social.example.gov.uk"
    instance: https://social.example.gov.uk
    content_warning: Police news
    credentials: {access_token: "${MASTODON_TOKEN}"}
"""


@pytest.fixture(scope="module")
def site_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both plugins installed into a folder of their own (pip, from their pyproject files),
    put on the path of the commands below: crosspost finds them only by their entry points."""
    target = install_plugins(tmp_path_factory.mktemp("social-site"), *PLUGINS.values())
    assert len(list(target.glob("crosspost_*-*.dist-info/entry_points.txt"))) == 2
    return target


def crosspost(site: Path, root: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    environ = {**os.environ, "PYTHONPATH": str(site), **(env or {})}
    for name in ("BSKY_ID", "BSKY_PW", "MASTODON_TOKEN"):
        if env is None or name not in env:
            environ.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "crosspost", *args, "--config", str(root / "crosspost.yaml")],
        capture_output=True, text=True, timeout=120, env=environ,
    )  # fmt: skip


@pytest.fixture
def office(tmp_path: Path) -> Path:
    root = tmp_path / "office"
    (root / "queue").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "crosspost.yaml").write_text(CONFIG)
    for name in ("bsky", "masto"):
        (root / "templates" / f"{name}.j2").write_text("{{ title }}")
    (root / "queue" / "2027-01-15-hello.yaml").write_text(
        "publish_at: 2027-01-15 10:00\ntitle: Hello Kent 👮🏽‍♀️ #SaferStreets\n"
        "thread: ['A second part, as a reply.']\n"
    )
    return root


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_each_plugin_passes_its_own_tests(site_packages: Path, name: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(site_packages)}
    plugin = PLUGINS[name]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(plugin), "-o", "addopts=", "-W", "error::pytest.PytestUnhandledThreadExceptionWarning",
         str(plugin / "tests")],
        capture_output=True, text=True, timeout=300, env=env, cwd=plugin,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout and "failed" not in done.stdout


def test_they_validate_offline_by_their_own_rules(site_packages: Path, office: Path) -> None:
    done = crosspost(site_packages, office, "validate")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 posts, 2 deliveries" in done.stdout
    # 300 graphemes on Bluesky (a flag is one), 500 characters on Mastodon (a link is 23)
    flags = "🇬🇧" * 301
    (office / "queue" / "2027-01-15-hello.yaml").write_text(
        f"publish_at: 2027-01-15 10:00\ntitle: '{flags}'\n"
    )
    done = crosspost(site_packages, office, "validate")
    assert done.returncode == 1
    assert "301 graphemes, over Bluesky's limit of 300" in done.stdout
    assert "over Mastodon" not in done.stdout  # 301 flags are 301 of Mastodon's 500
    link = "https://www.kent-pcc.gov.uk/" + "a" * 600
    (office / "queue" / "2027-01-15-hello.yaml").write_text(
        f"publish_at: 2027-01-15 10:00\ntitle: 'See {link}'\n"
    )
    done = crosspost(site_packages, office, "validate")
    assert "over Mastodon" not in done.stdout  # the link counts as 23
    (office / "crosspost.yaml").write_text(CONFIG.replace(
        "content_warning: Police news", "content_warning: Police news\n    max_characters: 20"
    ))  # fmt: skip
    done = crosspost(site_packages, office, "validate")
    # the instance's limit, as stated; the content warning ("Police news") counts too
    assert "38 characters, over Mastodon's limit of 20" in done.stdout


def test_they_preview_and_run_in_a_dry_run(site_packages: Path, office: Path) -> None:
    done = crosspost(site_packages, office, "preview", "2027-01-15-hello")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Bluesky" in done.stdout and "Mastodon" in done.stdout
    out = office / "site"
    done = crosspost(site_packages, office, "preview", "--html", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    page = "".join(p.read_text() for p in out.rglob("*.html"))
    assert "platform-bluesky" in page and "platform-mastodon" in page
    assert "Police news" in page  # Mastodon's content warning, as the post will show it
    done = crosspost(site_packages, office, "publish", "2027-01-15-hello", "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "would publish" in (done.stdout + done.stderr).lower()


def test_imitates_accepts_them(site_packages: Path, office: Path) -> None:
    (office / "crosspost.yaml").write_text(
        "timezone: Europe/London\nchannels:\n  bsky:\n    platform: fake\n    imitates: bluesky\n"
        "    outbox: var/b.jsonl\n  masto:\n    platform: fake\n    imitates: mastodon\n"
        "    outbox: var/m.jsonl\n"
    )
    (office / "queue" / "2027-01-15-hello.yaml").write_text(
        "publish_at: 2027-01-15 10:00\ntitle: '" + "🇬🇧" * 301 + "'\n"
    )
    done = crosspost(site_packages, office, "validate")
    assert "301 graphemes, over Bluesky's limit of 300" in done.stdout  # its rules, imitated


def test_doctor_says_what_to_create_where(site_packages: Path, office: Path) -> None:
    done = crosspost(site_packages, office, "doctor")
    assert done.returncode == 1
    out = done.stdout
    assert "BSKY_ID" in out and "MASTODON_TOKEN" in out  # nothing set: each variable named
    assert "App passwords" in out and "Development" in out, out


PUBLIC = {
    "crosspost.adapters.base", "crosspost.adapters.rules", "crosspost.core.errors",
    "crosspost.testing", "crosspost.loading.config",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_the_plugins_use_only_the_public_contract(name: str) -> None:
    """What a third party may import from crosspost (docs/plugins.md), and nothing else."""
    import ast

    used = set()
    for source in PLUGINS[name].rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("crosspost."):
                used.add(node.module)
            elif isinstance(node, ast.Import):
                used.update(a.name for a in node.names if a.name.startswith("crosspost."))
    assert used and used <= PUBLIC, used - PUBLIC
