"""Retract through the real tweepy and facebook-sdk code (HTTP intercepted), and the records:
history with approver, alt texts and retraction, and the exported event log."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner

from crosspost.cli import main
from crosspost.core.errors import PartReceipt
from crosspost.scheduling.ledger import Ledger

from .conftest import canary_environ

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def published(root: Path, post_id: str, channel: str, remote_id: str, parts: list[str],
              url: str, text: str = "Hello Kent") -> None:  # fmt: skip
    with Ledger(root / "var" / "crosspost.db") as ledger:
        ledger.ensure(post_id, channel, T0, "sha256:x", text)
        claimed = ledger.claim(post_id, channel, "test", timedelta(minutes=5))
        assert claimed is not None
        ledger.mark_published(
            claimed, remote_id=remote_id, url=url, published_at=T0,
            parts=[PartReceipt(i, p, None) for i, p in enumerate(parts)],
            approved_by="Jo Bloggs", media=[("media/a.jpg", "The Commissioner at the show.")],
        )  # fmt: skip


def run(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main,
        [*args, "--config", str(root / "crosspost.yaml")],
        env={**canary_environ(), "USER": "comms-officer"},
    )
    return result.exit_code, result.output


def test_retract_deletes_on_x_and_facebook_and_records_instagram(example: Path) -> None:
    published(
        example, "p", "PCCKent", "1001", ["1001", "1002"], "https://x.com/PCCKent/status/1001"
    )
    published(example, "p", "KentPCC", "104857600_55", ["104857600_55"],
              "https://www.facebook.com/104857600_55")  # fmt: skip
    published(example, "p", "kent_opcc", "1789", ["1789"], "https://www.instagram.com/p/abc/")
    with responses.RequestsMock() as mock:
        deleted = {"data": {"deleted": True}}
        mock.delete("https://api.twitter.com/2/tweets/1002", json=deleted)
        mock.delete("https://api.twitter.com/2/tweets/1001", json=deleted)
        mock.delete("https://graph.facebook.com/v26.0/104857600_55", json={"success": True})
        code, out = run(example, "retract", "p", "--reason", "wrong figures", "--by", "Sam")
        order = [c.request.url for c in mock.calls if "twitter" in c.request.url]
    assert code == 1  # Instagram still shows it: a person must act
    assert order == [
        "https://api.twitter.com/2/tweets/1002",  # a thread's last part first
        "https://api.twitter.com/2/tweets/1001",
    ]
    assert "✓ PCCKent: deleted from X @PCCKent" in out
    assert "✓ KentPCC: deleted from Facebook @KentPCC" in out
    assert "Instagram cannot delete posts through its API: delete it in the Instagram app" in out
    with Ledger(example / "var" / "crosspost.db") as ledger:
        x = ledger.get("p", "PCCKent")
        ig = ledger.get("p", "kent_opcc")
        assert x is not None and x.retraction == "deleted by Sam: wrong figures"
        assert (
            ig is not None
            and ig.retracted_at is not None
            and "requested by Sam" in (ig.retraction or "")
        )
        assert [e.kind for e in ledger.events()].count("retracted") == 3
    code, out = run(example, "retract", "p", "--channel", "PCCKent", "--reason", "again")
    assert code == 0 and "already retracted" in out


def test_a_failed_deletion_is_reported_and_recorded(example: Path) -> None:
    published(example, "p", "KentPCC", "104857600_55", ["104857600_55"], "u")
    with responses.RequestsMock() as mock:
        mock.delete(
            "https://graph.facebook.com/v26.0/104857600_55",
            json={"error": {"message": "Permissions error", "type": "OAuthException",
                            "code": 200}},
            status=403,
        )  # fmt: skip
        code, out = run(example, "retract", "p", "--reason", "r", "--by", "Sam")
    assert code == 1 and "could not delete it" in out
    with Ledger(example / "var" / "crosspost.db") as ledger:
        d = ledger.get("p", "KentPCC")
        assert d is not None and d.retracted_at is None
        assert any(e.kind == "retract_failed" for e in ledger.events())


def test_history_carries_approver_alt_texts_and_retraction(example: Path) -> None:
    published(example, "p", "KentPCC", "104857600_55", ["104857600_55"], "u")
    with responses.RequestsMock() as mock:
        mock.delete("https://graph.facebook.com/v26.0/104857600_55", json={"success": True})
        run(example, "retract", "p", "--reason", "r", "--by", "Sam")
    code, out = run(example, "history", "--format", "csv")
    assert code == 0
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert row["approved_by"] == "Jo Bloggs"
    assert row["alt_texts"] == "media/a.jpg: The Commissioner at the show."
    assert row["retraction"] == "deleted by Sam: r" and row["retracted_at"]
    # a cell starting with @ is a formula to a spreadsheet: it is written as text
    assert row["text"] == "Hello Kent" and row["handle"] == "'@KentPCC"


def test_export_writes_the_whole_event_log(example: Path, tmp_path: Path) -> None:
    published(example, "p", "PCCKent", "1", ["1"], "u")
    out_file = tmp_path / "events.jsonl"
    code, out = run(example, "export", "--out", str(out_file))
    assert code == 0 and "3 events written" in out
    kinds = [json.loads(line)["kind"] for line in out_file.read_text().splitlines()]
    assert kinds == ["planned", "claimed", "published"]
    csv_file = tmp_path / "events.csv"
    code, _ = run(example, "export", "--since", "2099-01-01", "--out", str(csv_file))
    assert code == 0 and csv_file.read_text().strip() == "id,at,actor,kind,post_id,channel,detail"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t"])
def test_csv_cells_are_never_formulas(example: Path, tmp_path: Path, start: str) -> None:
    """Post texts, alt texts and event details are people's words: a cell that starts like a
    formula (=HYPERLINK(...), +44..., -20%, @mention) is written as text (OWASP's guidance:
    a leading apostrophe), in history CSV and in the export."""
    text = f'{start}HYPERLINK("https://evil.example","Click")'
    published(example, "p", "KentPCC", "104857600_55", ["104857600_55"], "u", text=text)
    code, out = run(example, "history", "--format", "csv")
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert row["text"] == "'" + text
    csv_file = tmp_path / "events.csv"
    with Ledger(example / "var" / "crosspost.db") as ledger:
        ledger.event("Sam", "note", "p", "KentPCC", text)
    run(example, "export", "--out", str(csv_file))
    rows = list(csv.DictReader(io.StringIO(csv_file.read_text())))
    assert rows[-1]["detail"] == "'" + text
    assert not [c for r in rows for c in r.values() if c and c[0] in "=+-@\t"]
