"""Rendering: filters, overrides, a post's own template, and golden files for the examples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crosspost.checking.project import load_project, render_all
from crosspost.rendering.render import domain, hashtag, hashtags, tidy, unwrap, without_links

from .conftest import NOW

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize(
    ("word", "tag"),
    [
        ("safer streets", "#SaferStreets"),
        ("SaferStreets", "#SaferStreets"),
        ("#kent", "#Kent"),
        ("VAWG", "#VAWG"),
        ("victims-first", "#VictimsFirst"),
        ("open_days 2027", "#OpenDays2027"),
    ],
)
def test_hashtag_filter_makes_camel_case(word: str, tag: str) -> None:
    assert hashtag(word) == tag


def test_other_filters() -> None:
    assert hashtags(["a b", "c"]) == "#AB #C"
    assert hashtags([]) == ""
    assert domain("https://www.pcc-kent.gov.uk/news") == "pcc-kent.gov.uk"
    assert without_links("Read it at https://x.org/a now") == "Read it at now"
    assert unwrap("one\ntwo\n\n- a\n- b\nthree") == "one two\n\n- a\n- b three"
    assert tidy("a  \n\n\n\nb\n") == "a\n\nb"


def write(project: Path, name: str, text: str) -> None:
    (project / "queue" / name).write_text(text, encoding="utf-8")


def rendered(project: Path) -> dict[str, object]:
    loaded = load_project(project / "crosspost.yaml", now=NOW)
    assert not loaded.problems.errors, loaded.problems.errors
    out = render_all(loaded)
    assert not loaded.problems.errors, loaded.problems.errors
    return {r.channel: r for r in out}


def test_overrides_replace_fields_for_one_channel(project: Path) -> None:
    write(
        project,
        "p.yaml",
        "publish_at: 2027-01-15 10:00\ntitle: Short\nbody: Long text.\n"
        "overrides:\n  KentPCC:\n    body: Facebook only.\n    publish_at: 2027-01-15 12:00\n"
        "  kent_opcc:\n    text: Literal caption, no template.\n"
        "    media: [{path: media/square.jpg, alt: A navy square with nothing on it.}]\n",
    )
    by = rendered(project)
    assert by["PCCKent"].text == "Short"
    assert by["KentPCC"].text == "Facebook only."
    assert by["KentPCC"].publish_at.hour == 12 and by["PCCKent"].publish_at.hour == 10
    assert by["kent_opcc"].text == "Literal caption, no template."
    assert by["kent_opcc"].template is None and by["kent_opcc"].media


def test_a_post_may_name_its_own_template(project: Path) -> None:
    write(
        project,
        "event.yaml",
        "publish_at: 2027-01-15 10:00\ntitle: Meet us\ntemplate: event\n"
        "vars: {date: 8 July, venue: the County Show}\nchannels: [PCCKent]\n",
    )
    assert rendered(project)["PCCKent"].text == "Meet us\n8 July at the County Show"


def test_absent_fields_are_false_in_if_and_errors_when_printed(project: Path) -> None:
    write(project, "p.yaml", "publish_at: 2027-01-15 10:00\nbody: Body only.\n")
    by = rendered_or_problems(project)
    assert by["KentPCC"].text == "Body only."  # the template guards hashtags
    assert "PCCKent" not in by  # the X template prints the title, which is absent


def rendered_or_problems(project: Path) -> dict[str, object]:
    loaded = load_project(project / "crosspost.yaml", now=NOW)
    return {r.channel: r for r in render_all(loaded)}


def test_thread_and_first_comment_go_only_where_the_platform_has_them(project: Path) -> None:
    write(
        project,
        "p.yaml",
        "publish_at: 2027-01-15 10:00\ntitle: T\nbody: B\nthread: [Two, Three]\n"
        "first_comment: Hello\nlink: https://www.pcc-kent.gov.uk\n"
        "media: [{path: media/square.jpg, alt: A navy square with nothing on it.}]\n",
    )
    by = rendered(project)
    assert by["PCCKent"].thread == ["Two", "Three"] and by["PCCKent"].first_comment is None
    assert by["KentPCC"].thread == [] and by["KentPCC"].first_comment == "Hello"
    assert by["KentPCC"].link == "https://www.pcc-kent.gov.uk" and by["PCCKent"].link is None
    assert "https://www.pcc-kent.gov.uk" in by["PCCKent"].text  # X carries it in the text


def test_template_syntax_error_names_the_template_line(project: Path) -> None:
    (project / "templates" / "PCCKent.j2").write_text("{{ title }}\n{% if %}\n")
    write(project, "p.yaml", "publish_at: 2027-01-15 10:00\ntitle: T\nchannels: [PCCKent]\n")
    loaded = load_project(project / "crosspost.yaml", now=NOW)
    render_all(loaded)
    marks = {(p.mark.path.name, p.mark.line) for p in loaded.problems.errors}
    assert ("PCCKent.j2", 2) in marks and ("p.yaml", 1) in marks


def golden_pairs(example: Path) -> list[tuple[str, str]]:
    loaded = load_project(example / "crosspost.yaml", now=NOW)
    out = []
    for r in render_all(loaded):
        text = r.text + "".join(f"\n\n--- thread part {i}\n{t}" for i, t in enumerate(r.thread, 2))
        out.append((f"{r.post_id}.{r.channel}.txt", text + "\n"))
    assert not loaded.problems.errors
    return out


def test_example_posts_match_golden_files(example: Path) -> None:
    pairs = golden_pairs(example)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        for old in GOLDEN.glob("*.txt"):
            old.unlink()
        for name, text in pairs:
            (GOLDEN / name).write_text(text, encoding="utf-8")
    expected = {p.name: p.read_text(encoding="utf-8") for p in GOLDEN.glob("*.txt")}
    assert sorted(expected) == sorted(name for name, _ in pairs)
    for name, text in pairs:
        assert text == expected[name], f"{name} differs; UPDATE_GOLDEN=1 rewrites after review"


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("{{ cycler.__init__.__globals__.os.environ }}", "unsafe"),
        ("{{ self.__init__.__globals__.__builtins__ }}", "unsafe"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "unsafe"),
        ("{{ joiner.__init__.__globals__['os'].popen('id').read() }}", "unsafe"),
        ("{% set x = hashtags.append(1) %}{{ title }}", "unsafe"),
        ("{{ 'a' * 100000000 }}", "too long"),
        ("{{ 9 ** 99999999 }}", "power that large"),
    ],
    ids=["environ", "builtins", "subclasses", "popen", "mutate", "repeat", "power"],
)
def test_templates_run_sandboxed(project: Path, template: str, words: str) -> None:
    """A template cannot read the environment (the credentials), run commands, change the
    post or exhaust memory: each attempt is an error located in the post, and no secret or
    command output reaches the text."""
    from crosspost.checking.project import load_project, render_all

    (project / "templates" / "PCCKent.j2").write_text(template)
    (project / "queue" / "p.yaml").write_text(
        "publish_at: 2027-01-15 10:00\ntitle: Hello\nhashtags: [Kent]\nchannels: [PCCKent]\n"
    )
    os.environ["CROSSPOST_TEST_CANARY"] = "CANARY-in-the-environment"
    try:
        project_ = load_project(project / "crosspost.yaml")
        rendered = render_all(project_)
    finally:
        del os.environ["CROSSPOST_TEST_CANARY"]
    assert rendered == []  # nothing rendered
    [error] = project_.problems.errors
    assert "template PCCKent.j2" in error.message
    assert words in error.message or (words == "too long" and "repetition" in error.message)
    assert "CANARY" not in error.message and "uid=" not in error.message


def test_the_project_filters_work_in_the_sandbox(project: Path) -> None:
    from crosspost.checking.project import load_project, render_all

    (project / "templates" / "PCCKent.j2").write_text(
        "{{ title | unwrap }} {{ hashtags | hashtags }} {{ link | domain }}"
        "{% for m in media %} {{ m.alt }}{% endfor %} {{ publish_at.strftime('%d %b') }}"
    )
    (project / "queue" / "p.yaml").write_text(
        "publish_at: 2027-01-15 10:00\ntitle: Hello\nlink: https://www.pcc-kent.gov.uk/x\n"
        "hashtags: [safer streets]\nchannels: [PCCKent]\n"
    )
    [rendered] = render_all(load_project(project / "crosspost.yaml"))
    assert rendered.text == "Hello #SaferStreets pcc-kent.gov.uk 15 Jan"
