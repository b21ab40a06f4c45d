"""docs/mistakes.md is made from the mistake cases (tests/cases/posts/mistake_*.yaml): each
case's file, and what `validate` really says of it. This test fails when the page and the
messages differ; to write the page anew: CROSSPOST_WRITE_DOCS=1 pytest tests/test_mistakes_doc.py
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from crosspost.checking.project import validate

from .conftest import CASES, NOW

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "mistakes.md"
INTRO = """\
# Common mistakes and what crosspost says

The mistakes people make most often when writing a post file, and what `crosspost validate`
(and the preview) says of each. Every example below is a test case
(`tests/cases/posts/mistake_*.yaml`), and this page is made from what crosspost really prints
for it, so the two cannot drift apart. A *warning* still publishes (crosspost read the file as
it was meant); an *error* holds the post until the file is fixed.

Other things that trip people up, and where crosspost now helps:
- `crosspost status` says who paused publishing, why, since when and how to resume; for a
  post held for approval, the exact `crosspost approve` command; and before any daemon has
  run, that the ledger is empty and what the queue holds.
- `crosspost doctor` lists every credential a channel is missing, with
  `docs/credentials.md`, before it asks the platforms anything.
- A control (`pause`, `resume`, `release`, `resolve`, `retract`) is always recorded with a
  name: `--by`, or `$USER`; with neither, crosspost asks (on a terminal) or refuses.
"""


def case_section(case: Path, project: Path) -> str:
    lines = case.read_text(encoding="utf-8").splitlines()
    title = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("# mistake:"))
    offset = sum(1 for line in lines if line.startswith(("# mistake:", "# expect:")))
    body = [line for line in lines if not line.startswith(("# mistake:", "# expect:"))]
    for old in (project / "queue").glob("*.yaml"):
        old.unlink()
    shutil.copy(case, project / "queue" / case.name)
    result = validate(project / "crosspost.yaml", now=NOW, environ={})
    said = [
        f"{p.mark.line - offset}:{p.mark.column}: {p.severity}: " + _shifted(p.message, offset)
        for p in result.problems.items
        if p.mark.path.name == case.name and not p.message.startswith("not approved")
    ]
    return "\n".join(
        [f"## {title}", "", "```yaml", *body, "```", "", "crosspost says:", "", "```", *said, "```"]
    )


def _shifted(message: str, offset: int) -> str:
    """A message's own line numbers (the caret display's, "line N") as the page shows the
    file: without the case's header lines."""
    message = re.sub(
        r"(?m)^( +)(\d+) \|", lambda m: f"{m[1]}{int(m[2]) - offset:>{len(m[2])}} |", message
    )
    return re.sub(r"(?<=line, )(\d+)|(?<=line )(\d+)", lambda m: str(int(m[0]) - offset), message)


def render(project: Path) -> str:
    cases = sorted((CASES / "posts").glob("mistake_*.yaml"))
    assert len(cases) >= 10
    return INTRO + "\n" + "\n\n".join(case_section(c, project) for c in cases) + "\n"


def test_the_mistakes_page_is_what_crosspost_says(project: Path) -> None:
    page = render(project)
    if os.environ.get("CROSSPOST_WRITE_DOCS") == "1":
        PAGE.write_text(page, encoding="utf-8")
    assert PAGE.read_text(encoding="utf-8") == page, (
        "docs/mistakes.md differs from what crosspost says: "
        "CROSSPOST_WRITE_DOCS=1 pytest tests/test_mistakes_doc.py writes it anew"
    )
