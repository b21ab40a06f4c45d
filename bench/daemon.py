"""The daemon's figures, measured on a real `crosspost run` process with fake channels.

1. Lateness: 1,000 deliveries (500 posts × 2 channels) due within the same minute; from each
   delivery's due time to the adapter's call (the fake stamps it), p50 and p99.
2. Peak RSS with 10,000 pending deliveries (5,000 posts × 2 channels due next year).
3. CPU used while idle for 60 s (the same process, nothing due).
4. Reload: from saving a post file to the re-planned timer in the ledger.

Targets (issue 4): p99 lateness <= 1 s, RSS <= 150 MB, idle CPU <= 1 %, reload <= 2 s.

    python bench/daemon.py [--due 1000] [--pending 10000] [--idle 60]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crosspost.scheduling.ledger import Ledger  # noqa: E402

EXE = shutil.which("crosspost") or str(Path(sys.executable).with_name("crosspost"))
CONFIG = """\
timezone: Europe/London
state: var/ledger.db
channels:
  x: {platform: fake, imitates: x, outbox: var/x.jsonl}
  fb: {platform: fake, imitates: facebook, outbox: var/fb.jsonl}
"""


def site(root: Path, posts: int, first: datetime, spread: timedelta) -> None:
    (root / "queue").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "crosspost.yaml").write_text(CONFIG)
    for name in ("x", "fb"):
        (root / "templates" / f"{name}.j2").write_text("{{ title }}")
    for i in range(posts):
        when = first + spread * (i / max(posts, 1))
        (root / "queue" / f"p{i:05d}.yaml").write_text(
            f"publish_at: '{when.isoformat(timespec='milliseconds')}'\ntitle: Post {i}\n"
        )


def start(root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [EXE, "run", "--config", str(root / "crosspost.yaml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def count(root: Path, state: str) -> int:
    path = root / "var" / "ledger.db"
    if not path.exists():
        return 0
    with Ledger(path) as ledger:
        return len(ledger.deliveries([state]))


def wait(predicate, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def lateness(tmp: Path, due: int) -> None:
    root = tmp / "lateness"
    posts = due // 2
    first = datetime.now(UTC) + timedelta(seconds=20)  # time to start and plan
    site(root, posts, first, timedelta(seconds=59))
    proc = start(root)
    try:
        if not wait(lambda: count(root, "published") == posts * 2, 140):
            print(f"lateness: only {count(root, 'published')} of {posts * 2} published")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    with Ledger(root / "var" / "ledger.db") as ledger:
        due_at = {(d.post_id, d.channel): d.due_at for d in ledger.deliveries()}
    late = []
    for name in ("x", "fb"):
        for line in (root / "var" / f"{name}.jsonl").read_text().splitlines():
            record = json.loads(line)
            called = datetime.fromisoformat(record["published_at"])
            late.append((called - due_at[(record["post_id"], record["channel"])]).total_seconds())
    late.sort()
    p50 = statistics.median(late)
    p99 = late[int(len(late) * 0.99) - 1]
    print(f"lateness:   {len(late)} deliveries due within one minute; due -> adapter call")
    worst = late[-1] * 1000
    print(f"            p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {worst:.0f} ms"
          "  (target p99 <= 1 s)")  # fmt: skip


def pending_idle_reload(tmp: Path, pending: int, idle: float) -> None:
    root = tmp / "pending"
    posts = pending // 2
    site(root, posts, datetime.now(UTC) + timedelta(days=365), timedelta(days=30))
    proc = start(root)
    try:
        if not wait(lambda: count(root, "pending") == posts * 2, 300):
            print("pending: the plan did not complete")
            return
        time.sleep(5)  # let start-up work finish
        print(f"memory:     peak RSS {peak_rss_mb(proc.pid):.0f} MB with {posts * 2:,} pending "
              "deliveries  (target <= 150 MB)")  # fmt: skip
        before = cpu_seconds(proc.pid)
        time.sleep(idle)
        used = cpu_seconds(proc.pid) - before
        print(f"idle CPU:   {used:.2f} s in {idle:.0f} s = {100 * used / idle:.2f} %  "
              "(target <= 1 %)")  # fmt: skip
        times = []
        for attempt in range(3):
            target = datetime(2030, 1, 1, 9, attempt, tzinfo=UTC)
            post = root / "queue" / "p00000.yaml"
            started = time.monotonic()
            post.write_text(f"publish_at: '{target.isoformat()}'\ntitle: Post 0\n")

            def replanned(target: datetime = target) -> bool:
                with Ledger(root / "var" / "ledger.db") as ledger:
                    found = ledger.get("p00000", "x")
                    return found is not None and found.due_at == target

            ok = wait(replanned, 30)
            times.append(time.monotonic() - started if ok else float("inf"))
        print(f"reload:     save -> re-planned timer {', '.join(f'{t:.2f} s' for t in times)}"
              f" with {posts * 2:,} deliveries  (target <= 2 s)")  # fmt: skip
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--idle", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lateness(Path(tmp), args.due)
        pending_idle_reload(Path(tmp), args.pending, args.idle)


if __name__ == "__main__":
    main()
