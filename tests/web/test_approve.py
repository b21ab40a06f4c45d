"""Approval in the browser: by an approver's account, after seeing every channel, bound to
the content; never by the person who wrote the post (known from the account that saved it,
or from git), whatever its `author` field says."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dulwich import porcelain
from starlette.testclient import TestClient

from .conftest import PASSWORD, sign_in
from .test_compose import form


def approvals(office: Path) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((office.parent / "approvals.yaml").read_text()) or {}


def new_post(client: TestClient, csrf: str, **changes: object) -> str:
    answer = client.post("/posts/new", data=form(csrf, **changes))
    assert answer.status_code == 303, answer.text[:2000]
    return answer.headers["location"].split("/posts/", 1)[1].split("?", 1)[0]


def from_git(client: TestClient, office: Path, author: bytes) -> Path:
    """A post that arrived through git: committed by `author`; its file."""
    root = office.parent
    porcelain.init(str(root))
    path = root / "queue" / "from-git.yaml"
    path.write_text("publish_at: 2027-03-01 10:00\ntitle: From git.\nchannels: [PCCKent]\n")
    porcelain.add(str(root), paths=[str(path)])
    porcelain.commit(str(root), message=b"add", author=author, committer=author)
    client.app.state.web.site.changed()  # type: ignore[attr-defined]
    return path


def test_an_approver_approves_what_an_author_wrote(client: TestClient, office: Path) -> None:
    post_id = new_post(client, sign_in(client, "ann"), author="Someone Else")  # a false author
    csrf = sign_in(client, "pat")
    page = client.get(f"/posts/{post_id}/approve")
    assert page.status_code == 200 and "Written by" in page.text and "ann" in page.text
    assert 'data-channel="PCCKent"' in page.text and 'data-channel="KentPCC"' in page.text
    digest = page.text.split('name="hash" value="', 1)[1].split('"', 1)[0]
    answer = client.post(f"/posts/{post_id}/approve", data={"csrf": csrf, "hash": digest})
    assert answer.status_code == 303
    record = approvals(office)[post_id]
    assert record["by"] == "Pat Approver (pat)" and record["hash"] == digest


def test_the_author_cannot_approve_their_own_post(client: TestClient, office: Path) -> None:
    csrf = sign_in(client, "pat")  # an approver who writes a post
    post_id = new_post(client, csrf, author="Someone Else")  # the field does not decide
    page = client.get(f"/posts/{post_id}/approve")
    assert "You wrote this post" in page.text and "Approve exactly this" not in page.text
    digest = page.text.split("<code>", 1)[1][:10]
    answer = client.post(f"/posts/{post_id}/approve", data={"csrf": csrf, "hash": digest})
    assert answer.status_code == 403
    assert post_id not in approvals(office)


def test_an_author_role_cannot_approve(client: TestClient) -> None:
    csrf = sign_in(client, "ann")
    post_id = new_post(client, csrf)
    assert client.get(f"/posts/{post_id}/approve").status_code == 403
    answer = client.post(f"/posts/{post_id}/approve", data={"csrf": csrf, "hash": "sha256:00"})
    assert answer.status_code == 403


def test_an_edit_makes_the_approval_stale(client: TestClient, office: Path) -> None:
    post_id = new_post(client, sign_in(client, "ann"))
    csrf = sign_in(client, "pat")
    page = client.get(f"/posts/{post_id}/approve")
    digest = page.text.split('name="hash" value="', 1)[1].split('"', 1)[0]
    client.post(f"/posts/{post_id}/approve", data={"csrf": csrf, "hash": digest})
    assert "approved by Pat Approver (pat)" in client.get(f"/posts/{post_id}/approve").text
    path = office.parent / "queue" / f"{post_id}.yaml"
    path.write_text(path.read_text().replace("stand 12", "stand 14"))
    client.app.state.web.site.changed()  # type: ignore[attr-defined]
    assert "stale: approved by Pat Approver (pat)" in client.get(f"/posts/{post_id}/approve").text


def test_a_post_from_git_is_written_by_its_commit_s_author(
    client: TestClient, office: Path
) -> None:
    from_git(client, office, b"Pat Approver <pat@example.org>")
    sign_in(client, "pat")
    page = client.get("/posts/from-git/approve")
    assert "Pat Approver &lt;pat@example.org&gt;" in page.text
    assert "You wrote this post" in page.text


def test_with_accounts_the_command_line_approves_only_for_an_admin(
    office: Path, accounts: object
) -> None:
    from click.testing import CliRunner

    from crosspost.cli import main

    post = "2026-12-03-vawg-inquiry-report"
    run = CliRunner().invoke
    refused = run(main, ["approve", post, "--by", "Head of Comms", "--config", str(office)])
    assert refused.exit_code == 1 and "approve in the web app" in refused.output
    refused = run(main, ["approve", post, "--by", "pat", "--config", str(office)])
    assert refused.exit_code == 1  # an approver signs in to the web app instead
    done = run(main, ["approve", post, "--by", "ada", "--config", str(office)])
    assert done.exit_code == 0, done.output
    assert approvals(office)[post]["by"] == "Ada Admin (ada, admin, on the server)"


def test_an_admin_cannot_approve_their_own_post_on_the_command_line(
    client: TestClient, office: Path, accounts: object
) -> None:
    from click.testing import CliRunner

    from crosspost.cli import main

    post_id = new_post(client, sign_in(client, "ada"))
    done = CliRunner().invoke(main, ["approve", post_id, "--by", "ada", "--config", str(office)])
    assert done.exit_code == 1 and "written by you" in done.output
    assert post_id not in approvals(office)


def test_one_person_with_two_accounts_cannot_approve_what_they_wrote(
    client: TestClient, office: Path, accounts: object
) -> None:
    from crosspost.web.accounts import AccountError, Role

    # the same address cannot become a second, external account
    with pytest.raises(AccountError, match="already has an account"):
        accounts.external_user("ann@example.org", Role.APPROVER)  # type: ignore[attr-defined]
    # nor may a second local account with the same address approve
    accounts.add("ann2", Role.APPROVER, PASSWORD, email="Ann@Example.org")  # type: ignore[attr-defined]
    post_id = new_post(client, sign_in(client, "ann"))
    sign_in(client, "ann2")
    assert "You wrote this post" in client.get(f"/posts/{post_id}/approve").text


def test_a_file_changed_outside_crosspost_and_not_committed_has_no_known_author(
    client: TestClient, office: Path
) -> None:
    path = from_git(client, office, b"Ann Author <ann@example.org>")
    path.write_text(path.read_text().replace("From git.", "Changed by someone."))
    client.app.state.web.site.changed()  # type: ignore[attr-defined]
    csrf = sign_in(client, "pat")
    page = client.get("/posts/from-git/approve").text
    assert "Who wrote this version is not known" in page
    answer = client.post("/posts/from-git/approve", data={"csrf": csrf, "hash": "sha256:0"})
    assert answer.status_code == 403 and "from-git" not in approvals(office)
