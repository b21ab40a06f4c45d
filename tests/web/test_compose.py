"""Writing posts through the web app: the live check, saving to the queue (a readable file,
checked before it lands, committed where the queue is in git), editing without losing the
file's comments, refusing a save over a file changed on disk, images with required alt text,
and deleting with confirmation."""

from __future__ import annotations

import io
import json
from pathlib import Path

from dulwich import porcelain
from dulwich.repo import Repo
from PIL import Image
from starlette.testclient import TestClient

from crosspost.checking.project import validate

from .conftest import NOW, sign_in

POST = {
    "publish_at": "2027-01-20 10:00", "status": "ready",
    "title": "Come and see us at the County Show: stand 12.",
    "body": "Come and see us at the County Show.\n\nWe're at stand 12 all day.",
    "hashtags": "County Show, Kent", "channels": ["PCCKent", "KentPCC"],
}  # fmt: skip


def form(csrf: str, **changes: object) -> dict[str, object]:
    return {"csrf": csrf, **POST, **changes}


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1200, 630), (0, 50, 100)).save(out, "PNG")
    return out.getvalue()


def test_a_new_post_becomes_a_readable_file_that_validates(
    client: TestClient, office: Path
) -> None:
    csrf = sign_in(client)
    answer = client.post("/posts/new", data=form(csrf))
    assert answer.status_code == 303, answer.text
    path = office.parent / "queue" / "2027-01-20-come-and-see-us-at-the.yaml"
    assert answer.headers["location"] == f"/posts/{path.stem}?saved=1"
    text = path.read_text()
    assert "title: 'Come and see us at the County Show: stand 12.'" in text or (
        'title: "Come and see us at the County Show: stand 12."' in text
    )
    assert "hashtags: [County Show, Kent]" in text
    project = validate(office, now=NOW, environ={})
    assert not [p for p in project.problems.errors if p.mark.path == path]
    page = client.get(answer.headers["location"])
    assert page.status_code == 200 and "Saved to the queue" in page.text


def test_the_live_check_shows_each_channel_and_an_over_long_x_text(client: TestClient) -> None:
    csrf = sign_in(client)
    long = "Safer streets for Kent. " * 15
    answer = client.post("/preview", data=form(csrf, title=long), headers={"x-csrf-token": csrf})
    assert answer.status_code == 200
    data = json.loads(answer.text)
    assert 'data-channel="PCCKent"' in data["html"] and 'data-channel="KentPCC"' in data["html"]
    assert "over X&#39;s limit of 280" in data["html"] or "over X's limit of 280" in data["html"]
    assert any("over X's limit of 280" in m for m in data["errors"]["title"])
    assert "problem" in data["summary"]


def test_an_edit_keeps_the_file_s_comments(client: TestClient, office: Path) -> None:
    path = office.parent / "queue" / "2026-12-01-safer-streets-funding.yaml"
    before = path.read_text()
    assert before.startswith("# The Safer Streets funding announcement")
    csrf = sign_in(client)
    page = client.get("/posts/2026-12-01-safer-streets-funding")
    version = page.text.split('name="version" value="', 1)[1].split('"', 1)[0]
    fields = _fields_of(page.text)
    fields.update(csrf=csrf, version=version, body=fields["body"] + "\n\nNew closing line.")
    answer = client.post("/posts/2026-12-01-safer-streets-funding", data=fields)
    assert answer.status_code == 303, answer.text[:2000]
    after = path.read_text()
    assert after.startswith("# The Safer Streets funding announcement")
    assert "New closing line." in after
    untouched = [line for line in before.splitlines() if line.startswith(("publish_at", "link"))]
    assert all(line in after.splitlines() for line in untouched)


def test_a_save_over_a_file_changed_on_disk_is_refused_showing_both(
    client: TestClient, office: Path
) -> None:
    path = office.parent / "queue" / "2026-12-01-safer-streets-funding.yaml"
    csrf = sign_in(client)
    page = client.get("/posts/2026-12-01-safer-streets-funding")
    fields = _fields_of(page.text)
    fields.update(csrf=csrf, version=page.text.split('name="version" value="', 1)[1].split('"')[0])
    path.write_text(path.read_text().replace("£1.4 million", "£1.5 million"))  # a git pull
    theirs = path.read_text()
    fields["title"] = "My own new title."
    answer = client.post("/posts/2026-12-01-safer-streets-funding", data=fields)
    assert answer.status_code == 409
    assert "changed since you opened this form" in answer.text
    assert "£1.5 million" in answer.text and "My own new title." in answer.text
    assert path.read_text() == theirs  # nothing lost, nothing overwritten


def test_an_image_needs_its_alt_text_and_lands_in_the_queue_media(
    client: TestClient, office: Path
) -> None:
    csrf = sign_in(client)
    files = {"upload_0": ("stand.png", png(), "image/png")}
    answer = client.post("/posts/new", data=form(csrf, upload_0_alt=""), files=files)
    assert answer.status_code == 422 and "add alt text" in answer.text
    assert not list((office.parent / "queue" / "media").glob("stand*"))
    answer = client.post(
        "/posts/new", data=form(csrf, upload_0_alt="Our stand at the show."), files=files
    )
    assert answer.status_code == 303, answer.text[:3000]
    saved = office.parent / "queue" / "2027-01-20-come-and-see-us-at-the.yaml"
    text = saved.read_text()
    assert "media/stand.png" in text and "Our stand at the show." in text
    assert (office.parent / "queue" / "media" / "stand.png").read_bytes()[:4] == b"\x89PNG"


def test_a_file_that_is_not_an_image_is_refused(client: TestClient, office: Path) -> None:
    csrf = sign_in(client)
    files = {"upload_0": ("evil.png", b"<script>alert(1)</script>", "image/png")}
    answer = client.post("/posts/new", data=form(csrf, upload_0_alt="x"), files=files)
    assert answer.status_code == 422
    assert not (office.parent / "queue" / "2027-01-20-come-and-see-us-at-the.yaml").exists()


def test_media_never_leaves_the_queue(client: TestClient) -> None:
    sign_in(client)
    shown = client.get("/media/media/vawg-report.jpg")  # an image of the queue: served
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    for path in (
        "/media/../crosspost.yaml",
        "/media/%2e%2e/crosspost.yaml",
        "/media/../var/accounts.db",
    ):
        answer = client.get(path)
        assert answer.status_code == 404 and "channels:" not in answer.text


def test_deleting_asks_first_then_removes_the_file(client: TestClient, office: Path) -> None:
    path = office.parent / "queue" / "2026-12-10-prevention-programme.yaml"
    post_id = "prevention-programme" if not path.exists() else path.stem
    csrf = sign_in(client)
    page = client.get(f"/posts/{post_id}/delete")
    assert page.status_code == 200 and "Yes, delete this post" in page.text
    assert path.exists()
    answer = client.post(f"/posts/{post_id}/delete", data={"csrf": csrf})
    assert answer.status_code == 303 and not path.exists()


def test_a_save_is_a_commit_by_the_signed_in_user(client: TestClient, office: Path) -> None:
    root = office.parent
    porcelain.init(str(root))
    csrf = sign_in(client)
    assert client.post("/posts/new", data=form(csrf)).status_code == 303
    repo = Repo(str(root))
    head = repo[repo.head()]
    assert head.author == b"Ann Author <ann@example.org>"
    assert b"Add post 2027-01-20-come-and-see-us-at-the" in head.message
    changes = porcelain.status(str(root))
    assert not any(b"2027-01-20" in p for group in changes.staged.values() for p in group)


def test_a_ready_post_with_problems_is_not_saved(client: TestClient, office: Path) -> None:
    csrf = sign_in(client)
    answer = client.post("/posts/new", data=form(csrf, title="x " * 200, channels=["PCCKent"]))
    assert answer.status_code == 422 and "over X&#39;s limit" in answer.text
    assert not list((office.parent / "queue").glob("2027-01-20-*"))
    # a draft may be saved with problems: it is not published
    answer = client.post(
        "/posts/new", data=form(csrf, title="x " * 200, channels=["PCCKent"], status="draft")
    )
    assert answer.status_code == 303


def _fields_of(page: str) -> dict[str, object]:
    """The form's current values, as a browser would send them back."""
    import html
    import re

    out: dict[str, object] = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page):
        if 'type="checkbox"' in page.split(f'name="{name}"', 1)[0][-200:]:
            continue
        out[name] = html.unescape(value)
    for name, value in re.findall(
        r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S
    ):
        out[name] = html.unescape(value)
    checked = re.findall(r'<input type="checkbox" name="channels" value="([^"]+)" checked', page)
    out["channels"] = checked
    status = re.search(r'name="status" value="(\w+)" checked', page)
    out["status"] = status.group(1) if status else "ready"
    out.pop("csrf", None)
    return out


def test_a_field_emptied_in_the_form_is_removed_from_the_file(
    client: TestClient, office: Path
) -> None:
    path = office.parent / "queue" / "2026-12-01-safer-streets-funding.yaml"
    assert "first_comment:" in path.read_text()
    csrf = sign_in(client)
    page = client.get("/posts/2026-12-01-safer-streets-funding")
    fields = _fields_of(page.text)
    fields.update(csrf=csrf, first_comment="")
    answer = client.post("/posts/2026-12-01-safer-streets-funding", data=fields)
    assert answer.status_code == 303, answer.text[:2000]
    assert "first_comment:" not in path.read_text()
    assert "publish_at: 2026-12-01 10:00" in path.read_text()  # the rest as it was


def test_a_time_in_the_clock_change_gap_is_explained_at_its_field(client: TestClient) -> None:
    csrf = sign_in(client)
    answer = client.post(
        "/preview", data=form(csrf, publish_at="2027-03-28 01:30"),
        headers={"x-csrf-token": csrf},
    )  # fmt: skip
    said = " ".join(json.loads(answer.text)["errors"]["publish_at"])
    assert "01:30" in said and ("does not exist" in said or "clocks" in said), said


def test_deleting_is_a_commit_too(client: TestClient, office: Path) -> None:
    root = office.parent
    porcelain.init(str(root))
    porcelain.add(str(root), paths=[str(root / "queue" / "2026-12-01-safer-streets-funding.yaml")])
    porcelain.commit(str(root), message=b"start", author=b"Office <office@example.org>",
                     committer=b"Office <office@example.org>")  # fmt: skip
    csrf = sign_in(client)
    answer = client.post("/posts/2026-12-01-safer-streets-funding/delete", data={"csrf": csrf})
    assert answer.status_code == 303
    repo = Repo(str(root))
    head = repo[repo.head()]
    assert head.message.startswith(b"Delete post 2026-12-01-safer-streets-funding")
    assert head.author == b"Ann Author <ann@example.org>"
    tree = repo[head.tree]
    assert b"queue" not in [entry.path for entry in tree.items()] or (
        b"2026-12-01-safer-streets-funding.yaml"
        not in [e.path for e in repo[tree[b"queue"][1]].items()]
    )
