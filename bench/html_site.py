"""How long does `preview --html` take next to `validate`, on the same generated queue?

Uses bench/validate.py's queue (N posts over the three example channels), runs validate once
untimed (imports, template compilation), then times validate and writing the whole static
site, best of R each. Target (issue 6): ratio <= 3.

    python bench/html.py [--posts N] [--repeat R]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from validate import make_project  # noqa: E402

from crosspost.checking.project import load_project, render_all, validate  # noqa: E402
from crosspost.views.html import write_site  # noqa: E402

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        warm = make_project(Path(tmp) / "warm", 20)
        validate(warm, now=NOW, environ={})
        write_site(load_project(warm, now=NOW), Path(tmp) / "warm-site")
        config = make_project(Path(tmp) / "bench", args.posts)
        checks, sites = [], []
        for i in range(args.repeat):
            started = time.perf_counter()
            validate(config, now=NOW, environ={})
            checks.append(time.perf_counter() - started)
            started = time.perf_counter()
            project = load_project(config, now=NOW)
            render_all(project)
            write_site(project, Path(tmp) / f"site-{i}")
            sites.append(time.perf_counter() - started)
    print(f"posts:     {args.posts:,}")
    print(f"validate:  {min(checks):.2f} s (best of {args.repeat})")
    print(f"html site: {min(sites):.2f} s (load, render, write every page)")
    print(f"ratio:     {min(sites) / min(checks):.2f}  (target <= 3)")


if __name__ == "__main__":
    main()
