"""Accidents and hostile input that must never make crosspost publish what nobody approved:
damaged ledgers, swapped images, renamed files, templates, crafted texts, CSV cells.

(Broken post files and approvals.yaml: tests/test_daemon.py; the loader fuzz test and the
corpus of broken inputs run through every command: tests/test_broken_inputs.py.)
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from crosspost.cli import main
from crosspost.errors import ContentChanged
from crosspost.ledger import Ledger, LedgerError

from .conftest import NOW, make_adapter, render_post
from .test_daemon import Clock, daemon, outbox, post, state, write_config


@pytest.fixture
def site(project: Path) -> Path:
    write_config(project)
    for name in ("x", "fb"):
        (project / "templates" / f"{name}.j2").write_text("{{ title }}")
    return project


def cli(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--config", str(root / "crosspost.yaml")])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


# --- item 2: a damaged ledger is never taken for a new one ---------------------------------


def _published_site(site: Path) -> Path:
    """A site whose ledger has recorded a publication; the path of the ledger."""
    post(site, "p", "2027-01-15 10:00", extra="channels: [x]\n")
    daemon(site, Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))).deliver_due()
    assert state(site, "p") == "published"
    return site / "var" / "ledger.db"


def _truncate(path: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.write_bytes(b"")


def _garbage(path: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.write_bytes(b"this is not a database, it is a spreadsheet\n" * 200)


def _deleted(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (_truncate, "is empty (0 bytes)"),
        (_deleted, "is missing"),
        (_garbage, "file is not a database"),
    ],
    ids=["truncated", "deleted", "not-sqlite"],
)
def test_a_damaged_ledger_stops_every_command_with_one_message(
    site: Path, damage: object, words: str
) -> None:
    ledger = _published_site(site)
    damage(ledger)  # type: ignore[operator]
    for command in (["run", "--once"], ["status"], ["history"], ["publish", "p"],
                    ["pause", "--reason", "x", "--by", "Sam"], ["resolve", "p", "--channel", "x",
                    "--not-published"]):  # fmt: skip
        code, out = cli(site, *command)
        assert code == 2, (command, out)
        assert out.count("ledger error:") == 1 and words in out, (command, out)
        assert "Traceback" not in out
    assert outbox(site) and len(outbox(site)) == 1  # nothing was published again


def test_a_ledger_restored_from_an_older_copy_is_refused(site: Path) -> None:
    ledger = _published_site(site)
    backup = site / "backup.db"
    with Ledger(ledger) as opened:  # a consistent copy, as `sqlite3 .backup` makes
        opened.db.execute(f"VACUUM INTO '{backup}'")
    post(site, "q", "2027-01-15 11:00", extra="channels: [x]\n")
    daemon(site, Clock(datetime(2027, 1, 15, 11, 0, tzinfo=UTC))).deliver_due()
    assert state(site, "q") == "published"
    _deleted(ledger)
    shutil.copy(backup, ledger)  # last night's backup, restored
    code, out = cli(site, "run", "--once")
    assert code == 2 and "older than what was published" in out
    assert "records 1 publications, but 2 had been recorded" in out
    assert len(outbox(site)) == 2


def test_another_ledger_copied_in_is_refused(site: Path, tmp_path: Path) -> None:
    ledger = _published_site(site)
    other = tmp_path / "other.db"
    Ledger(other).close()
    _deleted(ledger)
    shutil.copy(other, ledger)
    with pytest.raises(LedgerError, match="its guard file names another ledger"):
        Ledger(ledger)


def test_a_ledger_that_cannot_be_written_is_one_clear_error(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.ensure("p", "x", None, "h", "t")
        ledger.db.execute("PRAGMA query_only = ON")  # as a read-only file or a full disk
        with pytest.raises(LedgerError, match="cannot write to the ledger .*nothing was recorded"):
            ledger.ensure("q", "x", None, "h", "t")
        with pytest.raises(LedgerError):
            ledger.set_control("pause", "{}", "Sam")


def test_a_new_installation_starts_a_guard_and_an_old_ledger_gets_one(tmp_path: Path) -> None:
    path = tmp_path / "var" / "l.db"
    Ledger(path).close()
    guard = path.with_name("l.db.guard")
    assert guard.exists() and '"published": 0' in guard.read_text()
    guard.unlink()  # a ledger from before guards existed
    Ledger(path).close()
    assert guard.exists()


# --- item 3: the bytes uploaded are the bytes approved, from inside the project ------------

IMAGE_POST = """\
publish_at: 2026-12-01 10:00
title: Our stand at the County Show.
body: Our stand at the County Show, with the Safer Streets team.
media:
  - path: media/square.jpg
    alt: Navy blue square card with the words Safer Streets in gold.
"""


@pytest.mark.parametrize("channel", ["PCCKent", "KentPCC", "kent_opcc"])
def test_an_image_changed_after_checking_is_not_uploaded(project: Path, channel: str) -> None:
    """The image was replaced after the post was checked and approved (outside the folders the
    daemon watches, or between two reloads): its new bytes are not uploaded, on any platform,
    and nothing is sent at all."""
    from PIL import Image

    rendered = render_post(project, IMAGE_POST, channel)
    Image.new("RGB", (1080, 1080), (200, 0, 0)).save(project / "queue/media/square.jpg")
    adapter = make_adapter(project, channel, now=lambda: NOW, sleep=lambda s: None)
    with pytest.raises(ContentChanged, match="changed after the post was checked"):
        adapter.publish(rendered)  # no HTTP mock: any request would fail differently


def test_an_image_swapped_for_a_link_out_of_the_project_is_not_read(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rendered = render_post(project, IMAGE_POST, "PCCKent")
    secret = tmp_path_factory.mktemp("elsewhere") / "outside" / "passwords.jpg"
    secret.parent.mkdir()
    shutil.copy(project / "queue/media/square.jpg", secret)  # even the very same bytes
    image = project / "queue/media/square.jpg"
    image.unlink()
    os.symlink(secret, image)
    adapter = make_adapter(project, "PCCKent", now=lambda: NOW, sleep=lambda s: None)
    with pytest.raises(ContentChanged, match="now leads outside the project"):
        adapter.publish(rendered)


def test_the_daemon_checks_again_after_an_image_changed(site: Path) -> None:
    from PIL import Image

    (site / "queue" / "media").mkdir(exist_ok=True)
    Image.new("RGB", (100, 100), (0, 0, 200)).save(site / "queue/media/a.jpg")
    post(site, "p", "2027-01-15 10:00",
         extra="channels: [x]\nmedia:\n  - {path: media/a.jpg, alt: A blue square.}\n")  # fmt: skip
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    d = daemon(site, clock)
    Image.new("RGB", (100, 100), (200, 0, 0)).save(site / "queue/media/a.jpg")
    d.deliver_due()  # the plan still has the blue square's hash
    assert state(site, "p") == "pending" and outbox(site) == []
    assert d.reload_requested.is_set()  # so the running daemon re-checks everything
    d.load("reload")
    clock.now += timedelta(minutes=2)
    d.deliver_due()
    assert state(site, "p") == "published"
    [sent] = outbox(site)
    assert sent["media"][0]["path"] == "media/a.jpg"


def test_sqlite_is_what_the_test_damages(tmp_path: Path) -> None:
    """The damage helpers really make files SQLite refuses (so the tests above test that)."""
    path = tmp_path / "g.db"
    _garbage(path)
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(path).execute("SELECT * FROM sqlite_master").fetchall()
