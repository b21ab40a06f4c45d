"""The daemon: APScheduler is the alarm clock, the ledger is the truth.

One date job per pending delivery wakes the daemon at the delivery's time; a sweeper every
`sweep_interval` catches anything a timer missed (suspend, clock jump) and settles sends whose
outcome is unknown. Every send goes through the ledger's claim, so several daemons on one
ledger — or a daemon restarted after a crash — still publish each delivery once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from crosspost.adapters.base import Adapter, Sent, Settlement
from crosspost.checking.project import LoadCache
from crosspost.core.errors import PublishError
from crosspost.core.problems import ConfigError
from crosspost.core.states import Act, Hold, Met, State, Status
from crosspost.core.times import format_local
from crosspost.loading.config import Config
from crosspost.loading.state import StateSpec
from crosspost.scheduling.alerts import Alerter, AlertSettings, alert_kind
from crosspost.scheduling.controls import (
    PAUSE,
    Approval,
    approval_problem,
    load_approvals,
    post_approval_hash,
)
from crosspost.scheduling.gate import HOLD_PREFIX, TWIN_WINDOW, Controls, Verdict, decide, remedy
from crosspost.scheduling.ledger import WAKE, Delivery, Ledger, PlanMoved
from crosspost.scheduling.planner import Plan, make_plan, reconcile
from crosspost.scheduling.publishing import Outcome, dry_run_channel, host_id, owner_name, send
from crosspost.scheduling.revision import is_ancestor, queue_revision
from crosspost.scheduling.stores import open_ledger, read_controls

log = logging.getLogger("crosspost.scheduling.daemon")


REHEARSAL_LEAD = timedelta(seconds=15)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def owner_alive(owner: str | None, host: str | None = None) -> bool:
    """False only when the owner is a process on this host that no longer exists."""
    if not owner:
        return False
    owner_host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if owner_host != (host or host_id()) or not pid_text.isdigit():
        return True  # another machine: trust its lease
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def on_this_host(owner: str | None, host: str | None = None) -> bool:
    return bool(owner) and str(owner).partition(":")[0] == (host or host_id())


class Daemon:
    """Publishes the queue on time. `run()` until stopped, or `run_once()` for cron."""

    def __init__(
        self,
        config_path: Path | str,
        *,
        dry_run: bool = False,
        clock: Callable[[], datetime] = _utcnow,
        environ: Mapping[str, str] | None = None,
        echo: Callable[[str], None] = print,
        sleep: Callable[[float], None] | None = None,
    ):
        self.config_path = Path(config_path)
        self.dry_run = dry_run
        self._clock = clock
        self.offset = timedelta(0)  # a rehearsal's clock runs this far from the real one
        self.environ = environ
        self.echo = echo
        self.sleep = sleep
        self.role = "daemon-dry-run" if dry_run else "daemon"
        self.host = host_id()
        self.owner = owner_name(self.role, self.host)
        self.plan_rev: str | None = None  # the queue's git commit, with several servers
        self.behind: str | None = None  # why this server's checkout may not publish
        self._last_beat = 0.0
        self.plan: Plan | None = None
        self.adapters: dict[str, Adapter] = {}
        self._lock = threading.RLock()
        self._local = threading.local()
        self._ledgers: list[Ledger] = []
        self.stopping = threading.Event()
        self.reload_requested = threading.Event()
        self.watching = threading.Event()
        self.scheduler: Any = None
        self._scratch = tempfile.TemporaryDirectory(prefix="crosspost-dry-") if dry_run else None
        self.failures = 0
        self.cache = LoadCache()  # reloads re-read and re-render only what changed
        self.approvals: dict[str, Approval] = {}
        self.alerter = Alerter(AlertSettings())

    # --- plumbing --------------------------------------------------------------------------

    def clock(self) -> datetime:
        """Now, as the daemon plans and publishes by it (a rehearsal's is set earlier)."""
        return self._clock() + self.offset

    def rehearse(self, lead: timedelta = REHEARSAL_LEAD) -> datetime | None:
        """A dry run's rehearsal: set the clock to `lead` before the first delivery in the
        queue, to run at normal speed from there; the time it is set to (None: nothing is
        queued). Timers are set by the real clock, less the offset."""
        assert self.dry_run, "only a dry run rehearses"
        assert self.plan is not None
        times = [r.publish_at for r in self.plan.deliveries.values() if r.publish_at]
        if not times:
            return None
        start = min(times) - lead
        self.offset = start - self._clock()
        self.load("rehearsal")
        return start

    @property
    def config(self) -> Config:
        assert self.plan is not None, "load() first"
        return self.plan.project.config

    @property
    def state_path(self) -> Path:
        if self._scratch is not None:
            return Path(self._scratch.name) / "dry-run.db"  # never the real ledger
        return self.config.state_path

    @property
    def state(self) -> StateSpec:
        if self._scratch is not None:
            return StateSpec.sqlite(self.state_path)  # never the real ledger
        return self.config.ledger_spec

    @property
    def shared(self) -> bool:
        """Several servers may share this ledger (PostgreSQL)."""
        return self.state.is_postgresql

    def ledger(self) -> Ledger:
        """This thread's connection to the ledger (SQLite connections stay in their thread)."""
        ledger = getattr(self._local, "ledger", None)
        if ledger is None or not ledger.same_store(self.state):
            ledger = open_ledger(self.state, clock=self.clock)
            self._local.ledger = ledger
            with self._lock:
                self._ledgers.append(ledger)
        return ledger

    def adapter(self, key: str) -> Adapter | None:
        with self._lock:
            if key not in self.adapters:
                channel = self.config.channels.get(key)
                if channel is None:
                    return None
                kwargs: dict[str, Any] = {"root": self.config.root, "now": self.clock}
                if self.environ is not None:
                    kwargs["environ"] = self.environ
                if self.sleep is not None:
                    kwargs["sleep"] = self.sleep
                self.adapters[key] = channel.adapter(channel, **kwargs)
            return self.adapters[key]

    def _dry_channels(self, config: Config) -> None:
        assert self._scratch is not None
        scratch = Path(self._scratch.name)
        config.channels = {
            key: dry_run_channel(channel, scratch / f"{key}.jsonl")
            for key, channel in config.channels.items()
        }

    # --- loading and planning --------------------------------------------------------------

    def load(self, why: str = "start") -> bool:
        """(Re)load config, queue and templates, reconcile the ledger, reschedule the timers.

        An unusable config keeps the last good plan, and the log says why. A post file with
        errors holds its own deliveries (alerted) until it is fixed; everything else is
        planned from what is on disk now.
        """
        first = self.plan is None
        try:
            plan = make_plan(
                self.config_path, now=self.clock(), environ=self.environ, cache=self.cache
            )
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("config: %s", problem)
            if self.plan is None:
                raise
            log.error("the config has errors (%s): keeping the last good plan", why)
            return False
        _log_problems(plan)
        if self.dry_run:
            self._dry_channels(plan.project.config)
        config = plan.project.config
        with self._lock:
            self.plan = plan
            self.adapters = {}
            # a dry run alerts nobody
            settings = AlertSettings() if self.dry_run else config.alerts
            self.alerter = Alerter(settings, self.environ, timezone=config.timezone)
            self.approvals = load_approvals(plan.project.config.approvals_path)
        if first and config.daemon.host_id:  # named in the config: from the start, for good
            self.host = host_id(config.daemon.host_id)
            self.owner = owner_name(self.role, self.host)
        ledger = self.ledger()
        if self.dry_run and not ledger.controls():  # the real pauses and holds, read only
            real = read_controls(config.ledger_spec, (PAUSE, HOLD_PREFIX))
            for key, value in real.items():
                ledger.set_control(key, value, self.owner, "as in the real ledger")
        if first and self.shared:
            self._check_clock(ledger)
        if self.shared and not self._sync_plan(ledger, config):
            self.schedule_all()
            return True  # behind another server's plan: plans and publishes nothing
        try:
            changes = reconcile(ledger, plan, actor=self.owner, plan_rev=self.plan_rev)
        except PlanMoved as exc:
            log.warning("%s: loading again", exc)
            self.reload_requested.set()
            return True
        for delivery, reason in changes.cancelled:
            log.warning("cancelled %s on %s: %s", delivery.post_id, delivery.channel, reason)
        for delivery in changes.held_broken:
            log.error("held %s on %s: %s", delivery.post_id, delivery.channel, delivery.last_error)
            self._alert(ledger, delivery)
        log.info("loaded (%s): %d deliveries in the plan", why, changes.planned)
        self.release_approved()
        self.schedule_all()
        return True

    # --- several servers: one plan, heartbeats --------------------------------------------

    def _sync_plan(self, ledger: Ledger, config: Config) -> bool:
        """Record this checkout's revision as the plan, unless it is behind the newest one
        another server recorded; False (and `behind` says why) when it is behind."""
        rev = queue_revision(config.queue_dir)
        self.plan_rev, self.behind = rev, None
        if rev is None:
            log.warning(
                "the queue is not a git checkout: with several servers on one ledger, one "
                "whose copy is out of step could publish a post deleted elsewhere (keep the "
                "queue in git; docs/server.md)"
            )
            return True
        for _ in range(5):
            newest = ledger.newest_plan()
            if newest is not None and not is_ancestor(config.queue_dir, newest[0], rev):
                self.behind = (
                    f"this server's queue (at {rev[:12]}) is behind the plan of {newest[1]} "
                    f"(at {newest[0][:12]}): pull the queue on this server"
                )
                log.error("%s; nothing is published from here until then", self.behind)
                return False
            if ledger.register_plan(rev, self.host, newest[0] if newest else None):
                return True
        self.behind = "the plan keeps moving on other servers; trying again at the next sweep"
        return False

    def _check_clock(self, ledger: Ledger) -> None:
        """Several servers judge leases and due times by their own clocks: say so when this
        one is off from the database's (docs/server.md: NTP on every server)."""
        try:
            skew = (ledger.database_clock() - _utcnow()).total_seconds()
        except Exception:
            return
        if abs(skew) > 2:
            log.warning(
                "this server's clock is %.1f s from the database's: leases and due times "
                "will disagree between servers; run NTP (chrony) on every server", abs(skew)
            )  # fmt: skip

    def _plan_moved(self) -> bool:
        """Whether this checkout or the newest plan moved since the last load."""
        config = self.config
        rev = queue_revision(config.queue_dir)
        newest = self.ledger().newest_plan()
        return rev != self.plan_rev or (rev is not None and (newest or (rev,))[0] != rev)

    def beat(self) -> None:
        """This daemon's sign of life in the ledger, for `status` on any server."""
        try:
            self.ledger().beat(self.owner, self.host, self.plan_rev, self.config.daemon.lease)
        except Exception:
            log.warning("could not record the heartbeat", exc_info=True)

    # --- timers ----------------------------------------------------------------------------

    def schedule_all(self) -> None:
        """One date job per pending delivery, at its time (UTC); stale jobs removed."""
        if self.scheduler is None:
            return
        from apscheduler.jobstores.base import JobLookupError

        wanted = {}
        for delivery in self.ledger().deliveries([State.PENDING]):
            if delivery.next_at is not None:
                wanted[f"d:{delivery.post_id}|{delivery.channel}"] = delivery
        scheduled = {}
        for job in self.scheduler.get_jobs():
            if not job.id.startswith("d:"):
                continue
            if job.id not in wanted:
                # the job may fire and be removed by the scheduler meanwhile: that is fine
                with contextlib.suppress(JobLookupError):
                    job.remove()
            else:
                scheduled[job.id] = job.next_run_time
        now = self.clock()
        for job_id, delivery in wanted.items():
            when = max(delivery.next_at or now, now)
            if scheduled.get(job_id) != when:  # only timers that moved are touched
                self._schedule(job_id, delivery)

    def _schedule(self, job_id: str, delivery: Delivery) -> None:
        when = max(delivery.next_at or self.clock(), self.clock())
        self.scheduler.add_job(
            self.deliver_key,
            "date",
            run_date=when - self.offset,  # the scheduler keeps the real time
            args=[delivery.post_id, delivery.channel],
            id=job_id,
            replace_existing=True,
            misfire_grace_time=None,
        )

    # --- publishing ------------------------------------------------------------------------

    def deliver_key(self, post_id: str, channel: str) -> None:
        """A timer fired: publish that delivery if it is still pending and due."""
        delivery = self.ledger().get(post_id, channel)
        if delivery is None or delivery.state != State.PENDING or delivery.next_at is None:
            return
        if delivery.next_at <= self.clock():
            self.deliver(delivery)

    def deliver_due(self) -> None:
        """Publish everything pending whose time has come."""
        for delivery in self.ledger().due(self.clock()):
            if self.stopping.is_set():
                return
            self.deliver(delivery)

    def deliver(self, delivery: Delivery) -> None:
        if self.stopping.is_set():
            return  # a stop was asked for: send nothing new
        ledger = self.ledger()
        now = self.clock()
        key = (delivery.post_id, delivery.channel)
        plan = self.plan
        assert plan is not None
        rendered = plan.deliveries.get(key)
        if rendered is None or plan.hashes.get(key) != delivery.content_hash:
            return  # not in the current plan (the next reconcile deals with it)
        verdict = self.verdict(rendered, delivery, ledger, now)
        if verdict.hold is not None:
            self._hold(ledger, delivery, verdict)
            return
        adapter = self.adapter(delivery.channel)
        if adapter is None:
            return
        outcome = send(
            rendered,
            adapter,
            ledger,
            self.owner,
            self.config.daemon.lease,
            backoff=self.config.daemon.backoff,
            approved_by=approval.by if (approval := self.approvals.get(rendered.post_id)) else None,
            plan_rev=self.plan_rev,
        )
        self._after_send(ledger, rendered, adapter, outcome, now)

    def _hold(self, ledger: Ledger, delivery: Delivery, verdict: Verdict) -> None:
        """Record what the gate said: expired when too late, else held by what holds it."""
        key = delivery_key(delivery)
        if verdict.hold is Hold.LATE:
            done = ledger.set_state(
                delivery, State.EXPIRED, error_kind=Hold.LATE, actor=self.owner,
                only_from=[State.PENDING], error=f"{verdict.why}. To send it late all the same: "
                f"crosspost release {delivery.post_id} --channel {delivery.channel} --late",
            )  # fmt: skip
            log.error("expired %s on %s: %s", *key, verdict.why)
            self.failures += 1
        else:
            done = ledger.set_state(
                delivery, State.HELD, error=verdict.why, error_kind=verdict.hold,
                actor=self.owner, only_from=[State.PENDING],
            )  # fmt: skip
            log.warning("held %s on %s: %s", *key, verdict.why)
        self._alert(ledger, done)

    def _after_send(
        self, ledger: Ledger, rendered: Any, adapter: Adapter, outcome: Outcome, now: datetime
    ) -> None:
        """Log, schedule a retry and alert after one send, by what it came to."""
        key = (outcome.post_id, outcome.channel)
        if outcome.status == Status.PUBLISHED:
            if self.dry_run:
                label = f"{rendered.channel} ({adapter.channel.rules.label} {rendered.handle})"
                when = format_local(now, self.config.timezone)
                self.echo(f"[{when}] would publish to {label}: {rendered.post_id}")
                self.echo("    " + rendered.text.replace("\n", "\n    "))
            log.info("published %s on %s: %s", *key, outcome.message)
        elif outcome.status == Status.RETRY:
            log.warning("%s on %s: %s", *key, outcome.message)
            if outcome.delivery is not None and outcome.delivery.error_kind == Met.CHANGED:
                # an image changed on disk (perhaps keeping its size and time): read it all
                # again, nothing from the cache, and plan from what is there now
                self.cache = LoadCache()
                self.reload_requested.set()
            retry = outcome.delivery
            if self.scheduler is not None and retry is not None and retry.state == State.PENDING:
                self._schedule(f"d:{retry.post_id}|{retry.channel}", retry)
        elif outcome.status in (Status.FAILED, Status.HELD, Status.IN_DOUBT):
            log.error("%s on %s: %s", *key, outcome.message)
            self.failures += 1
        if outcome.status != Status.RETRY and outcome.delivery is not None:
            self._alert(ledger, outcome.delivery)  # for a publication, only with a warning

    def verdict(self, rendered: Any, delivery: Delivery, ledger: Ledger, now: datetime) -> Verdict:
        """What the gate says about this delivery now (the one place that decides)."""
        return decide(
            rendered, config=self.config, now=now, controls=Controls.read(ledger),
            approvals=self.approvals, approval_hash=partial(self._approval_hash, rendered.post_id),
            delivery=delivery,
            twin=lambda: ledger.published_twin(delivery, now - TWIN_WINDOW),
        )  # fmt: skip

    def _approval_hash(self, post_id: str) -> str:
        """The post's approval hash as planned now: what every channel will receive."""
        assert self.plan is not None
        return post_approval_hash(self.plan.of_post(post_id))

    def _approval_problem(self, post_id: str) -> str | None:
        return approval_problem(self.approvals, post_id, partial(self._approval_hash, post_id))

    def release_approved(self) -> None:
        """Deliveries held for approval whose post is now approved go back to the queue."""
        if not self.config.require_approval:
            return
        ledger = self.ledger()
        for delivery in ledger.deliveries([State.HELD]):
            if delivery.error_kind != Hold.APPROVAL:
                continue
            if (delivery.post_id, delivery.channel) not in self.plan.deliveries:  # type: ignore[union-attr]
                continue
            if self._approval_problem(delivery.post_id) is None:
                ledger.set_state(
                    delivery, State.PENDING, error="approved: back in the queue",
                    error_kind=Act.APPROVED, actor=self.owner, only_from=[State.HELD],
                    retry_at=self.clock(),
                )  # fmt: skip
                log.info("approved: %s on %s is back in the queue", *delivery_key(delivery))

    # --- settling sends whose outcome is unknown -------------------------------------------

    def settle(self) -> None:
        """Orphaned claims become in doubt; in-doubt sends are looked up on the account."""
        ledger = self.ledger()
        now = self.clock()
        for delivery in ledger.deliveries([State.CLAIMED]):
            expired = delivery.lease_until is not None and delivery.lease_until < now
            alive = owner_alive(delivery.owner, self.host)
            # a sender alive on this host is still at it (its lease is renewed while it
            # sends): never taken over; one on another host, once its lease has run out
            if alive and (on_this_host(delivery.owner, self.host) or not expired):
                continue
            why = "its claim expired" if expired else f"{delivery.owner} is gone"
            # one step, refused if the claim changed hands or was renewed since it was read
            done = ledger.set_state(
                delivery, State.IN_DOUBT, error_kind=Met.IN_DOUBT, actor=self.owner,
                fenced=True, expired_by=now if alive else None,
                error=f"a send was interrupted ({why}): it may or may not have happened",
            )  # fmt: skip
            if done.state == State.IN_DOUBT and done.fence == delivery.fence:
                log.warning("in doubt: %s on %s (%s)", delivery.post_id, delivery.channel, why)
                self._alert(ledger, done)
        for delivery in ledger.deliveries([State.IN_DOUBT]):
            self._settle_one(ledger, delivery, now)

    def _settle_one(self, ledger: Ledger, delivery: Delivery, now: datetime) -> None:
        """Ask the adapter to read the account back (`Adapter.settle`) and act on what it
        finds: published (a thread goes on with its next part), certainly not published
        (sent again once `settle_after` has passed: a fresh post may lag in look-ups), or
        unknown (stays in doubt)."""
        adapter = self.adapter(delivery.channel)
        if adapter is None or not adapter.can_look_up:
            return  # stays in doubt until `crosspost resolve`
        since = delivery.claimed_at or delivery.updated_at
        taken = _taken(ledger, delivery)
        sent = Sent(
            delivery.post_id, self._texts(delivery), delivery.parts, since, delivery.notes,
            media=len(delivery.media), taken=taken,
        )  # fmt: skip
        key = delivery_key(delivery)
        try:
            settled = adapter.settle(sent)
        except (PublishError, NotImplementedError) as exc:
            log.warning("cannot settle %s on %s yet: %s", *key, exc)
            return
        if settled.found is not None:
            self._found(ledger, delivery, adapter, settled, len(sent.texts), now)
            return
        if not settled.searched_back:
            log.warning(
                "cannot settle %s on %s: the account posted more than %d times since; "
                "check it and use crosspost resolve", *key, adapter.look_up_limit,
            )  # fmt: skip
            return  # the look-up does not reach back far enough to say "not published"
        if now - since >= self.config.daemon.settle_after:
            why = f" ({settled.detail})" if settled.detail else ""
            ledger.set_state(
                delivery, State.PENDING, error_kind=Met.IN_DOUBT, actor=self.owner,
                fenced=True, retry_at=now,
                error=f"not found on the account after the settling delay{why}: sending again",
            )  # fmt: skip
            log.warning("settled %s on %s: not found on the account, sending again", *key)

    def _found(
        self,
        ledger: Ledger,
        delivery: Delivery,
        adapter: Adapter,
        settled: Settlement,
        parts_in_all: int,
        now: datetime,
    ) -> None:
        """A send in doubt was found on the account: published, or (a thread) the rest of
        it goes on after the part found."""
        key = delivery_key(delivery)
        part = settled.found
        assert part is not None
        known = {p.index: p for p in delivery.parts}
        known[part.index] = part
        parts = tuple(known[i] for i in sorted(known))
        if part.index + 1 < parts_in_all:  # a thread: the parts after it were not sent
            ledger.record_part(delivery, part)
            ledger.set_state(
                delivery, State.PENDING, error_kind=Met.IN_DOUBT, actor=self.owner,
                fenced=True, retry_at=now,
                error=f"settled: part {part.index + 1} was published as {part.remote_id}; "
                "the rest of the thread follows it",
            )  # fmt: skip
            log.info("settled %s on %s: part %d was published", *key, part.index + 1)
            return
        warnings = self._lost_comment(delivery, adapter)
        done = ledger.mark_published(
            delivery, remote_id=parts[0].remote_id, url=parts[0].url,
            published_at=settled.published_at or now, parts=parts, actor=self.owner,
            detail=f"settled: found on the account as {part.remote_id}", warnings=warnings,
        )  # fmt: skip
        log.info("settled %s on %s: it was published", *key)
        self._alert(ledger, done)  # only when something was lost on the way (a comment)

    def _lost_comment(self, delivery: Delivery, adapter: Adapter) -> tuple[str, ...]:
        """A send that was cut off after the post was made never posted its first comment:
        say so on the record (a warning, alerted) rather than lose it silently."""
        if not adapter.channel.rules.first_comment:
            return ()
        plan = self.plan
        rendered = plan.deliveries.get(delivery_key(delivery)) if plan is not None else None
        if rendered is not None and not rendered.first_comment:
            return ()
        what = "its first comment was not posted" if rendered is not None else (
            "if it had a first comment, that was not posted"
        )  # fmt: skip
        return (
            f"published by an attempt that was cut off: {what}; add it by hand on "
            f"{adapter.channel.rules.label}",
        )

    def _texts(self, delivery: Delivery) -> tuple[str, ...]:
        """Every part's text as it was sent: from the ledger, or, for a delivery planned
        before the ledger kept thread texts, from the plan when the content is the same."""
        plan = self.plan
        rendered = plan.deliveries.get(delivery_key(delivery)) if plan is not None else None
        if (
            not delivery.thread
            and rendered is not None
            and plan is not None
            and plan.hashes.get(delivery_key(delivery)) == delivery.content_hash
        ):
            return (rendered.text, *rendered.thread)
        return delivery.texts

    def sweep(self) -> None:
        """Settle what is in doubt, then publish whatever is due (what a timer missed)."""
        try:
            if self.shared and self._plan_moved():
                self._reload("the queue's revision moved")
            if self.behind is not None:
                return  # said when it fell behind (load); `status` says it too
            self.settle()
            self.deliver_due()
            self.alert_sweep()
        except Exception:  # the sweeper must survive anything and try again next time
            log.exception("sweep failed")

    def _alert(self, ledger: Ledger, delivery: Delivery) -> None:
        """At most one alert per delivery per state change (the alerter keeps count)."""
        kind = alert_kind(delivery)
        if kind is None:
            return
        channel = self.config.channels.get(delivery.channel)
        self.alerter.delivery_changed(
            ledger, delivery, kind, handle=channel.handle if channel else None
        )

    def alert_sweep(self) -> None:
        """Alert anything alert-worthy that was not alerted yet (e.g. after a crash)."""
        handles = {key: channel.handle for key, channel in self.config.channels.items()}
        self.alerter.sweep(self.ledger(), handles)

    # --- running ---------------------------------------------------------------------------

    def describe_plan(self) -> str:
        """The plan as a person wants it at start: counts, the next few, anything stuck."""
        ledger = self.ledger()
        zone = self.config.timezone
        pending = ledger.deliveries([State.PENDING])
        per_channel = Counter(d.channel for d in pending)
        counts = ", ".join(f"{k} {per_channel[k]}" for k in self.config.channels) or "none"
        mode = " (dry run: nothing is sent, the real ledger is untouched)" if self.dry_run else ""
        lines = [f"crosspost: {len(pending)} deliveries pending ({counts}){mode}"]
        upcoming = sorted(pending, key=lambda d: d.next_at or self.clock())[:5]
        if upcoming:
            lines.append("next:")
            for d in upcoming:
                when = format_local(d.next_at, zone) if d.next_at else "?"
                lines.append(f"  {when}  {d.post_id} → {d.channel}")
        for state in (State.HELD, State.IN_DOUBT, State.FAILED, State.EXPIRED):
            stuck = ledger.deliveries([state])
            if stuck:
                names = ", ".join(f"{d.post_id} → {d.channel}" for d in stuck[:5])
                more = f" and {len(stuck) - 5} more" if len(stuck) > 5 else ""
                lines.append(f"{state.replace('_', ' ')}: {names}{more}")
        lines += self._will_be_held(ledger, pending)
        return "\n".join(lines)

    def _will_be_held(self, ledger: Ledger, pending: list[Delivery]) -> list[str]:
        """Pending deliveries the gate would hold when they fall due (not approved, paused,
        a blackout window, a held channel), so the office hears of it now, not at the time."""
        assert self.plan is not None
        controls, now = Controls.read(ledger), self.clock()
        found: dict[tuple[Hold, str], list[Delivery]] = {}
        for delivery in pending:
            rendered = self.plan.deliveries.get(delivery_key(delivery))
            if rendered is None:
                continue
            verdict = decide(
                rendered, config=self.config, now=max(delivery.next_at or now, now),
                controls=controls, approvals=self.approvals,
                approval_hash=partial(self._approval_hash, rendered.post_id),
            )  # fmt: skip
            if verdict.hold is not None:
                found.setdefault((verdict.hold, verdict.why), []).append(delivery)
        lines = []
        for (hold, why), held in found.items():
            names = ", ".join(f"{d.post_id} → {d.channel}" for d in held[:5])
            more = f" and {len(held) - 5} more" if len(held) > 5 else ""
            lines.append(f"! will be held when due ({why}): {names}{more}")
            lines.append(f"    {remedy(hold, held[0].post_id, held[0].channel)}")
        return lines

    def run_once(self) -> int:
        """Publish what is due, settle what is in doubt, exit: 0, or 1 if anything failed."""
        self.load("run --once")
        self.echo(self.describe_plan())
        self.settle()
        self.deliver_due()
        self.alert_sweep()
        self.close()
        return 1 if self.failures else 0

    def run(self, watch: bool = True, rehearse: bool = False) -> int:
        """Run until SIGTERM or SIGINT; reload on SIGHUP and on file changes. `rehearse`
        (a dry run only): start the clock just before the first delivery in the queue."""
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        self._install_signals()  # first: a stop asked for during start-up is honoured
        self.load("start")
        if rehearse:
            self._start_rehearsal()
        # settle what an earlier run left in doubt before any timer can publish something
        # new: the look-up reads the account's latest posts, and must still reach them
        self.settle()
        self.echo(self.describe_plan())
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self.scheduler.add_job(
            self.sweep,
            "interval",
            seconds=self.config.daemon.sweep_interval.total_seconds(),
            id="sweeper",
            next_run_time=_utcnow(),
        )
        self.schedule_all()
        self.scheduler.start()
        if watch:
            watcher = threading.Thread(target=self._watch, name="crosspost-watch", daemon=True)
            watcher.start()
            # changes made between the first load and the watcher's start would be missed:
            # once it watches, load again (cheap: only what changed is read)
            if self.watching.wait(5):
                self._reload("watching")
        log.info("running; stop with SIGTERM or Ctrl-C, reload with SIGHUP")
        self._main_loop()
        log.info("stopping: finishing any send in flight")
        self.scheduler.shutdown(wait=True)
        with contextlib.suppress(Exception):
            self.ledger().gone(self.owner)
        self.close()
        log.info("stopped")
        return 0

    def _start_rehearsal(self) -> None:
        start = self.rehearse()
        if start is None:
            self.echo("rehearsal: nothing in the queue is ready with a time")
            return
        when = format_local(start, self.config.timezone)
        self.echo(
            f"rehearsal: the clock is set to {when}, {REHEARSAL_LEAD.seconds} s before "
            "the first post, and runs at normal speed from there"
        )

    def _main_loop(self) -> None:
        """Until stopped: heartbeats, reloads asked for, and a person's actions noticed."""
        woken = _Wake(self.ledger())
        every = min(self.config.daemon.sweep_interval, self.config.daemon.lease / 3)
        while not self.stopping.is_set():
            if time.monotonic() - self._last_beat >= every.total_seconds():
                self._last_beat = time.monotonic()
                self.beat()
            if self.reload_requested.wait(0.2):
                self.reload_requested.clear()
                if not self.stopping.is_set():
                    self._reload("reload")
            elif woken.by_a_person():
                # a release, resume, resolve or lifted hold: its deliveries are due now
                log.info("a person acted on the ledger: scheduling what is due now")
                self.schedule_all()

    def _reload(self, why: str) -> None:
        """Load again; a failure is logged and the daemon carries on with the last good plan."""
        try:
            self.load(why)
        except Exception:
            log.exception("reload (%s) failed: carrying on with the last good plan", why)

    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        with self._lock:
            for ledger in self._ledgers:
                with contextlib.suppress(Exception):  # another thread's connection may refuse
                    ledger.close()
            self._ledgers = []
        self._local = threading.local()

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGTERM, lambda *_: self.stop())
        signal.signal(signal.SIGINT, lambda *_: self.stop())
        signal.signal(signal.SIGHUP, lambda *_: self.reload_requested.set())

    def _watch(self) -> None:
        """Reload when the queue, the templates or the config change (editors save by rename)."""
        try:
            self._watch_files()
        except Exception:
            log.exception("watching files failed: reload with SIGHUP; the sweeper still runs")

    def _watch_files(self) -> None:
        import watchfiles

        config = self.config
        paths = [p for p in (config.queue_dir, config.templates_dir) if p.is_dir()]

        watched = [self.config_path, config.approvals_path]

        def config_version() -> tuple[tuple[int, int], ...] | None:
            try:
                return tuple(
                    (st.st_mtime_ns, st.st_ino)
                    for st in (p.stat() for p in watched if p is not None and p.exists())
                )
            except OSError:
                return None

        seen = config_version()
        for changes in watchfiles.watch(
            *paths,
            stop_event=self.stopping,
            debounce=150,
            step=50,
            rust_timeout=200,
            yield_on_timeout=True,
        ):
            self.watching.set()
            current = config_version()
            if changes or current != seen:
                seen = current
                self.reload_requested.set()


class _Wake:
    """Notices a person's action on the ledger (`Ledger.wake`) between sweeps: SQLite's
    data_version first (no read when nothing was committed), then the wake control."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.version = ledger.data_version()
        self.seen = ledger.control(WAKE)
        self.every = ledger.wake_every  # SQLite's counter is free; a database is asked less
        self.last = time.monotonic()

    def by_a_person(self) -> bool:
        if time.monotonic() - self.last < self.every:
            return False
        self.last = time.monotonic()
        try:
            version = self.ledger.data_version()
            if version == self.version:
                return False
            self.version = version
            seen, self.seen = self.seen, self.ledger.control(WAKE)
            return self.seen != seen
        except Exception:  # a busy or damaged ledger: the sweeper still runs
            log.debug("could not read the ledger's wake control", exc_info=True)
            return False


def _log_problems(plan: Plan) -> None:
    for problem in plan.errors:
        log.error("%s", problem)
    if plan.broken_files:  # their deliveries are held (reconcile), never sent as they were
        log.error(
            "files with errors: their posts are held until fixed: %s",
            ", ".join(sorted(plan.broken_files)),
        )


def delivery_key(delivery: Delivery) -> tuple[str, str]:
    return delivery.post_id, delivery.channel


def _taken(ledger: Ledger, delivery: Delivery) -> frozenset[str]:
    """The posts that other deliveries on the same channel stand for (a settlement must
    never claim one of them as this delivery's)."""
    taken: set[str] = set()
    for other in ledger.deliveries([State.PUBLISHED, State.IN_DOUBT, State.PENDING, State.CLAIMED]):
        if other.channel == delivery.channel and other.id != delivery.id:
            taken.update(p.remote_id for p in other.parts)
            if other.remote_id:
                taken.add(other.remote_id)
    return frozenset(taken)
