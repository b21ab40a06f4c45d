"""What a review of the web app found, each now a test: nothing typed or saved is lost, no
post is published twice, the demo never touches the real files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from crosspost.web.server import demo_copy

from .conftest import PASSWORD, Clock, sign_in
from .test_compose import _fields_of, form

QUEUE_LIST = """\
- id: 2027-04-01-hello
  publish_at: 2027-04-01 09:00
  title: Hello from a batch file.
  channels: [PCCKent]
- id: 2027-04-02-second
  publish_at: 2027-04-02 09:00
  title: The second post of the batch.
  channels: [PCCKent]
"""


def changed(client: TestClient) -> None:
    """Files written by the test: as the server's watcher would say."""
    client.app.state.web.site.changed()  # type: ignore[attr-defined]


def edit(client: TestClient, post_id: str, csrf: str, **changes: object) -> object:
    changed(client)
    page = client.get(f"/posts/{post_id}")
    assert page.status_code == 200, page.text[:500]
    fields = _fields_of(page.text)
    fields.update(csrf=csrf, **changes)
    return client.post(f"/posts/{post_id}", data=fields)


def test_the_demo_points_every_path_into_its_copy(office: Path, tmp_path: Path) -> None:
    real_state = tmp_path / "real-state"
    text = office.read_text().replace("state: var/crosspost.db", f"state: {real_state}/x.db")
    office.write_text(text.replace("queue: queue", f"queue: {office.parent / 'queue'}"))
    (tmp_path / "scratch").mkdir()
    copy = demo_copy(office, tmp_path / "scratch")
    from crosspost.loading.config import load_config

    config = load_config(copy)
    for path in (config.state_path, config.queue_dir, config.templates_dir):
        assert path.is_relative_to(tmp_path / "scratch"), path


def test_deleting_one_post_of_a_file_of_several_is_refused(
    client: TestClient, office: Path
) -> None:
    batch = office.parent / "queue" / "batch.yaml"
    batch.write_text(QUEUE_LIST)
    changed(client)
    csrf = sign_in(client)
    answer = client.post("/posts/2027-04-01-hello/delete", data={"csrf": csrf})
    assert answer.status_code == 409 and "holds several posts" in answer.text
    assert batch.read_text() == QUEUE_LIST


def test_a_new_post_never_takes_an_existing_post_s_id(client: TestClient, office: Path) -> None:
    (office.parent / "queue" / "batch.yaml").write_text(QUEUE_LIST)
    changed(client)
    csrf = sign_in(client)
    answer = client.post(
        "/posts/new",
        data=form(csrf, publish_at="2027-04-01 09:00", title="Hello", channels=["PCCKent"]),
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/posts/2027-04-01-hello-2?")
    # and a post titled "New" with no date is not /posts/new
    answer = client.post(
        "/posts/new", data=form(csrf, publish_at="", title="New", channels=["PCCKent"],
                                status="draft"),
    )  # fmt: skip
    assert answer.status_code == 303 and not answer.headers["location"].startswith("/posts/new?")


def test_a_failed_commit_keeps_the_save_and_says_so(client: TestClient, office: Path) -> None:
    from dulwich import porcelain

    root = office.parent
    porcelain.init(str(root))
    (root / ".git" / "index.lock").write_text("")  # another git command is running
    csrf = sign_in(client)
    answer = client.post("/posts/new", data=form(csrf))
    assert answer.status_code == 303 and "git=failed" in answer.headers["location"]
    page = client.get(answer.headers["location"])
    assert "could not be committed to git" in page.text
    assert len(list((root / "queue").glob("2027-01-20-*.yaml"))) == 1


def test_an_edit_keeps_every_thread_part_image_and_override_field(
    client: TestClient, office: Path
) -> None:
    post = office.parent / "queue" / "long-thread.yaml"
    post.write_text(
        "publish_at: 2027-05-01 10:00\ntitle: Part one.\nchannels: [PCCKent, KentPCC]\n"
        "thread: [Two., Three., Four., Five., Six.]\n"
        "overrides:\n  PCCKent:\n    text: X words\n"
        "  KentPCC:\n    text: FB words\n    publish_at: 2027-05-01 12:00\n"
    )
    csrf = sign_in(client)
    answer = edit(client, "long-thread", csrf, title="Part one, edited.",
                  override_PCCKent="New X words")  # fmt: skip
    assert answer.status_code == 303, answer.text[:3000]  # type: ignore[attr-defined]
    text = post.read_text()
    assert "Six." in text and "Five." in text
    assert "New X words" in text and "FB words" in text and "2027-05-01 12:00" in text


def test_a_post_needs_a_channel(client: TestClient, office: Path) -> None:
    csrf = sign_in(client)
    answer = edit(client, "2026-12-01-safer-streets-funding", csrf, channels=[])
    assert answer.status_code == 422 and "choose at least one channel" in answer.text  # type: ignore[attr-defined]


def test_a_post_deleted_underneath_keeps_what_was_typed(client: TestClient, office: Path) -> None:
    path = office.parent / "queue" / "2026-12-01-safer-streets-funding.yaml"
    csrf = sign_in(client)
    page = client.get("/posts/2026-12-01-safer-streets-funding")
    fields = _fields_of(page.text)
    path.unlink()
    client.app.state.web.site.changed()  # type: ignore[attr-defined]
    fields.update(csrf=csrf, title="My words, not to be lost.")
    answer = client.post("/posts/2026-12-01-safer-streets-funding", data=fields)
    assert answer.status_code == 409
    assert "no longer in the queue" in answer.text and "My words, not to be lost." in answer.text


def test_a_form_sent_after_the_session_ended_says_so(client: TestClient, clock: Clock) -> None:
    from datetime import timedelta

    csrf = sign_in(client)
    clock.advance(timedelta(hours=9))
    answer = client.post("/posts/new", data=form(csrf), headers={"accept": "text/html"})
    assert answer.status_code == 401 and "You were signed out" in answer.text
    assert "your text is still in the form" in answer.text


def test_a_sign_in_from_another_site_is_refused(client: TestClient) -> None:
    answer = client.post(
        "/login", data={"name": "ann", "password": PASSWORD},
        headers={"origin": "https://evil.example"},
    )  # fmt: skip
    assert answer.status_code == 403 and "crosspost_session" not in answer.headers.get(
        "set-cookie", ""
    )


def test_a_refused_sign_in_never_logs_what_was_typed(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client.post("/login", data={"name": "Tr0ub4dor&3 secret", "password": "x" * 12})
    assert "Tr0ub4dor" not in caplog.text


def test_saving_without_a_change_writes_nothing(client: TestClient, office: Path) -> None:
    path = office.parent / "queue" / "2026-12-01-safer-streets-funding.yaml"
    before = path.read_text()
    csrf = sign_in(client)
    answer = edit(client, "2026-12-01-safer-streets-funding", csrf)
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert path.read_text() == before


def test_an_image_for_a_post_in_a_subfolder_is_found(client: TestClient, office: Path) -> None:
    from .test_compose import png

    folder = office.parent / "queue" / "2027"
    folder.mkdir()
    (folder / "in-folder.yaml").write_text(
        "publish_at: 2027-06-01 10:00\ntitle: In a folder.\nchannels: [PCCKent]\n"
    )
    changed(client)
    csrf = sign_in(client)
    page = client.get("/posts/in-folder")
    fields = _fields_of(page.text)
    fields.update(csrf=csrf, upload_0_alt="A blue card.")
    answer = client.post(
        "/posts/in-folder", data=fields, files={"upload_0": ("pic.png", png(), "image/png")}
    )
    assert answer.status_code == 303, answer.text[:3000]
    assert "../media/pic.png" in (folder / "in-folder.yaml").read_text()


def test_an_oversized_image_says_the_limit(client: TestClient) -> None:
    csrf = sign_in(client)
    big = b"\x89PNG" + b"0" * 8_100_000
    answer = client.post(
        "/posts/new", data=form(csrf, upload_0_alt="x"), files={"upload_0": ("big.png", big)}
    )
    assert answer.status_code == 422 and "is over 8 MB" in answer.text


def test_a_very_long_field_is_refused_not_a_server_error(client: TestClient) -> None:
    csrf = sign_in(client)
    answer = client.post("/posts/new", data=form(csrf, body="x" * 60_000))
    assert answer.status_code == 422 and "over 50,000 characters" in answer.text
    preview = client.post(
        "/preview", data=form(csrf, body="x" * 1_200_000), headers={"x-csrf-token": csrf}
    )
    assert preview.status_code == 200 and json.loads(preview.text)["summary"]


def test_a_common_password_is_refused(accounts: object) -> None:
    from crosspost.web.accounts import AccountError, Role

    with pytest.raises(AccountError, match="most common"):
        accounts.add("jo", Role.AUTHOR, "Password1234")  # type: ignore[attr-defined]
    with pytest.raises(AccountError, match="most common"):
        accounts.add("jo", Role.AUTHOR, "correct horse battery staple")  # type: ignore[attr-defined]


def test_an_image_that_unpacks_to_too_many_pixels_is_refused(client: TestClient) -> None:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, "PNG")  # a few kilobytes, 81 million pixels
    assert len(out.getvalue()) < 100_000
    csrf = sign_in(client)
    answer = client.post(
        "/posts/new", data=form(csrf, upload_0_alt="x"),
        files={"upload_0": ("bomb.png", out.getvalue(), "image/png")},
    )  # fmt: skip
    assert answer.status_code == 422 and "million pixels" in answer.text


def test_sign_in_is_throttled_per_address(client: TestClient) -> None:
    for _ in range(30):
        client.post("/login", data={"name": f"nobody{_}", "password": "wrong password 1"})
    answer = client.post("/login", data={"name": "ann", "password": PASSWORD})
    assert answer.status_code == 429 and "Too many failed sign-ins" in answer.text
