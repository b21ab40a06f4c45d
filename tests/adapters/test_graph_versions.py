"""Graph API versions: one table of end dates, warned about 90 days ahead by doctor and by
`validate --require-credentials` (a retired version is silently answered by the oldest live
one, so nothing else would notice)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from crosspost.adapters.facebook import FacebookAdapter
from crosspost.adapters.graph import (
    DEFAULT_GRAPH_VERSION,
    GRAPH_VERSIONS,
    VERSION_WARNING,
    version_warning,
)
from crosspost.adapters.instagram import InstagramAdapter
from crosspost.cli import main


def test_the_default_is_the_newest_version_and_not_near_its_end() -> None:
    newest = max(GRAPH_VERSIONS, key=lambda v: tuple(int(n) for n in v[1:].split(".")))
    assert newest == DEFAULT_GRAPH_VERSION
    for adapter in (FacebookAdapter, InstagramAdapter):
        assert adapter.settings["graph_version"].default == DEFAULT_GRAPH_VERSION
    assert version_warning(DEFAULT_GRAPH_VERSION, date(2026, 11, 27)) is None


@pytest.mark.parametrize(
    ("version", "today", "words"),
    [
        ("v21.0", date(2026, 10, 1), None),  # 112 days ahead: nothing yet
        ("v21.0", date(2026, 10, 23), "stops working on 21 January 2027 (90 days from now)"),
        ("21.0", date(2027, 1, 20), "stops working on 21 January 2027 (1 day from now)"),
        ("v21.0", date(2027, 1, 21), "stopped working on 21 January 2027"),
        ("v19.0", date(2026, 1, 1), "v19.0 is retired"),  # older than the table
        ("v99.0", date(2030, 1, 1), None),  # newer than the table: nothing known against it
        ("latest", date(2026, 1, 1), None),  # malformed: an error of its own elsewhere
    ],
)
def test_version_warnings(version: str, today: date, words: str | None) -> None:
    said = version_warning(version, today)
    if words is None:
        assert said is None
    else:
        assert said is not None and words in said
        assert f"graph_version: {DEFAULT_GRAPH_VERSION}" in said  # what to write instead
    assert VERSION_WARNING.days == 90


def _with_version(root: Path, version: str) -> None:
    config = root / "crosspost.yaml"
    config.write_text(
        config.read_text().replace("graph_version: v26.0", f"graph_version: {version}")
    )


def test_validate_require_credentials_warns_of_a_version_near_its_end(example: Path) -> None:
    _with_version(example, "v21.0")
    env = {"CROSSPOST_NOW": "2026-12-01T09:00+00:00", "FB_PAGE_ID": "1", "IG_USER_ID": "2"}
    result = CliRunner().invoke(
        main, ["validate", "--require-credentials", "--config", str(example / "crosspost.yaml")],
        env=env,
    )  # fmt: skip
    said = [line for line in result.output.splitlines() if "Graph API v21.0" in line]
    assert len(said) == 2, result.output  # the Facebook and the Instagram channel
    assert all("stops working on 21 January 2027 (51 days from now)" in line for line in said)
    assert any("channel KentPCC" in line for line in said)
    plain = CliRunner().invoke(
        main, ["validate", "--config", str(example / "crosspost.yaml")], env=env
    )
    assert "Graph API v21.0" not in plain.output  # the server's setup: only when asked for


def test_doctor_warns_of_a_retired_version(example: Path) -> None:
    _with_version(example, "v20.0")  # ended 24 September 2026
    result = CliRunner().invoke(main, ["doctor", "--config", str(example / "crosspost.yaml")])
    assert result.output.count("! Graph API v20.0 stopped working on 24 September 2026") == 2
