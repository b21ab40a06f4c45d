"""Alerts through real apprise to a real HTTP endpoint on 127.0.0.1, with a real ledger file."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crosspost.core.problems import Problems
from crosspost.loading import yamlfile
from crosspost.scheduling.alerts import (
    RETRY_AFTER,
    Alerter,
    AlertSettings,
    delivery_message,
    next_step,
    parse_alerts,
)
from crosspost.scheduling.ledger import Delivery, Ledger

from .conftest import Hook

pytestmark = pytest.mark.both_stores

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
# its own canary: the redacting log filter is process-wide, and must not hide the adapters' leaks
CANARY = "ALERT-CANARY-5e1d0c9b"
ERROR = "X refused the post: Status is a duplicate (platform said: duplicate content)"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture(autouse=True)
def logs_reach_caplog(monkeypatch: pytest.MonkeyPatch) -> None:
    # `crosspost run` stops the package's logger propagating; caplog listens at the root
    monkeypatch.setattr(logging.getLogger("crosspost"), "propagate", True)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(open_store: Any, clock: Clock) -> Iterator[Ledger]:
    with open_store(clock) as opened:
        yield opened


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load(tmp_path: Path, text: str) -> tuple[Path, AlertSettings, Problems]:
    path = tmp_path / "crosspost.yaml"
    path.write_text(text, encoding="utf-8")
    data = yamlfile.load(path)
    problems = Problems()
    return path, parse_alerts(data.get("alerts"), problems), problems


def settings(
    tmp_path: Path, urls: list[str], on: dict[str, list[str]] | None = None
) -> AlertSettings:
    text = "alerts:\n  urls: " + json.dumps(urls) + "\n"
    if on:
        text += "  on:\n" + "".join(f"    {k}: {json.dumps(v)}\n" for k, v in on.items())
    _, parsed, problems = load(tmp_path, text)
    assert not problems.items, problems.items
    return parsed


def delivery_in(
    ledger: Ledger,
    state: str,
    *,
    post_id: str = "safer-streets",
    channel: str = "PCCKent",
    error: str = ERROR,
    error_kind: str = "rejected",
    content: str = "sha256:1",
) -> Delivery:
    """A delivery taken through the ledger's own transitions to `state`."""
    due = ledger.clock() - timedelta(minutes=1)
    ledger.ensure(
        post_id, channel, due, content, "Safer streets in Kent", file=f"queue/{post_id}.yaml"
    )
    if state == "pending":
        found = ledger.get(post_id, channel)
        assert found is not None
        return found
    claimed = ledger.claim(post_id, channel, "test", timedelta(minutes=10))
    assert claimed is not None
    if state == "published":
        return ledger.mark_published(claimed, remote_id="1", url=None, published_at=NOW)
    return ledger.set_state(claimed, state, error=error, error_kind=error_kind)


def events(ledger: Ledger, kind: str) -> list[str]:
    return [e.detail for e in ledger.events() if e.kind == kind]


# --- sending -------------------------------------------------------------------------------


def test_a_failure_alert_says_what_happened_and_what_to_do(
    tmp_path: Path, hook: Hook, ledger: Ledger
) -> None:
    alerter = Alerter(settings(tmp_path, [hook.url()]), environ={})
    failed = delivery_in(ledger, "failed")

    assert alerter.delivery_changed(ledger, failed, "failed", handle="@PCCKent") is True

    assert hook.paths() == ["/hook"]
    [payload] = hook.payloads()
    assert payload["title"] == "crosspost: post failed on @PCCKent (safer-streets)"
    assert payload["type"] == "failure"
    body = payload["message"]
    for expected in (
        "Post: safer-streets",
        "Channel: PCCKent (@PCCKent)",
        "File: queue/safer-streets.yaml",
        "Due: Wed 25 Nov 2026 11:59 UTC",
        ERROR,
        "crosspost publish safer-streets --channel PCCKent",
    ):
        assert expected in body
    assert any("failed alert sent to 1 of 1" in e for e in events(ledger, "alerted"))


def test_the_same_state_change_alerts_once(tmp_path: Path, hook: Hook, ledger: Ledger) -> None:
    alerter = Alerter(settings(tmp_path, [hook.url()]), environ={})
    failed = delivery_in(ledger, "failed")

    assert alerter.delivery_changed(ledger, failed, "failed") is True
    assert alerter.delivery_changed(ledger, failed, "failed") is False
    assert alerter.sweep(ledger) == 0
    again = ledger.get("safer-streets", "PCCKent")
    assert again is not None and alerter.delivery_changed(ledger, again, "failed") is False

    assert len(hook.received) == 1


def test_a_later_state_change_alerts_again(
    tmp_path: Path, hook: Hook, ledger: Ledger, clock: Clock
) -> None:
    alerter = Alerter(settings(tmp_path, [hook.url()]), environ={})
    assert alerter.delivery_changed(ledger, delivery_in(ledger, "failed"), "failed")

    clock.advance(minutes=10)  # the post is edited and tried again: its outcome is unknown
    doubt = delivery_in(
        ledger, "in_doubt", content="sha256:2", error="read timed out", error_kind="in_doubt"
    )
    assert alerter.delivery_changed(ledger, doubt, "in_doubt", handle="@PCCKent") is True
    assert alerter.delivery_changed(ledger, doubt, "in_doubt") is False

    clock.advance(minutes=10)  # settled as not published, sent again, and it fails again
    ledger.set_state(doubt, "pending", error="resolved: not published", error_kind="resolved")
    claimed = ledger.claim("safer-streets", "PCCKent", "test", timedelta(minutes=10))
    assert claimed is not None
    failed = ledger.set_state(claimed, "failed", error=ERROR, error_kind="rejected")
    assert alerter.delivery_changed(ledger, failed, "failed") is True

    titles = [p["title"] for p in hook.payloads()]
    assert titles == [
        "crosspost: post failed on PCCKent (safer-streets)",
        "crosspost: post may or may not have gone out on @PCCKent (safer-streets)",
        "crosspost: post failed on PCCKent (safer-streets)",
    ]
    assert "crosspost resolve safer-streets --channel PCCKent" in hook.payloads()[1]["message"]


def test_two_daemons_on_one_ledger_send_one_alert(
    tmp_path: Path, hook: Hook, ledger: Ledger, open_store: Any, clock: Clock
) -> None:
    configured = settings(tmp_path, [hook.url()])
    failed = delivery_in(ledger, "failed")
    hook.delay = 0.5  # a slow endpoint: both would be mid-send together without the claim
    start = threading.Barrier(2)
    results: list[bool] = []

    def daemon() -> None:
        with open_store(clock) as own:  # each process has its own connection
            alerter = Alerter(configured, environ={})
            start.wait()
            results.append(alerter.delivery_changed(own, failed, "failed"))

    threads = [threading.Thread(target=daemon) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(results) == [False, True]
    assert len(hook.received) == 1
    with open_store(clock) as third:  # and a daemon started later sends nothing
        assert Alerter(configured, environ={}).sweep(third) == 0
    assert len(hook.received) == 1


@pytest.mark.parametrize(
    ("state", "error_kind", "kind", "paths"),
    [
        ("failed", "rejected", "failed", ["/all"]),
        ("expired", "expired", "expired", ["/all"]),
        ("held", "paused", "held", ["/all"]),
        ("in_doubt", "in_doubt", "in_doubt", ["/oncall"]),
        ("held", "auth", "auth", ["/oncall", "/all"]),
    ],
)
def test_each_kind_goes_to_its_own_urls(
    tmp_path: Path, hook: Hook, ledger: Ledger, state: str, error_kind: str, kind: str,
    paths: list[str],
) -> None:  # fmt: skip
    on = {"in_doubt": [hook.url("/oncall")], "auth": [hook.url("/oncall"), hook.url("/all")]}
    on["token_expiring"] = [hook.url("/engineer")]
    alerter = Alerter(settings(tmp_path, [hook.url("/all")], on), environ={})

    assert alerter.sweep(ledger) == 0
    delivery_in(ledger, state, error_kind=error_kind)
    assert alerter.sweep(ledger) == 1

    assert sorted(hook.paths()) == sorted(paths)
    assert alerter.channel_alert(ledger, "PCCKent", "token_expiring", "expires on Friday")
    assert hook.paths()[-1] == "/engineer"


def test_a_variable_in_a_url_is_filled_in_at_send_time_and_never_logged(
    tmp_path: Path, hook: Hook, ledger: Ledger, state_spec: Any,
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("ALERT_TOKEN", raising=False)  # the mapping given is what counts
    alerter = Alerter(
        settings(tmp_path, [hook.url("/hook/${ALERT_TOKEN}")]), environ={"ALERT_TOKEN": CANARY}
    )

    assert alerter.delivery_changed(ledger, delivery_in(ledger, "failed"), "failed") is True

    assert hook.paths() == [f"/hook/{CANARY}"]
    # apprise and urllib3 do log the URL they call: it reaches the log with the secret out
    chatty = [r.getMessage() for r in caplog.records if r.name.startswith(("apprise", "urllib3"))]
    assert any("/hook/***" in message for message in chatty)
    assert CANARY not in caplog.text
    assert all(CANARY not in r.getMessage() for r in caplog.records)
    # nor in the ledger (controls, events), on either store
    assert CANARY not in repr((ledger.events(), ledger.controls(), ledger.deliveries()))
    ledger.close()
    if not state_spec.is_postgresql:  # and the file itself, byte for byte
        for file in state_spec.path.parent.iterdir():
            assert CANARY.encode() not in file.read_bytes()


def test_a_missing_variable_is_reported_without_crashing(
    tmp_path: Path, hook: Hook, ledger: Ledger, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    configured = settings(tmp_path, [hook.url("/hook/${ALERT_TOKEN}")])
    [problem] = configured.environment_problems({})
    assert "environment variable ALERT_TOKEN is not set (alerts.urls[1] needs it)" in str(problem)
    assert problem.mark.line == 2

    failed = delivery_in(ledger, "failed")
    assert Alerter(configured, environ={}).delivery_changed(ledger, failed, "failed") is False
    assert hook.received == []
    assert "environment variable ALERT_TOKEN not set" in caplog.text
    assert "alerts.urls[1] (json://, " in caplog.text  # where to fix it, not the URL itself
    assert events(ledger, "alert_failed")

    fixed = Alerter(configured, environ={"ALERT_TOKEN": "t0ken-value"})
    assert fixed.sweep(ledger) == 0  # not retried at once
    clock.advance(seconds=RETRY_AFTER.total_seconds() + 1)
    assert fixed.sweep(ledger) == 1
    assert hook.paths() == ["/hook/t0ken-value"]


def test_an_unreachable_url_logs_and_returns_false(
    tmp_path: Path, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"json://127.0.0.1:{closed_port()}/hook/${{ALERT_TOKEN}}"
    alerter = Alerter(settings(tmp_path, [url]), environ={"ALERT_TOKEN": CANARY})

    assert alerter.delivery_changed(ledger, delivery_in(ledger, "failed"), "failed") is False

    [said] = [r.getMessage() for r in caplog.records if r.name == "crosspost.scheduling.alerts"]
    assert said.startswith("failed alert for safer-streets on PCCKent not delivered to ")
    assert "alerts.urls[1] (json://, " in said  # where it is configured, not the URL
    assert "Connection error" in said  # apprise's reason, from its worker thread
    assert CANARY not in caplog.text
    assert all(CANARY not in r.getMessage() for r in caplog.records)
    assert events(ledger, "alert_failed") and not events(ledger, "alerted")


def test_one_working_url_of_two_is_enough(
    tmp_path: Path, hook: Hook, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    down = f"json://127.0.0.1:{closed_port()}/down"
    alerter = Alerter(settings(tmp_path, [down, hook.url()]), environ={})
    failed = delivery_in(ledger, "failed")

    assert alerter.delivery_changed(ledger, failed, "failed") is True
    assert alerter.delivery_changed(ledger, failed, "failed") is False  # not resent to either

    assert hook.paths() == ["/hook"]
    assert "not delivered to alerts.urls[1]" in caplog.text
    assert any("sent to 1 of 2" in e for e in events(ledger, "alerted"))


def test_a_ledger_that_cannot_be_used_does_not_raise(
    tmp_path: Path, hook: Hook, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    alerter = Alerter(settings(tmp_path, [hook.url()]), environ={})
    failed = delivery_in(ledger, "failed")
    ledger.close()

    assert alerter.delivery_changed(ledger, failed, "failed") is False
    assert alerter.sweep(ledger) == 0
    assert hook.received == []  # unrecorded, it would be sent again by every sweep
    assert "not sent: cannot record it in the ledger" in caplog.text


def test_a_broken_url_from_the_environment_is_not_echoed(
    tmp_path: Path, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    environ = {"ALERT_URL": f"nosuchservice://{CANARY}@127.0.0.1/"}
    alerter = Alerter(settings(tmp_path, ["${ALERT_URL}"]), environ=environ)

    assert alerter.delivery_changed(ledger, delivery_in(ledger, "failed"), "failed") is False

    assert "not delivered to alerts.urls[1]" in caplog.text
    assert any(r.name == "apprise" and r.levelno >= logging.ERROR for r in caplog.records)
    assert CANARY not in caplog.text


def test_a_failed_alert_is_sent_by_a_later_sweep(
    tmp_path: Path, hook: Hook, ledger: Ledger, clock: Clock
) -> None:
    environ = {"ALERT_PORT": str(closed_port())}  # the endpoint is down
    alerter = Alerter(settings(tmp_path, ["json://127.0.0.1:${ALERT_PORT}/hook"]), environ)
    assert alerter.delivery_changed(ledger, delivery_in(ledger, "failed"), "failed") is False

    environ["ALERT_PORT"] = str(hook.port)  # it is back
    assert alerter.sweep(ledger) == 0  # a sweep every 30 s does not hammer it
    assert hook.received == []
    clock.advance(minutes=6)
    assert alerter.sweep(ledger) == 1
    assert alerter.sweep(ledger) == 0
    assert len(hook.received) == 1


def test_a_sweep_alerts_every_stuck_delivery_once(
    tmp_path: Path, hook: Hook, ledger: Ledger, clock: Clock
) -> None:
    clock.advance(days=-2)
    delivery_in(ledger, "failed", post_id="long-ago")  # before this daemon's time: left alone
    clock.advance(days=2)
    for post_id, state, error_kind in [
        ("a-failed", "failed", "rejected"),
        ("b-doubt", "in_doubt", "in_doubt"),
        ("c-expired", "expired", "expired"),
        ("d-paused", "held", "paused"),
        ("e-login", "held", "auth"),
        ("f-published", "published", None),
        ("g-pending", "pending", None),
    ]:
        delivery_in(ledger, state, post_id=post_id, error_kind=error_kind or "")
    alerter = Alerter(settings(tmp_path, [hook.url()]), environ={})

    assert alerter.sweep(ledger, handles={"PCCKent": "@PCCKent"}) == 5
    assert alerter.sweep(ledger, handles={"PCCKent": "@PCCKent"}) == 0

    assert sorted(p["title"] for p in hook.payloads()) == [
        "crosspost: @PCCKent cannot publish: its login needs attention (e-login)",
        "crosspost: post failed on @PCCKent (a-failed)",
        "crosspost: post held on @PCCKent (d-paused)",
        "crosspost: post may or may not have gone out on @PCCKent (b-doubt)",
        "crosspost: post not published on @PCCKent: too late (c-expired)",
    ]


def test_a_token_expiring_within_14_days_alerts_once_a_day(
    tmp_path: Path, hook: Hook, ledger: Ledger, clock: Clock
) -> None:
    alerter = Alerter(settings(tmp_path, [hook.url()]), environ={})
    expires = NOW + timedelta(days=20)

    assert alerter.token_expiring(ledger, "KentPCC", expires, handle="@KentPCC") is False
    clock.advance(days=10)
    assert alerter.token_expiring(ledger, "KentPCC", expires, handle="@KentPCC") is True
    clock.advance(hours=6)
    assert alerter.token_expiring(ledger, "KentPCC", expires, handle="@KentPCC") is False
    clock.advance(days=1)
    assert alerter.token_expiring(ledger, "KentPCC", expires, handle="@KentPCC") is True

    first, second = hook.payloads()
    assert first["title"] == "crosspost: the access token of @KentPCC expires soon"
    assert "expires in 10 days" in first["message"]
    assert "crosspost doctor" in first["message"]
    assert first["type"] == "warning"
    assert "expires in 8 days" in second["message"]


def test_a_channel_alert_is_sent_once_per_problem(
    tmp_path: Path, hook: Hook, ledger: Ledger
) -> None:
    alerter = Alerter(settings(tmp_path, [hook.url()]), environ={})
    broken = "X said: Could not authenticate you (code 32)"

    assert alerter.channel_alert(ledger, "PCCKent", "auth", broken, handle="@PCCKent") is True
    assert alerter.channel_alert(ledger, "PCCKent", "auth", broken) is False
    assert alerter.channel_alert(ledger, "KentPCC", "auth", broken) is True  # another channel
    alerter.clear_channel_alert(ledger, "PCCKent", "auth")  # fixed; then it breaks again
    assert alerter.channel_alert(ledger, "PCCKent", "auth", broken) is True

    payloads = hook.payloads()
    assert len(payloads) == 3
    assert payloads[0]["title"] == "crosspost: @PCCKent cannot publish: its login needs attention"
    assert broken in payloads[0]["message"] and "crosspost doctor" in payloads[0]["message"]


def test_no_alerts_section_sends_nothing_and_records_nothing(
    tmp_path: Path, ledger: Ledger
) -> None:
    _, parsed, problems = load(tmp_path, "timezone: Europe/London\n")
    alerter = Alerter(parsed, environ={})

    assert not problems.items and not alerter.enabled
    assert alerter.delivery_changed(ledger, delivery_in(ledger, "failed"), "failed") is False
    assert alerter.sweep(ledger) == 0
    assert ledger.controls("alerted") == {}


# --- messages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "error_kind", "step"),
    [
        ("failed", None, "then run: crosspost publish safer-streets --channel PCCKent"),
        ("failed", None, "Or leave it"),
        ("expired", None, "send it late: crosspost release safer-streets --channel PCCKent --late"),
        ("in_doubt", None, "crosspost resolve safer-streets --channel PCCKent --published"),
        ("in_doubt", None, "crosspost resolve safer-streets --channel PCCKent --not-published"),
        ("auth", None, "Run crosspost doctor"),
        ("held", "paused", "crosspost release safer-streets --channel PCCKent"),
        ("held", "paused", "crosspost status shows who paused it"),
        ("held", "approval", "crosspost approve safer-streets --by NAME"),
        ("held", "blackout", "blackout window"),
        ("held", "held", "crosspost doctor"),
        ("held", None, "crosspost status shows why it is held"),
        ("token_expiring", None, "Renew the account's access token"),
    ],
)
def test_the_next_step_fits_the_kind(kind: str, error_kind: str | None, step: str) -> None:
    assert step in next_step(kind, "safer-streets", "PCCKent", error_kind)


def test_a_caller_may_give_its_own_next_step(ledger: Ledger) -> None:
    held = delivery_in(ledger, "held", error="held: every channel paused", error_kind="paused")
    title, body = delivery_message(held, "held", handle="@PCCKent", what_next="Call Sam.")
    assert title == "crosspost: post held on @PCCKent (safer-streets)"
    assert body.split("What to do next:\n")[1].startswith("Call Sam.")
    with pytest.raises(ValueError, match="unknown alert kind 'faild'"):
        delivery_message(held, "faild")


# --- config --------------------------------------------------------------------------------


def test_a_valid_section_is_read(tmp_path: Path) -> None:
    path, parsed, problems = load(
        tmp_path,
        "alerts:\n"
        '  urls: ["mailtos://alerts:${SMTP_PASSWORD}@example.org", "json://localhost:8080/hook"]\n'
        "  on:\n"
        "    in_doubt: ${ONCALL_URL}\n",
    )
    assert problems.items == []
    assert [u.where for u in parsed.targets("failed")] == ["alerts.urls[1]", "alerts.urls[2]"]
    [oncall] = parsed.targets("in_doubt")
    assert (oncall.where, oncall.variables) == ("alerts.on.in_doubt[1]", ("ONCALL_URL",))
    assert (oncall.mark.path, oncall.mark.line, oncall.mark.column) == (path, 4, 15)
    [missing] = parsed.environment_problems({"SMTP_PASSWORD": "x"})
    assert missing.message == (
        "environment variable ONCALL_URL is not set (alerts.on.in_doubt[1] needs it)"
    )


@pytest.mark.parametrize(
    ("section", "line", "column", "message"),
    [
        ("  urls: [json://h/x]\n  url: json://h/y\n", 3, 3,
         "unknown key 'url' in alerts (did you mean 'urls'?)"),
        ("  urls: [json://h/x]\n  on:\n    faild: [json://h/y]\n", 4, 5,
         "unknown key 'faild' in alerts.on (did you mean 'failed'?)"),
        ("  urls: [json://h/x, mailt://me@example.org]\n", 2, 22,
         "alerts.urls[2]: unknown alert service 'mailt://' (did you mean 'mailto'?)"),
        ("  urls:\n    - alerts at example.org\n", 3, 7,
         "alerts.urls[1] is not an apprise URL: write service://"),
        ("  urls: [json://h/x, 42]\n", 2, 22,
         "items of 'urls' must be apprise URLs (text), not a whole number"),
        ("  urls: {json: h}\n", 2, 9, "'urls' must be a list of apprise URLs, not a mapping"),
        ("  urls: [json://h/x]\n  on:\n    failed: []\n", 4, 13,
         "alerts.on.failed needs at least one URL"),
        ('  urls: ["json://h/${TOKEN"]\n', 2, 10,
         "alerts.urls[1]: write environment references as ${NAME}"),
        ("  urls: [json://h/x]\n  on: [failed]\n", 3, 7, "'on' must be a mapping"),
    ],
)  # fmt: skip
def test_config_mistakes_are_located_errors(
    tmp_path: Path, section: str, line: int, column: int, message: str
) -> None:
    path, _, problems = load(tmp_path, "alerts:\n" + section)
    [error] = problems.errors
    assert (error.mark.path, error.mark.line, error.mark.column) == (path, line, column)
    assert message in error.message


def test_a_password_written_into_the_config_is_warned_about_not_echoed(tmp_path: Path) -> None:
    _, parsed, problems = load(tmp_path, "alerts:\n  urls: [mailtos://me:hunter22@example.org]\n")
    [warning] = problems.warnings
    assert not problems.errors and parsed.urls
    assert (warning.mark.line, warning.mark.column) == (2, 10)
    assert "password written into the config" in warning.message
    assert "hunter22" not in str(warning)


def test_kinds_sent_nowhere_are_warned_about(tmp_path: Path) -> None:
    _, parsed, problems = load(tmp_path, "alerts:\n  on:\n    failed: [json://h/x]\n")
    [warning] = problems.warnings
    assert warning.mark.line == 2
    kinds = "expired, in_doubt, auth, capped, held, token_expiring, warning"
    assert f"alerts for {kinds} are sent nowhere" in warning.message
    assert parsed.targets("failed") and not parsed.targets("expired")
