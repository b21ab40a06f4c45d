"""The example plugin under examples/ works through the public entry point alone: installed
as a third party would install it, with no edit to crosspost, it validates, previews, runs in
dry run (imitated by the fake) and publishes to its own outbox, and passes crosspost's
contract kit (crosspost.testing) in its own tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, install_plugins

PLUGIN = REPO / "examples" / "crosspost-outbox"


@pytest.fixture(scope="module")
def site_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin installed into a folder of its own (pip, from its pyproject), put on the
    path of the commands below: crosspost finds it only through its entry point."""
    target = install_plugins(tmp_path_factory.mktemp("plugin-site"), PLUGIN)
    assert list(target.glob("crosspost_outbox-*.dist-info/entry_points.txt"))
    return target


def crosspost(site: Path, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-m", "crosspost", *args, "--config", str(root / "crosspost.yaml")],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "office"
    (root / "queue").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "crosspost.yaml").write_text(
        "timezone: Europe/London\nchannels:\n  notes:\n    platform: outbox\n"
        "    handle: the office's outbox\n    folder: var/outbox\n"
    )
    (root / "templates" / "notes.j2").write_text("{{ title }}")
    (root / "queue" / "2027-01-15-hello.yaml").write_text(
        "publish_at: 2027-01-15 10:00\ntitle: Hello Kent.\nthread: ['A second part, as a reply.']\n"
    )
    return root


def test_the_plugin_validates_previews_runs_and_publishes(site_packages: Path,
                                                         project: Path) -> None:  # fmt: skip
    done = crosspost(site_packages, project, "validate")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 posts, 1 deliveries" in done.stdout
    done = crosspost(site_packages, project, "preview", "2027-01-15-hello")
    assert done.returncode == 0 and "Outbox" in done.stdout and "Hello Kent." in done.stdout
    done = crosspost(site_packages, project, "publish", "2027-01-15-hello", "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (project / "var" / "outbox").exists()  # a dry run imitates it, nothing more
    done = crosspost(site_packages, project, "publish", "2027-01-15-hello")
    assert done.returncode == 0, done.stdout + done.stderr
    written = sorted((project / "var" / "outbox").glob("*.json"))
    assert [p.name for p in written] == ["2027-01-15-hello-1.json", "2027-01-15-hello-2.json"]
    second = json.loads(written[1].read_text())
    assert second["reply_to"] == "2027-01-15-hello-1"
    done = crosspost(site_packages, project, "publish", "2027-01-15-hello")
    assert "already published" in done.stdout + done.stderr  # exactly once, as every platform
    done = crosspost(site_packages, project, "history")
    assert "Outbox" in done.stdout  # the plugin's own label


def test_the_plugin_offline_rules_apply(site_packages: Path, project: Path) -> None:
    (project / "queue" / "2027-01-15-hello.yaml").write_text(
        "publish_at: 2027-01-15 10:00\ntitle: " + "e\u0301" * 501 + "\n"
    )
    done = crosspost(site_packages, project, "validate")
    assert done.returncode == 1
    assert "501 characters, over Outbox's limit of 500" in done.stdout  # its own counter


def test_imitates_accepts_the_plugin_platform(site_packages: Path, project: Path) -> None:
    (project / "crosspost.yaml").write_text(
        "timezone: Europe/London\nchannels:\n  notes:\n    platform: fake\n"
        "    imitates: outbox\n    outbox: var/fake.jsonl\n"
    )
    done = crosspost(site_packages, project, "validate")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_plugin_passes_the_contract_kit_in_its_own_tests(site_packages: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(site_packages)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(PLUGIN), "-o", "addopts=", str(PLUGIN / "tests")],
        capture_output=True, text=True, timeout=300, env=env, cwd=PLUGIN,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    assert "2 passed" in done.stdout
