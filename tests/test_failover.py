"""Several servers on one PostgreSQL ledger, as real processes: daemons with different host
ids, SIGKILLed and SIGSTOPped past their lease, publish every delivery exactly once (the fake
channels' outboxes stand for the platforms); a late writer is refused by its fencing token;
a server whose checkout is behind never publishes what was deleted elsewhere."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from crosspost.core.states import State
from crosspost.scheduling.stores import open_ledger

from .test_daemon_process import EXE, Daemon, make_site, sent, wait_for

pytestmark = pytest.mark.postgresql


class Host(Daemon):
    """`crosspost run` as the daemon of one server (its own CROSSPOST_HOST_ID)."""

    def __init__(self, root: Path, host: str):
        self.host = host
        super().__init__(root, env={"CROSSPOST_HOST_ID": host})

    def signal(self, sig: int) -> None:
        os.killpg(self.pid, sig)

    def kill_and_restart(self) -> None:
        self.kill()
        self.spawn()  # the same host id: its dead pid's claims are taken over at once

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.signal(signal.SIGCONT)  # never leave one stopped
        return super().stop()


@pytest.fixture
def shared(pg_server: Any, tmp_path: Path) -> Any:
    spec = pg_server.spec(tmp_path)
    yield spec
    pg_server.drop(spec)


def on_postgresql(root: Path, server: Any, spec: Any, lease: str = "6s") -> None:
    """The daemon section and ledger of a make_site project, for several servers."""
    config = root / "crosspost.yaml"
    text = config.read_text().replace("state: var/ledger.db\n", server.config_state(spec))
    config.write_text(text.replace("lease: 1m", f"lease: {lease}"))


def ledger_state(spec: Any) -> Counter[str]:
    with open_ledger(spec) as ledger:
        return Counter(str(d.state) for d in ledger.deliveries())


def failover_run(root: Path, server: Any, spec: Any, posts: int, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    make_site(root, posts, spread=6.0, start_in=4.0, latency=0.05)
    on_postgresql(root, server, spec)
    total = posts * 2
    hosts = [Host(root, "host-a"), Host(root, "host-b")]
    try:
        time.sleep(4.5)  # the first deliveries fall due
        for _ in range(rounds):
            killed, stopped = rng.sample(hosts, 2)
            time.sleep(rng.uniform(0.2, 1.0))
            killed.kill_and_restart()  # same host id: its dead pid's claims go at once
            stopped.signal(signal.SIGSTOP)  # another host's view: only its lease ends it
            time.sleep(6 + 3)
            stopped.signal(signal.SIGCONT)
        done = wait_for(lambda: ledger_state(spec)[State.PUBLISHED] == total, 120)
        assert done, f"published {ledger_state(spec)} of {total}"
    finally:
        results = [h.stop() for h in hosts]
    assert [code for code, _ in results] == [0, 0], [err[-3000:] for _, err in results]
    counts = sent(root)
    assert len(counts) == total, "a delivery is missing"
    assert set(counts.values()) == {1}, [k for k, v in counts.items() if v > 1]
    with open_ledger(spec) as ledger:
        actors = {e.actor.split(":")[0] for e in ledger.events() if e.kind == "published"}
        assert actors == {"host-a", "host-b"}  # both really worked
        assert {d.state for d in ledger.deliveries()} == {State.PUBLISHED}


def test_two_hosts_sigkill_and_sigstop_every_delivery_exactly_once(
    tmp_path: Path, pg_server: Any, shared: Any
) -> None:
    failover_run(tmp_path, pg_server, shared, posts=150, rounds=2, seed=3)


@pytest.mark.slow
def test_two_hosts_failover_long(tmp_path: Path, pg_server: Any, shared: Any) -> None:
    failover_run(tmp_path, pg_server, shared, posts=300, rounds=6, seed=4)


def events(spec: Any, kind: str) -> list[Any]:
    with open_ledger(spec) as ledger:
        return [e for e in ledger.events() if e.kind == kind]


def test_paused_owner_late_writes_are_refused_by_the_fence(
    tmp_path: Path, pg_server: Any, shared: Any
) -> None:
    """A claims the post and is frozen inside its (slow) send; B takes the claim over once
    A's lease ran out, finds nothing on the account, and publishes. A is continued: it must
    neither post (its send deadline passed) nor record anything (its fence is outdated)."""
    make_site(tmp_path, 1, spread=0, start_in=3.0, latency=4)
    on_postgresql(tmp_path, pg_server, shared)
    config = tmp_path / "crosspost.yaml"
    config.write_text(config.read_text().split("  fb:\n")[0])  # one channel: x
    a = Host(tmp_path, "host-a")
    b: Host | None = None
    try:
        assert wait_for(lambda: events(shared, "claimed"), 20)
        a.signal(signal.SIGSTOP)
        b = Host(tmp_path, "host-b")
        assert wait_for(lambda: ledger_state(shared)[State.PUBLISHED] == 1, 40)
        a.signal(signal.SIGCONT)
        assert wait_for(lambda: events(shared, "fenced"), 20), a.lines[-20:]
        time.sleep(1.0)
    finally:
        results = [h.stop() for h in (a, b) if h is not None]
    assert [code for code, _ in results] == [0] * len(results)
    assert sum(sent(tmp_path).values()) == 1  # A never posted
    with open_ledger(shared) as ledger:
        delivery = ledger.get("p0000", "x")
        assert delivery is not None and delivery.state == State.PUBLISHED
        assert delivery.fence == 2 and delivery.owner is None
        published = [e for e in ledger.events() if e.kind == "published"]
        fenced = [e for e in ledger.events() if e.kind == "fenced"]
    assert [e.actor.split(":")[0] for e in published] == ["host-b"]
    assert fenced and all(e.actor.startswith("host-a:") for e in fenced)
    assert "now published, fence 2" in fenced[0].detail
    assert any("claim ran out" in line for line in a.lines)  # LeaseLost, before posting


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}  # fmt: skip
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def two_checkouts(origin: Path, message: str) -> tuple[Path, Path]:
    """The project at `origin` committed to git, and cloned for host A and host B."""
    (origin / ".gitignore").write_text("var/\n")
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", message)
    a_root, b_root = origin.parent / "a", origin.parent / "b"
    for root in (a_root, b_root):
        git(origin.parent, "clone", "-q", str(origin), str(root))
    return a_root, b_root


def test_stale_checkout_deleted_post_is_not_published_by_the_other_host(
    tmp_path: Path, pg_server: Any, shared: Any
) -> None:
    """Host A's checkout deletes p0001 and moves on; host B's checkout has not pulled yet
    and still holds it. B must publish nothing of its stale copy."""
    origin = tmp_path / "origin"
    make_site(origin, 3, spread=0, start_in=12.0, latency=0)
    on_postgresql(origin, pg_server, shared)
    a_root, b_root = two_checkouts(origin, "three posts")
    for root in (a_root, b_root):  # one platform for both servers: the same outbox
        config = root / "crosspost.yaml"
        config.write_text(config.read_text().replace("var/", f"{tmp_path}/platform/"))
    b = Host(b_root, "host-b")  # starts first: its revision is the plan for now
    a: Host | None = None
    try:
        assert wait_for(lambda: any('"message": "running' in line for line in b.lines), 20)
        (a_root / "queue" / "p0001.yaml").unlink()
        git(a_root, "commit", "-qam", "withdraw p0001")
        a = Host(a_root, "host-a")
        assert wait_for(lambda: any("behind the plan of host-a" in x for x in b.lines), 20)
        outbox = tmp_path / "platform"
        assert wait_for(lambda: _records(outbox) >= 4, 40)  # p0000, p0002 on x and fb
        time.sleep(3)  # B had every chance to publish its stale copy
        code, out = _status(a_root)  # while both run: B is behind, and says so
        assert code == 0 and "host-b" in out and "behind the plan of host-a" in out, out
        # nor may a person publish B's stale copy by hand
        done = subprocess.run(
            [EXE, "publish", "p0001", "--config", str(b_root / "crosspost.yaml")],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode != 0 and "behind the plan of host-a" in done.stdout + done.stderr
    finally:
        results = [h.stop() for h in (a, b) if h is not None]
    assert [code for code, _ in results] == [0] * len(results)
    posted = Counter(r["post_id"] for r in _read(tmp_path / "platform"))
    assert posted == {"p0000": 2, "p0002": 2}
    with open_ledger(shared) as ledger:
        p1 = [d for d in ledger.deliveries() if d.post_id == "p0001"]
        assert {d.state for d in p1} <= {State.CANCELLED, State.PENDING}
        assert ledger.newest_plan() == (git(a_root, "rev-parse", "HEAD"), "host-a")
        assert ledger.daemons() == []  # both stopped cleanly, and left the list


def _read(folder: Path) -> list[dict[str, Any]]:
    out = []
    for name in ("x.jsonl", "fb.jsonl"):
        path = folder / name
        if path.exists():
            out += [json.loads(line) for line in path.read_text().splitlines() if '"id"' in line]
    return out


def _records(folder: Path) -> int:
    return len(_read(folder))


def _status(root: Path) -> tuple[int, str]:
    done = subprocess.run(
        [EXE, "status", "--config", str(root / "crosspost.yaml")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def test_a_plan_recorded_while_another_server_plans_wins(
    tmp_path: Path, pg_server: Any, shared: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host A checked that its checkout (R1) was the newest plan; before it wrote anything,
    host B recorded R2 (a correction to p0000, a new p0002). A's planning must write nothing
    of R1: no correction undone, no new post cancelled."""
    from datetime import UTC, datetime, timedelta

    import crosspost.scheduling.daemon as daemon_module

    origin = tmp_path / "origin"
    make_site(origin, 2, spread=0, start_in=3600.0, latency=0)
    on_postgresql(origin, pg_server, shared)
    config = origin / "crosspost.yaml"
    config.write_text(config.read_text().replace("var/", f"{tmp_path}/platform/"))
    a_root, b_root = two_checkouts(origin, "R1")
    first = b_root / "queue" / "p0000.yaml"
    first.write_text(first.read_text().replace("Post number 0", "CORRECTED post 0"))
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="milliseconds")
    (b_root / "queue" / "p0002.yaml").write_text(f"publish_at: '{soon}'\ntitle: New post 2\n")
    git(b_root, "add", "-A")
    git(b_root, "commit", "-qm", "R2")
    monkeypatch.setenv("CROSSPOST_HOST_ID", "host-a")
    a = daemon_module.Daemon(a_root / "crosspost.yaml", echo=lambda s: None)
    monkeypatch.setenv("CROSSPOST_HOST_ID", "host-b")
    b = daemon_module.Daemon(b_root / "crosspost.yaml", echo=lambda s: None)
    real = daemon_module.reconcile

    def b_plans_first(ledger: Any, plan: Any, actor: str = "", plan_rev: Any = None) -> Any:
        if actor.startswith("host-a:"):
            b.load("start")  # between A's check of the plan and A's first write
        return real(ledger, plan, actor=actor, plan_rev=plan_rev)

    monkeypatch.setattr(daemon_module, "reconcile", b_plans_first)
    try:
        a.load("start")
        assert a.reload_requested.is_set()  # A found out, and loads again
        monkeypatch.setattr(daemon_module, "reconcile", real)
        a.load("again")
        assert a.behind is not None and "behind the plan of host-b" in a.behind
        with open_ledger(shared) as ledger:
            x = {d.post_id: d for d in ledger.deliveries() if d.channel == "x"}
        assert x["p0000"].text == "CORRECTED post 0" and x["p0002"].state == State.PENDING
        assert not [e for e in events(shared, "replanned") if e.actor.startswith("host-a")]
    finally:
        a.close()
        b.close()


def cli(root: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [EXE, *args, "--config", str(root / "crosspost.yaml")],
        capture_output=True, text=True, timeout=60, env={**os.environ, "USER": "sam"},
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def test_a_release_reaches_a_daemon_on_postgresql_within_seconds(
    tmp_path: Path, pg_server: Any, shared: Any
) -> None:
    """The sweep runs once a minute here: only the wake control gets the release out."""
    make_site(tmp_path, 1, spread=0, start_in=5.0, latency=0)
    on_postgresql(tmp_path, pg_server, shared)
    config = tmp_path / "crosspost.yaml"
    config.write_text(config.read_text().replace("sweep_interval: 1s", "sweep_interval: 60s"))
    assert cli(tmp_path, "ledger", "migrate")[0] == 0
    assert cli(tmp_path, "pause", "--reason", "incident")[0] == 0
    host = Host(tmp_path, "host-a")
    try:
        assert wait_for(lambda: ledger_state(shared)[State.HELD] == 2, 30)
        assert cli(tmp_path, "resume")[0] == 0
        code, out = cli(tmp_path, "release", "p0000", "--channel", "x")
        assert code == 0, out
        asked = time.monotonic()
        assert wait_for(lambda: ledger_state(shared)[State.PUBLISHED] == 1, 15)
        took = time.monotonic() - asked
        assert took <= 3.0, f"the release took {took:.1f} s to reach the daemon"
    finally:
        assert host.stop()[0] == 0
