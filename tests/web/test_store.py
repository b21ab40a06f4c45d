"""How the web app writes the queue: post files, edits that keep comments, atomic saves,
uploaded images and git commits (real files under tmp_path, a real dulwich repository)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from dulwich import porcelain
from dulwich.objects import Commit, Tree
from dulwich.repo import Repo
from PIL import Image

from crosspost.loading.yamlfile import loads
from crosspost.web import store
from crosspost.web.store import (
    StoreError,
    atomic_write,
    commit,
    delete_post_file,
    file_version,
    new_post_path,
    new_post_text,
    save_image,
    updated_post_text,
)

TRICKY = [
    "#Kent news",
    "Update: road closures",
    "@PCCKent",
    "yes",
    "No",
    "on",
    "off",
    "true",
    "null",
    "~",
    "10:00",
    "2026-12-01",
    "2026-12-01 10:00",
    "0x1F",
    "012",
    "1e3",
    ".5",
    "1_000",
    "=",
    "<<",
    "Kent #1 force",
    "it's a 'quote'",
    'she said "hello"',
    "back\\slash and C:\\path\\n",
    "emoji 🎉👮‍♀️ and £1.4 million",
    "- not a list",
    "? not a key",
    ": colon first",
    "[not, a, list]",
    "{not: a map}",
    "*not-an-alias",
    "&not-an-anchor",
    "!not-a-tag",
    "| not a block",
    "> not folded",
    "%not a directive",
    "`backtick",
    "---",
    "...",
    " leading space",
    "trailing space ",
    "tab\there",
]

MULTILINE = [
    "First paragraph.\n\nSecond paragraph with trailing spaces   \nand a last line",
    "Ends with a line break\n",
    "Ends with blank lines\n\n\n",
    "\nStarts with a line break",
    "  indented first line\nsecond line",
    "#not a comment\n  - not a list\nkey: not a key\n'quoted' \"text\" \\ £ 🎉",
    "line with a # hash\n\n\n\nmany blank lines  \n   \nwhitespace-only line above",
]

LONG = (
    "The final report of the Commissioner's Inquiry into Violence Against Women and Girls in "
    "Kent has been published: read it at https://www.pcc-kent.gov.uk #VAWG"
)


def read(text: str) -> Any:
    """A post file's text as crosspost's own loader reads it."""
    return loads(text, Path("x.yaml"))


def plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# --- new posts ----------------------------------------------------------------------------


def test_new_post_in_house_style() -> None:
    text = new_post_text(
        {
            "channels": ["PCCKent", "KentPCC"],
            "title": LONG,
            "body": "Line one.\n\nLine two.\n",
            "publish_at": "2026-12-01 10:00",
            "status": "ready",
            "author": "Comms team",
            "tags": ["safer-streets", "funding"],
            "link": "https://www.pcc-kent.gov.uk",
            "hashtags": ["safer streets", "Kent"],
            "media": [{"alt": "A navy blue card.", "path": "media/card.jpg"}],
            "first_comment": "Tell us below.",
            "thread": ["Part two."],
            "overrides": {"PCCKent": {"text": "Short words for X."}},
            "vars": {"town": "Dover"},
        }
    )
    assert text.splitlines()[:5] == [
        "publish_at: 2026-12-01 10:00",
        "status: ready",
        "author: Comms team",
        "tags: [safer-streets, funding]",
        "title: >-",
    ]
    keys = [line.split(":")[0] for line in text.splitlines() if line[:1].isalpha()]
    assert keys == [
        "publish_at", "status", "author", "tags", "title", "body", "link", "hashtags", "media",
        "first_comment", "thread", "channels", "overrides", "vars",
    ]  # fmt: skip
    assert "body: |\n  Line one.\n\n  Line two.\n" in text
    assert "hashtags: [safer streets, Kent]\n" in text
    assert "channels: [PCCKent, KentPCC]\n" in text
    assert "media:\n  - path: media/card.jpg\n    alt: A navy blue card.\n" in text
    assert "overrides:\n  PCCKent:\n    text: Short words for X.\n" in text
    # the long title is folded at spaces, its lines within 88 columns
    title = text.split("title: >-\n")[1].split("body:")[0].splitlines()
    assert len(title) == 2 and all(line.startswith("  ") and len(line) <= 88 for line in title)
    data = read(text)
    assert data["publish_at"] == "2026-12-01 10:00"
    assert data["title"] == LONG
    assert data["media"] == [{"path": "media/card.jpg", "alt": "A navy blue card."}]


def test_new_post_leaves_out_empty_values() -> None:
    text = new_post_text(
        {
            "title": "Hello Kent.",
            "body": "",
            "link": None,
            "hashtags": [],
            "overrides": {"PCCKent": {"text": ""}},
            "thread": ["One.", "", None],
        }
    )
    assert plain(read(text)) == {"title": "Hello Kent.", "thread": ["One."]}


def test_new_post_refuses_nothing() -> None:
    with pytest.raises(StoreError, match="empty"):
        new_post_text({"title": "", "body": None})


@pytest.mark.parametrize("value", TRICKY)
def test_tricky_text_round_trips(value: str) -> None:
    fields = {
        "title": value,
        "first_comment": f"{value} {LONG}",  # long: a folded block where it can be one
        "hashtags": [value, "Kent"],
        "thread": [value],
        "media": [{"path": "media/a.jpg", "alt": value}],
        "overrides": {"PCCKent": {"text": value}},
    }
    text = new_post_text(fields)
    assert plain(read(text)) == fields


@pytest.mark.parametrize("value", MULTILINE)
def test_multiline_text_round_trips(value: str) -> None:
    fields = {"body": value, "thread": [value], "overrides": {"X": {"text": value}}}
    text = new_post_text(fields)
    assert plain(read(text)) == fields


def test_multiline_text_is_a_literal_block() -> None:
    text = new_post_text({"body": "#Kent: first line\n\n@PCCKent second line\n"})
    assert text == "body: |\n  #Kent: first line\n\n  @PCCKent second line\n"


def test_ambiguous_words_are_quoted() -> None:
    text = new_post_text({"title": "yes", "author": "10:00", "link": "2026-12-01"})
    assert text == 'author: "10:00"\ntitle: "yes"\nlink: "2026-12-01"\n'


def test_odd_list_items_are_quoted_alone() -> None:
    text = new_post_text({"title": "Hello", "hashtags": ["? odd", ": odd", "a, b", "Kent"]})
    assert text == 'title: Hello\nhashtags: ["? odd", ": odd", "a, b", Kent]\n'


def test_falls_back_to_quoting_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    # were the house style ever to write something the loader reads differently (here: the
    # rule that quotes odd list items is switched off), every text is quoted instead
    monkeypatch.setattr(store, "_FLOW_UNSAFE", re.compile(r"(?!)"))
    fields = {"title": "Hello", "hashtags": ["? odd", "Kent"]}
    text = new_post_text(fields)
    assert text == 'title: "Hello"\nhashtags: ["? odd", "Kent"]\n'
    assert plain(read(text)) == fields
    new = updated_post_text("# mine\ntitle: Hi\n", fields)
    assert new == '# mine\ntitle: "Hello"\nhashtags: ["? odd", "Kent"]\n'


@pytest.mark.parametrize("when", ["2026-12-01 10:00", "2026-12-01", "2026-12-01 10:00:00"])
def test_publish_at_unquoted(when: str) -> None:
    text = new_post_text({"publish_at": when, "title": "Hello"})
    assert text.startswith(f"publish_at: {when}\n")
    assert read(text)["publish_at"] == when


def test_size_limit() -> None:
    with pytest.raises(StoreError, match="MB"):
        new_post_text({"body": "word " * 300_000})


# --- edits --------------------------------------------------------------------------------

HOUSE = """\
# The twice-yearly audit (newsletter, "Victims first").
# Checked by legal on 1 December.
publish_at: 2026-12-08 12:00   # after the board meeting
author: Comms team
tags: [vawg, victims]
title: >-
  A twice-yearly audit of every criminal justice agency, and an independent survey of
  victims' satisfaction: putting the voice of victims at the heart of the system.
body: |
  Following my Inquiry, I would like a twice-yearly audit.

  These measures will provide transparency.
link: https://www.pcc-kent.gov.uk  # the home page, not the report
hashtags: [victims first]

# the card is the one from the print run
media:
  - path: media/victims-survey.jpg
    alt: >-
      Navy card reading: Holding the system to account. Twice-yearly audit of criminal
      justice agencies.
x-reviewed-by: legal   # not a post key: crosspost reports it, the web app keeps it
overrides:
  PCCKent:
    # X gets its own words
    text: |
      Every agency should be audited twice a year.
"""


def changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    """Lines only in old, lines only in new."""
    a, b = old.splitlines(), new.splitlines()
    return [line for line in a if line not in b], [line for line in b if line not in a]


def test_edit_changes_only_the_changed_line() -> None:
    new = updated_post_text(HOUSE, {"author": "Jo Bloggs", "title": read(HOUSE)["title"]})
    assert new == HOUSE.replace("author: Comms team", "author: Jo Bloggs")


def test_edit_keeps_end_of_line_comment_of_changed_key() -> None:
    new = updated_post_text(HOUSE, {"publish_at": "2026-12-09 09:30"})
    assert new == HOUSE.replace("2026-12-08 12:00 ", "2026-12-09 09:30 ")
    assert read(new)["publish_at"] == "2026-12-09 09:30"


def test_edit_with_same_values_is_byte_for_byte() -> None:
    fields = {k: v for k, v in plain(read(HOUSE)).items() if k != "x-reviewed-by"}
    assert updated_post_text(HOUSE, fields) == HOUSE
    odd = "title:   'Hi'\nbody: \"a\\nb\"\nstatus: ready\nthread: [\"one\", 'two']\n"
    same = {"title": "Hi", "body": "a\nb", "status": "ready", "thread": ["one", "two"]}
    assert updated_post_text(odd, same) == odd


ODD = """\
---
# written by hand, in a layout of its own
title:    Hi    # spaced out
hashtags: [a,b]
author: "Jo\\ufeff Bloggs"
body: >
  folded
  by hand
link: https://x.org
# about the overrides
overrides:
  X:
    # about the title
    title: t  # end of the title
    # about the body
    body: b
"""


def test_edit_keeps_untouched_lines_exactly_as_written() -> None:
    new = updated_post_text(
        ODD, {"title": "Hello", "link": None, "overrides": {"X": {"title": None}}}
    )
    gone, added = changed_lines(ODD, new)
    assert gone == [
        "title:    Hi    # spaced out",
        "link: https://x.org",
        "    title: t  # end of the title",
    ]
    assert len(added) == 1 and added[0].startswith("title: Hello ")
    assert added[0].endswith("# spaced out")
    assert new.endswith("    # about the title\n    # about the body\n    body: b\n")
    data = read(new)
    assert data["author"] == "Jo\ufeff Bloggs" and data["overrides"] == {"X": {"body": "b"}}


def test_edit_deleting_a_key_keeps_the_comment_about_the_next() -> None:
    old = "title: Hi  # the title\n# about the body\nbody: x\n"
    assert updated_post_text(old, {"title": None}) == "# about the body\nbody: x\n"


def test_edit_multiline_body_keeps_everything_else() -> None:
    body = "New first paragraph.\n\nSecond: with a colon, #hash and @mention.  \n"
    new = updated_post_text(HOUSE, {"body": body})
    assert read(new)["body"] == body
    assert "body: |\n  New first paragraph.\n\n  Second: with a colon" in new
    gone, added = changed_lines(HOUSE, new)
    assert gone == [
        "  Following my Inquiry, I would like a twice-yearly audit.",
        "  These measures will provide transparency.",
    ]
    assert added == [
        "  New first paragraph.",
        "  Second: with a colon, #hash and @mention.  ",
    ]


def test_edit_long_title_becomes_folded() -> None:
    new = updated_post_text(HOUSE, {"title": LONG})
    assert read(new)["title"] == LONG
    assert "title: >-\n  The final report" in new
    assert new.startswith("# The twice-yearly audit")


def test_edit_short_title_replaces_folded_block() -> None:
    new = updated_post_text(HOUSE, {"title": "#Kent: short"})
    assert "title: '#Kent: short'\nbody: |\n" in new
    assert read(new)["title"] == "#Kent: short"


def test_edit_deletes_emptied_field_and_keeps_comments() -> None:
    new = updated_post_text(HOUSE, {"link": "", "hashtags": None, "tags": []})
    data = read(new)
    assert "link" not in data and "hashtags" not in data and "tags" not in data
    gone, added = changed_lines(HOUSE, new)
    assert added == []
    assert gone == [
        "tags: [vawg, victims]",
        "link: https://www.pcc-kent.gov.uk  # the home page, not the report",
        "hashtags: [victims first]",
    ]
    assert "\n# the card is the one from the print run\nmedia:" in new  # about the next key


def test_edit_adds_new_key_in_house_order() -> None:
    new = updated_post_text(HOUSE, {"status": "draft", "first_comment": "yes"})
    assert "publish_at: 2026-12-08 12:00   # after the board meeting\nstatus: draft\n" in new
    assert read(new)["first_comment"] == "yes"
    assert new.index("first_comment") > new.index("media:")
    assert new.index("first_comment") < new.index("overrides:")
    gone, added = changed_lines(HOUSE, new)
    assert gone == [] and added == ["status: draft", 'first_comment: "yes"']


def test_edit_never_touches_unknown_keys_or_id() -> None:
    old = "id: audit-2026\ntitle: Hi\ncustom: [1, 2]   # mine\n"
    new = updated_post_text(old, {"id": "other", "custom": None, "title": "Hello"})
    assert new == "id: audit-2026\ntitle: Hello\ncustom: [1, 2]   # mine\n"
    assert updated_post_text(old, {"id": None}) == old


def test_edit_override_keeps_its_comment() -> None:
    new = updated_post_text(HOUSE, {"overrides": {"PCCKent": {"text": "New words.\nTwo lines."}}})
    assert "  PCCKent:\n    # X gets its own words\n    text: |-\n      New words.\n" in new
    assert read(new)["overrides"] == {"PCCKent": {"text": "New words.\nTwo lines."}}
    assert new.split("overrides:")[0] == HOUSE.split("overrides:")[0]


def test_edit_removing_the_last_override_removes_overrides() -> None:
    new = updated_post_text(HOUSE, {"overrides": {"PCCKent": {"text": None}}})
    assert "overrides" not in read(new)
    assert new == HOUSE.split("overrides:")[0]


def test_edit_media_alt_keeps_list_style() -> None:
    alt = "Navy card: the audit."
    new = updated_post_text(
        HOUSE,
        {
            "media": [
                {"path": "media/victims-survey.jpg", "alt": alt},
                {"path": "b.png", "alt": "B"},
            ]
        },
    )
    assert read(new)["media"] == [
        {"path": "media/victims-survey.jpg", "alt": alt},
        {"path": "b.png", "alt": "B"},
    ]
    assert "  - path: media/victims-survey.jpg\n    alt: 'Navy card: the audit.'\n" in new
    assert "  - path: b.png\n    alt: B\n" in new


def test_edit_flow_list_stays_flow() -> None:
    new = updated_post_text(HOUSE, {"hashtags": ["victims first", "yes", "Kent"]})
    assert 'hashtags: [victims first, "yes", Kent]\n' in new
    assert read(new)["hashtags"] == ["victims first", "yes", "Kent"]


@pytest.mark.parametrize("value", TRICKY + MULTILINE)
def test_edit_tricky_values_round_trip(value: str) -> None:
    fields = {"title": value, "body": value, "thread": [value, "two"]}
    new = updated_post_text(HOUSE, fields)
    data = read(new)
    assert data["title"] == value and data["body"] == value and data["thread"] == [value, "two"]
    assert new.startswith(HOUSE.split("title:")[0])  # the lines above are untouched


def test_edit_keeps_windows_line_breaks() -> None:
    old = HOUSE.replace("\n", "\r\n")
    new = updated_post_text(old, {"author": "Jo", "first_comment": "Two\nlines"})
    assert "\n" not in new.replace("\r\n", "")
    assert new.startswith(old.split("author:")[0])
    assert read(new)["first_comment"] == "Two\nlines"


def test_edit_file_without_final_line_break() -> None:
    new = updated_post_text("title: Hi", {"author": "Jo", "link": "https://x.org"})
    assert new == "author: Jo\ntitle: Hi\nlink: https://x.org\n"


def test_edit_other_indentation_kept() -> None:
    old = "title: Hi\nthread:\n- one\n- two   # keep\nmedia:\n- path: a.jpg\n  alt: A\n"
    new = updated_post_text(
        old, {"media": [{"path": "a.jpg", "alt": "A"}, {"path": "b.jpg", "alt": "B"}]}
    )
    assert new == old + "- path: b.jpg\n  alt: B\n"


def test_edit_refuses_list_of_posts() -> None:
    old = "- id: one\n  title: One\n- id: two\n  title: Two\n"
    with pytest.raises(StoreError, match="several posts; edit it by hand"):
        updated_post_text(old, {"title": "Changed"})


@pytest.mark.parametrize("old", ["", "# only a comment\n", "just some text\n"])
def test_edit_refuses_file_without_a_post(old: str) -> None:
    with pytest.raises(StoreError, match="edit it by hand"):
        updated_post_text(old, {"title": "x"})


def test_edit_refuses_broken_yaml_with_a_readable_message() -> None:
    with pytest.raises(StoreError, match="line 2"):
        updated_post_text("title: Hi\nbody: [unclosed\n", {"title": "x"})


# --- files --------------------------------------------------------------------------------


def test_file_version(tmp_path: Path) -> None:
    path = tmp_path / "post.yaml"
    assert file_version(path) == "absent"
    path.write_bytes(b"title: Hi\n")
    first = file_version(path)
    assert first == "sha256:" + hashlib.sha256(b"title: Hi\n").hexdigest()
    assert file_version(path) == first
    path.write_bytes(b"title: Ho\n")
    assert file_version(path) != first
    path.unlink()
    assert file_version(path) == "absent"


def test_atomic_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "post.yaml"
    seen: list[str] = []
    real_replace = os.replace

    def spy(src: Any, dst: Any) -> None:
        seen.append(Path(src).name)
        assert Path(src).parent == tmp_path
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    atomic_write(path, "title: £1 🎉\n")
    atomic_write(path, "title: again\n")
    assert path.read_text(encoding="utf-8") == "title: again\n"
    assert len(seen) == 2
    for name in seen:
        assert name.startswith(".") and not name.endswith((".yaml", ".yml"))
    assert [p.name for p in tmp_path.iterdir()] == ["post.yaml"]


def test_atomic_write_keeps_permissions(tmp_path: Path) -> None:
    path = tmp_path / "post.yaml"
    path.write_text("title: Hi\n")
    path.chmod(0o640)
    atomic_write(path, "title: Ho\n")
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), RuntimeError("boom")])
def test_atomic_write_failure_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    path = tmp_path / "post.yaml"
    path.write_text("title: old\n")

    def fail(src: Any, dst: Any) -> None:
        assert Path(src).read_text() == "title: new\n"  # written in full before the swap
        raise error

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises((StoreError, RuntimeError)) as caught:
        atomic_write(path, "title: new\n")
    if isinstance(error, OSError):
        assert caught.type is StoreError and "No space left" in str(caught.value)
    assert path.read_text() == "title: old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["post.yaml"]


def test_atomic_write_failure_while_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "post.yaml"
    path.write_text("title: old\n")

    def fail(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError):
        atomic_write(path, "title: new\n")
    assert path.read_text() == "title: old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["post.yaml"]


def test_new_post_path(tmp_path: Path) -> None:
    queue = tmp_path / "queue"
    queue.mkdir()
    title = "Safer Streets funding: £1.4 million for more town centres in Kent"
    first = new_post_path(queue, "2026-12-01 10:00", title)
    assert first == queue / "2026-12-01-safer-streets-funding-1-4-million.yaml"
    first.write_text("title: x\n")
    second = new_post_path(queue, "2026-12-01 10:00", title)
    assert second.name == "2026-12-01-safer-streets-funding-1-4-million-2.yaml"
    second.write_text("title: x\n")
    assert new_post_path(queue, "2026-12-01 10:00", title).name.endswith("-million-3.yaml")


def test_new_post_path_names(tmp_path: Path) -> None:
    assert new_post_path(tmp_path, None, "Café déjà vu").name == "cafe-deja-vu.yaml"
    assert new_post_path(tmp_path, "", "We've secured it").name == "weve-secured-it.yaml"
    assert new_post_path(tmp_path, "2026-12-01", "🎉🎉 !!!").name == "2026-12-01-post.yaml"
    assert new_post_path(tmp_path, None, "").name == "post.yaml"
    evil = new_post_path(tmp_path, "../../etc/2026", "../../../etc/passwd")
    assert evil == tmp_path / "etc-passwd.yaml"
    long = new_post_path(tmp_path, None, "x" * 300)
    assert len(long.stem) <= 60 and long.parent == tmp_path


def test_new_post_path_avoids_ids_in_subfolders(tmp_path: Path) -> None:
    (tmp_path / "2026").mkdir()
    (tmp_path / "2026" / "hello-kent.yml").write_text("title: x\n")
    assert new_post_path(tmp_path, None, "Hello Kent").name == "hello-kent-2.yaml"


def image_bytes(kind: str, size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 40, 90)).save(out, kind)
    return out.getvalue()


def test_save_image(tmp_path: Path) -> None:
    rel = save_image(tmp_path, "County Show.JPG", image_bytes("JPEG"))
    assert rel == "media/county-show.jpg"
    assert (tmp_path / rel).read_bytes() == image_bytes("JPEG")
    again = save_image(tmp_path, "County Show.jpg", image_bytes("JPEG"))
    assert again == "media/county-show-2.jpg"
    assert (tmp_path / "media" / "county-show.jpg").exists()
    assert sorted(p.name for p in (tmp_path / "media").iterdir()) == [
        "county-show-2.jpg",
        "county-show.jpg",
    ]


def test_save_image_extension_from_real_format(tmp_path: Path) -> None:
    assert save_image(tmp_path, "photo.jpg", image_bytes("PNG")) == "media/photo.png"
    assert save_image(tmp_path, "anim", image_bytes("GIF")) == "media/anim.gif"
    assert save_image(tmp_path, "x.exe", image_bytes("WEBP")) == "media/x.webp"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../../etc/passwd.png", "media/passwd.png"),
        ("..\\..\\windows\\evil.png", "media/evil.png"),
        ("C:\\Users\\Jo\\Pictures\\Stand.png", "media/stand.png"),
        (".hidden.png", "media/hidden.png"),
        ("....png", "media/png.png"),
        ("..", "media/image.png"),
        ("", "media/image.png"),
        ("queue/media/../../x.yaml", "media/x.png"),
    ],
)
def test_save_image_neutralises_paths(tmp_path: Path, name: str, expected: str) -> None:
    queue = tmp_path / "queue"
    queue.mkdir()
    assert save_image(queue, name, image_bytes("PNG")) == expected
    assert [p.name for p in tmp_path.iterdir()] == ["queue"]
    assert [p.relative_to(queue).as_posix() for p in queue.rglob("*")] == ["media", expected]


def test_save_image_refuses_non_image(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="notes.jpg cannot be used"):
        save_image(tmp_path, "notes.jpg", b"Dear all, the meeting is at ten.\n")
    assert list((tmp_path / "media").iterdir()) == []


def test_save_image_refuses_other_formats(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="BMP image; crosspost takes JPEG, PNG, GIF or WebP"):
        save_image(tmp_path, "scan.bmp", image_bytes("BMP"))
    assert list((tmp_path / "media").iterdir()) == []


def test_save_image_refuses_oversize(tmp_path: Path) -> None:
    data = image_bytes("PNG", (400, 400))
    with pytest.raises(StoreError, match="limited to"):
        save_image(tmp_path, "big.png", data, max_bytes=len(data) - 1)
    assert not (tmp_path / "media").exists() or list((tmp_path / "media").iterdir()) == []
    assert save_image(tmp_path, "big.png", data, max_bytes=len(data)) == "media/big.png"


def test_delete_post_file(tmp_path: Path) -> None:
    post = tmp_path / "post.yaml"
    post.write_text("title: x\nmedia:\n  - path: media/a.jpg\n    alt: A\n")
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "a.jpg").write_bytes(image_bytes("JPEG"))
    delete_post_file(post)
    assert not post.exists()
    assert (tmp_path / "media" / "a.jpg").exists()
    with pytest.raises(StoreError, match="deleted or renamed already"):
        delete_post_file(post)
    with pytest.raises(StoreError, match="not a post file"):
        delete_post_file(tmp_path / "media" / "a.jpg")
    assert (tmp_path / "media" / "a.jpg").exists()


# --- git ----------------------------------------------------------------------------------


def files_of(repo: Repo, tree_id: bytes, prefix: bytes = b"") -> dict[bytes, bytes]:
    """path -> blob contents of every file in a tree."""
    tree = repo[tree_id]
    assert isinstance(tree, Tree)
    out: dict[bytes, bytes] = {}
    for entry in tree.items():
        path = prefix + entry.path
        if entry.mode & 0o040000:
            out.update(files_of(repo, entry.sha, path + b"/"))
        else:
            out[path] = repo[entry.sha].as_raw_string()
    return out


def head_commit(repo_path: Path) -> tuple[Commit, dict[bytes, bytes]]:
    with Repo(str(repo_path)) as repo:
        last = repo[repo.head()]
        assert isinstance(last, Commit)
        return last, files_of(repo, last.tree)


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    root = tmp_path / "office"
    (root / "queue").mkdir(parents=True)
    porcelain.init(str(root))
    return root


def test_commit_in_a_repository_without_commits(git_repo: Path) -> None:
    post = git_repo / "queue" / "post.yaml"
    post.write_text("title: Hi\n")
    (git_repo / "queue" / "other.yaml").write_text("title: not mine\n")
    (git_repo / "notes.txt").write_text("private\n")
    commit_id = commit(git_repo / "queue", [post], "Add post post", "Jo Bloggs", "jo@example.org")
    assert commit_id is not None and len(commit_id) == 40
    last, files = head_commit(git_repo)
    assert last.id.decode() == commit_id
    assert last.author == b"Jo Bloggs <jo@example.org>"
    assert last.committer == b"Jo Bloggs <jo@example.org>"
    assert last.message == b"Add post post"
    assert last.parents == []
    assert files == {b"queue/post.yaml": b"title: Hi\n"}
    status = porcelain.status(str(git_repo))
    assert status.staged == {"add": [], "delete": [], "modify": []}
    assert sorted(os.fsdecode(p) for p in status.untracked) == ["notes.txt", "queue/other.yaml"]


def test_commit_stages_nothing_else(git_repo: Path) -> None:
    post = git_repo / "queue" / "post.yaml"
    other = git_repo / "queue" / "other.yaml"
    post.write_text("title: Hi\n")
    other.write_text("title: other\n")
    first = commit(git_repo, [post, other], "Add two", "Jo", "jo@example.org")
    # someone else's work: a staged new file and an unstaged change
    staged = git_repo / "queue" / "staged.yaml"
    staged.write_text("title: staged by hand\n")
    porcelain.add(str(git_repo), paths=[str(staged)])
    other.write_text("title: other, changed by hand\n")
    post.write_text("title: Hello\n")
    second = commit(git_repo / "queue", [post], "Edit post post", "Ann Author", "ann@example.org")
    last, files = head_commit(git_repo)
    assert last.id.decode() == second and last.parents == [first.encode()]  # type: ignore[union-attr]
    assert last.author == b"Ann Author <ann@example.org>"
    assert files == {b"queue/post.yaml": b"title: Hello\n", b"queue/other.yaml": b"title: other\n"}
    status = porcelain.status(str(git_repo))
    assert status.staged == {"add": [b"queue/staged.yaml"], "delete": [], "modify": []}
    assert status.unstaged == [b"queue/other.yaml"]


def test_commit_deletion(git_repo: Path) -> None:
    post = git_repo / "queue" / "post.yaml"
    keep = git_repo / "queue" / "keep.yaml"
    post.write_text("title: Hi\n")
    keep.write_text("title: Keep\n")
    commit(git_repo, [post, keep], "Add", "Jo", "jo@example.org")
    delete_post_file(post)
    commit_id = commit(git_repo / "queue", [post], "Delete post post", "Jo", "jo@example.org")
    last, files = head_commit(git_repo)
    assert last.id.decode() == commit_id and last.message == b"Delete post post"
    assert files == {b"queue/keep.yaml": b"title: Keep\n"}
    status = porcelain.status(str(git_repo))
    assert status.staged == {"add": [], "delete": [], "modify": []} and status.unstaged == []


def test_commit_new_image_and_post_together(git_repo: Path) -> None:
    queue = git_repo / "queue"
    rel = save_image(queue, "stand.png", image_bytes("PNG"))
    post = queue / "post.yaml"
    atomic_write(post, new_post_text({"title": "Hi", "media": [{"path": rel, "alt": "Our stand"}]}))
    commit(queue, [post, queue / rel], "Add post post", "Jo", "jo@example.org")
    _, files = head_commit(git_repo)
    assert set(files) == {b"queue/post.yaml", b"queue/media/stand.png"}


def test_commit_nothing_changed(git_repo: Path) -> None:
    post = git_repo / "queue" / "post.yaml"
    post.write_text("title: Hi\n")
    first = commit(git_repo, [post], "Add", "Jo", "jo@example.org")
    assert commit(git_repo, [post], "Again", "Jo", "jo@example.org") is None
    last, _ = head_commit(git_repo)
    assert last.id.decode() == first


def test_commit_not_in_a_repository(tmp_path: Path) -> None:
    if any((p / ".git").exists() for p in (tmp_path, *tmp_path.parents)):
        pytest.skip("the temporary folder is inside a git repository")
    post = tmp_path / "post.yaml"
    post.write_text("title: Hi\n")
    assert commit(tmp_path, [post], "Add", "Jo", "jo@example.org") is None
    assert not (tmp_path / ".git").exists()


def test_commit_refuses_paths_outside_and_bad_identity(git_repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("title: x\n")
    with pytest.raises(StoreError, match="not in the git repository"):
        commit(git_repo, [outside], "Add", "Jo", "jo@example.org")
    post = git_repo / "queue" / "post.yaml"
    post.write_text("title: Hi\n")
    with pytest.raises(StoreError, match="a name and an email address"):
        commit(git_repo, [post], "Add", "Jo <evil>", "jo@example.org")
    with pytest.raises(StoreError, match="needs a message"):
        commit(git_repo, [post], " ", "Jo", "jo@example.org")


def test_commit_failure_is_a_store_error(git_repo: Path) -> None:
    post = git_repo / "queue" / "post.yaml"
    post.write_text("title: Hi\n")
    (git_repo / ".git" / "index.lock").write_text("")  # another git command at work
    with pytest.raises(StoreError, match="saved but could not be committed to git"):
        commit(git_repo, [post], "Add", "Jo", "jo@example.org")
    with Repo(str(git_repo)) as repo, pytest.raises(KeyError):
        repo.head()  # no commit was made


@pytest.mark.skipif(shutil.which("git") is None, reason="no git command to cross-check with")
def test_commit_as_git_sees_it(git_repo: Path) -> None:
    post = git_repo / "queue" / "post.yaml"
    post.write_text("title: Hi\n")
    commit(git_repo, [post], "Add post post", "Jo Bloggs", "jo@example.org")
    post.write_text("title: Hello\n")
    commit(git_repo, [post], "Edit post post", "Ann Author", "ann@example.org")

    def git(*args: str) -> str:
        env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(git_repo)}
        return subprocess.run(
            ["git", *args], cwd=git_repo, env=env, capture_output=True, text=True, check=True
        ).stdout

    assert git("log", "--format=%an <%ae>|%cn <%ce>|%s").splitlines() == [
        "Ann Author <ann@example.org>|Ann Author <ann@example.org>|Edit post post",
        "Jo Bloggs <jo@example.org>|Jo Bloggs <jo@example.org>|Add post post",
    ]
    assert git("status", "--porcelain") == ""
    assert git("show", "--name-status", "--format=", "HEAD").split() == ["M", "queue/post.yaml"]
    git("fsck", "--strict")


def test_store_error_is_the_one_error_class() -> None:
    assert issubclass(StoreError, Exception)
    assert store.StoreError is StoreError
