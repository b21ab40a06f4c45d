"""The web app (`crosspost serve`): sign in, the calendar, the post list, compose and edit.

Every route is written once, in `ROUTES`, with the role it needs; `guarded` checks the
session, the role and (for every change) the CSRF token on the server before the page's
own code runs. Pages are rendered on the server from Jinja2 templates shipped in the
package; one small script (`static/compose.js`, no build step, nothing from the network)
refreshes the mock-ups as an officer types. The queue stays the truth: a save writes the
post's YAML file (and commits it, where the queue is in git), and the daemon re-plans from it.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from crosspost.core.times import format_local
from crosspost.scheduling.stores import open_ledger
from crosspost.views.html import STATES, mockup_notes, months, post_text, weeks
from crosspost.web import authors, controls, forms, oidc, store
from crosspost.web.accounts import AccountStore, Role, Session
from crosspost.web.site import Checked, Site

log = logging.getLogger(__name__)

COOKIE = "crosspost_session"
MAX_BODY = 40_000_000  # a form with images: refused above this, before it is read
MAX_IMAGE = 8_000_000
PER_ADDRESS, WINDOW = 30, 15 * 60  # failed sign-ins from one address in 15 minutes
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
Handler = Callable[[Request, Session], Awaitable[Response]]


@dataclass(frozen=True)
class Page:
    """One route: its path, methods and the role it needs (None: open to anyone, which only
    the sign-in page and the static files are)."""

    path: str
    name: str
    methods: tuple[str, ...]
    role: Role | None
    handler: Any  # Handler, or a plain endpoint for open routes


class Web:
    """The app's state: the site (the loaded queue), the accounts, the templates."""

    def __init__(
        self,
        config_path: Path | str,
        *,
        accounts: AccountStore | None = None,
        secure_cookies: bool = False,
        clock: Callable[[], datetime] | None = None,
    ):
        self.site = Site(config_path, clock=clock)
        config = self.site.project().config
        self.config = config
        self.accounts = accounts or AccountStore(config.state_path.with_name("accounts.db"))
        self.secure = secure_cookies
        self.env = _environment()
        # the sign-in page offers the office's own accounts, when configured
        self.env.globals["sign_in_with"] = config.oidc.label if config.oidc else None
        self._failures: dict[str, list[float]] = {}  # address -> times of failed sign-ins

    def email_of(self, account: str) -> str | None:
        user = self.accounts.get(account)
        return user.email if user is not None else None

    # --- sign-in throttling per address (the accounts throttle per account) ---------------------

    def failed_from(self, address: str) -> None:
        self._failures.setdefault(address, []).append(time.monotonic())

    def refused_from(self, address: str) -> bool:
        """Over the limit of failed sign-ins from one address in the window: wait."""
        recent = [t for t in self._failures.get(address, []) if time.monotonic() - t < WINDOW]
        if recent:
            self._failures[address] = recent
        else:
            self._failures.pop(address, None)
        return len(recent) >= PER_ADDRESS

    # --- rendering ----------------------------------------------------------------------------

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        """A whole page from its template, with what every page shows."""
        session = getattr(request.state, "session", None)
        body = self.env.get_template(template).render(
            paused=controls.banners(self) if session else [],
            user=session.user if session else None,
            csrf=session.csrf if session else "",
            office=self.config.timezone.key,
            path=request.url.path,
            **context,
        )
        return HTMLResponse(body, status_code=status)


# --- the guard: session, role, CSRF ---------------------------------------------------------


def guarded(web: Web, page: Page) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint for `page`: nothing of the page's own code runs unless a signed-in user
    with the page's role asks, and (for anything but GET) sends the session's CSRF token from
    this site's own pages."""

    async def endpoint(request: Request) -> Response:
        if page.role is None:
            response: Response = await page.handler(web, request)
            return response
        token = request.cookies.get(COOKIE, "")
        session = web.accounts.session(token) if token else None
        if session is None:
            if request.method != "GET" and "text/html" in request.headers.get("accept", ""):
                return web.page(  # a form sent after the session ended: say so, lose nothing
                    request, "error.html.j2", 401, title="You were signed out",
                    message="Your session ended (after 8 hours, at sign-out, or by an "
                    "administrator), so nothing was saved. Go back in your browser: your text "
                    "is still in the form. Sign in again in another tab, then save again.",
                )  # fmt: skip
            if request.method == "GET" and "application/json" not in request.headers.get(
                "accept", ""
            ):
                target = quote(
                    request.url.path + (f"?{request.url.query}" if request.url.query else "")
                )
                return RedirectResponse(f"/login?next={target}", status_code=303)
            return JSONResponse({"error": "sign in first"}, status_code=401)
        request.state.session = session
        if not Role(session.user.role).allows(page.role):
            return web.page(
                request, "error.html.j2", 403, title="Not allowed",
                message=f"This needs the {page.role} role; you are signed in as "
                f"{session.user.role}.",
            )  # fmt: skip
        if request.method != "GET":
            refused = await _csrf_refusal(request, session)
            if refused:
                return web.page(request, "error.html.j2", 403, title="Refused", message=refused)
        response = await page.handler(web, request, session)
        return response

    return endpoint


async def _csrf_refusal(request: Request, session: Session) -> str | None:
    """Why a change is refused: not from this site's own page, or without the session's
    token (a form field, or the X-CSRF-Token header the script sends)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and urlsplit(origin).netloc != request.headers.get("host", ""):
        return "This change came from another site, so it was not made."
    sent = request.headers.get("x-csrf-token", "")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await _form(request)
        value = form.get("csrf")
        sent = value if isinstance(value, str) else ""
    if not sent or not hmac.compare_digest(sent, session.csrf):
        return (
            "The page was out of date (its security token did not match). Go back, reload "
            "it and try again."
        )
    return None


async def _form(request: Request) -> FormData:
    """The request's form, read once, bounded: too big or too many parts is refused."""
    cached = getattr(request.state, "form", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    length = request.headers.get("content-length")
    if length is None or not length.isdigit() or int(length) > MAX_BODY:
        raise HTTPException(413, f"a form is limited to {MAX_BODY // 1_000_000} MB")
    form = await request.form(max_files=forms.MAX_IMAGES, max_fields=200, max_part_size=MAX_IMAGE)
    request.state.form = form
    return form


# --- signing in and out ---------------------------------------------------------------------


async def login(web: Web, request: Request) -> Response:
    next_page = _safe_next(request.query_params.get("next", "/"))
    if request.method == "GET":
        return web.page(request, "login.html.j2", next=next_page, error=None, name="")
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and urlsplit(origin).netloc != request.headers.get("host", ""):
        return web.page(  # a sign-in from another site's page (login CSRF)
            request, "error.html.j2", 403, title="Refused",
            message="This sign-in came from another site, so it was not made.",
        )  # fmt: skip
    address = request.client.host if request.client else "?"
    if web.refused_from(address):
        return web.page(
            request, "login.html.j2", 429, next=next_page, name="",
            error="Too many failed sign-ins from this address: wait 15 minutes and try again.",
        )  # fmt: skip
    form = await _form(request)
    name = str(form.get("name") or "").strip()
    password = str(form.get("password") or "")
    # Argon2 takes a tenth of a second on purpose: off the event loop, so others wait not
    user = (
        await run_in_threadpool(web.accounts.verify, name, password) if name and password else None
    )
    if user is None:
        web.failed_from(address)
        log.info("sign-in refused")  # never the name: a password is sometimes typed there
        return web.page(
            request, "login.html.j2", 401, next=next_page, name=name,
            error="The name or the password is not right, or the account is disabled.",
        )  # fmt: skip
    token, _ = web.accounts.create_session(user.name)
    response = RedirectResponse(_safe_next(str(form.get("next") or "/")), status_code=303)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", secure=web.secure, path="/",
        max_age=8 * 3600,
    )  # fmt: skip
    log.info("signed in: %s", user.name)  # an account's name, checked
    return response


async def logout(web: Web, request: Request, session: Session) -> Response:
    web.accounts.end_session(request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _safe_next(value: str) -> str:
    """Only a path on this site (never //host or a scheme): no open redirect."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


# --- the calendar and the post list ---------------------------------------------------------


async def calendar(web: Web, request: Request, session: Session) -> Response:
    loaded = web.site.loaded()
    view = request.query_params.get("view", "month")
    dated = [e for e in loaded.entries if e.local is not None]
    wanted = request.query_params.get("month", "")
    now = web.site.clock().astimezone(web.config.timezone)
    year, month = _month(wanted, now)
    in_month = [
        e for e in dated if e.local is not None and (e.local.year, e.local.month) == (year, month)
    ]
    chosen = weeks(in_month) if view == "week" else months(in_month)
    previous = (year - 1, 12) if month == 1 else (year, month - 1)
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    return web.page(
        request, "calendar.html.j2", title="Calendar", view=view, grids=chosen,
        month_name=datetime(year, month, 1).strftime("%B %Y"), month_param=f"{year}-{month:02d}",
        previous=f"{previous[0]}-{previous[1]:02d}", following=f"{following[0]}-{following[1]:02d}",
        states=STATES, undated=[e for e in loaded.entries if e.local is None],
    )  # fmt: skip


def _month(text: str, now: datetime) -> tuple[int, int]:
    try:
        year, month = (int(part) for part in text.split("-", 1))
        if 1 <= month <= 12 and 2000 <= year <= 2200:
            return year, month
    except ValueError:
        pass
    return now.year, now.month


async def post_list(web: Web, request: Request, session: Session) -> Response:
    loaded = web.site.loaded()
    q = request.query_params
    text, channel, state, tag = (q.get(k, "").strip() for k in ("q", "channel", "state", "tag"))
    rows = []
    for post in loaded.project.posts:
        entries = loaded.by_post.get(post.id, [])
        if channel and channel not in post.channels:
            continue
        if tag and tag not in post.tags:
            continue
        if state and not any(e.state == state for e in entries):
            continue
        if text and not _matches(text, post):
            continue
        rows.append((post, entries))
    rows.sort(key=lambda r: (r[0].publish_at or _FAR, r[0].id))
    shown = rows[:200]
    return web.page(
        request, "posts.html.j2", title="Posts", rows=shown, total=len(rows), q=text,
        deleted=q.get("deleted", ""), git_failed=q.get("git") == "failed",
        channel=channel, state=state, tag=tag, channels=list(web.config.channels),
        states=STATES, zone=web.config.timezone, format_local=format_local,
    )  # fmt: skip


_FAR = datetime(9999, 1, 1, tzinfo=UTC)


def _matches(text: str, post: Any) -> bool:
    needle = text.casefold()
    if needle in post.id.casefold():
        return True
    return any(isinstance(v, str) and needle in v.casefold() for v in post.fields.values()) or any(
        needle in str(t).casefold() for t in post.fields.get("hashtags", [])
    )


# --- compose, preview, save -----------------------------------------------------------------


async def compose(web: Web, request: Request, session: Session) -> Response:
    """The form for a new post, or for the post named in the path."""
    post_id = request.path_params.get("post_id")
    channels = list(web.config.channels)
    if post_id is None:
        form = forms.Form(
            channels=channels, status="draft", author=session.user.display or session.user.name
        )
        return _compose_page(web, request, form, None, "", [])
    post = _post_or_404(web, post_id)
    text = post.file.read_text(encoding="utf-8")
    data = _plain(text)
    if not isinstance(data, dict):
        return web.page(
            request, "error.html.j2", 409, title="Edit this file by hand",
            message=f"{_rel(web, post.file)} holds several posts; edit it with a text editor.",
        )  # fmt: skip
    form, kept = forms.from_post_data(data, channels)
    saved = request.query_params.get("saved") == "1"
    return _compose_page(
        web, request, form, post_id, store.file_version(post.file), kept, saved=saved
    )


def _compose_page(
    web: Web,
    request: Request,
    form: forms.Form,
    post_id: str | None,
    version: str,
    kept: list[str],
    checked: Checked | None = None,
    status: int = 200,
    conflict: dict | None = None,
    saved: bool = False,
) -> Response:
    path = _post_path(web, post_id)
    checked = checked or _check_form(web, form, path)
    errors = _errors_by_field(checked)
    return web.page(
        request, "compose.html.j2", status, title="Edit post" if post_id else "New post",
        form=form, post_id=post_id, version=version, kept=kept, channels=web.config.channels,
        thread_parts=forms.THREAD_PARTS, max_images=forms.MAX_IMAGES, errors=errors,
        cards=_cards(web, checked), problems=checked.problems, conflict=conflict, saved=saved,
        refused=status >= 400, git_failed=request.query_params.get("git") == "failed",
        upload_alts=_upload_alts(request),
        image_url=lambda p: _image_url(web, path, p),
    )  # fmt: skip


async def preview(web: Web, request: Request, session: Session) -> Response:
    """The mock-ups and problems for what is in the form now (nothing is written)."""
    values = await _form(request)
    form = forms.from_request(values, list(web.config.channels))
    post_id = str(values.get("post_id") or "") or None
    path = _post_path(web, post_id)
    checked = _check_form(web, form, path)
    html = web.env.get_template("mockups.html.j2").render(
        cards=_cards(web, checked), problems=checked.problems,
        image_url=lambda p: _image_url(web, path, p),
    )  # fmt: skip
    errors = _errors_by_field(checked)
    summary = _summary(checked)
    return JSONResponse({"html": html, "errors": errors, "summary": summary})


async def save(web: Web, request: Request, session: Session) -> Response:
    """Write the post's file (new, or only what changed), after checking it; refuse if the
    file changed on disk since the form was opened, showing both versions. Nothing typed is
    lost: every refusal shows the form again, as it was sent."""
    values = await _form(request)
    form = forms.from_request(values, list(web.config.channels))
    post_id = request.path_params.get("post_id")
    version = str(values.get("version") or "")
    uploads = _uploads(values)  # read once: an upload's stream is not read twice
    refusal = _form_refusal(form, uploads)
    if refusal is not None:
        return _refused(web, request, form, post_id, version, refusal)
    post = _post_or_none(web, post_id) if post_id else None
    if post_id is not None and post is None:  # deleted, or its file broke, since it was opened
        return _compose_page(
            web, request, form, None, "", [], status=409,
            conflict={"theirs": f"(post {post_id} is no longer in the queue: its file was "
                      "deleted, or now has errors)", "mine": _text_or_note(form)},
        )  # fmt: skip
    if post is not None and store.file_version(post.file) != version:
        theirs = post.file.read_text(encoding="utf-8") if post.file.exists() else "(deleted)"
        return _compose_page(
            web, request, form, post_id, store.file_version(post.file), [], status=409,
            conflict={"theirs": theirs, "mine": _text_or_note(form)},
        )  # fmt: skip
    path = post.file if post is not None else _new_path(web, form)
    old_text = post.file.read_text(encoding="utf-8") if post is not None else None
    saved_images: list[Path] = []
    try:
        for name, data, alt in uploads:
            rel = store.save_image(web.config.queue_dir, name, data, MAX_IMAGE)
            saved_images.append(web.config.queue_dir / rel)
            form.images.append(forms.Image(_relative_to_post(path, saved_images[-1]), alt.strip()))
        text = (
            store.new_post_text(form.fields())
            if old_text is None
            else store.updated_post_text(
                old_text, _edited_fields(form, old_text, list(web.config.channels))
            )
        )
        checked = web.site.check(text, path)
        if checked.blocking(ready=form.status == "ready"):
            _remove(saved_images)
            return _compose_page(web, request, form, post_id, version, [], checked, 422)
        if old_text is not None and text == old_text and not saved_images:
            return RedirectResponse(f"/posts/{quote(post_id or path.stem)}?saved=1", 303)
        store.atomic_write(path, text)
    except store.StoreError as exc:
        _remove(saved_images)
        return _refused(web, request, form, post_id, version, str(exc))
    web.site.changed()
    with open_ledger(
        web.config.ledger_spec, migrate=False
    ) as ledger:  # who wrote it, on record, with its version
        authors.record(ledger, session.user.name, post_id or path.stem, path)
    committed = _commit(web, session, [path, *saved_images], "Add" if old_text is None else "Edit",
                        post_id or path.stem)  # fmt: skip
    note = "" if committed else "&git=failed"
    return RedirectResponse(f"/posts/{quote(post_id or path.stem)}?saved=1{note}", 303)


def _form_refusal(form: forms.Form, uploads: list[tuple[str, bytes, str]]) -> str | None:
    """What the form itself lacks, before anything is checked or written."""
    if not form.channels:
        return "choose at least one channel (a post with none would go to every channel)"
    too_long = [k for k in forms.TEXT_KEYS if len(getattr(form, k)) > forms.MAX_TEXT]
    if too_long:
        return f"the {too_long[0]} is over {forms.MAX_TEXT:,} characters: no platform takes that"
    for name, data, alt in uploads:
        if not alt.strip():
            return f"add alt text for {name}: describe the image for people using screen readers"
        if len(data) > MAX_IMAGE:
            return f"{name} is over {MAX_IMAGE // 1_000_000} MB; images are limited to that"
    return None


def _refused(
    web: Web, request: Request, form: forms.Form, post_id: str | None, version: str, why: str
) -> Response:
    path = _post_path(web, post_id)
    checked = _with_problem(_check_form(web, form, path), path, why)
    return _compose_page(web, request, form, post_id, version, [], checked, 422)


def _check_form(web: Web, form: forms.Form, path: Path) -> Checked:
    """The form's post checked, or (text YAML cannot hold) an empty check."""
    try:
        return web.site.check(store.new_post_text(form.fields()), path)
    except store.StoreError as exc:
        return Checked(None, [_problem(path, str(exc))], [], {}, 1)


def _text_or_note(form: forms.Form) -> str:
    try:
        return store.new_post_text(form.fields())
    except store.StoreError as exc:
        return f"(your version cannot be shown as a file: {exc})"


def _new_path(web: Web, form: forms.Form) -> Path:
    """A readable, unused file name for a new post whose id no post has (nor a page: new)."""
    fields = form.fields()
    taken = {p.id for p in web.site.project().posts} | {"new"}
    path = store.new_post_path(
        web.config.queue_dir, fields.get("publish_at"), form.title or form.body
    )
    stem, n = path.stem, 2
    while path.stem in taken or path.exists():
        path = path.with_name(f"{stem}-{n}.yaml")
        n += 1
    return path


def _remove(paths: list[Path]) -> None:
    for image in paths:
        image.unlink(missing_ok=True)


def _commit(web: Web, session: Session, paths: list[Path], verb: str, post_id: str) -> bool:
    """Commit the saved files as the signed-in user (where the queue is in git); False if git
    refused: the file is saved all the same, and the page says so."""
    user = session.user
    try:
        store.commit(
            web.config.queue_dir, paths, f"{verb} post {post_id}", user.display or user.name,
            user.email or f"{user.name}@crosspost.invalid",
        )  # fmt: skip
    except store.StoreError as exc:
        log.error("saved %s, but not committed: %s", post_id, exc)
        return False
    return True


async def delete(web: Web, request: Request, session: Session) -> Response:
    post = _post_or_404(web, request.path_params["post_id"])
    if not isinstance(_plain(post.file.read_text(encoding="utf-8")), dict):
        return web.page(
            request, "error.html.j2", 409, title="Delete this post by hand",
            message=f"{_rel(web, post.file)} holds several posts; deleting it here would "
            "delete them all. Remove this one with a text editor.",
        )  # fmt: skip
    if request.method == "GET":
        return web.page(
            request, "delete.html.j2", title="Delete post", post=post, file=_rel(web, post.file)
        )
    try:
        store.delete_post_file(post.file)
    except store.StoreError as exc:
        return web.page(request, "error.html.j2", 409, title="Not deleted", message=str(exc))
    web.site.changed()
    committed = _commit(web, session, [post.file], "Delete", post.id)
    note = "" if committed else "&git=failed"
    return RedirectResponse("/posts?deleted=" + quote(post.id) + note, status_code=303)


async def approve(web: Web, request: Request, session: Session) -> Response:
    """An approver approves a post after seeing every channel's mock-up: on record with their
    account, the time and the content's hash. The person who wrote it cannot."""
    from crosspost import actions
    from crosspost.checking.project import render_every_channel
    from crosspost.scheduling.controls import load_approvals, post_approval_hash

    post = _post_or_404(web, request.path_params["post_id"])
    project = web.site.project()
    rendered = render_every_channel(project, post)
    digest = post_approval_hash(rendered)
    with open_ledger(web.config.ledger_spec, migrate=False) as ledger:
        wrote = authors.author_of(ledger, post.id, post.file)
    user = session.user
    me = f"{user.display or user.name} ({user.name})"
    own = authors.is_author(wrote, user.name, user.display, user.email, web.email_of)
    unknown = wrote is not None and wrote.source == "changed"
    if request.method == "POST" and not own and not unknown:
        values = await _form(request)
        try:
            with open_ledger(web.config.ledger_spec, migrate=False) as ledger:
                actions.approve(
                    ledger, project, post, by=me, pinned=str(values.get("hash") or ""),
                    author=wrote.identity if wrote else None,
                )  # fmt: skip
        except actions.ActionRefused as exc:
            return web.page(request, "error.html.j2", 409, title="Not approved", message=str(exc))
        web.site.changed()
        return RedirectResponse(f"/posts/{quote(post.id)}/approve?approved=1", status_code=303)
    approval = load_approvals(web.config.approvals_path).get(post.id)
    status = 403 if request.method == "POST" else 200
    return web.page(
        request, "approve.html.j2", status, title=f"Approve {post.id}", post=post,
        cards=_cards(web, Checked(post, [], rendered, {}, 0)), digest=digest, author=wrote,
        own=own, unknown=unknown,
        approval=approval, current=approval is not None and approval.hash == digest,
        approved=request.query_params.get("approved") == "1",
        image_url=lambda rel: _image_url(web, post.file, rel),
    )  # fmt: skip


async def media(web: Web, request: Request, session: Session) -> Response:
    """An image from the queue's folder (never a path outside it)."""
    queue = web.config.queue_dir.resolve()
    target = (queue / request.path_params["path"]).resolve()
    if not target.is_relative_to(queue) or not target.is_file():
        raise HTTPException(404, "no such image")
    suffix = target.suffix.lower()
    kinds = {
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".png": "image/png",
        ".gif": "image/gif",
        ".webp": "image/webp",
    }
    if suffix not in kinds:
        raise HTTPException(404, "not an image")
    return Response(
        target.read_bytes(),
        media_type=kinds[suffix],
        headers={"Cache-Control": "private, max-age=60"},
    )


async def static(web: Web, request: Request) -> Response:
    name = request.path_params["name"]
    kinds = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
    suffix = Path(name).suffix
    if "/" in name or suffix not in kinds:
        raise HTTPException(404, "no such file")
    try:
        data = files("crosspost.web").joinpath("static", name).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise HTTPException(404, "no such file") from None
    return Response(
        data, media_type=kinds[suffix], headers={"Cache-Control": "public, max-age=300"}
    )


# --- helpers --------------------------------------------------------------------------------


def _edited_fields(form: forms.Form, old_text: str, every: list[str]) -> dict[str, Any]:
    """The form's fields for an edit, as changes to the file: a field the officer emptied is
    removed (None); what the form cannot show is left as it is (a channel override's other
    fields, the file's own default status and channels); a text equal but for the line break
    the form trims at its end is not rewritten."""
    fields: dict[str, Any] = form.fields()
    old = _plain(old_text)
    old = old if isinstance(old, dict) else {}
    for key in forms.FORM_KEYS:
        if key in old and key not in fields:
            fields[key] = None
    if "status" not in old and fields.get("status") == "ready":
        del fields["status"]  # ready is what a file without a status means
    if "channels" not in old and set(fields.get("channels") or ()) == set(every):
        fields.pop("channels", None)  # every channel: what a file without channels means
    for key in forms.TEXT_KEYS:
        before, now = old.get(key), fields.get(key)
        if isinstance(before, str) and isinstance(now, str) and before.rstrip() == now:
            fields[key] = before
    fields["overrides"] = _merged_overrides(old.get("overrides"), form.overrides)
    if not fields["overrides"] and "overrides" not in old:
        del fields["overrides"]
    return fields


def _merged_overrides(old: Any, texts: dict[str, str]) -> dict[str, Any] | None:
    """The file's overrides with each channel's `text` as the form now says: the other
    fields of an override (its own time, title, first comment) are kept."""
    merged: dict[str, Any] = {}
    old = old if isinstance(old, dict) else {}
    for channel in {*old, *texts}:
        entry = dict(old.get(channel) or {}) if isinstance(old.get(channel), dict) else {}
        text = forms.clean_text(texts.get(channel, ""))
        if text.strip():
            entry["text"] = text
        else:
            entry.pop("text", None)
        if entry:
            merged[channel] = entry
    return merged or None


def _post_or_none(web: Web, post_id: str) -> Any:
    return next((p for p in web.site.project().posts if p.id == post_id), None)


def _post_or_404(web: Web, post_id: str) -> Any:
    for post in web.site.project().posts:
        if post.id == post_id:
            return post
    raise HTTPException(404, f"no post {post_id!r} in the queue")


def _post_path(web: Web, post_id: str | None) -> Path:
    if post_id:
        for post in web.site.project().posts:
            if post.id == post_id:
                return post.file
    return web.config.queue_dir / "new-post.yaml"


def _relative_to_post(post_path: Path, image: Path) -> str:
    """The image's path as the post file holds it: relative to the file's folder."""
    return os.path.relpath(image, post_path.parent).replace(os.sep, "/")


def _image_url(web: Web, post_path: Path, rel: str) -> str:
    target = post_path.parent / rel
    try:
        inside = target.resolve().relative_to(web.config.queue_dir.resolve()).as_posix()
    except ValueError:
        return ""
    return "/media/" + quote(inside)


def _rel(web: Web, path: Path) -> str:
    try:
        return path.relative_to(web.config.root).as_posix()
    except ValueError:
        return str(path)


def _plain(text: str) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=yaml.BaseLoader)
    except yaml.YAMLError:
        return None


def _upload_alts(request: Request) -> dict[int, str]:
    """Alt texts typed for new images, to show again when the save was refused."""
    values = getattr(request.state, "form", None)
    if values is None:
        return {}
    out = {}
    for i in range(forms.MAX_IMAGES):
        alt = values.get(f"upload_{i}_alt")
        if isinstance(alt, str) and alt:
            out[i] = alt
    return out


def _uploads(values: FormData) -> list[tuple[str, bytes, str]]:
    out = []
    for i in range(forms.MAX_IMAGES):
        upload = values.get(f"upload_{i}")
        if isinstance(upload, UploadFile) and upload.filename:
            data = upload.file.read(MAX_IMAGE + 1)
            alt = values.get(f"upload_{i}_alt")
            out.append((upload.filename, data, alt if isinstance(alt, str) else ""))
    return out


def _problem(path: Path, message: str) -> Any:
    from crosspost.core.problems import Mark, Problem

    return Problem(Mark(path), message)


def _with_problem(checked: Checked, path: Path, message: str) -> Checked:
    checked.problems.insert(0, _problem(path, message))
    return checked


def _errors_by_field(checked: Checked) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for i, problem in enumerate(checked.problems):
        key = checked.fields_of.get(i, "post")
        if key == "post" and re.search(r"\b(image|images|media|alt text)\b", problem.message):
            key = "images"  # a channel's rule about images: said beside the images
        key = {"media": "images"}.get(key, key)
        out.setdefault(key, []).append(f"{problem.severity}: {problem.message}")
    return out


def _summary(checked: Checked) -> str:
    errors = sum(1 for p in checked.problems if p.severity == "error") + sum(
        len(r.problems) for r in checked.rendered
    )
    warnings = sum(1 for p in checked.problems if p.severity != "error") + sum(
        len(r.warnings) for r in checked.rendered
    )
    if not errors and not warnings:
        return "No problems: every channel can publish this."
    return f"{errors} problem{'s' * (errors != 1)} and {warnings} warning{'s' * (warnings != 1)}."


def _cards(web: Web, checked: Checked) -> list[dict[str, Any]]:
    out = []
    for r in checked.rendered:
        channel = web.config.channels[r.channel]
        rules = channel.rules
        out.append(
            {
                "r": r,
                "label": rules.label,
                "limit": rules.text_limit,
                "unit": rules.unit,
                "links": rules.links_clickable,
                "link_preview": bool(r.link) and not r.media,
                "notes": mockup_notes(channel),
                "when": format_local(r.publish_at, web.config.timezone)
                if r.publish_at
                else "no time set",
            }
        )
    return out


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("crosspost.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["post_text"] = post_text
    env.filters["thousands"] = lambda n: f"{n:,}"
    return env


# --- the route table: written once; the role matrix is tested from it -------------------------

ROUTES: list[Page] = [
    Page("/login", "login", ("GET", "POST"), None, login),
    Page("/login/oidc", "oidc_start", ("GET",), None, oidc.start),
    Page("/login/oidc/callback", "oidc_callback", ("GET",), None, oidc.callback),
    Page("/static/{name}", "static", ("GET",), None, static),
    Page("/logout", "logout", ("POST",), Role.AUTHOR, logout),
    Page("/", "calendar", ("GET",), Role.AUTHOR, calendar),
    Page("/posts", "posts", ("GET",), Role.AUTHOR, post_list),
    Page("/posts/new", "new", ("GET",), Role.AUTHOR, compose),
    Page("/posts/new", "create", ("POST",), Role.AUTHOR, save),
    Page("/preview", "preview", ("POST",), Role.AUTHOR, preview),
    Page("/posts/{post_id}", "edit", ("GET",), Role.AUTHOR, compose),
    Page("/posts/{post_id}", "update", ("POST",), Role.AUTHOR, save),
    Page("/posts/{post_id}/delete", "delete", ("GET", "POST"), Role.AUTHOR, delete),
    Page("/posts/{post_id}/approve", "approve", ("GET", "POST"), Role.APPROVER, approve),
    Page("/status", "status", ("GET",), Role.AUTHOR, controls.status_page),
    Page("/history", "history", ("GET",), Role.AUTHOR, controls.history_page),
    *(
        Page(f"/controls/{name}", name, ("POST",), role, controls.control)
        for name, role in controls.NEEDS.items()
    ),
    Page("/media/{path:path}", "media", ("GET",), Role.AUTHOR, media),
]


def make_app(
    config_path: Path | str,
    *,
    accounts: AccountStore | None = None,
    allowed_hosts: list[str] | None = None,
    secure_cookies: bool = False,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """The web app over the project of `config_path`."""
    web = Web(config_path, accounts=accounts, secure_cookies=secure_cookies, clock=clock)
    routes = [Route(p.path, guarded(web, p), methods=list(p.methods), name=p.name) for p in ROUTES]
    hosts = ["localhost", "127.0.0.1", "[::1]", *(allowed_hosts or [])]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts), Middleware(_Headers)],
        exception_handlers={HTTPException: lambda request, exc: _error(web, request, exc)},
    )
    app.state.web = web
    return app


def _error(web: Web, request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", "Something went wrong.")
    return web.page(
        request,
        "error.html.j2",
        status,
        title="Not found" if status == 404 else "Refused",
        message=str(detail),
    )


class _Headers:
    """Security headers on every answer: a strict Content-Security-Policy (nothing inline,
    nothing from elsewhere), no framing, no sniffing, no caching of pages."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                ]
                if b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = headers + extra
            await send(message)

        await self.app(scope, receive, with_headers)


def demo_password() -> str:
    """A password for a demo account (printed once, in a dry run)."""
    return secrets.token_urlsafe(12)
