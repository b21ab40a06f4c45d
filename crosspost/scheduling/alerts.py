"""Alerts: the office is told about every failure, once, through apprise.

The config section::

    alerts:
      urls: ["mailtos://alerts:${SMTP_PASSWORD}@pcc-kent.gov.uk", "json://localhost:8080/hook"]
      on:                        # optional: a kind listed here goes to these URLs instead
        in_doubt: ["${ONCALL_ALERT_URL}"]

Kinds: failed, expired, in_doubt, auth (a channel's login broke), held (pause, blackout,
approval) and token_expiring (within 14 days). `${VAR}` references are filled in from the
environment when an alert is sent, so secrets stay out of the file; a URL with its secrets
filled in is never logged, stored or returned.

At most one alert per delivery per state change: before sending, the change is recorded in
the ledger's controls (`alerted:<post_id>|<channel>` = `<state>|<updated_at>`) with a
compare-and-set, so a second sweep, or a second daemon on the same ledger, sends nothing
more; a later change alerts again. An alert that could not be sent is tried again by a
later `sweep` (not before `RETRY_AFTER`), and never raises into the daemon.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta, tzinfo

from crosspost.core.redact import protect_logs, redact
from crosspost.core.states import NEEDS_ATTENTION, Hold, Met, State
from crosspost.core.times import format_local, iso_utc
from crosspost.loading.alert_settings import (  # noqa: F401 -- the settings, re-exported for callers
    ALERT_KEYS,
    ALERT_KINDS,
    AlertSettings,
    AlertURL,
    known_services,
    parse_alerts,
    substitute,
)
from crosspost.scheduling.ledger import Delivery, Ledger

log = logging.getLogger(__name__)

ALERT_STATES = NEEDS_ATTENTION  # delivery states worth an alert
TOKEN_WARNING = timedelta(days=14)  # warn about a token expiring within this
SEND_LEASE = timedelta(minutes=5)  # an alert "being sent" longer than this was interrupted
RETRY_AFTER = timedelta(minutes=5)  # a failed alert is not tried again sooner
SWEEP_WITHIN = timedelta(days=1)  # older state changes are not alerted by a sweep
DELIVERY_KEY = "alerted:"
CHANNEL_KEY = "alerted-channel:"
_SENDING = "|sending until "
_RETRY = "|retry after "


# --- messages --------------------------------------------------------------------------------

_TITLES = {
    "failed": "post failed on {where}",
    "expired": "post not published on {where}: too late",
    "in_doubt": "post may or may not have gone out on {where}",
    "auth": "{where} cannot publish: its login needs attention",
    "capped": "{where} cannot publish: the platform's allowance for the app is used up",
    "held": "post held on {where}",
    "warning": "post published on {where}, but something after it failed",
    "token_expiring": "the access token of {where} expires soon",
}


def alert_kind(delivery: Delivery) -> str | None:
    """The alert a delivery in its current state calls for, if any."""
    if delivery.state == State.PUBLISHED:
        return "warning" if delivery.warning else None
    if delivery.state not in ALERT_STATES:
        return None
    if delivery.error_kind in (Met.AUTH, Met.CAPPED) and delivery.state in (
        State.FAILED,
        State.HELD,
    ):
        return delivery.error_kind
    return delivery.state


_DOCTOR_STEP = (
    "Run crosspost doctor: it says what is wrong with the account's login. Reconnect the "
    "account (a new token in the server's environment), then run crosspost doctor "
    "again: once it passes, the channel's held posts go out."
)

# What to do about each kind of alert; {publish}, {release}, {resolve} and {post_id} are
# filled in by `next_step`. A held delivery's step depends on what holds it: _HELD_STEPS.
_NEXT_STEPS = {
    "failed": (
        "Fix the post (or what the message above points to), then run: {publish}\n"
        "Or leave it: it is not sent again by itself."
    ),
    "expired": (
        "If it still matters, send it late: {release} --late\nOtherwise nothing needs doing."
    ),
    "in_doubt": (
        "Check the account for this post; nothing is sent again until it is settled.\n"
        "If it is there, run: {resolve} --published REMOTE_ID\n"
        "If it is not, run: {resolve} --not-published (it is then sent again)."
    ),
    "auth": _DOCTOR_STEP,
    "capped": (
        "The channel's posts are held: none is sent until the allowance resets (the "
        "message above says when) or the app's plan is upgraded. Then run crosspost "
        "doctor: once it passes, the held posts go out (those overdue by then expire: send "
        "one late with {release} --late)."
    ),
    "warning": (
        "The post itself is published and stays up. Do by hand what the message above "
        "says did not happen (for a first comment: add it on the platform)."
    ),
    "token_expiring": (
        "Renew the account's access token before it expires and put the new one in the "
        "server's environment; crosspost doctor checks it."
    ),
}
_HELD_STEPS: dict[str | None, str] = {
    Hold.PAUSED: (
        "Publishing is paused: crosspost status shows who paused it and why. After "
        "crosspost resume, send it with: {release}"
    ),
    Hold.APPROVAL: (
        "Review the post, then approve it: crosspost approve {post_id} --by NAME\n"
        "It then goes out by itself."
    ),
    Hold.BLACKOUT: (
        "It falls in a blackout window: crosspost status shows which. To send it "
        "once the window no longer applies: {release}"
    ),
    Hold.CHANNEL: _DOCTOR_STEP,
    Hold.DUPLICATE: (
        "The same words went out under another post id (the message names it): a "
        "renamed post file? Then nothing needs doing. To publish it again all the "
        "same: {release}"
    ),
    Hold.BROKEN: (
        "Fix the post file: crosspost validate shows its errors, with the line. Once "
        "it is fixed the post is planned again by itself (past its time by more than "
        "the lateness allowed, it expires instead: {release} --late sends it)."
    ),
}
_HELD_OTHERWISE = "crosspost status shows why it is held. To send it once that is over: {release}"


def next_step(kind: str, post_id: str | None, channel: str, error_kind: str | None = None) -> str:
    """What a comms officer should do about an alert of this kind, in plain words."""
    if kind == "held":
        template = _HELD_STEPS.get(error_kind, _HELD_OTHERWISE)
    elif kind in _NEXT_STEPS:
        template = _NEXT_STEPS[kind]
    else:
        raise ValueError(f"unknown alert kind '{kind}'; kinds: {', '.join(ALERT_KINDS)}")
    return template.format(
        post_id=post_id,
        publish=f"crosspost publish {post_id} --channel {channel}",
        release=f"crosspost release {post_id} --channel {channel}",
        resolve=f"crosspost resolve {post_id} --channel {channel}",
    )


def _where(channel: str, handle: str | None) -> str:
    return handle or channel


def _channel_line(channel: str, handle: str | None) -> str:
    if handle and handle != channel:
        return f"Channel: {channel} ({handle})"
    return f"Channel: {channel}"


def delivery_message(
    delivery: Delivery,
    kind: str,
    *,
    handle: str | None = None,
    what_next: str | None = None,
    timezone: tzinfo = UTC,
) -> tuple[str, str]:
    """(title, body) of the alert about one delivery, in words for a comms officer."""
    _check_kind(kind)
    post_id, channel = delivery.post_id, delivery.channel
    title = f"crosspost: {_TITLES[kind].format(where=_where(channel, handle))} ({post_id})"
    lines = [f"Post: {post_id}", _channel_line(channel, handle)]
    lines.append(f"File: {delivery.file or 'not recorded'}")
    if delivery.due_at is not None:
        lines.append(f"Due: {format_local(delivery.due_at, timezone)}")
    if delivery.attempts:
        lines.append(f"Tried: {delivery.attempts} time{'s' * (delivery.attempts != 1)}")
    step = what_next or next_step(kind, post_id, channel, delivery.error_kind)
    lines += [
        "",
        "What happened:",
        delivery.last_error
        or (delivery.warning if kind == "warning" else None)
        or f"the delivery is {delivery.state.replace('_', ' ')}",
        "",
        "What to do next:",
        step,
    ]
    return title, "\n".join(lines) + _footer()


def channel_message(
    channel: str,
    kind: str,
    message: str,
    *,
    handle: str | None = None,
    what_next: str | None = None,
) -> tuple[str, str]:
    """(title, body) of an alert about a whole channel (its login, its token)."""
    _check_kind(kind)
    title = f"crosspost: {_TITLES[kind].format(where=_where(channel, handle))}"
    step = what_next or next_step(kind, None, channel)
    lines = [_channel_line(channel, handle), "", "What happened:", message]
    lines += ["", "What to do next:", step]
    return title, "\n".join(lines) + _footer()


def _footer() -> str:
    return f"\n\n-- crosspost on {socket.gethostname()}"


def _check_kind(kind: str) -> None:
    if kind not in ALERT_KINDS:
        raise ValueError(f"unknown alert kind '{kind}'; kinds: {', '.join(ALERT_KINDS)}")


# --- keeping secrets out of logs -------------------------------------------------------------

# apprise logs the URLs it loads and calls (at DEBUG, and at ERROR when one cannot be parsed),
# and urllib3 logs every request's path: both would carry a resolved secret
_CHATTY_LOGGERS = (
    "apprise",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.util.retry",
    "requests",
    __name__,
)
_REASONS: ContextVar[list[str] | None] = ContextVar("crosspost_alert_reasons", default=None)


class _Reasons(logging.Handler):
    """Collects apprise's warnings about the send in progress, for our own log line.

    A context variable, not the thread, says which send a record belongs to: apprise 2
    runs each send in its own worker thread, with the caller's context copied in.
    """

    def emit(self, record: logging.LogRecord) -> None:
        lines = _REASONS.get()
        if lines is not None:
            lines.append(record.getMessage())


_REASONS_HANDLER = _Reasons(logging.WARNING)


@contextmanager
def _apprise_reasons() -> Iterator[list[str]]:
    logger = logging.getLogger("apprise")
    if _REASONS_HANDLER not in logger.handlers:
        logger.addHandler(_REASONS_HANDLER)
    lines: list[str] = []
    token = _REASONS.set(lines)
    try:
        yield lines
    finally:
        _REASONS.reset(token)


# --- recording what was alerted --------------------------------------------------------------


def swap_control(ledger: Ledger, key: str, expected: str | None, value: str | None) -> bool:
    """Compare-and-set on the ledger's controls (see Ledger.swap_control)."""
    return ledger.swap_control(key, expected, value)


def _may_send(current: str | None, change: str, now: datetime) -> bool:
    """False when this change was alerted, is being alerted, or failed too recently."""
    if current == change:
        return False
    for marker in (_SENDING, _RETRY):
        if current is not None and current.startswith(change + marker):
            try:
                until = datetime.fromisoformat(current[len(change) + len(marker) :])
            except ValueError:
                return True
            return now >= until
    return True


# --- sending ---------------------------------------------------------------------------------


class Alerter:
    """Sends alerts through apprise, once per state change, never raising into the daemon."""

    def __init__(
        self,
        settings: AlertSettings,
        environ: Mapping[str, str] | None = None,
        *,
        timezone: tzinfo = UTC,
        actor: str | None = None,
    ):
        self.settings = settings
        self.environ = environ  # read at send time: None is os.environ
        self.timezone = timezone
        self.actor = actor or f"{socket.gethostname()}:{os.getpid()}:alerts"

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def delivery_changed(
        self,
        ledger: Ledger,
        delivery: Delivery,
        kind: str,
        *,
        handle: str | None = None,
        what_next: str | None = None,
    ) -> bool:
        """Alert about this delivery's state change, unless it was alerted already; True if sent."""
        title, body = delivery_message(
            delivery, kind, handle=handle, what_next=what_next, timezone=self.timezone
        )
        return self._once(
            ledger,
            key=f"{DELIVERY_KEY}{delivery.post_id}|{delivery.channel}",
            change=f"{delivery.state}|{iso_utc(delivery.updated_at)}",
            kind=kind,
            title=title,
            body=body,
            post_id=delivery.post_id,
            channel=delivery.channel,
        )

    def channel_alert(
        self,
        ledger: Ledger,
        channel: str,
        kind: str,
        message: str,
        *,
        handle: str | None = None,
        what_next: str | None = None,
        episode: str | None = None,
    ) -> bool:
        """Alert about a whole channel, once per channel, kind and episode; True if sent.

        The episode is what makes a repeat a new alert: the day for token_expiring (one
        reminder a day), the message otherwise (the same login failure alerts once; see
        `clear_channel_alert` for after it is fixed).
        """
        title, body = channel_message(channel, kind, message, handle=handle, what_next=what_next)
        if episode is None:
            if kind == "token_expiring":
                episode = ledger.clock().astimezone(UTC).date().isoformat()
            else:
                episode = "message " + hashlib.sha256(message.encode()).hexdigest()[:16]
        return self._once(
            ledger,
            key=f"{CHANNEL_KEY}{channel}|{kind}",
            change=episode,
            kind=kind,
            title=title,
            body=body,
            post_id=None,
            channel=channel,
        )

    def clear_channel_alert(self, ledger: Ledger, channel: str, kind: str) -> None:
        """Forget a channel alert (the problem was fixed), so the next occurrence alerts."""
        key = f"{CHANNEL_KEY}{channel}|{kind}"
        try:
            if ledger.control(key) is not None:
                ledger.set_control(key, None, self.actor, f"{kind} on {channel} is resolved")
        except Exception as exc:
            log.error("cannot clear the %s alert of %s in the ledger: %s", kind, channel, exc)

    def token_expiring(
        self,
        ledger: Ledger,
        channel: str,
        expires_at: datetime,
        *,
        handle: str | None = None,
    ) -> bool:
        """Alert (once a day) when the channel's token expires within 14 days; True if sent."""
        now = ledger.clock()
        left = expires_at - now
        if left > TOKEN_WARNING:
            return False
        when = format_local(expires_at, self.timezone)
        if left.total_seconds() <= 0:
            message = f"The access token of {_where(channel, handle)} expired on {when}."
        else:
            days = left.days
            soon = "within a day" if days == 0 else f"in {days} day{'s' * (days != 1)}"
            message = f"The access token of {_where(channel, handle)} expires {soon}, on {when}."
        return self.channel_alert(ledger, channel, "token_expiring", message, handle=handle)

    def sweep(
        self,
        ledger: Ledger,
        handles: Mapping[str, str] | None = None,
        *,
        within: timedelta = SWEEP_WITHIN,
    ) -> int:
        """Alert every failed, in-doubt, expired or held delivery not alerted yet; how many sent.

        Catches what a direct call missed (a crash between the state change and the alert,
        an alert endpoint that was down). Changes older than `within` are left alone, so a
        first start on an old ledger does not flood the office.
        """
        if not self.enabled:
            return 0
        try:
            now = ledger.clock()
            stuck = ledger.deliveries(ALERT_STATES)
        except Exception as exc:
            log.error("alerts: cannot read the ledger: %s", exc)
            return 0
        sent = 0
        for delivery in stuck:
            kind = alert_kind(delivery)
            if kind is None or now - delivery.updated_at > within:
                continue
            handle = (handles or {}).get(delivery.channel)
            if self.delivery_changed(ledger, delivery, kind, handle=handle):
                sent += 1
        return sent

    # --- the once-only machinery -----------------------------------------------------------

    def _once(
        self,
        ledger: Ledger,
        *,
        key: str,
        change: str,
        kind: str,
        title: str,
        body: str,
        post_id: str | None,
        channel: str,
    ) -> bool:
        if not self.settings.targets(kind):
            return False
        what = f"{kind} alert for {post_id + ' on ' if post_id else ''}{channel}"
        try:
            now = ledger.clock()
            current = ledger.control(key)
            if not _may_send(current, change, now):
                return False
            sending = f"{change}{_SENDING}{iso_utc(now + SEND_LEASE)}"
            if not swap_control(ledger, key, current, sending):
                return False  # another process took it between our look and our claim
        except Exception as exc:  # the ledger is busy or gone: the next sweep tries again
            log.error("%s not sent: cannot record it in the ledger: %s", what, exc)
            return False
        delivered, tried = self._send(kind, title, body, what)
        try:
            if delivered:
                swap_control(ledger, key, sending, change)
                ledger.event(
                    self.actor, "alerted", post_id, channel,
                    f"{kind} alert sent to {delivered} of {tried} alert URLs: {title}",
                )  # fmt: skip
                return True
            retry = f"{change}{_RETRY}{iso_utc(ledger.clock() + RETRY_AFTER)}"
            swap_control(ledger, key, sending, retry)
            ledger.event(
                self.actor, "alert_failed", post_id, channel,
                f"{kind} alert not sent to any of {tried} alert URLs (see the log); "
                f"tried again after {RETRY_AFTER.total_seconds() / 60:.0f} minutes",
            )  # fmt: skip
        except Exception as exc:
            log.error("%s: cannot record the outcome in the ledger: %s", what, exc)
            return delivered > 0
        return False

    def _send(self, kind: str, title: str, body: str, what: str) -> tuple[int, int]:
        """Send to every URL for this kind; (how many took it, how many were tried)."""
        env = os.environ if self.environ is None else self.environ
        targets = self.settings.targets(kind)
        delivered = 0
        for target in targets:
            missing = [var for var in target.variables if not env.get(var)]
            if missing:
                names = ", ".join(missing)
                log.error(
                    "%s not sent to %s: environment variable%s %s not set",
                    what, target.label, "s" * (len(missing) > 1), names,
                )  # fmt: skip
                continue
            url, values = substitute(target.template, env)
            secrets = [*values, url] if url != target.template else values
            protect_logs(secrets, _CHATTY_LOGGERS)
            try:
                with _apprise_reasons() as reasons:
                    ok = _notify(url, title, body, kind)
            except Exception as exc:  # apprise or a plugin failed in a way it did not catch
                reason = redact(f"{type(exc).__name__}: {exc}", secrets)
                log.error("%s not delivered to %s: %s", what, target.label, reason)
                continue
            if ok:
                delivered += 1
                log.info("%s sent to %s", what, target.label)
            else:
                why = redact("; ".join(reasons), secrets) or "apprise could not send it"
                log.error("%s not delivered to %s: %s", what, target.label, why)
        return delivered, len(targets)


def _notify(url: str, title: str, body: str, kind: str) -> bool:
    """One apprise send to one URL; False when apprise refused the URL or the send failed."""
    import apprise

    # sequential: the send runs in this thread, bounded by each service's own timeouts
    # (apprise's cto/rto URL options; 4 s to connect and 4 s to read by default)
    asset = apprise.AppriseAsset(async_mode=False)
    notifier = apprise.Apprise(asset=asset)
    if not notifier.add(url):
        logging.getLogger("apprise").warning("apprise cannot use this URL (check it)")
        return False
    failure = kind in ("failed", "expired", "in_doubt", "auth")
    result = notifier.notify(
        body=body,
        title=title,
        notify_type=apprise.NotifyType.FAILURE if failure else apprise.NotifyType.WARNING,
        body_format=apprise.NotifyFormat.TEXT,
    )
    return bool(result)
