"""The plugin's own tests: crosspost's contract kit, as every adapter must pass it."""

from __future__ import annotations

from pathlib import Path

from crosspost_outbox import OutboxAdapter

from crosspost.testing import (
    check_adapter_class,
    check_credentials_report,
    check_offline,
    check_receipt,
    render_sample,
    sample_project,
)


def test_the_adapter_keeps_the_contract(tmp_path: Path) -> None:
    assert check_adapter_class(OutboxAdapter) == []
    root = sample_project(tmp_path, platform="outbox", settings={"folder": "out"})
    assert check_offline(root, "outbox") == []


def test_publishing_writes_the_post_and_reads_it_back(tmp_path: Path) -> None:
    from crosspost.loading.config import load_config

    root = sample_project(tmp_path, platform="outbox", settings={"folder": "out"})
    channel = load_config(root / "crosspost.yaml").channels["c"]
    adapter = OutboxAdapter(channel, root=root)
    receipt = adapter.publish(render_sample(root))
    assert check_receipt(receipt) == []
    assert check_credentials_report(adapter.check_credentials()) == []
    [found] = adapter.recent()
    assert found.remote_id == receipt.remote_id and found.text.startswith("Hello Kent.")
