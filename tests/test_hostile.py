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
from crosspost.core.errors import ContentChanged
from crosspost.scheduling.ledger import Ledger, LedgerError

from .conftest import NOW, make_adapter, render_post
from .test_daemon import Clock, daemon, outbox, post, state


def cli(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, [*args, "--config", str(root / "crosspost.yaml")], env={"USER": "comms-officer"}
    )
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

    from crosspost.scheduling.publishing import send

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
        again = ledger.set_state(first, "pending", error="late retry", fenced=True)
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


# --- item 9: approvals that hold --------------------------------------------------------


def _approval_site(site: Path) -> Path:
    config = site / "crosspost.yaml"
    config.write_text(config.read_text() + "require_approval: true\nforbid_self_approval: true\n")
    for i in range(8):
        post(site, f"p{i}", "2027-01-15 10:00", extra="channels: [x]\nauthor: Alex Smith\n")
    return site


def test_approvals_given_at_once_are_all_kept(site: Path) -> None:
    """Eight approvers at once: each command says it recorded its approval, so each must be
    in approvals.yaml (the file was rewritten without a lock and lost some)."""
    import subprocess
    import sys

    _approval_site(site)
    start = time_now() + 1.5
    code = (
        "import sys, time; from crosspost.cli import main\n"
        "time.sleep(max(0, float(sys.argv[1]) - time.time()))\n"
        "main(['approve', sys.argv[2], '--by', 'Jo', '--config', sys.argv[3]])\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(start), f"p{i}", str(site / "crosspost.yaml")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(8)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, outs
    import yaml

    kept = yaml.safe_load((site / "approvals.yaml").read_text())
    assert sorted(kept) == [f"p{i}" for i in range(8)]


def time_now() -> float:
    import time

    return time.time()


@pytest.mark.parametrize(
    "name",
    ["alex smith", " Alex Smith ", "Alex\u00a0Smith", "Alex  Smith", "ALEX SMITH",
     "Alex\u200bSmith".replace("\u200b", " \u200b"), "Al\u00adex Smith", "\ufeffAlex Smith",
     "Alex\u2060 Smith"],
)  # fmt: skip
def test_the_author_cannot_approve_under_another_spelling(site: Path, name: str) -> None:
    _approval_site(site)
    code, out = cli(site, "approve", "p0", "--by", name)
    assert code == 1 and "someone else must approve it" in out
    assert not (site / "approvals.yaml").exists()


def test_a_blank_approver_is_refused(site: Path) -> None:
    _approval_site(site)
    for blank in ("", "   ", "\u00a0", "\u200b", "\u00ad\u2060"):
        code, out = cli(site, "approve", "p0", "--by", blank)
        assert code == 2 and "give the approver's name" in out
    assert not (site / "approvals.yaml").exists()


def test_an_approver_pins_what_preview_showed(site: Path) -> None:
    _approval_site(site)
    code, out = cli(site, "preview", "p0")
    assert code == 0
    shown = out.split("approval hash of p0: ")[1].split()[0]
    assert shown.startswith("sha256:") and f"--hash {shown[:23]}" in out
    post(site, "p0", "2027-01-15 10:00", title="Edited after the preview",
         extra="channels: [x]\nauthor: Alex Smith\n")  # fmt: skip
    code, out = cli(site, "approve", "p0", "--by", "Jo", "--hash", shown[:23])
    assert code == 1 and "is not what you were shown" in out
    assert not (site / "approvals.yaml").exists()
    for blank in ("   ", "sha256:", "sha256:   "):
        code, out = cli(site, "approve", "p0", "--by", "Jo", "--hash", blank)
        assert code == 1 and "is not what you were shown" in out  # pins nothing: refused
    code, out = cli(site, "preview", "p0")
    now_shown = out.split("approval hash of p0: ")[1].split()[0]
    code, out = cli(site, "approve", "p0", "--by", "Jo", "--hash", now_shown[:23])
    assert code == 0 and "approved by Jo" in out


# --- item 10: secrets ------------------------------------------------------------------


def test_a_password_with_at_or_slash_stays_a_password() -> None:
    """Substituted as it was, the part after an '@' in the password became the mail host (and
    was looked up in DNS); each value in a URL is percent-encoded."""
    from crosspost.scheduling.alerts import substitute

    env = {"SMTP_USER": "comms", "SMTP_PASSWORD": "p@ss/w:rd#1\n"}
    url, secrets = substitute(
        "mailtos://${SMTP_USER}:${SMTP_PASSWORD}@mail.example.org?to=a@example.org", env
    )
    assert url == "mailtos://comms:p%40ss%2Fw%3Ard%231@mail.example.org?to=a@example.org"
    assert "p@ss/w:rd#1\n" in secrets and "p%40ss%2Fw%3Ard%231" in secrets
    # anywhere but user and password, a value goes in as it is: Slack's tokens hold '/'
    slack, _ = substitute("slack://${A}/${B}", {"A": "T1JJ3T3L2", "B": "A1BRTD4JD/TIiajkdnl"})
    assert slack == "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnl"
    whole, _ = substitute("${ALERT_URL}", {"ALERT_URL": "json://host/path"})
    assert whole == "json://host/path"  # a whole URL from the environment is taken as it is


def test_a_literal_password_in_an_alert_url_is_warned_about(site: Path) -> None:
    config = site / "crosspost.yaml"
    literal = 'alerts:\n  urls: ["mailtos://comms:hunter2@mail.example.org"]\n'
    config.write_text(config.read_text() + literal)
    code, out = cli(site, "validate")
    assert "has a password written into the config" in out
    assert "hunter2" not in out


def test_a_token_with_a_trailing_newline_never_reaches_the_debug_log(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A token read from a secrets file ends in a line break: oauthlib logs its repr at DEBUG,
    where the escaped form slipped past redaction. The break is not part of the token."""
    import logging

    import responses

    from .conftest import CANARY, canary_environ

    caplog.set_level(logging.DEBUG)
    env = {k: v + "\n" for k, v in canary_environ().items()}
    adapter = make_adapter(project, "PCCKent", environ=env, now=lambda: NOW)
    with responses.RequestsMock() as api:
        api.get("https://api.twitter.com/2/users/me", status=401, json={"title": "Unauthorized"})
        report = adapter.check_credentials()
        sent = api.calls[0].request.headers["Authorization"]
    assert not report.ok
    assert "\\n" not in str(sent) and "%0A" not in str(sent)  # the break was not sent either
    assert CANARY not in caplog.text and CANARY not in " ".join(report.problems)


def test_an_image_swapped_keeping_its_size_and_time_is_read_again(site: Path) -> None:
    """The caches know a file by its size and modification time: a swap that keeps both must
    still be noticed, re-checked and, here, published with the new bytes' approval state."""
    from PIL import Image

    (site / "queue" / "media").mkdir(exist_ok=True)
    image = site / "queue/media/a.png"
    Image.new("RGB", (100, 100), (0, 0, 200)).save(image)
    post(site, "p", "2027-01-15 10:00",
         extra="channels: [x]\nmedia:\n  - {path: media/a.png, alt: A blue square.}\n")  # fmt: skip
    clock = Clock(datetime(2027, 1, 15, 10, 0, tzinfo=UTC))
    d = daemon(site, clock)
    st = image.stat()
    import io

    red = io.BytesIO()
    Image.new("RGB", (100, 100), (200, 0, 0)).save(red, "PNG")
    data = red.getvalue()
    assert len(data) <= st.st_size
    image.write_bytes(data + b"\0" * (st.st_size - len(data)))  # padded after the image's end
    assert image.stat().st_size == st.st_size
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns))  # the same size and time
    d.deliver_due()
    assert state(site, "p") == "pending" and outbox(site) == []
    d.load("reload")  # as the running daemon does when asked
    clock.now += timedelta(minutes=2)
    d.deliver_due()
    assert state(site, "p") == "published"
