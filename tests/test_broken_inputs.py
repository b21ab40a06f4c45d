"""No traceback reaches a person, from any command, for any input file.

Two halves:
- a property-based fuzz test of the loader (hypothesis, seeded; 150 examples by default,
  3,000 under `-m slow`): whatever bytes a post file holds, validate reports located problems
  in bounded time and raises nothing else;
- a corpus of broken inputs (each one found by fuzzing or by hand), each run through every
  command: exit 0, 1 or 2, one clear message, never a traceback, in bounded time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from crosspost.checking.project import validate
from crosspost.cli import main
from crosspost.core.problems import ConfigError

from .conftest import NOW, canary_environ

POST = """\
publish_at: 2027-01-15 10:00
title: Safer Streets funding for Kent.
body: |
  We've secured £1.4 million.
hashtags: [safer streets, Kent]
media:
  - path: media/square.jpg
    alt: Navy blue card with the words Safer Streets in gold.
channels: [PCCKent, KentPCC]
"""
TOKENS = [
    "!!int abc", "!!bool maybe", "!!float x", "!!binary ???", "!!str", "9" * 5000, "[" * 50,
    "{", "\r", "\x00", "\x1b", "\t", ": ", "- ", "'", '"', "&a ", "*a", "#", "@x", "? ", "\n---\n",
    "publish_at: 0001-01-01 00:00", "publish_at: 9999-12-31 23:59", "|", ">", "!!timestamp x",
    "media:\n  - path: \"a\\0b.jpg\"\n    alt: x", "\ufeff", "\u2028", "%YAML 1.1\n", "<<: *a",
    "  - path: " + "a" * 300 + ".jpg\n    alt: An image.", "a." * 400,
]  # fmt: skip


def _project(root: Path) -> Path:
    """The example project without approvals (not what these tests are about)."""
    import shutil

    from .conftest import REPO, make_images

    shutil.copy(REPO / "config.example.yaml", root / "crosspost.yaml")
    text = (root / "crosspost.yaml").read_text().replace("require_approval: true", "")
    (root / "crosspost.yaml").write_text(text)
    shutil.copytree(REPO / "templates", root / "templates")
    (root / "queue").mkdir()
    make_images(root / "queue" / "media")
    return root


@st.composite
def mangled(draw: st.DrawFn) -> str:
    """A post file as a person or an accident might leave it: a real post with tokens
    inserted, pieces cut out and random characters scattered."""
    text = POST
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["token", "cut", "char"]))
        if action == "token":
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        elif action == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 30)) :]
        else:
            text = text[:at] + draw(st.characters(max_codepoint=0x2FFF)) + text[at:]
    return text


def _fuzz_examples() -> int:
    return 3000 if os.environ.get("CROSSPOST_LONG_FUZZ") else 150


@seed(20261127)
@settings(
    max_examples=_fuzz_examples(),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=mangled())
def test_the_loader_never_raises_for_any_post_file(tmp_path_factory: pytest.TempPathFactory,
                                                    text: str) -> None:  # fmt: skip
    root = _FUZZ_ROOT.get("root")
    if root is None:
        root = _FUZZ_ROOT["root"] = _project(tmp_path_factory.mktemp("fuzz"))
    (root / "queue" / "fuzz.yaml").write_bytes(text.encode("utf-8", "surrogatepass"))
    started = time.monotonic()
    try:
        project = validate(root / "crosspost.yaml", now=NOW, environ={})
    except ConfigError:
        pytest.fail("a post file made the config unusable")
    assert time.monotonic() - started < 10
    for problem in project.problems.errors:  # located in the file that has it
        assert problem.mark.path is not None


_FUZZ_ROOT: dict[str, Path] = {}


@pytest.mark.slow
def test_the_loader_fuzz_long(monkeypatch: pytest.MonkeyPatch) -> None:
    """The long version: 3,000 examples (run with -m slow)."""
    import subprocess
    import sys

    env = {**os.environ, "CROSSPOST_LONG_FUZZ": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not live",
         f"{__file__}::test_the_loader_never_raises_for_any_post_file"],
        env=env, capture_output=True, text=True, timeout=3000,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]


# --- the corpus: each broken input through every command ----------------------------------


def _post(text: str | bytes, name: str = "bad.yaml") -> Callable[[Path], None]:
    def write(root: Path) -> None:
        data = text.encode("utf-8") if isinstance(text, str) else text
        (root / "queue" / name).write_bytes(data)

    return write


def _config(old: str, new: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / "crosspost.yaml"
        text = path.read_text()
        path.write_text(text.replace(old, new) if old else text + new)

    return edit


def _fifo(root: Path) -> None:
    os.mkfifo(root / "queue" / "pipe.yaml")


def _huge_image(root: Path) -> None:
    huge = root / "queue" / "media" / "huge.jpg"
    huge.write_bytes(b"\xff\xd8\xff\xe0")
    with huge.open("r+b") as fh:
        fh.truncate(1536 * 1024 * 1024)  # 1.5 GB, sparse: never read whole
    _post(POST.replace("media/square.jpg", "media/huge.jpg"))(root)


def _linked_out(root: Path) -> None:
    outside = root.parent / f"{root.name}-outside.yaml"
    outside.write_text(POST)
    os.symlink(outside, root / "queue" / "linked.yaml")


def _approvals(text: str) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        _config("", "require_approval: true\n")(root)
        (root / "approvals.yaml").write_text(text)
        _post(POST, "good.yaml")(root)

    return write


def _ledger(data: bytes) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        (root / "var").mkdir(exist_ok=True)
        (root / "var" / "crosspost.db").write_bytes(data)

    return write


def _template(text: str) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        (root / "templates" / "PCCKent.j2").write_text(text)
        (root / "queue" / "bad.yaml").write_text(
            "publish_at: 2027-01-15 10:00\ntitle: Hello\nvars: {places: lots}\n"
            "channels: [PCCKent]\n"
        )

    return write


def _template_link(root: Path) -> None:
    secret = root.parent / f"{root.name}-env"
    secret.write_text("X_ACCESS_TOKEN_SECRET=CANARY-in-a-file\n")
    (root / "templates" / "PCCKent.j2").unlink()
    os.symlink(secret, root / "templates" / "PCCKent.j2")
    _post("publish_at: 2027-01-15 10:00\ntitle: Hello\nchannels: [PCCKent]\n")(root)


def _guard(text: str) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        (root / "var" / "crosspost.db.guard").write_text(text)

    return write


BROKEN: dict[str, Callable[[Path], None]] = {
    "typed-int": _post("publish_at: 2027-01-15 10:00\ntitle: !!int abc\n"),
    "typed-bool": _post("publish_at: 2027-01-15 10:00\ntitle: !!bool maybe\n"),
    "typed-float": _post("publish_at: !!float x\ntitle: Hello\n"),
    "binary": _post("publish_at: 2027-01-15 10:00\ntitle: !!binary ???\n"),
    "huge-int": _post("publish_at: 2027-01-15 10:00\ntitle: " + "9" * 5000 + "\n"),
    "deep-nesting": _post("publish_at: 2027-01-15 10:00\nvars: " + "[" * 2000 + "]" * 2000),
    "error-after-last-line": _post("publish_at: 2027-01-15 10:00\ntitle: [a, b\n"),
    "cr-only": _post("publish_at: 2027-01-15 10:00\rtitle: [a\r"),
    "nul": _post("publish_at: 2027-01-15 10:00\ntitle: a\x00b\n"),
    "esc": _post("publish_at: 2027-01-15 10:00\ntitle: \x1b[31mred\n"),
    "not-utf8": _post(b"publish_at: 2027-01-15 10:00\ntitle: \xa3100\n"),
    "media-nul": _post(POST.replace("media/square.jpg", '"media/sq\\0uare.jpg"')),
    "media-long-name": _post(POST.replace("media/square.jpg", "media/" + "a" * 300 + ".jpg")),
    "year-1": _post("publish_at: 0001-01-01 00:00\ntitle: Hello\n"),
    "year-9999": _post("publish_at: 9999-12-31T23:59+14:00\ntitle: Hello\n"),
    "merge-conflict-post": _post("<<<<<<< HEAD\ntitle: a\n=======\ntitle: b\n>>>>>>> x\n"),
    "fifo": _fifo,
    "huge-image": _huge_image,
    "post-linked-out": _linked_out,
    "quota-per-0s": _config("quota: {posts: 17, per: 24h}", "quota: {posts: 17, per: 0s}"),
    "huge-duration": _config("", "daemon:\n  lateness: 99999999999w\n"),
    "lateness-0s": _config("", "daemon:\n  lateness: 0s\n"),
    "config-typed": _config("timezone: Europe/London", "timezone: !!int London"),
    "approvals-conflict": _approvals("<<<<<<< HEAD\np: {by: a}\n=======\n>>>>>>> x\n"),
    "approvals-shape": _approvals("- just\n- a list\n"),
    "template-type-error": _template("{{ '%d places left' % vars.places }}"),
    "template-nested-loops": _template(
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
    ),
    "template-concat-bomb": _template(
        "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s }}"
    ),
    "template-format-bomb": _template("{{ '{:>999999999}'.format(1) }}"),
    "template-environ": _template("{{ cycler.__init__.__globals__.os.environ }}"),
    "template-linked-out": _template_link,
    "timezone-folder": _config("timezone: Europe/London", "timezone: Europe"),
    "state-nul": _config("state: var/crosspost.db", 'state: "var/a\\0b.db"'),
    "post-id-5000": _post("id: " + "a" * 5000 + "\npublish_at: 2027-01-15 10:00\ntitle: Hi\n"),
    "x-hyphen-bomb": _post("publish_at: 2027-01-15 10:00\ntitle: " + ("a-" * 498 + "a.") * 20),
    "guard-not-json": _guard("{not json"),
    "guard-wrong-shape": _guard('{"ledger_id": "x", "published": "lots"}'),
    "ledger-empty": _ledger(b""),
    "ledger-garbage": _ledger(b"not a database at all\n" * 100),
}
COMMANDS = [
    ["validate"], ["validate", "--format", "json"], ["preview"], ["preview", "bad"],
    ["publish", "bad", "--dry-run"], ["approve", "bad", "--by", "Jo"], ["status"],
    ["history"], ["release", "bad"], ["pause", "--reason", "x", "--by", "Jo"],
    ["resume", "--by", "Jo"], ["doctor"], ["run", "--once", "--dry-run"],
    ["resolve", "bad", "--channel", "PCCKent", "--not-published", "--by", "Jo"],
    ["export", "--out", "EXPORT"], ["history", "--format", "csv"], ["preview", "--html", "SITE"],
    ["retract", "bad", "--reason", "r", "--by", "Jo"],
]  # fmt: skip


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_every_command_survives_every_broken_input(tmp_path: Path, name: str) -> None:
    (tmp_path / "site").mkdir()
    root = _project(tmp_path / "site")
    if not name.startswith(("ledger", "guard")) or name.startswith("guard"):
        # a ledger that exists, as on a server that has been running
        assert CliRunner().invoke(main, ["status", "--config", str(root / "crosspost.yaml")],
                                  env={}).exit_code == 0  # fmt: skip
    BROKEN[name](root)
    env = {**canary_environ(), "CROSSPOST_NOW": datetime(2026, 11, 25, tzinfo=UTC).isoformat()}
    for template in COMMANDS:
        command = [{"EXPORT": str(tmp_path / "e.csv"), "SITE": str(tmp_path / "site-html")}
                   .get(a, a) for a in template]  # fmt: skip
        started = time.monotonic()
        result = CliRunner().invoke(main, [*command, "--config", str(root / "crosspost.yaml")],
                                    env=env)  # fmt: skip
        said = result.output
        where = f"{name}: crosspost {' '.join(command)}"
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{where} raised {type(result.exception).__name__}: {result.exception}"
        )
        assert result.exit_code in (0, 1, 2), (where, said)
        assert "Traceback" not in said, (where, said)
        assert "CANARY" not in said, (where, said)  # a linked template never shows a secret
        assert time.monotonic() - started < 20, where
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".csv", ".jsonl", ".json"):
            assert "CANARY-in-a-file" not in path.read_text(errors="replace"), path


# what the corpus inputs must say, beyond not crashing (the behaviour, not only its absence)
SAYS = {
    "typed-int": "'abc' cannot be read as int",
    "nul": "U+0000 is a control character",
    "lateness-0s": "'lateness': 0s is too short",
    "quota-per-0s": "'per': 0s is too short",
    "huge-duration": "longer than ten years",
    "post-linked-out": "a link to a file outside the project",
    "fifo": "not a regular file",
    "huge-image": "larger than any platform takes",
    "year-1": "not a year crosspost schedules in",
    "template-type-error": "TypeError",
    "template-nested-loops": "loops too long",
    "template-concat-bomb": "a text that long is not allowed",
    "template-format-bomb": "format width that large",
    "template-environ": "unsafe",
    "template-linked-out": "outside the templates folder",
    "timezone-folder": "unknown timezone 'Europe'",
    "state-nul": "'state' is not a usable path",
    "post-id-5000": "at most 120 characters",
    "approvals-conflict": "merge conflict",
    "guard-not-json": "guard file",
    "guard-wrong-shape": "guard file",
    "ledger-empty": "is empty (0 bytes)",
}


@pytest.mark.parametrize("name", sorted(SAYS))
def test_each_broken_input_is_named_for_what_it_is(tmp_path: Path, name: str) -> None:
    (tmp_path / "site").mkdir()
    root = _project(tmp_path / "site")
    assert CliRunner().invoke(main, ["status", "--config", str(root / "crosspost.yaml")],
                              env={}).exit_code == 0  # fmt: skip
    BROKEN[name](root)
    command = "status" if name.startswith(("guard", "ledger")) else "validate"
    env = {**canary_environ(), "CROSSPOST_NOW": datetime(2026, 11, 25, tzinfo=UTC).isoformat()}
    result = CliRunner().invoke(main, [command, "--config", str(root / "crosspost.yaml")],
                                env=env)  # fmt: skip
    assert SAYS[name] in result.output, result.output[-2000:]
    assert result.exit_code in (1, 2)


@st.composite
def mangled_config(draw: st.DrawFn) -> str:
    from .conftest import REPO

    text = (REPO / "config.example.yaml").read_text()
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["token", "cut", "char"]))
        if action == "token":
            text = text[:at] + draw(st.sampled_from(TOKENS + CONFIG_TOKENS)) + text[at:]
        elif action == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        else:
            text = text[:at] + draw(st.characters(max_codepoint=0x2FFF)) + text[at:]
    return text


CONFIG_TOKENS = [
    "lateness: 0s", "per: 99999999999w", "timezone: Europe", "state: /", "queue: ../..",
    "platform: nope", "imitates: fake", "quota: {posts: -1, per: 1h}", "alerts: {urls: [x]}",
    "blackouts: [{name: a, start: 2028-01-01 00:00, end: 2027-01-01 00:00}]",
    "graph_version: latest", "media_base_url: ftp://x", "retry: {attempts: 0}",
]  # fmt: skip


@seed(20261128)
@settings(
    max_examples=_fuzz_examples() // 2,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=mangled_config())
def test_the_config_loader_never_raises_for_any_config(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    root = _FUZZ_ROOT.get("config")
    if root is None:
        root = _FUZZ_ROOT["config"] = _project(tmp_path_factory.mktemp("config-fuzz"))
    (root / "crosspost.yaml").write_bytes(text.encode("utf-8", "surrogatepass"))
    started = time.monotonic()
    try:
        validate(root / "crosspost.yaml", now=NOW, environ={})
    except ConfigError as exc:
        assert exc.problems and all(p.mark.path is not None for p in exc.problems)
    assert time.monotonic() - started < 10
