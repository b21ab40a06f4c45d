"""`crosspost publish` and `doctor` through the ledger, on fake channels (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crosspost.cli import main
from tests.conftest import ledger_of

FAKE_CONFIG = """\
timezone: Europe/London
state: var/ledger.db
channels:
  PCCKent:
    platform: fake
    imitates: x
    handle: "@PCCKent"
    outbox: var/x.jsonl
  KentPCC:
    platform: fake
    imitates: facebook
    handle: "@KentPCC"
    outbox: var/fb.jsonl
{extra}"""

POST = """\
publish_at: 2027-01-15 10:00
title: Safer Streets funding secured.
body: We have secured £1.4 million for safer town centres.
link: https://www.pcc-kent.gov.uk
thread: [A second part.]
"""


@pytest.fixture
def fake_project(project: Path) -> Path:
    (project / "crosspost.yaml").write_text(FAKE_CONFIG.format(extra=""), encoding="utf-8")
    (project / "queue" / "funding.yaml").write_text(POST, encoding="utf-8")
    return project


def run(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, [*args, "--config", str(project / "crosspost.yaml")], env={"USER": "comms-officer"}
    )
    return result.exit_code, result.output


def outbox(project: Path, name: str) -> list[dict]:
    path = project / "var" / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_publish_once_then_nothing(fake_project: Path) -> None:
    code, out = run(fake_project, "publish", "funding")
    assert code == 0, out
    assert "✓ PCCKent: published: fake://PCCKent/" in out
    assert "✓ KentPCC: published: fake://KentPCC/" in out
    [x] = outbox(fake_project, "x.jsonl")
    assert x["text"].startswith("Safer Streets funding secured.") and x["thread"] == [
        "A second part."
    ]
    assert len(x["parts"]) == 2
    [fb] = outbox(fake_project, "fb.jsonl")
    assert fb["link"] == "https://www.pcc-kent.gov.uk" and fb["thread"] == []

    code, out = run(fake_project, "publish", "funding")
    assert code == 0
    assert out.count("already published") == 2 and "(nothing sent)" in out
    assert len(outbox(fake_project, "x.jsonl")) == 1 and len(outbox(fake_project, "fb.jsonl")) == 1

    with ledger_of(fake_project) as ledger:
        d = ledger.get("funding", "PCCKent")
        assert d is not None and d.state == "published"
        assert d.remote_id == x["id"] and d.url == f"fake://PCCKent/{x['id']}"
        assert d.text == x["text"] and len(d.parts) == 2


def test_publish_one_channel(fake_project: Path) -> None:
    code, out = run(fake_project, "publish", "funding", "--channel", "KentPCC")
    assert code == 0 and "KentPCC" in out and "PCCKent" not in out
    assert outbox(fake_project, "x.jsonl") == [] and len(outbox(fake_project, "fb.jsonl")) == 1


def test_dry_run_touches_no_account_and_no_ledger(example: Path) -> None:
    code, out = run(example, "publish", "safer-streets-towns", "--dry-run")
    assert code == 0, out
    assert "would publish to PCCKent (X @PCCKent):" in out
    assert "would publish to kent_opcc (Instagram @kent_opcc):" in out
    assert not (example / "var").exists()


@pytest.mark.parametrize(
    ("outcome", "state", "says"),
    [
        ("transient", "pending", "temporary failure; try again"),
        ("rate_limited", "pending", "rate limited; try again after"),
        ("auth", "failed", "credentials need attention (run crosspost doctor)"),
        ("rejected", "failed", "rejected: fake: scripted rejection"),
    ],
)
def test_failures_are_typed_recorded_and_retryable_when_it_helps(
    project: Path, outcome: str, state: str, says: str
) -> None:
    extra = f"  other:\n    platform: fake\n    outbox: var/o.jsonl\n    script: [{outcome}]\n"
    (project / "crosspost.yaml").write_text(FAKE_CONFIG.format(extra=extra), encoding="utf-8")
    (project / "templates" / "other.j2").write_text("{{ title }}")
    (project / "queue" / "funding.yaml").write_text(POST + "channels: [other]\n")
    code, out = run(project, "publish", "funding")
    assert code == 1 and says in out
    with ledger_of(project) as ledger:
        d = ledger.get("funding", "other")
        assert d is not None and d.state == state and d.error_kind == outcome
    assert outbox(project, "o.jsonl") == []
    code, out = run(project, "publish", "funding")  # the script says ok from now on
    assert code == 0 and "published" in out
    assert len(outbox(project, "o.jsonl")) == 1


def test_an_expired_claim_is_in_doubt_and_nothing_is_sent(fake_project: Path) -> None:
    from datetime import timedelta

    with ledger_of(fake_project) as ledger:
        ledger.ensure("funding", "PCCKent", None, "h", "t")
        ledger.claim("funding", "PCCKent", "crashed-host:1:daemon", timedelta(seconds=-1))
    code, out = run(fake_project, "publish", "funding", "--channel", "PCCKent")
    assert code == 1
    assert "expired without a result" in out
    assert outbox(fake_project, "x.jsonl") == []
    code, out = run(fake_project, "publish", "funding", "--channel", "PCCKent")
    assert code == 1 and "must be settled before anything is sent again" in out
    assert outbox(fake_project, "x.jsonl") == []


def test_a_live_claim_elsewhere_is_left_alone(fake_project: Path) -> None:
    from datetime import timedelta

    with ledger_of(fake_project) as ledger:
        ledger.ensure("funding", "PCCKent", None, "h", "t")
        ledger.claim("funding", "PCCKent", "other-host:9:daemon", timedelta(minutes=5))
    code, out = run(fake_project, "publish", "funding", "--channel", "PCCKent")
    assert code == 1 and "being published right now by other-host:9:daemon" in out
    assert outbox(fake_project, "x.jsonl") == []


def test_drafts_problems_and_unknown_posts_are_refused(fake_project: Path) -> None:
    (fake_project / "queue" / "draft.yaml").write_text(POST + "status: draft\n")
    code, out = run(fake_project, "publish", "draft")
    assert code == 1 and "is a draft" in out
    (fake_project / "queue" / "long.yaml").write_text(
        f"publish_at: 2027-01-15 10:00\ntitle: {'x' * 300}\nchannels: [PCCKent]\n"
    )
    code, out = run(fake_project, "publish", "long")
    assert code == 1 and "not published: text is 300 weighted characters" in out
    assert outbox(fake_project, "x.jsonl") == []
    code, out = run(fake_project, "publish", "fundin")
    assert code == 2 and "did you mean 'funding'" in out


def test_doctor_reports_each_channel(fake_project: Path, example: Path) -> None:
    code, out = run(fake_project, "doctor")
    assert code == 0 and "✓ PCCKent (X @PCCKent): signed in as fake channel PCCKent" in out
    code, out = run(example, "doctor")  # no credentials in this environment
    assert code == 1
    assert "environment variable X_CONSUMER_KEY is not set" in out
    assert "environment variable FB_PAGE_ACCESS_TOKEN is not set" in out


def test_status_and_history_read_the_ledger(fake_project: Path) -> None:
    run(fake_project, "publish", "funding")
    code, out = run(fake_project, "history", "--format", "csv")
    assert code == 0
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(out)))
    assert {(r["post_id"], r["channel"]) for r in rows} == {
        ("funding", "PCCKent"),
        ("funding", "KentPCC"),
    }
    assert all(r["remote_id"] and r["url"].startswith("fake://") for r in rows)
    code, out = run(fake_project, "history", "--since", "yesterday")
    assert code == 2 and "--since" in out
    code, out = run(fake_project, "status", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["counts"].get("published") == 2 and not report["failed"]


def test_resolve_settles_a_delivery_in_doubt(fake_project: Path) -> None:
    from datetime import timedelta

    with ledger_of(fake_project) as ledger:
        ledger.ensure("funding", "PCCKent", None, "h", "t")
        claimed = ledger.claim("funding", "PCCKent", "gone:1:daemon", timedelta(minutes=5))
        assert claimed is not None
        ledger.set_state(claimed, "in_doubt", error="timeout")
    code, out = run(fake_project, "resolve", "funding", "--channel", "PCCKent")
    assert code == 2 and "exactly one of" in out
    code, out = run(fake_project, "resolve", "funding", "--channel", "PCCKent", "--not-published")
    assert code == 0 and "back in the queue" in out
    code, out = run(fake_project, "resolve", "funding", "--channel", "PCCKent", "--published", "9")
    assert code == 1 and "is pending, not in doubt" in out
    with ledger_of(fake_project) as ledger:
        again = ledger.get("funding", "PCCKent")
        assert again is not None and again.state == "pending"
        ledger.set_state(again, "in_doubt", error="timeout")
    code, out = run(
        fake_project, "resolve", "funding", "--channel", "PCCKent", "--published", "12345",
        "--by", "Sam",
    )  # fmt: skip
    assert code == 0
    with ledger_of(fake_project) as ledger:
        done = ledger.get("funding", "PCCKent")
        assert done is not None and done.state == "published" and done.remote_id == "12345"
        assert any(e.actor == "Sam" and e.kind == "published" for e in ledger.events())


def test_doctor_lifts_a_channel_hold_once_the_credentials_work(fake_project: Path) -> None:
    with ledger_of(fake_project) as ledger:
        d = ledger.ensure("funding", "PCCKent", None, "h", "t")
        ledger.set_control("hold:PCCKent", "auth: token revoked", "daemon", "401")
        ledger.set_state(d, "held", error="channel held", error_kind="held")
    code, out = run(fake_project, "doctor")
    assert code == 0 and "channel hold lifted: 1 deliveries back in the queue" in out
    with ledger_of(fake_project) as ledger:
        assert ledger.controls("hold:") == {}
        back = ledger.get("funding", "PCCKent")
        assert back is not None and back.state == "pending"
