"""The daemon as a real process: killed with SIGKILL, run twice on one ledger, edited while
running, stopped with SIGTERM. Short versions run by default; `-m slow` runs the long ones."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crosspost.scheduling.ledger import Ledger

EXE = str(Path(sys.executable).with_name("crosspost"))
CONFIG = """\
timezone: Europe/London
state: var/ledger.db
daemon:
  sweep_interval: 1s
  settle_after: 0s
  lease: 1m
channels:
  x:
    platform: fake
    imitates: x
    outbox: var/x.jsonl
    latency: {latency}
  fb:
    platform: fake
    imitates: facebook
    outbox: var/fb.jsonl
    latency: {latency}
"""


def make_site(root: Path, posts: int, spread: float, start_in: float, latency: float) -> Path:
    (root / "queue").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "crosspost.yaml").write_text(CONFIG.format(latency=latency))
    for name in ("x", "fb"):
        (root / "templates" / f"{name}.j2").write_text("{{ title }}")
    first = datetime.now(UTC) + timedelta(seconds=start_in)
    for i in range(posts):
        when = first + timedelta(seconds=spread * i / max(posts, 1))
        (root / "queue" / f"p{i:04d}.yaml").write_text(
            f"publish_at: '{when.isoformat(timespec='milliseconds')}'\ntitle: Post number {i}\n"
        )
    return root


class Daemon:
    """A `crosspost run` process whose log lines are collected as they come."""

    def __init__(self, root: Path, env: dict[str, str] | None = None):
        self.root = root
        self.env = {**os.environ, **(env or {})}
        self.lines: list[str] = []  # every run's, when it is started again (`spawn`)
        self.spawn()

    def spawn(self) -> None:
        self.proc = subprocess.Popen(
            [EXE, "run", "--config", str(self.root / "crosspost.yaml"), "--log-format", "json"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env=self.env,
        )
        self.pid = self.proc.pid
        self.reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self.reader.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.lines.append(line)

    @property
    def running(self) -> bool:
        return any('"message": "running' in line for line in self.lines)

    def kill(self) -> None:
        os.killpg(self.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> tuple[int, str]:
        wait_for(lambda: self.running or self.proc.poll() is not None, 30)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=5)
        return self.proc.returncode, "".join(self.lines)


def start(root: Path) -> Daemon:
    return Daemon(root)


def published(root: Path) -> int:
    path = root / "var" / "ledger.db"
    if not path.exists():
        return 0
    with Ledger(path) as ledger:
        return len(ledger.deliveries(["published"]))


def wait_for(predicate, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def sent(root: Path) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for name in ("x", "fb"):
        path = root / "var" / f"{name}.jsonl"
        if path.exists():
            for line in path.read_text().splitlines():
                record = json.loads(line)
                if "id" in record:
                    counts[(record["post_id"], record["channel"])] += 1
    return counts


def stop(daemon: Daemon) -> tuple[int, str]:
    return daemon.stop()


def crash_run(root: Path, posts: int, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    make_site(root, posts, spread=3.0, start_in=1.0, latency=0.01)
    total = posts * 2
    for _ in range(kills):
        proc = start(root)
        time.sleep(rng.uniform(0.3, 1.5))
        proc.kill()
    proc = start(root)
    try:
        if not wait_for(lambda: published(root) == total, 60 + posts * 0.2):
            with Ledger(root / "var" / "ledger.db") as ledger:
                stuck = [d for d in ledger.deliveries() if d.state != "published"]
            pytest.fail(f"{total - len(stuck)}/{total} published; stuck: {stuck[:3]}")
    finally:
        code, err = stop(proc)
    assert code == 0, err[-2000:]
    counts = sent(root)
    assert len(counts) == total, "a delivery is missing"
    assert set(counts.values()) == {1}, [k for k, v in counts.items() if v > 1]


def test_crash_sigkill_ten_times_every_delivery_exactly_once(tmp_path: Path) -> None:
    crash_run(tmp_path, posts=100, kills=10, seed=1)


@pytest.mark.slow
def test_crash_long(tmp_path: Path) -> None:
    crash_run(tmp_path, posts=500, kills=40, seed=2)


def test_two_daemons_on_one_ledger_publish_each_once(tmp_path: Path) -> None:
    make_site(tmp_path, posts=100, spread=2.0, start_in=3.0, latency=0.005)
    procs = [start(tmp_path), start(tmp_path)]
    try:
        assert wait_for(lambda: published(tmp_path) == 200, 60)
    finally:
        results = [stop(p) for p in procs]
    assert [code for code, _ in results] == [0, 0], [err[-3000:] for _, err in results]
    counts = sent(tmp_path)
    assert len(counts) == 200 and set(counts.values()) == {1}
    with Ledger(tmp_path / "var" / "ledger.db") as ledger:
        owners = {e.actor for e in ledger.events() if e.kind == "published"}
    assert len(owners) == 2  # both really worked


def test_edits_while_running_take_effect_within_two_seconds(tmp_path: Path) -> None:
    make_site(tmp_path, posts=3, spread=0, start_in=10.0, latency=0)
    proc = start(tmp_path)
    try:
        assert wait_for(lambda: proc.running, 15)
        later = (datetime.now(UTC) + timedelta(hours=2)).isoformat(timespec="seconds")
        (tmp_path / "queue" / "p0000.yaml").write_text(f"publish_at: '{later}'\ntitle: Moved\n")
        tmp = tmp_path / "queue" / ".p0001.yaml.swp"  # editors save by rename
        tmp.write_text((tmp_path / "queue" / "p0001.yaml").read_text().replace("Post", "Edit"))
        tmp.rename(tmp_path / "queue" / "p0001.yaml")
        (tmp_path / "queue" / "p0002.yaml").unlink()
        edited = time.monotonic()
        assert wait_for(lambda: _state(tmp_path, "p0002") == "cancelled", 2.0)
        assert wait_for(lambda: _due(tmp_path, "p0000", "x") is not None
                        and _due(tmp_path, "p0000", "x") > datetime.now(UTC), 2.0)  # fmt: skip
        assert time.monotonic() - edited <= 2.5
        assert wait_for(lambda: published(tmp_path) == 2, 15)  # p0001 on both channels
    finally:
        code, err = stop(proc)
    assert code == 0, err[-2000:]
    texts = {json.loads(line)["text"] for line in (tmp_path / "var" / "x.jsonl").read_text()
             .splitlines()}  # fmt: skip
    assert texts == {"Edit number 1"}  # the deleted post never went out, the moved one waits


def test_sigterm_exits_zero_and_sighup_reloads(tmp_path: Path) -> None:
    make_site(tmp_path, posts=1, spread=0, start_in=3600, latency=0)
    proc = start(tmp_path)
    try:
        assert wait_for(lambda: proc.running, 15)
        (tmp_path / "queue" / "p0000.yaml").unlink()
        proc.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: _state(tmp_path, "p0000") == "cancelled", 5)
    finally:
        code, err = stop(proc)
    assert code == 0
    assert '"message": "stopped"' in err


def _state(root: Path, post_id: str, channel: str = "x") -> str | None:
    path = root / "var" / "ledger.db"
    if not path.exists():
        return None
    with Ledger(path) as ledger:
        found = ledger.get(post_id, channel)
        return found.state if found else None


def _due(root: Path, post_id: str, channel: str) -> datetime | None:
    with Ledger(root / "var" / "ledger.db") as ledger:
        found = ledger.get(post_id, channel)
        return found.due_at if found else None
