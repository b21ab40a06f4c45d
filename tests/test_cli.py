"""The command-line contract: exit codes, output shapes, and a light start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crosspost import __version__
from crosspost.cli import main

HEAVY = ("tweepy", "facebook", "apscheduler", "PIL", "requests")


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        main, list(args), env={"CROSSPOST_NOW": "2026-11-25T12:00+00:00", **(env or {})}
    )
    return result.exit_code, result.stdout, result.stderr


def test_validate_passes_on_the_example(example: Path) -> None:
    code, out, _ = run("validate", "--config", str(example / "crosspost.yaml"))
    assert code == 0, out
    assert "OK: 7 posts, 19 deliveries over 3 channels: 0 errors" in out
    assert "approv" not in out  # the example approvals match the example posts exactly


def test_validate_fails_with_file_line_column(example: Path) -> None:
    (example / "queue" / "bad.yaml").write_text("publish_at: 2027-01-15 10:00\ntitel: x\n")
    code, out, _ = run("validate", "--config", str(example / "crosspost.yaml"))
    assert code == 1
    assert "bad.yaml:2:1: error: unknown key 'titel' in a post (did you mean 'title'?)" in out
    assert out.strip().endswith("warnings") and "FAILED" in out


def test_validate_json(example: Path) -> None:
    (example / "queue" / "bad.yaml").write_text("publish_at: 2027-03-28 01:30\ntitle: x\n")
    code, out, _ = run("validate", "--config", str(example / "crosspost.yaml"), "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False
    [gap] = [p for p in data["problems"] if p["severity"] == "error"]
    assert gap["line"] == 1 and gap["column"] == 13 and "does not exist" in gap["message"]


def test_missing_config_is_a_configuration_error(tmp_path: Path) -> None:
    code, _, err = run("validate", "--config", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "config file not found" in err


def test_broken_config_exits_2_with_every_problem(project: Path) -> None:
    (project / "crosspost.yaml").write_text("timezone: Nowhere\nchannels: 3\n")
    code, _, err = run("preview", "--config", str(project / "crosspost.yaml"))
    assert code == 2
    assert "unknown timezone 'Nowhere'" in err and "'channels' must be a mapping" in err


def test_preview_json_contract(example: Path) -> None:
    code, out, _ = run("preview", "--config", str(example / "crosspost.yaml"), "--format", "json")
    assert code == 0
    records = json.loads(out)
    assert len(records) == 19
    required = {
        "post_id",
        "channel",
        "platform",
        "publish_at",
        "text",
        "length",
        "limit",
        "problems",
        "warnings",
    }
    for record in records:
        assert required <= set(record)
        assert record["publish_at"][-6] in "+-"  # ISO 8601 with offset
        assert isinstance(record["problems"], list) and isinstance(record["warnings"], list)
    x = next(r for r in records if r["channel"] == "PCCKent")
    assert x["platform"] == "x" and x["limit"] == 280 and 0 < x["length"] <= 280


def test_preview_selects_posts_and_channels(example: Path) -> None:
    config = str(example / "crosspost.yaml")
    code, out, _ = run(
        "preview",
        "--config",
        config,
        "safer-streets-towns",
        "--channel",
        "KentPCC",
        "--format",
        "json",
    )
    assert code == 0
    assert [(r["post_id"], r["channel"]) for r in json.loads(out)] == [
        ("safer-streets-towns", "KentPCC")
    ]


def test_preview_text_shows_length_against_limit_and_problems(example: Path) -> None:
    (example / "queue" / "long.yaml").write_text(
        f"publish_at: 2027-01-15 10:00\ntitle: {'word ' * 70}\nchannels: [PCCKent]\n"
    )
    code, out, _ = run("preview", "--config", str(example / "crosspost.yaml"), "long")
    assert code == 1
    assert "─── ✗ PCCKent · X @PCCKent · 349/280" in out
    assert "✗ problem: text is 349 weighted characters, over X's limit of 280 by 69" in out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["preview", "safer-streets-town"], "did you mean 'safer-streets-towns'"),
        (["preview", "--channel", "PCCkent"], "did you mean 'PCCKent'"),
        (["preview", "--format", "xml"], "'xml' is not one of"),
    ],
)
def test_usage_errors_exit_2(example: Path, args: list[str], says: str) -> None:
    code, _, err = run(*args, "--config", str(example / "crosspost.yaml"))
    assert code == 2
    assert says in err


def test_help_explains_every_command() -> None:
    code, out, _ = run("--help")
    assert code == 0
    for command in ("validate", "preview"):
        assert command in out
    code, out, _ = run("preview", "--help")
    assert "--channel" in out and "--format" in out and "--config" in out


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_and_version_stay_light(args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "crosspost", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    heavy = sorted(m for m in imported if m.split(".")[0] in HEAVY)
    assert not heavy, f"--help/--version imported {heavy}"
    if args == ["--version"]:
        assert __version__ in proc.stdout


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).with_name("crosspost")
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == f"crosspost, version {__version__}"


def test_every_command_s_help_has_one_example() -> None:
    for name, command in main.commands.items():  # type: ignore[attr-defined]
        code, out, _ = run(name, "--help")
        assert code == 0 and out.count("Example: crosspost ") == 1, name
        assert command.help and "Example:" in command.help
