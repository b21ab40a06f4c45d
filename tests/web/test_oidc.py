"""Sign-in with the office's accounts (OpenID Connect) against a real provider run locally:
the npm package oidc-provider on the machine's Node.js (tests/web/oidc_provider.mjs), driven
through its own login and consent pages in Debian's Chromium. An allowed account comes in
with the role its group gives it; an account of another domain is refused, with no session;
a tampered state and a forged ID token are refused.

CROSSPOST_OIDC_PROVIDER may name a folder where oidc-provider is installed (its
node_modules); otherwise npm installs it into the user's cache once."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import uvicorn
from argon2 import PasswordHasher

from crosspost.web import app as web_app
from crosspost.web import oidc
from crosspost.web.accounts import AccountStore, Role
from crosspost.web.app import make_app

from ..test_html_browser import missing
from .conftest import PASSWORD
from .test_browser import chromium  # noqa: F401 (the fixture)

HERE = Path(__file__).resolve().parent
CLIENT_ID, CLIENT_SECRET = "crosspost-test", "a-client-secret-for-the-test-provider"


@pytest.fixture(scope="module")
def provider_module() -> Path:
    """A folder whose node_modules holds oidc-provider 8."""
    node = shutil.which("node")
    if node is None:
        missing("Node.js is not installed: the OpenID provider of these tests runs on it")
    named = os.environ.get("CROSSPOST_OIDC_PROVIDER")
    if named:
        return Path(named)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "crosspost-oidc"
    if not (cache / "node_modules" / "oidc-provider" / "package.json").exists():
        npm = shutil.which("npm")
        if npm is None:
            missing("oidc-provider is not available: set CROSSPOST_OIDC_PROVIDER or install npm")
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache), "oidc-provider@8"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.fail(f"npm could not install oidc-provider: {done.stderr.strip()[-500:]}")
    return cache


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def signed_in_office(
    office: Path, provider_module: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, str, AccountStore]]:
    """The provider (on 127.0.0.1) and the app (on localhost: another site, as in real life)
    with the `sign_in` section; (the app's address, the issuer, the accounts)."""
    port = free_port()
    app_url = f"http://localhost:{port}"
    env = {
        **os.environ,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "REDIRECT_URI": f"{app_url}/login/oidc/callback",
    }
    node = subprocess.Popen(
        ["node", str(HERE / "oidc_provider.mjs"), str(provider_module)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # its warnings about development settings
        text=True,
        env=env,
    )
    try:
        assert node.stdout is not None
        line = node.stdout.readline()
        assert line, "the OpenID provider did not start"
        issuer = json.loads(line)["issuer"]
        with office.open("a", encoding="utf-8") as config:
            config.write(
                "\nsign_in:\n"
                "  oidc:\n"
                "    label: the test office's account\n"
                f"    issuer: {issuer}\n"
                "    client_id: ${OIDC_CLIENT_ID}\n"
                "    client_secret: ${OIDC_CLIENT_SECRET}\n"
                "    allowed_domains: [allowed.example]\n"
                "    group_claim: groups\n"
                "    approvers: [comms-approvers]\n"
                "    admins: [Ada.Lead@allowed.example]\n"
                f"    redirect_uri: {app_url}/login/oidc/callback\n"
            )
        monkeypatch.setenv("OIDC_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("OIDC_CLIENT_SECRET", CLIENT_SECRET)
        accounts = AccountStore(
            office.parent / "var" / "accounts.db",
            hasher=PasswordHasher(time_cost=1, memory_cost=64, parallelism=1),
        )
        accounts.add("ann", Role.AUTHOR, PASSWORD, display="Ann Author")
        app = make_app(office, accounts=accounts)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        try:
            yield app_url, issuer, accounts
        finally:
            server.should_exit = True
            thread.join(10)
            accounts.close()
    finally:
        node.terminate()
        node.wait(10)


def sign_in_at_provider(browser: Any, app_url: str, issuer: str, login: str) -> tuple[Any, Any]:
    """Through crosspost's sign-in page, the provider's login and consent pages; the browser
    context and the callback's answer."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(app_url + "/login")
    page.get_by_role("link", name="Sign in with the test office's account").click()
    page.wait_for_url(issuer + "/**")
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password at all")
    page.get_by_role("button", name="Sign-in").click()
    with page.expect_response(lambda r: "/login/oidc/callback" in r.url) as answer:
        page.get_by_role("button", name="Continue").click()  # the consent page
    page.wait_for_load_state()
    return context, answer.value


def session_cookie(context: Any) -> str | None:
    found = [c for c in context.cookies() if c["name"] == web_app.COOKIE]
    return found[0]["value"] if found else None


def test_an_allowed_account_signs_in_with_its_groups_role(
    chromium: Any,  # noqa: F811
    signed_in_office: tuple[str, str, AccountStore],
) -> None:
    app_url, issuer, accounts = signed_in_office
    context, answer = sign_in_at_provider(chromium, app_url, issuer, "approver.jo@allowed.example")
    assert answer.status == 200
    page = context.pages[0]
    page.wait_for_url(app_url + "/")  # the calendar, signed in
    assert page.get_by_role("heading", name="Calendar").count() or "Calendar" in page.title()
    assert session_cookie(context)
    assert not [c for c in context.cookies() if c["name"] == oidc.FLOW_COOKIE]
    [user] = [u for u in accounts.users() if u.email == "approver.jo@allowed.example"]
    assert (user.name, user.role) == ("approver.jo", Role.APPROVER)
    assert accounts.verify(user.name, "any password at all") is None  # no password sign-in
    # the approver's pages open: the session is the approver's
    assert page.goto(app_url + "/status").status == 200
    context.close()

    # an admin named by address (in any case), and an author: in neither list
    for login, role in (
        ("ada.lead@allowed.example", Role.ADMIN),
        ("jo@allowed.example", Role.AUTHOR),
    ):
        context, answer = sign_in_at_provider(chromium, app_url, issuer, login)
        assert answer.status == 200 and session_cookie(context)
        [user] = [u for u in accounts.users() if u.email == login]
        assert user.role == role
        context.close()


def test_an_account_of_another_domain_is_refused(
    chromium: Any,  # noqa: F811
    signed_in_office: tuple[str, str, AccountStore],
) -> None:
    app_url, issuer, accounts = signed_in_office
    context, answer = sign_in_at_provider(chromium, app_url, issuer, "sam@elsewhere.example")
    assert answer.status == 403
    page = context.pages[0]
    assert "domain is not allowed" in page.content()
    assert session_cookie(context) is None
    assert not [u for u in accounts.users() if u.email == "sam@elsewhere.example"]
    assert page.goto(app_url + "/").url.startswith(app_url + "/login")  # not signed in
    context.close()
    # nor a domain that only ends like an allowed one, nor an address that is not verified
    for login in ("sam@notallowed.example", "unverified.sam@allowed.example"):
        context, answer = sign_in_at_provider(chromium, app_url, issuer, login)
        assert answer.status == 403 and session_cookie(context) is None
        context.close()


def test_a_tampered_state_or_a_stale_flow_is_refused(
    signed_in_office: tuple[str, str, AccountStore],
) -> None:
    app_url, issuer, _ = signed_in_office
    browser = requests.Session()
    start = browser.get(app_url + "/login/oidc", allow_redirects=False)
    assert start.status_code == 303 and start.headers["location"].startswith(issuer)
    flow_cookie = start.headers["set-cookie"].lower()
    assert (
        "samesite=lax" in flow_cookie and "httponly" in flow_cookie and "max-age=600" in flow_cookie
    )
    location = start.headers["location"]
    assert "code_challenge_method=S256" in location and "nonce=" in location
    assert CLIENT_SECRET not in location
    # the address registered with the provider, whatever host the request came in on
    other = requests.get(
        app_url.replace("localhost", "127.0.0.1") + "/login/oidc", allow_redirects=False
    )
    sent = parse_qs(urlsplit(other.headers["location"]).query)["redirect_uri"]
    assert sent == [app_url + "/login/oidc/callback"]
    answer = browser.get(
        app_url + "/login/oidc/callback",
        params={"state": "not-the-state", "code": "x"},
        allow_redirects=False,
    )
    assert answer.status_code == 400 and web_app.COOKIE not in answer.headers.get("set-cookie", "")
    # the flow was used up: not even the right state opens it again
    assert "did not match" in answer.text
    again = requests.get(app_url + "/login/oidc/callback", params={"state": "s", "code": "x"})
    assert again.status_code == 400 and "not started from this browser" in again.text


def test_a_forged_id_token_is_refused(signed_in_office: tuple[str, str, AccountStore]) -> None:
    """An ID token with every right claim, signed by a key that is not the provider's."""
    from authlib.jose import JsonWebKey, jwt

    _, issuer, _ = signed_in_office
    settings = make_app_settings(signed_in_office)
    provider = oidc._Provider(settings)
    now = int(time.time())
    claims = {"iss": issuer, "aud": CLIENT_ID, "sub": "x@allowed.example", "iat": now,
              "exp": now + 300, "nonce": "n", "email": "x@allowed.example"}  # fmt: skip
    kid = requests.get(provider.metadata()["jwks_uri"], timeout=10).json()["keys"][0]["kid"]
    forged_key = JsonWebKey.generate_key("RSA", 2048, is_private=True)
    header = {"alg": "RS256", "kid": kid}  # the provider's key's id, not its key
    forged = jwt.encode(header, claims, forged_key).decode()
    with pytest.raises(oidc.SignInRefused, match="not valid"):
        oidc._validated(provider, forged, CLIENT_ID, "n", None)
    unsigned = jwt.encode({"alg": "HS256"}, claims, CLIENT_SECRET).decode()  # with the secret
    with pytest.raises(oidc.SignInRefused, match="not valid"):
        oidc._validated(provider, unsigned, CLIENT_ID, "n", None)


def make_app_settings(signed: tuple[str, str, AccountStore]) -> Any:
    from crosspost.loading.config import load_config

    accounts = signed[2]
    return load_config(accounts.path.parent.parent / "crosspost.yaml").oidc


def test_the_session_cookie_is_the_apps() -> None:
    assert oidc.SESSION_COOKIE == web_app.COOKIE


def test_external_accounts_are_found_by_address_and_have_no_password(
    accounts: AccountStore,
) -> None:
    first = accounts.external_user("Ann@Allowed.example", Role.AUTHOR, "Ann External")
    assert first.name.startswith("ann-") and first.name != "ann"  # 'ann' is a local account
    again = accounts.external_user("ann@allowed.example", Role.APPROVER)
    assert again.name == first.name and again.role == Role.APPROVER
    assert again.display == "Ann External"
    assert accounts.verify(first.name, "!external") is None
    assert accounts.get("ann") is not None and accounts.get("ann").role == Role.AUTHOR  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "value", ["http://crosspost.example.org/login/oidc/callback", "https://crosspost.example.org/"]
)
def test_a_redirect_uri_must_be_the_https_callback(office: Path, value: str) -> None:
    from crosspost.core.problems import ConfigError
    from crosspost.loading.config import load_config

    with office.open("a", encoding="utf-8") as config:
        config.write(
            "\nsign_in:\n  oidc:\n    issuer: https://login.example.org\n"
            "    client_id: ${OIDC_CLIENT_ID}\n    client_secret: ${OIDC_CLIENT_SECRET}\n"
            f"    allowed_domains: [allowed.example]\n    redirect_uri: {value}\n"
        )
    with pytest.raises(ConfigError, match="'redirect_uri' must be the web app's https://"):
        load_config(office)
