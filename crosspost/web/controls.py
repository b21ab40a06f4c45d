"""The office's controls in the browser: status, history, and pause, resume, release,
resolve and retract, each through the same action layer as the command line, each behind
the role that may do it, each confirmed first and recorded with the account that did it.

A control is two requests: the first shows what will happen and asks to confirm (nothing
changes); the second, with `confirmed=1`, does it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from crosspost import actions
from crosspost.core.times import format_local
from crosspost.scheduling.stores import open_ledger
from crosspost.views.reports import format_history, history_rows, parse_since, status_report
from crosspost.web.accounts import Role, Session

# what each control does, in words for the confirmation page
ASKS = {
    "pause": "Pause publishing",
    "resume": "Resume publishing",
    "release": "Release held deliveries",
    "resolve": "Settle a delivery in doubt",
    "retract": "Retract a published post",
    "check": "Check every channel and lift the holds that pass",
}
NEEDS = {  # stopping is always safe; sending, settling and deleting need an approver
    "pause": Role.AUTHOR,
    "resume": Role.APPROVER,
    "release": Role.APPROVER,
    "resolve": Role.APPROVER,
    "retract": Role.APPROVER,
    "check": Role.ADMIN,  # it signs in to every platform, and sends held posts on their way
}


def who(session: Session) -> str:
    user = session.user
    return f"{user.display or user.name} ({user.name})"


async def status_page(web: Any, request: Request, session: Session) -> Response:
    """What needs attention, with the control that resolves each."""
    with open_ledger(web.config.ledger_spec, migrate=False) as ledger:
        report = status_report(ledger, web.config, ledger.clock())
    zone = web.config.timezone
    return web.page(
        request, "status.html.j2", title="Status", report=report,
        when=lambda iso: _local(iso, zone), can=lambda name: _can(session, name),
        done=request.query_params.get("done", ""),
    )  # fmt: skip


async def history_page(web: Any, request: Request, session: Session) -> Response:
    """What was published, where and when; CSV or JSON for records requests."""
    zone = web.config.timezone
    since_text = request.query_params.get("since", "").strip()
    error = None
    since = None
    if since_text:
        try:
            since = parse_since(since_text, zone)
        except (ValueError, OverflowError) as exc:
            error = str(exc)
    with open_ledger(web.config.ledger_spec, migrate=False) as ledger:
        rows = history_rows(ledger, web.config, since=since)
    fmt = request.query_params.get("format", "")
    if fmt in ("csv", "json") and error is None:
        body = format_history(rows, fmt, zone)
        kind = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
        name = f"crosspost-history.{fmt}"
        return Response(
            body + "\n", media_type=kind,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )  # fmt: skip
    return web.page(
        request, "history.html.j2", title="History", rows=rows, since=since_text, error=error,
        when=lambda iso: _local(iso, zone), can_retract=_can(session, "retract"),
    )  # fmt: skip


async def control(web: Any, request: Request, session: Session) -> Response:
    """One control: confirm first, then do it through the action layer."""
    name = request.url.path.rsplit("/", 1)[1]
    if name not in ASKS:
        return web.page(
            request, "error.html.j2", 404, title="Not found", message="No such control."
        )
    if not _can(session, name):
        return web.page(
            request, "error.html.j2", 403, title="Not allowed",
            message=f"This needs the {NEEDS[name]} role; you are signed in as "
            f"{session.user.role}.",
        )  # fmt: skip
    form = getattr(request.state, "form", None) or await request.form()
    values = dict(form.items())
    fields = {k: str(v) for k, v in values.items() if k not in ("csrf", "confirmed")}
    wrong = _wrong(web, name, fields)
    if wrong is not None:  # said before anything is confirmed, let alone done
        return web.page(request, "error.html.j2", 422, title="Not done", message=wrong)
    if values.get("confirmed") != "1":
        return web.page(
            request, "confirm.html.j2", title=ASKS[name], name=name, fields=fields,
            what=_describe(name, fields),
        )  # fmt: skip
    try:
        said = _do(web, name, fields, who(session))
    except (actions.ActionRefused, ValueError, OverflowError) as exc:
        return web.page(request, "error.html.j2", 409, title="Not done", message=str(exc))
    web.site.changed()
    return RedirectResponse(f"/status?done={quote(said)}", status_code=303)


def _until(web: Any, text: str) -> Any:
    """A pause's end: a time still to come, in the office's time (ValueError otherwise)."""
    from datetime import UTC, datetime

    from crosspost.core.times import parse_publish_at

    until = parse_publish_at(text.strip(), web.config.timezone)
    if until <= datetime.now(UTC):
        raise ValueError(f"'{text.strip()}' has passed: give a time still to come")
    return until


def _wrong(web: Any, name: str, fields: dict[str, str]) -> str | None:
    """What is wrong with a control's fields, before it is confirmed."""
    if name == "pause" and fields.get("until", "").strip():
        try:
            _until(web, fields["until"])
        except (ValueError, OverflowError) as exc:
            return (
                f"The pause's end is not a time crosspost can use ({exc}). Write it in the "
                "office's time, e.g. 2026-12-02 18:00, or leave it empty to pause until resumed."
            )
    return None


def _can(session: Session, name: str) -> bool:
    return Role(session.user.role).allows(NEEDS[name])


def _describe(name: str, f: dict[str, str]) -> str:
    channel = f.get("channel") or ""
    where = f"channel {channel}" if channel else "every channel"
    if name == "pause":
        until = f" until {f['until']}" if f.get("until") else ""
        return f"Pause {where}{until}. Nothing more is published there until it is resumed."
    if name == "resume":
        also = " and send what it held, late" if f.get("release_overdue") else ""
        return f"Resume {where}{also}."
    if name == "release":
        late = " even though it is late" if f.get("late") else ""
        return f"Send the held deliveries of {f.get('post_id')} on {where}{late}."
    if name == "resolve":
        how = ("published as " + f["remote_id"]) if f.get("remote_id") else "not published: "
        how += "" if f.get("remote_id") else "it will be sent again"
        return f"Record that {f.get('post_id')} on {channel} was {how}."
    if name == "check":
        return (
            "Sign in to every channel's platform (as crosspost doctor does), and lift the hold "
            "of each channel whose check passes: its held posts then go out."
        )
    return f"Delete {f.get('post_id')} from {where} where the platform allows it."


def _do(web: Any, name: str, f: dict[str, str], by: str) -> str:
    """Carry out a confirmed control; what happened, in a sentence."""
    config = web.config
    channel = f.get("channel") or None
    if name == "check":
        checks = actions.check_channels(config, by=by)
        return "; ".join(
            f"{c.key}: {'passed' if c.report.ok else 'failed: ' + '; '.join(c.report.problems)}"
            + (f", hold lifted ({c.released} back in the queue)" if c.released is not None else "")
            for c in checks
        )
    with open_ledger(config.ledger_spec, migrate=False) as ledger:
        if name == "pause":
            until = _until(web, f["until"]) if f.get("until", "").strip() else None
            done = actions.pause(ledger, config, by=by, reason=f.get("reason", ""),
                                 channel=channel, until=until)  # fmt: skip
            return f"{done.scope} paused by {by}"
        if name == "resume":
            resumed = actions.resume(ledger, by=by, channel=channel,
                                     release_overdue=bool(f.get("release_overdue")))  # fmt: skip
            sent = f"; {len(resumed.held)} held deliveries released" if resumed.released else ""
            return f"resumed by {by}{sent}"
        if name == "release":
            released = actions.release(
                ledger, config, f.get("post_id", ""), by=by,
                channels=(channel,) if channel else (), late=bool(f.get("late")),
            )  # fmt: skip
            if released.refused:
                return f"{len(released.refused)} not released: too late (tick 'late' to send)"
            return f"released {len(released.released)} deliveries of {f.get('post_id')}"
        if name == "resolve":
            actions.resolve(ledger, f.get("post_id", ""), channel or "", by=by,
                            remote_id=f.get("remote_id") or None)  # fmt: skip
            return f"settled {f.get('post_id')} on {channel}"
        results = actions.retract(ledger, config, f.get("post_id", ""), by=by,
                                  reason=f.get("reason", ""),
                                  channels=(channel,) if channel else ())  # fmt: skip
        return "; ".join(f"{r.channel}: {r.said}" for r in results)


def _local(iso: str | None, zone: Any) -> str:
    from crosspost.core.times import from_iso

    moment = from_iso(iso)
    return format_local(moment, zone) if moment else "no time set"


def banners(web: Any) -> list[str]:
    """The pauses in force, for the banner on every page (read through the site's own
    connection of this thread: no ledger is opened per page)."""
    from crosspost.scheduling.controls import pauses

    ledger = web.site.ledger()
    if ledger is None:
        return []
    return [p.describe() for p in pauses(ledger, ledger.clock())]
