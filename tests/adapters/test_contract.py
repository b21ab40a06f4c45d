"""One contract, run over every registered adapter: the built-ins come through the same
entry-point door a third party would use."""

from __future__ import annotations

import re
import socket
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import requests
import responses

from crosspost import adapters
from crosspost.adapters.base import Adapter, CredentialReport, Setting
from crosspost.adapters.rules import PlatformRules
from crosspost.core.errors import PublishError

from ..conftest import make_adapter, render_post

BUILT_IN = {"x", "facebook", "instagram", "fake"}
PLATFORM_CHANNEL = {"x": "PCCKent", "facebook": "KentPCC", "instagram": "kent_opcc"}
POST = """\
publish_at: 2027-01-15 10:00
title: Hello Kent.
body: Safer streets for Kent.
media: [{path: media/square.jpg, alt: A navy blue square with nothing on it.}]
"""


def test_built_ins_are_registered_as_entry_points() -> None:
    assert set(adapters.registered()) >= BUILT_IN
    for name in BUILT_IN:
        assert adapters.adapter_class(name).platform == name


@pytest.mark.parametrize("name", sorted(adapters.registered()))
def test_declares_name_limits_settings(name: str) -> None:
    cls = adapters.adapter_class(name)
    assert issubclass(cls, Adapter) and cls.platform == name
    assert isinstance(cls.rules, PlatformRules)
    assert cls.rules.text_limit > 0 and cls.rules.alt_limit > 0 and cls.rules.max_media > 0
    assert cls.rules.label
    assert all(isinstance(s, Setting) for s in cls.settings.values())
    assert all(isinstance(c, str) for c in cls.credentials)
    for method in ("publish", "recent", "check_credentials"):
        assert getattr(cls, method) is not getattr(Adapter, method), f"{name} lacks {method}"


def test_unknown_platform_and_missing_library_are_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(adapters.UnknownPlatform, match="did you mean 'facebook'"):
        adapters.adapter_class("facebok")
    broken = EntryPoint(
        name="mastodon", value="crosspost_mastodon_missing:Adapter", group=adapters.GROUP
    )
    monkeypatch.setattr(adapters, "registered", lambda: {"mastodon": broken})
    with pytest.raises(adapters.UnknownPlatform, match="pip install crosspost_mastodon_missing"):
        adapters.adapter_class("mastodon")


def channel_for(project: Path, name: str) -> str:
    if name in PLATFORM_CHANNEL:
        return PLATFORM_CHANNEL[name]
    (project / "crosspost.yaml").write_text(
        f"channels:\n  c:\n    platform: {name}\n    outbox: var/out.jsonl\n"
        "    script: [transient, rate_limited, auth, rejected, transient, transient, transient]\n"
    )
    (project / "templates" / "c.j2").write_text("{{ title }}")
    return "c"


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_offline_checks_need_no_network(
    name: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = channel_for(project, name)
    rendered = render_post(project, POST, channel)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the offline check opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    with responses.RequestsMock():  # any HTTP call fails: none is registered
        findings = make_adapter(project, channel).check(rendered)
    assert all(f.severity in ("error", "warning") for f in findings)


ANY = re.compile(r"https://.*")


@pytest.mark.parametrize("name", sorted(BUILT_IN))
@pytest.mark.parametrize(
    "failure",
    ["server_error", "connection_error", "html_page", "no_content_type", "garbage_json"],
)
def test_every_failure_is_a_typed_error_without_secrets(
    name: str, failure: str, project: Path
) -> None:
    channel = channel_for(project, name)
    rendered = render_post(project, POST, channel)
    adapter = make_adapter(project, channel, sleep=lambda s: None)
    secrets = adapter.secrets()
    assert len(secrets) == len(adapter.credentials)
    echo = " ".join(secrets)  # what a careless server might send back: the channel's secrets
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in (responses.GET, responses.POST, responses.DELETE):
            if failure == "server_error":
                mock.add(method, ANY, json={"error": {"message": echo}}, status=500)
            elif failure == "connection_error":
                mock.add(method, ANY, body=requests.ConnectionError(f"refused {echo}"))
            elif failure == "html_page":
                mock.add(method, ANY, body=f"<html>{echo}</html>", status=502,
                         content_type="text/html")  # fmt: skip
            elif failure == "no_content_type":
                mock.add(method, ANY, body="oops", status=500, content_type=None)
            else:
                mock.add(method, ANY, body="{not json", status=200,
                         content_type="application/json")  # fmt: skip
        calls = [
            lambda: adapter.publish(rendered),
            lambda: adapter.recent(),
            lambda: adapter.check_credentials(),
        ]
        for call in calls:
            try:
                result = call()
            except PublishError as exc:
                for value in secrets:
                    assert value not in str(exc)
                    assert value not in (exc.platform_message or "")
                continue
            if isinstance(result, CredentialReport):
                assert not result.ok or name == "fake"
                said = " ".join(result.problems + result.warnings)
                assert not any(value in said for value in secrets)
            else:
                assert name == "fake"  # only the fake can succeed with no platform


@pytest.mark.parametrize("name", sorted(adapters.registered()))
def test_every_registered_adapter_passes_the_public_contract_kit(name: str, tmp_path: Path) -> None:
    """crosspost.testing is what a third party runs over its own adapter: ours pass it too."""
    from crosspost.testing import check_adapter_class, check_offline, sample_project

    cls = adapters.adapter_class(name)
    assert check_adapter_class(cls) == []
    required = {key: "x" for key, s in cls.settings.items() if s.required}
    if name == "instagram":
        required["media_base_url"] = "https://example.org/media/"
    credentials = {c: f"TEST_{c.upper()}" for c in cls.credentials}
    root = sample_project(tmp_path, platform=name, settings=required, credentials=credentials)
    assert check_offline(root, name) == []


def test_the_contract_kit_is_not_vacuous() -> None:
    from crosspost.testing import check_adapter_class

    class Broken(Adapter):
        platform = "broken"
        rules = PlatformRules(platform="other", label="", text_limit=0)

    said = " | ".join(check_adapter_class(Broken))
    assert "rules.platform is 'other'" in said and "rules.label" in said
    assert "text_limit must be more than 0" in said and "publish() is not implemented" in said
