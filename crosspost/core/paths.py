"""How a path is shown to people: the one home for making a path relative."""

from __future__ import annotations

from pathlib import Path

_CWD = Path.cwd()


def display_path(path: Path | str) -> str:
    """The path relative to the working directory when it is below it, else as given."""
    path = Path(path)
    try:
        return str(path.relative_to(_CWD))
    except ValueError:
        return str(path)


def in_project(path: Path, root: Path) -> str:
    """`path` relative to the project root, with forward slashes, as written where it can be
    (no file system call); else resolved (a symlinked root); else the path as given."""
    if path.is_relative_to(root):
        return path.relative_to(root).as_posix()
    real, real_root = path.resolve(), root.resolve()
    return real.relative_to(real_root).as_posix() if real.is_relative_to(real_root) else str(path)
