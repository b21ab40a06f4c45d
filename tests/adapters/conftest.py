"""Fixtures the adapter tests share: intercepted HTTP, and ways to refuse or record sleeping."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from crosspost.adapters.x import XAdapter

from .x_helpers import adapter_for


def _intercepted() -> Iterator[responses.RequestsMock]:
    """Intercepted HTTP: unregistered requests fail, registered ones must all be made."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    """Intercepted HTTP, under the name the X tests use."""
    yield from _intercepted()


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """Intercepted HTTP, under the name the Facebook and Instagram tests use."""
    yield from _intercepted()


@pytest.fixture
def no_sleeping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any real sleep (tweepy's wait_on_rate_limit, a retry loop) fails the test.

    Every test_x_*.py file asks for it with `pytestmark = pytest.mark.usefixtures(...)`.
    """

    def refuse(seconds: float) -> None:
        raise AssertionError(f"slept for {seconds} s")

    monkeypatch.setattr(time, "sleep", refuse)


@pytest.fixture
def adapter(project: Path) -> XAdapter:
    """The X adapter of the example project's PCCKent channel, its own sleep refused."""
    return adapter_for(project)


@pytest.fixture
def sleeps() -> list[float]:
    """The sleeps the Instagram adapter asked for (see instagram_helpers.adapter)."""
    return []
