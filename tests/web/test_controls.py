"""The office's controls in the browser: each confirmed first, behind its role, through the
action layer, recorded with the account; a pause banner on every page; status and history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from crosspost.core.states import Hold, State
from crosspost.scheduling.ledger import Ledger
from tests.conftest import ledger_of as project_ledger

from .conftest import sign_in

pytestmark = pytest.mark.both_stores  # the web app on a shared PostgreSQL ledger too


def ledger_of(office: Path) -> Ledger:
    return project_ledger(office.parent)  # type: ignore[no-any-return]


def test_a_pause_is_confirmed_first_then_recorded_with_the_account(
    client: TestClient, office: Path
) -> None:
    csrf = sign_in(client, "ann")  # an author may stop publishing: stopping is always safe
    asked = client.post("/controls/pause", data={"csrf": csrf, "reason": "Incident in Maidstone"})
    assert asked.status_code == 200 and "Pause publishing?" in asked.text
    with ledger_of(office) as ledger:
        assert not ledger.controls("pause")  # nothing changed yet
    done = client.post(
        "/controls/pause",
        data={"csrf": csrf, "reason": "Incident in Maidstone", "confirmed": "1"},
    )
    assert done.status_code == 303
    with ledger_of(office) as ledger:
        assert ledger.controls("pause")
        events = [(e.kind, e.actor) for e in ledger.events() if e.kind == "control"]
    assert events == [("control", "Ann Author (ann)")]
    for path in ("/", "/posts", "/posts/new", "/status"):
        page = client.get(path).text
        assert "Paused:" in page and "Incident in Maidstone" in page  # the banner everywhere


def test_resuming_needs_an_approver(client: TestClient, office: Path) -> None:
    csrf = sign_in(client, "ann")
    client.post("/controls/pause", data={"csrf": csrf, "reason": "r", "confirmed": "1"})
    refused = client.post("/controls/resume", data={"csrf": csrf, "confirmed": "1"})
    assert refused.status_code == 403
    csrf = sign_in(client, "pat")
    done = client.post("/controls/resume", data={"csrf": csrf, "confirmed": "1"})
    assert done.status_code == 303 and "resumed" in done.headers["location"]
    with ledger_of(office) as ledger:
        assert not ledger.controls("pause")


def test_release_and_resolve_from_the_status_page(client: TestClient, office: Path) -> None:
    with ledger_of(office) as ledger:
        held = ledger.ensure("2026-12-08-audit-and-victims-survey", "PCCKent", None, "h", "t")
        ledger.set_state(held, State.HELD, error_kind=Hold.BLACKOUT, error="blackout window")
        doubt = ledger.ensure("2026-12-03-vawg-inquiry-report", "PCCKent", None, "h", "t")
        ledger.set_state(doubt, State.IN_DOUBT, error_kind="in_doubt", error="no answer")
    csrf = sign_in(client, "pat")
    page = client.get("/status").text
    assert "Held (1)" in page and "In doubt" in page and "Release" in page and "Settle" in page
    done = client.post("/controls/release", data={
        "csrf": csrf, "post_id": "2026-12-08-audit-and-victims-survey", "channel": "PCCKent",
        "confirmed": "1"})  # fmt: skip
    assert done.status_code == 303
    done = client.post("/controls/resolve", data={
        "csrf": csrf, "post_id": "2026-12-03-vawg-inquiry-report", "channel": "PCCKent",
        "remote_id": "1860000000000000001", "confirmed": "1"})  # fmt: skip
    assert done.status_code == 303
    with ledger_of(office) as ledger:
        assert ledger.get("2026-12-08-audit-and-victims-survey", "PCCKent").state == "pending"  # type: ignore[union-attr]
        settled = ledger.get("2026-12-03-vawg-inquiry-report", "PCCKent")
        assert settled is not None and settled.state == "published"
        actors = {e.actor for e in ledger.events() if e.kind in ("released", "published")}
    assert actors == {"Pat Approver (pat)"}  # both on record with the account that did them


def test_a_control_without_its_token_changes_nothing(client: TestClient, office: Path) -> None:
    sign_in(client, "pat")
    answer = client.post("/controls/pause", data={"reason": "r", "confirmed": "1"})
    assert answer.status_code == 403
    with ledger_of(office) as ledger:
        assert not ledger.controls("pause")


def test_history_downloads_for_a_records_request(client: TestClient, office: Path) -> None:
    with ledger_of(office) as ledger:
        d = ledger.ensure("2026-12-01-safer-streets-funding", "PCCKent", None, "h", "t")
        ledger.mark_published(d, remote_id="1", url="https://x.com/PCCKent/status/1",
                              published_at=ledger.clock(), parts=(), actor="daemon")  # fmt: skip
    sign_in(client)
    page = client.get("/history")
    assert "https://x.com/PCCKent/status/1" in page.text
    csv = client.get("/history?format=csv")
    assert csv.headers["content-disposition"].startswith("attachment;")
    assert "2026-12-01-safer-streets-funding" in csv.text
    data = json.loads(client.get("/history?format=json").text)
    assert data[0]["post_id"] == "2026-12-01-safer-streets-funding"


def test_an_admin_checks_the_channels_and_lifts_a_passing_hold(
    client: TestClient, office: Path
) -> None:
    config = office.read_text()
    office.write_text(config + "\n")  # the example's channels: fakes stand in below
    with ledger_of(office) as ledger:
        ledger.set_control("hold:PCCKent", "auth: token expired", "daemon", "")
    csrf = sign_in(client, "pat")
    page = client.get("/status").text
    assert "Held channels" in page and "An admin can check" in page
    assert client.post("/controls/check", data={"csrf": csrf, "confirmed": "1"}).status_code == 403
    csrf = sign_in(client, "ada")
    asked = client.post("/controls/check", data={"csrf": csrf})
    assert asked.status_code == 200 and "lift the hold" in asked.text
    done = client.post("/controls/check", data={"csrf": csrf, "confirmed": "1"})
    assert done.status_code == 303  # the example's credentials are not set: checks fail
    assert "PCCKent: failed" in done.headers["location"].replace("%20", " ").replace("%3A", ":")
    with ledger_of(office) as ledger:
        assert ledger.controls("hold:")  # a failing check lifts nothing


def test_a_session_id_chosen_before_sign_in_is_never_used(client: TestClient) -> None:
    from .conftest import PASSWORD

    answer = client.post(
        "/login", data={"name": "ann", "password": PASSWORD},
        cookies={"crosspost_session": "attacker-chosen-value"},
    )  # fmt: skip
    issued = answer.headers["set-cookie"].split("crosspost_session=", 1)[1].split(";", 1)[0]
    assert issued and issued != "attacker-chosen-value"  # a new session at every sign-in
    other = TestClient(client.app, base_url="http://localhost", follow_redirects=False)
    other.cookies.set("crosspost_session", "attacker-chosen-value")
    assert other.get("/").status_code == 303


def test_a_token_that_expires_soon_needs_attention(client: TestClient, office: Path) -> None:
    from datetime import timedelta

    from click.testing import CliRunner

    from crosspost.cli import main

    with ledger_of(office) as ledger:
        ledger.note_token("KentPCC", ledger.clock() + timedelta(days=5))
        ledger.note_token("PCCKent", ledger.clock() + timedelta(days=60))
    sign_in(client)
    page = client.get("/status").text
    assert "Tokens expiring" in page and "KentPCC: its token expires" in page
    assert "PCCKent: its token expires" not in page
    out = CliRunner().invoke(main, ["status", "--config", str(office)]).output
    assert "! Tokens expiring" in out and "KentPCC" in out and "nothing needs attention" not in out


def test_an_approver_retracts_from_the_history_page(client: TestClient, office: Path) -> None:
    with ledger_of(office) as ledger:
        d = ledger.ensure("2026-12-01-safer-streets-funding", "PCCKent", None, "h", "t")
        ledger.mark_published(d, remote_id="1", url="https://x.com/PCCKent/status/1",
                              published_at=ledger.clock(), parts=(), actor="daemon")  # fmt: skip
    sign_in(client, "ann")
    assert "Retract" not in client.get("/history").text  # an author cannot
    csrf = sign_in(client, "pat")
    assert 'action="/controls/retract"' in client.get("/history").text
    asked = client.post("/controls/retract", data={
        "csrf": csrf, "post_id": "2026-12-01-safer-streets-funding", "channel": "PCCKent",
        "reason": "a wrong figure"})  # fmt: skip
    assert asked.status_code == 200 and "Retract a published post?" in asked.text


@pytest.mark.parametrize("until", ["2h", "tomorrow", "2026-13-45 99:99", "2027-03-28 01:30",
                                   "99999999999d", "2020-01-01 10:00"])  # fmt: skip
def test_a_pause_end_that_is_not_a_time_to_come_is_refused_before_confirming(
    client: TestClient, office: Path, until: str
) -> None:
    csrf = sign_in(client)
    for confirmed in ("", "1"):
        answer = client.post("/controls/pause", data={
            "csrf": csrf, "reason": "r", "until": until, "confirmed": confirmed})  # fmt: skip
        assert answer.status_code == 422 and "not a time crosspost can use" in answer.text
    with ledger_of(office) as ledger:
        assert not ledger.controls("pause")


def test_a_history_date_out_of_range_is_an_error_not_a_crash(client: TestClient) -> None:
    sign_in(client)
    answer = client.get("/history?since=99999999999d")
    assert answer.status_code == 200 and 'role="alert"' in answer.text
