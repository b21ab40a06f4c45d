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


# --- a long send is never taken for an abandoned one ---------------------------------------


def test_a_claim_held_by_a_live_sender_here_is_not_taken_over(site: Path) -> None:
    """A GIF X takes minutes to process outlives the lease: the same daemon's sweeper must
    not call it in doubt and send it again while the send is still running."""
    import socket

    post(site, "slow", "2027-01-15 10:00", extra="channels: [x]\n")
    post(site, "away", "2027-01-15 10:00", extra="channels: [x]\n")
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    d = daemon(site, clock)
    with Ledger(site / "var" / "ledger.db", clock=clock) as ledger:
        ledger.claim("slow", "x", f"{socket.gethostname()}:{os.getpid()}:daemon",
                     timedelta(minutes=1))  # fmt: skip
        ledger.claim("away", "x", "other-host:4242:daemon", timedelta(minutes=1))
    clock.now += timedelta(minutes=11)
    d.settle()
    d.deliver_due()
    assert state(site, "slow") == "claimed"  # still being sent, here: left alone
    # another host's lease ran out: in doubt, settled (not on the account), sent again
    assert state(site, "away") == "published"
    assert [r["post_id"] for r in outbox(site)] == ["away"]


def test_a_long_send_renews_its_lease(site: Path) -> None:
    import threading
    import time

    from crosspost.publishing import send

    post(site, "slow", "2027-01-15 10:00", extra="channels: [x]\n")
    config = site / "crosspost.yaml"
    slow = config.read_text().replace(
        "outbox: var/x.jsonl", "outbox: var/x.jsonl\n    latency: 2.5"
    )
    config.write_text(slow)
    d = daemon(site, Clock(datetime.now(UTC)))
    rendered = d.plan.deliveries[("slow", "x")]  # type: ignore[union-attr]
    adapter = make_adapter(site, "x", environ={}, sleep=time.sleep)
    outcome: list[object] = []

    def sending() -> None:
        with Ledger(site / "var" / "ledger.db") as ledger:
            outcome.append(send(rendered, adapter, ledger, "me:1:test", timedelta(seconds=3)))

    thread = threading.Thread(target=sending)
    thread.start()
    leases = set()
    with Ledger(site / "var" / "ledger.db") as watcher:
        while thread.is_alive():
            row = watcher.db.execute("SELECT lease_until FROM deliveries").fetchone()
            if row[0]:
                leases.add(row[0])
            time.sleep(0.1)
    thread.join()
    assert len(leases) >= 2, leases  # renewed while the 2.5 s send ran (every second)
    assert state(site, "slow") == "published"


def test_a_stale_sender_does_not_write_over_what_came_after(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.ensure("p", "x", None, "h", "t")
        first = ledger.claim("p", "x", "host:1:a", timedelta(minutes=1))
        assert first is not None
        ledger.set_state(first, "in_doubt", error="taken over", only_from=["claimed"])
        again = ledger.set_state(first, "pending", error="late retry", claimed_by="host:1:a")
        assert again.state == "in_doubt"  # the stale sender's retry was not written
        assert ledger.renew(first, "host:1:a", timedelta(minutes=1)) is False


# --- item 5: a renamed file is not published again ---------------------------------------


def test_a_renamed_post_file_is_held_not_published_again(site: Path) -> None:
    """The id comes from the file name: renaming a published post's file within the lateness
    window would publish it again. The same content already out on the channel holds it."""
    post(site, "2027-01-15-fund", "2027-01-15 10:00", title="Fund", extra="channels: [x]\n")
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    d = daemon(site, clock)
    d.deliver_due()
    (site / "queue" / "2027-01-15-fund.yaml").rename(site / "queue" / "fund-renamed.yaml")
    clock.now += timedelta(minutes=5)
    d.load("renamed")
    d.deliver_due()
    assert state(site, "fund-renamed") == "held"
    assert [r["post_id"] for r in outbox(site)] == ["2027-01-15-fund"]
    with Ledger(site / "var" / "ledger.db") as ledger:
        held = ledger.get("fund-renamed", "x")
    assert held is not None and "as post '2027-01-15-fund'" in (held.last_error or "")
    code, out = cli(site, "release", "fund-renamed", "--channel", "x", "--by", "Sam")
    assert code == 0
    clock.now = datetime.now(UTC) + timedelta(seconds=5)
    clock.now = max(clock.now, datetime(2027, 1, 15, 10, 6, tzinfo=UTC))
    d.deliver_due()  # a person asked for it: it goes
    assert [r["post_id"] for r in outbox(site)] == ["2027-01-15-fund", "fund-renamed"]
