"""The README's sample output is real output: each console sample of a command that needs no
account (validate, preview, approve) is run on the example and compared, line by line. A line
'...' stands for any lines; a line ending in '...' or '…' for any ending."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from crosspost.cli import main

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
CHECKED = {"validate", "preview", "approve"}


def samples() -> list[tuple[str, list[str]]]:
    """(command, expected lines) for every checked command in a console block."""
    found = []
    for block in re.findall(r"```console\n(.*?)```", README, re.S):
        command, lines = None, []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command:
                    found.append((command, lines))
                command, lines = line[2:].split("  #")[0].strip(), []
            else:
                lines.append(line)
        if command:
            found.append((command, lines))
    return [(c, lines) for c, lines in found if c.split()[1] in CHECKED]


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether `actual` is `expected` with its '...' lines and endings filled in."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == "...":
        return any(matches(rest, actual[i:]) for i in range(len(actual) + 1))
    if not actual:
        return False
    if head.endswith(("...", "…")):
        ok = actual[0].startswith(head.rstrip(".…").rstrip())
    else:
        ok = actual[0].rstrip() == head.rstrip()
    return ok and matches(rest, actual[1:])


def test_the_readme_has_samples_to_check() -> None:
    assert {c.split()[1] for c, _ in samples()} == CHECKED


@pytest.mark.parametrize(("command", "expected"), samples(), ids=lambda v: str(v)[:40])
def test_a_readme_sample_is_what_the_command_prints(
    command: str, expected: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("config.example.yaml", "approvals.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copy(REPO / "config.example.yaml", tmp_path / "crosspost.yaml")  # as the README says
    for name in ("queue", "templates"):
        shutil.copytree(REPO / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("crosspost.core.paths._CWD", tmp_path)  # as when started there
    args = shlex.split(command)[1:]
    environ = {"CROSSPOST_NOW": "2026-11-25T12:00+00:00"}
    result = CliRunner().invoke(main, args, env=environ)
    actual = result.output.rstrip("\n").splitlines()
    assert matches(expected, actual), "\n".join(["README:", *expected, "real:", *actual])


def test_every_yaml_sample_in_the_readme_is_valid_yaml() -> None:
    from crosspost.loading.yamlfile import loads

    blocks = re.findall(r"```yaml\n(.*?)```", README, re.S)
    assert blocks
    for block in blocks:
        loads(block, Path("README.md"))  # raises, with the line, if a sample is broken
