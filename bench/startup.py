"""How long do `crosspost --help` and `--version` take next to importing yaml and jinja2?

Runs each command R times (default 15) in fresh processes and prints the medians and the
ratios to `python -c "import yaml, jinja2"`. Target (issue 2): ratio <= 1.5. The commands must
not import tweepy, facebook-sdk, apscheduler or Pillow (tests/test_cli.py checks that).

    python bench/startup.py [--repeat R]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def median_seconds(command: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    script = shutil.which("crosspost") or str(Path(sys.executable).with_name("crosspost"))
    baseline = median_seconds([sys.executable, "-c", "import yaml, jinja2"], args.repeat)
    print(f"python -c 'import yaml, jinja2':  {baseline * 1000:6.1f} ms")
    for flag in ("--help", "--version"):
        seconds = median_seconds([script, flag], args.repeat)
        print(
            f"crosspost {flag:<9}               {seconds * 1000:6.1f} ms   "
            f"ratio {seconds / baseline:.2f} (target <= 1.5)"
        )


if __name__ == "__main__":
    main()
