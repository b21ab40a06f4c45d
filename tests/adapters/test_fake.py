"""The fake adapter: outbox, latency, script and imitates, as DESIGN.md describes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crosspost.core.errors import AuthError, PartReceipt, RateLimited, Rejected, TransientError

from ..conftest import make_adapter, render_post

CONFIG = """\
channels:
  test:
    platform: fake
    imitates: x
    outbox: var/out.jsonl
    latency: 2.5
    script: [transient, rate_limited, auth, rejected]
"""
POST = "publish_at: 2027-01-15 10:00\ntitle: Hello Kent.\nthread: [Part two.]\n"


@pytest.fixture
def fake(project: Path) -> Path:
    (project / "crosspost.yaml").write_text(CONFIG)
    (project / "templates" / "test.j2").write_text("{{ title }}")
    return project


def test_script_then_ok_forever_with_latency(fake: Path) -> None:
    slept: list[float] = []
    adapter = make_adapter(fake, "test", environ={}, sleep=slept.append)
    rendered = render_post(fake, POST, "test")
    for expected in (TransientError, RateLimited, AuthError, Rejected):
        with pytest.raises(expected):
            adapter.publish(rendered)
    seen: list[PartReceipt] = []
    receipt = adapter.publish(rendered, on_part=seen.append)
    again = adapter.publish(rendered)
    assert slept == [2.5] * 6
    assert [p.index for p in seen] == [0, 1] and receipt.parts == tuple(seen)
    lines = [json.loads(x) for x in (fake / "var" / "out.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == [receipt.remote_id, again.remote_id]
    assert lines[0]["thread"] == ["Part two."] and lines[0]["post_id"] == "post"


def test_script_counts_across_adapter_instances(fake: Path) -> None:
    rendered = render_post(fake, POST, "test")
    with pytest.raises(TransientError):
        make_adapter(fake, "test", environ={}, sleep=lambda s: None).publish(rendered)
    with pytest.raises(RateLimited) as caught:
        make_adapter(fake, "test", environ={}, sleep=lambda s: None).publish(rendered)
    assert caught.value.retry_at is not None


def test_resume_publishes_only_the_missing_parts(fake: Path) -> None:
    (fake / "crosspost.yaml").write_text(
        CONFIG.replace("script: [transient, rate_limited, auth, rejected]", "")
    )
    adapter = make_adapter(fake, "test", environ={}, sleep=lambda s: None)
    rendered = render_post(fake, POST, "test")
    first = PartReceipt(0, "already", "fake://test/already")
    seen: list[PartReceipt] = []
    receipt = adapter.publish(rendered, resume=[first], on_part=seen.append)
    assert receipt.parts[0] == first and [p.index for p in seen] == [1]


def test_recent_and_delete_read_the_outbox(fake: Path) -> None:
    (fake / "crosspost.yaml").write_text(
        CONFIG.replace("script: [transient, rate_limited, auth, rejected]", "")
    )
    adapter = make_adapter(fake, "test", environ={}, sleep=lambda s: None)
    one = adapter.publish(render_post(fake, POST, "test"))
    two = adapter.publish(render_post(fake, POST.replace("Hello", "Goodbye"), "test"))
    posts = [p for p in adapter.recent() if p.reply_to is None]  # thread parts reply
    assert [p.remote_id for p in posts] == [two.remote_id, one.remote_id]
    assert posts[0].text == "Goodbye Kent."
    # every part is there, newest first, each replying to the one before
    ids = {x.remote_id for x in two.parts}
    assert [p.remote_id for p in adapter.recent() if p.remote_id in ids] == [
        p.remote_id for p in reversed(two.parts)
    ]
    assert [p.reply_to for p in adapter.recent()[: len(two.parts)]] == [
        p.remote_id for p in reversed(two.parts[:-1])
    ] + [None]
    adapter.delete(one.remote_id)
    assert [p.remote_id for p in adapter.recent() if p.reply_to is None] == [two.remote_id]


def test_imitates_applies_that_platforms_rules(fake: Path) -> None:
    adapter = make_adapter(fake, "test", environ={})
    assert adapter.channel.rules.text_limit == 280 and adapter.channel.rules.weighted
    (fake / "crosspost.yaml").write_text(CONFIG.replace("imitates: x", "imitates: instagram"))
    adapter = make_adapter(fake, "test", environ={})
    assert adapter.channel.rules.needs_media and adapter.channel.rules.text_limit == 2200
