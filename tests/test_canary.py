"""A canary secret in every credential never appears in command output, logs, exceptions or
the ledger file — end to end, through the real adapters with HTTP intercepted."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
import requests
import responses
from click.testing import CliRunner

from crosspost.cli import main

from .conftest import CANARY, canary_environ

SECRETS = [v for v in canary_environ().values() if CANARY in v]


def echo_request(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
    """A careless server: its error repeats back everything the request carried."""
    body = request.body or b""
    if isinstance(body, bytes):
        body = body.decode("latin-1")
    seen = f"{request.url} {request.headers.get('Authorization', '')} {body[:2000]}"
    if "graph.facebook.com" in (request.url or ""):
        error = {"error": {"message": f"Invalid token {seen}", "type": "OAuthException",
                           "code": 190}}  # fmt: skip
        return 400, {}, json.dumps(error)
    return 403, {}, json.dumps({"title": "Forbidden", "detail": seen, "status": 403})


def echo_everything(mock: responses.RequestsMock) -> None:
    for method in (responses.GET, responses.POST, responses.DELETE):
        for host in (r"api\.x\.com", r"api\.twitter\.com", r"graph\.facebook\.com"):
            mock.add_callback(
                method,
                re.compile(rf"https://{host}/.*"),
                callback=echo_request,
                content_type="application/json",
            )


@pytest.mark.parametrize("command", [["publish", "safer-streets-towns"], ["doctor"]])
def test_canary_never_leaks(
    example: Path, command: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        echo_everything(mock)
        result = CliRunner().invoke(
            main, [*command, "--config", str(example / "crosspost.yaml")], env=canary_environ()
        )
        hosts = {call.request.url.split("/")[2] for call in mock.calls}
    assert result.exit_code == 1, result.output
    assert "graph.facebook.com" in hosts and hosts & {"api.x.com", "api.twitter.com"}
    said = result.output + (result.stderr or "") + caplog.text
    said += "".join(str(r.args) for r in caplog.records)
    for secret in SECRETS:
        assert secret not in said
    stored = b"".join(p.read_bytes() for p in (example / "var").glob("crosspost.db*"))
    if command[0] == "publish":
        assert stored  # the failures were recorded...
        assert b"failed" in stored or b"pending" in stored
    for secret in SECRETS:
        assert secret.encode() not in stored  # ...without a secret
