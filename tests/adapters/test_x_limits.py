"""The X adapter's limits: rate limits and when to retry, and the monthly usage cap (when
it resets, what doctor shows).

Real tweepy and requests code, only HTTP intercepted by `responses`; bodies are shaped like
X's own answers and the helpers are in x_helpers.py.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from crosspost.adapters.x import XAdapter, retry_at
from crosspost.core.errors import (
    RateLimited,
    UsageCapped,
)

from ..conftest import CANARY, NOW, render_post
from .x_helpers import (
    IMAGES_POST,
    ME,
    RESET,
    RESET_24H,
    TEXT_POST,
    TOKEN,
    TWEETS,
    UPLOAD,
    USAGE,
    USAGE_CAP,
    USER_ID,
    problem,
)

# tweepy's wait_on_rate_limit or a retry loop must never really sleep (tests/adapters/conftest.py)
pytestmark = pytest.mark.usefixtures("no_sleeping")


# --- rate limits ----------------------------------------------------------------------------


def limits(
    window: str | None = None, user: str | None = None, app: str | None = None
) -> dict[str, str]:
    """X's rate-limit headers: the remaining count of each limit named (None: not sent)."""
    headers = {}
    for prefix, remaining, reset in (
        ("x-rate-limit", window, RESET),
        ("x-user-limit-24hour", user, RESET_24H),
        ("x-app-limit-24hour", app, RESET_24H),
    ):
        if remaining is not None:
            headers.update({f"{prefix}-remaining": remaining, f"{prefix}-reset": str(reset)})
    return headers


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (limits(window="0"), RESET),
        (limits(user="0"), RESET_24H),
        (limits(app="0"), RESET_24H),
        (limits(window="40", user="0"), RESET_24H),  # the daily limit is the one that bit
        (limits(window="0", user="0"), RESET_24H),  # both exhausted: wait for the later
        (limits(window="0", user="3"), RESET),  # the daily limit has room
        ({"x-rate-limit-reset": str(RESET)}, RESET),  # no remaining count: take the reset
    ],
)
def test_rate_limited_post_says_when_to_retry(
    project: Path,
    adapter: XAdapter,
    api: responses.RequestsMock,
    headers: dict[str, str],
    expected: int,
) -> None:
    rendered = render_post(project, TEXT_POST, "PCCKent")
    api.post(
        TWEETS,
        status=429,
        json=problem(429, "Too Many Requests", "Too Many Requests"),
        headers=headers,
    )

    with pytest.raises(RateLimited) as caught:
        adapter.publish(rendered)

    assert caught.value.retry_at == datetime.fromtimestamp(expected, UTC)
    assert caught.value.retry_at > NOW
    assert len(api.calls) == 1


def test_rate_limited_without_reset_header_fails_fast(
    project: Path, adapter: XAdapter, api: responses.RequestsMock
) -> None:
    rendered = render_post(project, TEXT_POST, "PCCKent")
    api.post(TWEETS, status=429, json=problem(429, "Too Many Requests", "Too Many Requests"))
    started = time.monotonic()

    with pytest.raises(RateLimited) as caught:
        adapter.publish(rendered)

    assert time.monotonic() - started < 2
    assert caught.value.retry_at is None
    assert "did not say when" in str(caught.value)
    assert len(api.calls) == 1  # no waiting, no recursion: one request, one answer
    assert adapter.client().wait_on_rate_limit is False


def test_rate_limited_media_upload(
    project: Path, adapter: XAdapter, api: responses.RequestsMock
) -> None:
    rendered = render_post(project, IMAGES_POST, "PCCKent")
    api.post(
        UPLOAD,
        status=429,
        json=problem(429, "Too Many Requests", "Too Many Requests"),
        headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(RESET)},
    )

    with pytest.raises(RateLimited) as caught:
        adapter.publish(rendered)

    assert caught.value.retry_at == datetime.fromtimestamp(RESET, UTC)


# --- the monthly usage cap ------------------------------------------------------------------


def usage_endpoint(api: responses.RequestsMock, reset_day: int = 19) -> None:
    """The app bearer token (client credentials) and X's usage answer, as documented."""
    bearer = f"AAAA{CANARY}bearer"
    grant = matchers.urlencoded_params_matcher({"grant_type": "client_credentials"})
    api.post(TOKEN, json={"token_type": "bearer", "access_token": bearer}, match=[grant])
    usage = {"cap_reset_day": reset_day, "project_cap": "1500", "project_id": "1701",
             "project_usage": "1500"}  # fmt: skip
    signed = matchers.header_matcher({"Authorization": f"Bearer {bearer}"})
    api.get(USAGE, json={"data": usage}, match=[signed])


@pytest.mark.parametrize(
    ("today", "day", "expected"),
    [
        (datetime(2026, 11, 25).date(), 19, datetime(2026, 12, 19).date()),
        (datetime(2026, 11, 18).date(), 19, datetime(2026, 11, 19).date()),
        (datetime(2026, 11, 19).date(), 19, datetime(2026, 12, 19).date()),
        (datetime(2027, 1, 31).date(), 31, datetime(2027, 2, 28).date()),
        (datetime(2026, 12, 31).date(), 1, datetime(2027, 1, 1).date()),
    ],
)
def test_the_cap_reset_day_is_the_next_one(today: Any, day: int, expected: Any) -> None:
    from crosspost.adapters.x import next_reset

    assert next_reset(day, today) == expected


def test_the_monthly_cap_says_when_it_resets_when_x_tells(
    project: Path, adapter: XAdapter, api: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.post(TWEETS, status=429, json=USAGE_CAP, headers=limits(window="39999"))
    usage_endpoint(api)
    with pytest.raises(UsageCapped) as caught:
        adapter.publish(render_post(project, TEXT_POST, "PCCKent"))
    assert "it resets on 19 December 2026" in str(caught.value)
    assert caught.value.resets_at == datetime(2026, 12, 19, tzinfo=UTC)
    texts = [str(caught.value), repr(caught.value), caplog.text]
    assert not [t for t in texts if CANARY in t]  # nor the bearer token made from the keys


def test_doctor_shows_the_monthly_usage(adapter: XAdapter, api: responses.RequestsMock) -> None:
    api.get(ME, json={"data": {"id": USER_ID, "name": "Kent PCC", "username": "PCCKent"}})
    usage_endpoint(api)
    report = adapter.check_credentials()
    # not ok while the cap is reached: doctor keeps a channel held for it until it resets
    assert not report.ok
    assert report.quota == "1,500 of 1,500 posts used this month; resets on 19 December 2026"
    [problem] = report.problems
    assert "monthly post cap is reached" in problem


def test_the_monthly_usage_cap_is_not_a_rate_limit(
    project: Path, adapter: XAdapter, api: responses.RequestsMock
) -> None:
    """429 usage-capped while the 15-minute window has plenty left: retrying every few
    minutes cannot help, so it holds the channel instead of spending the attempts."""
    rendered = render_post(project, TEXT_POST, "PCCKent")
    api.post(TWEETS, status=429, json=USAGE_CAP,
             headers=limits(window="39999"))  # fmt: skip
    with pytest.raises(UsageCapped) as caught:
        adapter.publish(rendered)
    error = caught.value
    assert error.holds_channel and not error.retryable
    assert "monthly post cap" in str(error) and "Usage cap exceeded" in str(error)
    assert "crosspost doctor" in str(error)


def test_retry_at_without_headers_is_none() -> None:
    assert retry_at({}) is None
    assert retry_at({"x-rate-limit-reset": "soon"}) is None
