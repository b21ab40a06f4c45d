"""The web app in-process: every route needs a signed-in user with the right role (the role
matrix is built from the route table), changes need the CSRF token, and sign-in refuses a
wrong password, a disabled user and an expired session."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from crosspost.web import app as web_app
from crosspost.web.accounts import AccountStore, Role
from crosspost.web.app import CSP, ROUTES

from .conftest import PASSWORD, Clock, sign_in

SAMPLE = {"post_id": "2026-12-01-safer-streets-funding", "path": "media/vawg-report.jpg",
          "name": "app.css"}  # fmt: skip


def concrete(path: str) -> str:
    for key, value in SAMPLE.items():
        path = path.replace(f"{{{key}}}", value).replace(f"{{{key}:path}}", value)
    return path


GUARDED = [(p, m) for p in ROUTES if p.role is not None for m in p.methods]


def _everything(office: Path) -> dict[str, bytes]:
    """Every file of the project but the session store (a sign-in writes sessions), and the
    ledger's events: what a change would change."""
    root = office.parent
    files = {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*")) if p.is_file() and "accounts.db" not in p.name
        and not p.name.endswith(("-wal", "-shm", ".guard", ".db"))
    }  # fmt: skip
    ledger = root / "var" / "crosspost.db"
    if ledger.exists():
        from crosspost.scheduling.ledger import Ledger

        with Ledger(ledger) as opened:
            files["events"] = repr([(e.kind, e.post_id, e.detail) for e in opened.events()])
            files["controls"] = repr(opened.controls()).encode()
    return files


def test_only_the_sign_in_page_and_static_files_are_open() -> None:
    open_routes = {"/login", "/static/{name}", "/login/oidc", "/login/oidc/callback"}
    assert {p.path for p in ROUTES if p.role is None} == open_routes


@pytest.mark.parametrize(("page", "method"), GUARDED, ids=lambda v: getattr(v, "name", v))
def test_no_guarded_route_answers_without_sign_in(client: TestClient, page, method) -> None:  # type: ignore[no-untyped-def]
    answer = client.request(method, concrete(page.path), data={"csrf": "x"})
    if method == "GET":
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
    else:
        assert answer.status_code == 401
    assert "safer" not in answer.text.lower()  # nothing of the queue leaks


@pytest.mark.parametrize(("page", "method"), GUARDED, ids=lambda v: getattr(v, "name", v))
@pytest.mark.parametrize("role", list(Role))
def test_the_role_matrix(  # type: ignore[no-untyped-def]
    client: TestClient, accounts: AccountStore, office: Path, page, method, role
) -> None:
    name = {Role.AUTHOR: "ann", Role.APPROVER: "pat", Role.ADMIN: "ada"}[role]
    csrf = sign_in(client, name)
    if method == "GET":
        answer = client.get(concrete(page.path))
        allowed = answer.status_code not in (401, 403)
    else:  # a change without its CSRF token is refused, whoever asks, and changes nothing
        before = _everything(office)
        forged = {"csrf": "forged", "confirmed": "1", "reason": "r"}  # as a full change would be
        answer = client.request(method, concrete(page.path), data=forged)
        assert answer.status_code == 403
        assert _everything(office) == before, (page.path, "changed by a forged request")
        assert ("security token" if role.allows(page.role) else "This needs the") in answer.text
        answer = client.request(method, concrete(page.path), data={"csrf": csrf})
        allowed = answer.status_code not in (401, 403)
    assert allowed == role.allows(page.role), (page.path, method, role)


def test_a_wrong_password_a_disabled_user_and_an_unknown_name_are_refused(
    client: TestClient, accounts: AccountStore
) -> None:
    for name, password in (("ann", "wrong password!!"), ("nobody", PASSWORD)):
        answer = client.post("/login", data={"name": name, "password": password})
        assert answer.status_code == 401 and "not right" in answer.text
        assert "crosspost_session" not in answer.headers.get("set-cookie", "")
    accounts.disable("ann")
    answer = client.post("/login", data={"name": "ann", "password": PASSWORD})
    assert answer.status_code == 401


def test_a_signed_in_user_disabled_later_is_signed_out(
    client: TestClient, accounts: AccountStore
) -> None:
    sign_in(client)
    assert client.get("/posts").status_code == 200
    accounts.disable("ann")
    assert client.get("/posts").status_code == 303


def test_an_expired_session_is_refused(client: TestClient, clock: Clock) -> None:
    sign_in(client)
    assert client.get("/").status_code == 200
    clock.advance(timedelta(hours=8, minutes=1))
    answer = client.get("/")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_the_session_cookie_is_httponly_and_samesite(client: TestClient) -> None:
    answer = client.post("/login", data={"name": "ann", "password": PASSWORD})
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=" in cookie


def test_signing_out_ends_the_session(client: TestClient) -> None:
    csrf = sign_in(client)
    token = client.cookies.get("crosspost_session")
    assert client.post("/logout", data={"csrf": csrf}).status_code == 303
    client.cookies.set("crosspost_session", token or "")
    assert client.get("/").status_code == 303  # the old token no longer works


def test_a_change_from_another_site_is_refused(client: TestClient) -> None:
    csrf = sign_in(client)
    answer = client.post("/logout", data={"csrf": csrf}, headers={"origin": "https://evil.example"})
    assert answer.status_code == 403 and "another site" in answer.text


def test_every_answer_has_the_security_headers(client: TestClient) -> None:
    for path in ("/login", "/static/app.css"):
        answer = client.get(path)
        assert answer.headers["content-security-policy"] == CSP
        assert answer.headers["x-frame-options"] == "DENY"
    sign_in(client)
    page = client.get("/posts/new")
    assert page.headers["content-security-policy"] == CSP
    assert "<script>" not in page.text and " style=" not in page.text  # nothing inline
    assert page.headers["cache-control"] == "no-store"


def test_a_request_for_another_host_name_is_refused(app) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="http://attacker.example") as other:
        assert other.get("/login").status_code == 400


def test_sign_in_redirects_only_within_the_site(client: TestClient) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil"):
        answer = client.post("/login", data={"name": "ann", "password": PASSWORD, "next": target})
        assert answer.headers["location"] == "/"


def test_secrets_never_reach_a_page(client: TestClient) -> None:
    sign_in(client)
    token = client.cookies.get("crosspost_session") or ""
    for path in ("/", "/posts", "/posts/new", "/posts/2026-12-01-safer-streets-funding"):
        text = client.get(path).text
        assert token not in text and PASSWORD not in text and "$argon2" not in text


def test_every_form_that_changes_something_carries_the_csrf_token() -> None:
    """The role matrix sends a forged token to every route that takes a change; this holds
    the pages to their side: each form posting to one carries the token. Only sign-in, which
    no session yet protects, goes without (it checks the request's origin instead)."""
    import re

    templates = Path(web_app.__file__).parent / "templates"
    posting = {p.path for p in ROUTES if "POST" in p.methods}
    seen = 0
    for template in sorted(templates.glob("*.j2")):
        text = template.read_text(encoding="utf-8")
        for form in re.finditer(r"<form\b([^>]*)>(.*?)</form>", text, re.S):
            attrs, body = form.groups()
            if 'method="post"' not in attrs.lower():
                continue
            seen += 1
            action = re.search(r'action="([^"?]*)', attrs)
            path = action.group(1) if action else ""
            if path == "/login":
                continue
            assert 'name="csrf"' in body, f"{template.name}: a form posting to {path or 'itself'}"
            # a template's {{ value }} stands for any one segment; a route's {name} is one too
            pattern = re.escape(re.sub(r"\{\{.*?\}\}", "\0", path)).replace("\x00", "[^/]+")
            known = {re.sub(r"\{[^}]*\}", "X", p) for p in posting}
            assert not path or any(re.fullmatch(pattern, k) for k in known), (
                f"{template.name}: {path} is not a POST route"
            )
    assert seen >= 10
