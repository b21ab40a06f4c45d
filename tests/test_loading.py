"""Loading files safely, times across clock changes, and queue-wide rules."""

from __future__ import annotations

import resource
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crosspost.checking.project import load_project, render_all, validate
from crosspost.core.problems import ConfigError
from crosspost.core.times import TimeError, parse_publish_at, zone_or_error
from crosspost.loading import yamlfile

from .conftest import NOW

LONDON = zone_or_error("Europe/London")


def write(project: Path, name: str, text: str) -> Path:
    path = project / "queue" / name
    path.write_text(text, encoding="utf-8")
    return path


def test_fifty_megabyte_file_is_refused_quickly_without_reading_it(project: Path) -> None:
    huge = project / "queue" / "huge.yaml"
    with huge.open("wb") as fh:
        fh.write(b"title: " + b"x" * 1024 + b"\n")
        fh.truncate(50 * 1024 * 1024)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = validate(project / "crosspost.yaml", now=NOW, environ={})
    elapsed = time.perf_counter() - started
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    [problem] = [p for p in result.problems.errors if p.mark.path == huge]
    assert "file is 52.4 MB" in problem.message
    assert elapsed < 5  # generous: the point is it is not parsed
    assert grown_kib < 20 * 1024  # far less than the file


def test_billion_laughs_does_not_expand(project: Path) -> None:
    case = Path(__file__).parent / "cases" / "posts" / "billion_laughs.yaml"
    started = time.perf_counter()
    with pytest.raises(yamlfile.YamlError, match="aliases"):
        yamlfile.load(case)
    assert time.perf_counter() - started < 2


def test_positions_of_keys_and_values(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("a: 1\nb:\n  - x\n  - {c: d}\n", encoding="utf-8")
    data = yamlfile.load(path)
    assert (data.key_mark("b").line, data.key_mark("b").column) == (2, 1)
    assert (data["b"].item_mark(1).line, data["b"].item_mark(1).column) == (4, 5)
    assert data["b"][1].value_mark("c").column == 9


def test_yaml_one_point_one_booleans_stay_text_in_text_fields(project: Path) -> None:
    write(project, "norway.yaml", "publish_at: 2027-01-15 10:00\ntitle: No\nchannels: [PCCKent]\n")
    project_ = load_project(project / "crosspost.yaml", now=NOW)
    [rendered] = render_all(project_)
    assert rendered.text == "No"


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        ("2027-03-28 00:30", "2027-03-28T00:30:00+00:00"),  # before the gap: GMT
        ("2027-03-28 02:30", "2027-03-28T01:30:00+00:00"),  # after the gap: BST
        ("2027-10-31 00:30", "2027-10-30T23:30:00+00:00"),
        ("2027-10-31T01:30+01:00", "2027-10-31T00:30:00+00:00"),  # first 01:30
        ("2027-10-31T01:30+00:00", "2027-10-31T01:30:00+00:00"),  # second 01:30
        ("2027-10-31 02:30", "2027-10-31T02:30:00+00:00"),
        ("2027-07-01 09:00Z", "2027-07-01T09:00:00+00:00"),
    ],
)
def test_clock_changes_resolve_to_the_right_instant(written: str, utc: str) -> None:
    assert parse_publish_at(written, LONDON).astimezone(UTC).isoformat() == utc


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("2027-03-28 01:30", "does not exist"),
        ("2027-03-28 01:00", "does not exist"),
        ("2027-10-31 01:30", "happens twice"),
        ("2027-10-31 01:00", "happens twice"),
    ],
)
def test_gap_and_overlap_are_errors_that_say_how_to_fix_them(written: str, says: str) -> None:
    with pytest.raises(TimeError) as caught:
        parse_publish_at(written, LONDON)
    assert says in str(caught.value)
    assert "+0" in str(caught.value)  # suggests the offset to write


def test_duplicate_ids_name_both_files(project: Path) -> None:
    write(project, "a.yaml", "id: same\npublish_at: 2027-01-15 10:00\ntitle: One\n")
    write(project, "b.yaml", "id: same\npublish_at: 2027-01-16 10:00\ntitle: Two\n")
    result = validate(project / "crosspost.yaml", now=NOW, environ={})
    [problem] = [p for p in result.problems.errors if "used twice" in p.message]
    assert problem.mark.path.name == "b.yaml"
    assert "a.yaml:1:1" in problem.message


def test_all_errors_are_reported_in_one_run(project: Path) -> None:
    write(project, "a.yaml", "publish_at: 2027-03-28 01:30\ntitle: One\n")
    write(project, "b.yaml", "publish_at: 2027-01-15 10:00\ntitel: Two\n")
    write(project, "c.yaml", "publish_at: 2027-01-15 10:00\ntitle: [unclosed\n")
    result = validate(project / "crosspost.yaml", now=NOW, environ={})
    files = {p.mark.path.name for p in result.problems.errors}
    assert {"a.yaml", "b.yaml", "c.yaml"} <= files


def test_editor_backup_and_hidden_files_are_not_posts(project: Path) -> None:
    write(project, ".#draft.yaml", "not: [valid")
    write(project, "draft.yaml~", "not: [valid")
    write(project, "notes.txt", "not a post")
    result = validate(project / "crosspost.yaml", now=NOW, environ={})
    assert not result.problems.errors


def test_quota_warning_when_the_queue_exceeds_a_channel_quota(project: Path) -> None:
    posts = "".join(
        f"- id: p{i}\n  publish_at: 2027-01-15 {8 + i // 2:02d}:{(i % 2) * 30:02d}\n"
        f"  title: Update number {i}\n  channels: [PCCKent]\n"
        for i in range(18)
    )
    write(project, "busy.yaml", posts)
    result = validate(project / "crosspost.yaml", now=NOW, environ={})
    warnings = [p.message for p in result.problems.warnings if "quota" in p.message]
    assert warnings == [
        "PCCKent: 18 posts within 1d up to this one; the channel's quota is 17 per 1d"
    ]
    # spread over two days, the same posts are within quota
    write(project, "busy.yaml", posts.replace("2027-01-15 08", "2027-01-17 08"))
    result = validate(project / "crosspost.yaml", now=NOW, environ={})
    assert not [p for p in result.problems.warnings if "quota" in p.message]


def test_missing_environment_variables_warn_or_fail(project: Path) -> None:
    write(project, "a.yaml", "publish_at: 2027-01-15 10:00\ntitle: One\nchannels: [PCCKent]\n")
    env = {"X_CONSUMER_KEY": "k", "X_CONSUMER_SECRET": "s", "X_ACCESS_TOKEN": "t"}
    result = validate(project / "crosspost.yaml", now=NOW, environ=env)
    names = [p.message.split()[2] for p in result.problems.warnings if "environment" in p.message]
    assert "X_ACCESS_TOKEN_SECRET" in names and "X_CONSUMER_KEY" not in names
    assert not result.problems.errors
    strict = validate(project / "crosspost.yaml", now=NOW, environ=env, require_credentials=True)
    assert any("X_ACCESS_TOKEN_SECRET" in p.message for p in strict.problems.errors)


def test_fake_channel_imitating_x_applies_x_rules(project: Path) -> None:
    (project / "crosspost.yaml").write_text(
        "channels:\n  test:\n    platform: fake\n    imitates: x\n  loose:\n    platform: fake\n",
        encoding="utf-8",
    )
    (project / "templates" / "test.j2").write_text("{{ title }}")
    (project / "templates" / "loose.j2").write_text("{{ title }}")
    write(project, "long.yaml", f"publish_at: 2027-01-15 10:00\ntitle: {'a' * 300}\n")
    result = validate(project / "crosspost.yaml", now=NOW, environ={})
    by_channel = {r.channel: r for r in result.rendered}
    assert by_channel["test"].limit == 280 and by_channel["test"].problems
    assert not by_channel["loose"].problems


def test_config_errors_are_all_reported_together(project: Path) -> None:
    (project / "crosspost.yaml").write_text(
        "timezone: Mars/Olympus\nqueue: nowhere\nchannels:\n  a:\n    platform: myspace\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_project(project / "crosspost.yaml")
    messages = " | ".join(p.message for p in caught.value.problems)
    assert "Mars/Olympus" in messages and "nowhere" in messages and "myspace" in messages


def test_a_post_in_the_past_is_a_warning_not_an_error(project: Path) -> None:
    write(project, "old.yaml", "publish_at: 2026-11-01 10:00\ntitle: Old\nchannels: [PCCKent]\n")
    later = datetime(2026, 11, 2, tzinfo=UTC)
    result = validate(project / "crosspost.yaml", now=later, environ={})
    assert not result.problems.errors
    assert any("in the past" in p.message for p in result.problems.warnings)


def test_a_past_post_is_warned_about_once_saying_what_the_daemon_would_do(
    project: Path,
) -> None:
    """The warning agrees with the daemon: within lateness the post still goes out (late);
    past it, it expires. Once per post, not once per channel."""
    both = "channels: [PCCKent, KentPCC]\n"
    write(project, "soon.yaml", f"publish_at: 2026-11-25 11:50\ntitle: Soon\n{both}")
    write(project, "old.yaml", f"publish_at: 2026-11-23 10:00\ntitle: Old\n{both}")
    result = validate(project / "crosspost.yaml", now=NOW, environ={})  # 12:00 UTC
    past = [p for p in result.problems.warnings if "publish_at" in p.message]
    assert len(past) == 2, [p.message for p in past]
    soon, old = sorted(past, key=lambda p: p.mark.path.name, reverse=True)
    assert soon.mark.path.name == "soon.yaml"
    assert "has passed (10 minutes ago)" in soon.message
    assert "would still publish it, late but within the 30 minutes allowed" in soon.message
    assert "expire" not in soon.message
    assert "more than the 30 minutes allowed: the daemon would expire it" in old.message
    assert "crosspost release old --late" in old.message
    assert not soon.message.startswith(("PCCKent", "KentPCC"))  # not a channel's own warning


def test_a_reload_with_a_cache_rereads_only_what_changed(project: Path) -> None:
    from crosspost.checking.project import LoadCache

    write(project, "a.yaml", "publish_at: 2027-01-15 10:00\ntitle: One\nchannels: [PCCKent]\n")
    write(project, "b.yaml", "publish_at: 2027-01-15 10:00\ntitle: Two\nchannels: [PCCKent]\n")
    cache = LoadCache()
    first = validate(project / "crosspost.yaml", now=NOW, environ={}, cache=cache)
    write(project, "b.yaml", "publish_at: 2027-01-15 10:00\ntitle: Deux\nchannels: [PCCKent]\n")
    second = validate(project / "crosspost.yaml", now=NOW, environ={}, cache=cache)
    a1, b1 = sorted(first.posts, key=lambda p: p.id)
    a2, b2 = sorted(second.posts, key=lambda p: p.id)
    assert a2 is a1 and b2 is not b1  # only the edited file was read again
    assert [r.text for r in second.rendered] == ["One", "Deux"]
    (project / "templates" / "PCCKent.j2").write_text("X: {{ title }}")  # a template edit
    third = validate(project / "crosspost.yaml", now=NOW, environ={}, cache=cache)
    assert [r.text for r in third.rendered] == ["X: One", "X: Deux"]
    write(project, "a.yaml", "publish_at: 2027-03-28 01:30\ntitle: One\nchannels: [PCCKent]\n")
    fourth = validate(project / "crosspost.yaml", now=NOW, environ={}, cache=cache)
    assert any("does not exist" in p.message for p in fourth.problems.errors)
    fifth = validate(project / "crosspost.yaml", now=NOW, environ={}, cache=cache)
    assert [p.message for p in fifth.problems.errors] == [p.message for p in fourth.problems.errors]
