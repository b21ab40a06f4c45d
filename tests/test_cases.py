"""One small failing file per validation rule: each case states the problem it must produce.

A case's first lines say what `validate` must report, as
`# expect: error|warning LINE:COLUMN text`; the file is put alone in a fresh copy of the
example project's queue and validated.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from crosspost.checking.project import validate

from .conftest import CASES, NOW

EXPECT = re.compile(r"^# expect: (error|warning) (\d+):(\d+) (.+)$")
POST_CASES = sorted((CASES / "posts").glob("*.yaml"))


def expectations(path: Path) -> list[tuple[str, int, int, str]]:
    found = []
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        match = EXPECT.match(line)
        if match:
            found.append((match[1], int(match[2]), int(match[3]), match[4]))
    return found


def test_every_case_states_an_expectation() -> None:
    assert len(POST_CASES) >= 50
    for case in POST_CASES:
        assert expectations(case), f"{case.name} has no '# expect:' line"


@pytest.mark.parametrize("case", POST_CASES, ids=lambda p: p.stem)
def test_post_case(case: Path, project: Path) -> None:
    shutil.copy(case, project / "queue" / case.name)
    result = validate(project / "crosspost.yaml", now=NOW, environ={})
    reported = [
        (p.severity, p.mark.line, p.mark.column, p.message)
        for p in result.problems.items
        if p.mark.path.name == case.name
    ]
    for severity, line, column, text in expectations(case):
        matches = [
            r
            for r in reported
            if r[0] == severity and (r[1], r[2]) == (line, column) and text in r[3]
        ]
        assert matches, (
            f"{case.name}: expected {severity} at {line}:{column} containing {text!r}; "
            f"got {reported}"
        )
    if any(e[0] == "error" for e in expectations(case)):
        assert result.problems.errors
    else:
        assert not [p for p in result.problems.errors if p.mark.path.name == case.name]


CONFIG_CASES = sorted((CASES / "config").glob("*.yaml"))


@pytest.mark.parametrize("case", CONFIG_CASES, ids=lambda p: p.stem)
def test_config_case(case: Path, project: Path) -> None:
    from crosspost.core.problems import ConfigError
    from crosspost.loading.config import load_config

    config = project / "crosspost.yaml"
    shutil.copy(case, config)
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    reported = [(p.severity, p.mark.line, p.mark.column, p.message) for p in caught.value.problems]
    for severity, line, column, text in expectations(case):
        assert any(
            r[0] == severity and (r[1], r[2]) == (line, column) and text in r[3] for r in reported
        ), f"{case.name}: expected {severity} at {line}:{column}: {text!r}; got {reported}"
    # a literal secret is never repeated back
    assert "Zq8sHq3kLm2Pn7rT9vWx4yBc6dFg1hJk" not in str(caught.value)
