"""Problems found in config, posts and templates, each with the place it was found."""

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from crosspost.core.paths import display_path

ERROR = "error"
WARNING = "warning"


class Mark(NamedTuple):
    """A place in a file: 1-based line and column."""

    path: Path
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{display_path(self.path)}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One error or warning, tied to a place in a file."""

    mark: Mark
    message: str
    severity: str = ERROR

    def __str__(self) -> str:
        return f"{self.mark}: {self.severity}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": display_path(self.mark.path),
            "line": self.mark.line,
            "column": self.mark.column,
            "severity": self.severity,
            "message": self.message,
        }


@dataclass
class Problems:
    """Collects every problem of a run, so all of them are reported, not only the first."""

    items: list[Problem] = field(default_factory=list)

    def error(self, mark: Mark, message: str) -> None:
        self.items.append(Problem(mark, message, ERROR))

    def warning(self, mark: Mark, message: str) -> None:
        self.items.append(Problem(mark, message, WARNING))

    def extend(self, other: Iterable[Problem]) -> None:
        self.items.extend(other)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if p.severity == WARNING]

    def sorted(self) -> list[Problem]:
        return sorted(
            self.items, key=lambda p: (str(p.mark.path), p.mark.line, p.mark.column, p.message)
        )


class ConfigError(Exception):
    """The configuration cannot be used at all; carries every problem found in it."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean 'x'?)' hint, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    return f" (did you mean '{close[0]}'?)" if close else ""
