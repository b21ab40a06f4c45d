"""The contract every adapter must keep, as checks a third party can run in its own tests.

crosspost runs these over every registered adapter (tests/adapters/test_contract.py), built-in
or not; a plugin runs them over its own (docs/plugins.md has a complete example)::

    from crosspost.testing import check_adapter_class, check_offline, sample_project

    def test_my_adapter_keeps_the_contract(tmp_path):
        assert check_adapter_class(MyAdapter) == []
        root = sample_project(tmp_path, platform="mine", settings={"outbox": "out"})
        assert check_offline(root, "mine") == []

Each check returns a list of sentences, one per broken promise (empty: kept), so a test
failure says what to fix.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crosspost.adapters.base import Adapter, CredentialReport, Receipt, Setting
from crosspost.adapters.rules import Finding, PlatformRules

SAMPLE_POST = """\
publish_at: 2027-01-15 10:00
title: Hello Kent.
body: Safer streets for Kent.
"""
_METHODS = ("publish", "recent", "check_credentials")


def check_adapter_class(cls: type[Adapter]) -> list[str]:
    """What an adapter class declares: a platform name, sane rules, settings, credentials,
    and its own publish, recent and check_credentials."""
    broken: list[str] = []
    if not isinstance(cls, type) or not issubclass(cls, Adapter):
        return [f"{cls!r} is not a subclass of crosspost.adapters.base.Adapter"]
    name = getattr(cls, "platform", None)
    if not isinstance(name, str) or not name.isidentifier():
        broken.append("platform must be a short name such as 'mastodon'")
    rules = getattr(cls, "rules", None)
    if not isinstance(rules, PlatformRules):
        broken.append("rules must be a crosspost.adapters.rules.PlatformRules")
    else:
        if rules.platform != name:
            broken.append(f"rules.platform is {rules.platform!r}, not the platform {name!r}")
        if not rules.label:
            broken.append("rules.label must name the platform for people (e.g. 'Mastodon')")
        for field in ("text_limit", "alt_limit", "max_media", "max_media_bytes"):
            if not getattr(rules, field) > 0:
                broken.append(f"rules.{field} must be more than 0")
        if rules.counter is not None:
            try:
                length, allowed = rules.counter("Hello Kent")
            except Exception as exc:  # noqa: BLE001 -- reported, not raised
                broken.append(f"rules.counter failed on plain text: {exc!r}")
            else:
                if not isinstance(length, int) or not isinstance(allowed, bool):
                    broken.append("rules.counter must return (length: int, allowed: bool)")
    for key, setting in getattr(cls, "settings", {}).items():
        if not isinstance(setting, Setting):
            broken.append(f"settings[{key!r}] must be a crosspost.adapters.base.Setting")
    if not all(isinstance(c, str) for c in getattr(cls, "credentials", ())):
        broken.append("credentials must be names of credentials (strings)")
    for method in _METHODS:
        if getattr(cls, method, None) is getattr(Adapter, method):
            broken.append(f"{method}() is not implemented")
    return broken


def sample_project(
    root: Path,
    *,
    platform: str,
    settings: Mapping[str, Any] | None = None,
    credentials: Mapping[str, str] | None = None,
    template: str = "{{ title }}{% if body %}\n\n{{ body }}{% endif %}",
) -> Path:
    """A small project with one channel `c` on `platform`, a template and one post: what
    `check_offline` and a plugin's own tests publish from."""
    root = Path(root)
    (root / "queue").mkdir(parents=True, exist_ok=True)
    (root / "templates").mkdir(exist_ok=True)
    lines = ["timezone: Europe/London", "channels:", "  c:", f"    platform: {platform}"]
    lines += [f"    {k}: {v}" for k, v in (settings or {}).items()]
    if credentials:
        lines.append("    credentials:")
        lines += [f"      {k}: ${{{v}}}" for k, v in credentials.items()]
    (root / "crosspost.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "templates" / "c.j2").write_text(template, encoding="utf-8")
    (root / "queue" / "hello.yaml").write_text(SAMPLE_POST, encoding="utf-8")
    return root


def render_sample(root: Path, channel: str = "c") -> Any:
    """The sample post as `channel` would receive it (its offline findings included)."""
    from crosspost.checking.project import load_project, render_all

    project = load_project(root / "crosspost.yaml")
    [rendered] = render_all(project, channels=[channel])
    return rendered


def check_offline(root: Path, platform: str, channel: str = "c") -> list[str]:
    """The adapter's offline check runs with no network at all and answers in findings."""
    from crosspost.loading.config import load_config

    config = load_config(root / "crosspost.yaml")
    ch = config.channels[channel]
    if ch.platform != platform:
        return [f"channel {channel} is on {ch.platform}, not {platform}"]
    rendered = render_sample(root, channel)
    real_connect = socket.socket.connect

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the offline check opened a network connection")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    try:
        findings = ch.adapter(ch, root=config.root, environ={}).check(rendered)
    except AssertionError as exc:
        return [str(exc)]
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
    if not all(isinstance(f, Finding) and f.severity in ("error", "warning") for f in findings):
        return ["check() must return crosspost.adapters.rules.Finding items, errors or warnings"]
    return []


def check_receipt(receipt: object, texts: int = 1) -> list[str]:
    """What publish() returns: a Receipt naming the post, with one part per text."""
    if not isinstance(receipt, Receipt):
        return ["publish() must return a crosspost.adapters.base.Receipt"]
    broken = []
    if not receipt.remote_id:
        broken.append("the receipt has no remote_id")
    if len(receipt.parts) != texts:
        broken.append(f"the receipt has {len(receipt.parts)} parts for {texts} texts")
    if receipt.published_at.tzinfo is None:
        broken.append("published_at must be an aware datetime (UTC)")
    return broken


def check_credentials_report(report: object) -> list[str]:
    if not isinstance(report, CredentialReport):
        return ["check_credentials() must return a crosspost.adapters.base.CredentialReport"]
    if not report.ok and not report.problems:
        return ["a report that is not ok must say what the problem is"]
    return []
