"""How fast is `validate` next to the least any validator must do?

Generates N posts (default 10,000) over the three example channels, then times, in-process:
- validate: crosspost's own validate (load, check, render, platform rules, quotas);
- floor: for the same files, yaml.load with CSafeLoader plus rendering each channel's
  template once per post.
Both run once untimed first on a small queue, so module imports and template compilation are
not counted. Prints both times, their ratio and the process's peak memory.
Targets (issue 2): ratio <= 2.0; 10,000 posts in under 5 s on a 2-core machine.

    python bench/validate.py [--posts N] [--repeat R]
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jinja2
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crosspost.checking.project import validate  # noqa: E402
from crosspost.rendering.render import Renderer  # noqa: E402

IMAGES = sorted(p.name for p in (REPO / "queue" / "media").glob("*.jpg"))
TOWNS = ["Maidstone", "Canterbury", "Gravesham", "Ashford", "Ramsgate", "Gillingham", "Dover"]


def post(i: int, rng: random.Random, start: datetime) -> str:
    town = rng.choice(TOWNS)
    when = start + timedelta(days=i // 3, hours=9 + (i % 3) * 3)
    lines = [
        f"publish_at: {when:%Y-%m-%d %H:%M}",
        f"title: 'Safer Streets update {i} for {town}: more CCTV, better lighting, Safe Spaces.'",
        "body: |",
        f"  Update {i}: we are investing in {town} town centre with more CCTV, better street",
        "  lighting and Safe Spaces where you can go if you feel vulnerable or threatened.",
        "",
        "  The work involves the police, local councils and charitable groups. £1.4 million",
        "  has been secured from the Home Office for this round.",
        "link: https://www.pcc-kent.gov.uk",
        f"hashtags: [safer streets, {town}]",
        "media:",
        f"  - path: media/{IMAGES[i % len(IMAGES)]}",
        f"    alt: A card about Safer Streets work in {town}, in large white letters.",
    ]
    if i % 10 == 0:
        lines += ["thread:", f"  - 'More about {town}: bystander training and outreach workers.'"]
    if i % 10 == 5:
        lines += ["overrides:", "  PCCKent:", f"    title: Short X version for {town}, number {i}."]
    return "\n".join(lines) + "\n"


def make_project(root: Path, count: int) -> Path:
    shutil.copytree(REPO / "templates", root / "templates")
    shutil.copytree(REPO / "queue" / "media", root / "queue" / "media")
    config = (REPO / "config.example.yaml").read_text(encoding="utf-8")
    # quotas would warn on a queue this dense; they are measured all the same
    (root / "crosspost.yaml").write_text(config, encoding="utf-8")
    rng = random.Random(7)
    start = datetime(2027, 1, 4, tzinfo=UTC)
    for i in range(count):
        (root / "queue" / f"post-{i:05d}.yaml").write_text(post(i, rng, start), encoding="utf-8")
    return root / "crosspost.yaml"


def floor(config_path: Path) -> float:
    """yaml.load(CSafeLoader) every post file, render each channel's template once."""
    from crosspost.loading.config import load_config

    config = load_config(config_path)
    renderer = Renderer(config)
    templates = [renderer.template(c.template, config.mark) for c in config.channels.values()]
    started = time.perf_counter()
    for path in sorted(config.queue_dir.glob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        context = {
            "title": data.get("title"),
            "body": data.get("body"),
            "link": data.get("link"),
            "hashtags": data.get("hashtags", []),
            "vars": {},
        }
        for template in templates:
            template.render(context)
    return time.perf_counter() - started


def timed_validate(config_path: Path) -> tuple[float, int, int]:
    started = time.perf_counter()
    project = validate(config_path, now=datetime(2026, 11, 25, tzinfo=UTC), environ={})
    elapsed = time.perf_counter() - started
    return elapsed, len(project.rendered), len(project.problems.errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5, help="best of R runs of each")
    args = parser.parse_args()
    jinja2.__version__  # noqa: B018 - imported before timing, like everything else

    with tempfile.TemporaryDirectory() as tmp:
        warm = make_project(Path(tmp) / "warm", 20)
        timed_validate(warm)
        floor(warm)
        config = make_project(Path(tmp) / "bench", args.posts)
        ours = []
        base = []
        for _ in range(args.repeat):
            base.append(floor(config))
            elapsed, deliveries, errors = timed_validate(config)
            ours.append(elapsed)
        if errors:
            sys.exit(f"the generated queue has {errors} errors: the benchmark is broken")
    best, best_floor = min(ours), min(base)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"posts:            {args.posts:,} ({deliveries:,} deliveries over 3 channels)")
    print(f"validate:         {best:.2f} s  (best of {args.repeat}; target < 5 s)")
    print(f"floor:            {best_floor:.2f} s  (CSafeLoader + each template once)")
    print(f"ratio:            {best / best_floor:.2f}  (target <= 2.0)")
    print(f"peak memory:      {peak_mb:.0f} MB (process RSS)")


if __name__ == "__main__":
    main()
