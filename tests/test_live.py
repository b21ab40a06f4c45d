"""Live tests against real accounts: deselected by default (`-m live` runs them).

They need CROSSPOST_LIVE_CONFIG (a config file whose channels are real test accounts) and
that config's credentials in the environment. They publish a short post and delete it where
the platform allows; point them at test accounts, never at the office's public ones.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crosspost.checking.project import load_project, render_all
from crosspost.loading.config import load_config

pytestmark = pytest.mark.live


def live_config() -> Path:
    value = os.environ.get("CROSSPOST_LIVE_CONFIG")
    if not value:
        pytest.fail("set CROSSPOST_LIVE_CONFIG to a config whose channels are test accounts")
    return Path(value)


def test_every_channel_signs_in() -> None:
    config = load_config(live_config())
    for channel in config.channels.values():
        report = channel.adapter(channel, root=config.root).check_credentials()
        assert report.ok, (channel.key, report.problems)


def test_publish_look_up_and_delete(tmp_path: Path) -> None:
    config = load_config(live_config())
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    post = config.queue_dir / f"crosspost-live-{stamp}.yaml"
    post.write_text(f"publish_at: 2030-01-01 10:00\ntitle: crosspost live test {stamp}\n")
    try:
        project = load_project(config.path)
        for rendered in render_all(project, [post.stem]):
            channel = config.channels[rendered.channel]
            if channel.rules.needs_media:
                continue
            adapter = channel.adapter(channel, root=config.root)
            receipt = adapter.publish(rendered)
            assert receipt.remote_id
            assert any(p.remote_id == receipt.remote_id for p in adapter.recent(limit=10))
            if adapter.can_delete:
                adapter.delete(receipt.remote_id)
    finally:
        post.unlink()
