"""Sign in with the office's accounts (OpenID Connect: Microsoft Entra ID, Google Workspace).

The authorization-code flow with PKCE, state and nonce, through authlib: `GET /login/oidc`
sends the browser to the provider; `GET /login/oidc/callback` checks the state, exchanges the
code for tokens (with the client secret, from the environment), validates the ID token against
the provider's published keys (signature, issuer, audience, expiry, nonce), and lets in only a
verified e-mail address of an allowed domain. The role comes from the group claim or the
config's lists, on every sign-in; the account is an external one, which has no password.

What a flow needs between the two requests (state, nonce, PKCE verifier) stays on the server,
under a random key in a short-lived cookie that is SameSite=Lax: the callback is a redirect
from the provider's site, which a Strict cookie would not follow. No token, code or secret is
shown in a page or written to the log.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from crosspost.loading.config import OidcSettings
from crosspost.web.accounts import AccountError, AccountStore, Role

with warnings.catch_warnings():  # authlib.jose is deprecated for joserfc, still maintained
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, JsonWebToken
    from authlib.jose.errors import JoseError
    from authlib.oidc.core import CodeIDToken

log = logging.getLogger(__name__)

SESSION_COOKIE = "crosspost_session"  # the app's session cookie (app.COOKIE; a test checks)
FLOW_COOKIE = "crosspost_oidc"
FLOW_LIFETIME = 10 * 60  # seconds from the redirect to the provider to the callback
METADATA_LIFETIME = 3600  # the discovery document and the keys are fetched again after this
TIMEOUT = 10  # seconds for each request to the provider
SCOPE = "openid email profile"
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
LEEWAY = 60  # seconds of clock difference allowed on exp/iat


class WebLike(Protocol):
    """What this module needs of the app's `Web` (web.app imports this module, not back)."""

    config: Any
    accounts: AccountStore
    secure: bool
    env: Any

    def page(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> Response: ...


class SignInRefused(Exception):
    """A sign-in that cannot go on: its message is safe to show (no token, no secret)."""

    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.status = status


@dataclass
class _Flow:
    state: str
    nonce: str
    verifier: str
    redirect_uri: str
    started: float


class _Provider:
    """One provider's discovery document and keys (cached), and the flows in progress."""

    def __init__(self, settings: OidcSettings):
        self.settings = settings
        self.flows: dict[str, _Flow] = {}
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: Any = None
        self._fetched = 0.0

    # flows

    def start(self, redirect_uri: str) -> tuple[str, _Flow]:
        now = time.monotonic()
        flow = _Flow(generate_token(32), generate_token(32), generate_token(64), redirect_uri, now)
        key = secrets.token_urlsafe(32)
        with self._lock:
            for old in [k for k, f in self.flows.items() if now - f.started > FLOW_LIFETIME]:
                del self.flows[old]
            if len(self.flows) > 10_000:  # a flood of unfinished sign-ins: drop the oldest
                for old in sorted(self.flows, key=lambda k: self.flows[k].started)[:1000]:
                    del self.flows[old]
            self.flows[key] = flow
        return key, flow

    def finish(self, key: str) -> _Flow | None:
        """The flow under `key`, once (a second callback with it finds nothing)."""
        with self._lock:
            flow = self.flows.pop(key, None)
        if flow is None or time.monotonic() - flow.started > FLOW_LIFETIME:
            return None
        return flow

    # the provider's documents

    def metadata(self, refresh: bool = False) -> dict[str, Any]:
        if (
            self._metadata is None
            or refresh
            or time.monotonic() - self._fetched > METADATA_LIFETIME
        ):
            issuer = self.settings.issuer
            document = _get_json(f"{issuer}/.well-known/openid-configuration")
            if str(document.get("issuer", "")).rstrip("/") != issuer:
                raise SignInRefused(
                    "The sign-in provider's discovery document names another issuer than the "
                    "configured one (sign_in.oidc.issuer); ask whoever runs crosspost.",
                    502,
                )
            for needed in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(document.get(needed), str):
                    raise SignInRefused(f"The sign-in provider does not publish {needed}.", 502)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                keys = JsonWebKey.import_key_set(_get_json(document["jwks_uri"]))
            self._metadata, self._keys, self._fetched = document, keys, time.monotonic()
        return self._metadata

    def keys(self, refresh: bool = False) -> Any:
        self.metadata(refresh=refresh)
        return self._keys


_PROVIDERS: WeakKeyDictionary[Any, _Provider] = WeakKeyDictionary()
_PROVIDERS_LOCK = threading.Lock()


def _provider(web: WebLike) -> _Provider | None:
    settings = web.config.oidc
    if settings is None:
        return None
    with _PROVIDERS_LOCK:
        found = _PROVIDERS.get(web)
        if found is None or found.settings is not settings:
            found = _PROVIDERS[web] = _Provider(settings)
    return found


def _get_json(url: str) -> dict[str, Any]:
    import requests

    try:
        answer = requests.get(url, timeout=TIMEOUT, headers={"Accept": "application/json"})
        answer.raise_for_status()
        data = answer.json()
    except (requests.RequestException, ValueError) as exc:
        log.warning("sign-in provider unreachable or broken at %s: %s", url, type(exc).__name__)
        raise SignInRefused(
            "The sign-in provider could not be reached; try again in a minute.", 502
        ) from None
    if not isinstance(data, dict):
        raise SignInRefused("The sign-in provider answered with something unexpected.", 502)
    return data


# --- the routes -----------------------------------------------------------------------------


async def start(web: WebLike, request: Request) -> Response:
    """GET /login/oidc: to the provider, with a new state, nonce and PKCE challenge."""
    provider = _provider(web)
    if provider is None:
        return _refused(
            web, request, SignInRefused("Sign-in with another account is not set up.", 404)
        )
    try:
        metadata = await run_in_threadpool(provider.metadata)
    except SignInRefused as exc:
        return _refused(web, request, exc)
    # as registered with the provider; else as the request came in (behind a proxy that
    # rewrites the host, set sign_in.oidc.redirect_uri)
    redirect_uri = provider.settings.redirect_uri or str(request.url_for("oidc_callback"))
    key, flow = provider.start(redirect_uri)
    client = OAuth2Session(
        provider.settings.client_id(), scope=SCOPE, redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )  # fmt: skip
    url, _ = client.create_authorization_url(
        metadata["authorization_endpoint"], state=flow.state, nonce=flow.nonce,
        code_verifier=flow.verifier,
    )  # fmt: skip
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        FLOW_COOKIE, key, max_age=FLOW_LIFETIME, path="/login/oidc", httponly=True,
        samesite="lax", secure=web.secure,
    )  # fmt: skip
    return response


async def callback(web: WebLike, request: Request) -> Response:
    """GET /login/oidc/callback: check everything, then sign in (or refuse, saying why)."""
    provider = _provider(web)
    if provider is None:
        return _refused(
            web, request, SignInRefused("Sign-in with another account is not set up.", 404)
        )
    flow = provider.finish(request.cookies.get(FLOW_COOKIE, ""))
    try:
        if flow is None:
            raise SignInRefused(
                "This sign-in took longer than 10 minutes or was not started from this "
                "browser. Start again from the sign-in page.",
                400,
            )
        params = request.query_params
        if not hmac.compare_digest(params.get("state", ""), flow.state):
            raise SignInRefused("This sign-in's answer did not match its request.", 400)
        if params.get("error"):
            error = "".join(c for c in params["error"] if c.isalnum() or c in "_-")[:60]
            log.info("sign-in refused by the provider: %s", error)
            raise SignInRefused(f"The sign-in provider did not sign you in ({error}).")
        code = params.get("code", "")
        if not code:
            raise SignInRefused("The sign-in provider sent no authorization code.", 400)
        claims = await run_in_threadpool(_claims, provider, flow, code)
        email, role, display = _admit(provider.settings, claims)
        user = await run_in_threadpool(web.accounts.external_user, email, role, display)
        token, _ = web.accounts.create_session(user.name)
    except SignInRefused as exc:
        response = _refused(web, request, exc)
        response.delete_cookie(FLOW_COOKIE, path="/login/oidc")
        return response
    except AccountError as exc:  # e.g. a disabled account
        response = _refused(web, request, SignInRefused(str(exc)))
        response.delete_cookie(FLOW_COOKIE, path="/login/oidc")
        return response
    log.info("signed in with %s: %s (%s)", provider.settings.issuer, user.name, user.role)
    # a page, not a redirect: the browser came here from the provider's site, and would not
    # send the (SameSite=Strict) session cookie with a redirect that continues that navigation
    response = HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="refresh" content="0;url=/"><title>Signed in</title></head>'
        '<body><main><p>Signed in. <a href="/">Continue to crosspost</a></p></main></body></html>'
    )
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="strict", secure=web.secure, path="/",
        max_age=8 * 3600,
    )  # fmt: skip
    response.delete_cookie(FLOW_COOKIE, path="/login/oidc")
    return response


def _refused(web: WebLike, request: Request, exc: SignInRefused) -> Response:
    return web.page(request, "error.html.j2", exc.status, title="Not signed in", message=str(exc))


# --- the exchange and the ID token ----------------------------------------------------------


def _claims(provider: _Provider, flow: _Flow, code: str) -> dict[str, Any]:
    """The ID token's claims once it is validated (and the user-info's, for what it lacks)."""
    settings = provider.settings
    metadata = provider.metadata()
    client_id = settings.client_id()
    methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    method = "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
    client = OAuth2Session(
        client_id, settings.client_secret(), token_endpoint_auth_method=method,
        redirect_uri=flow.redirect_uri,
    )  # fmt: skip
    try:
        token = client.fetch_token(
            metadata["token_endpoint"], grant_type="authorization_code", code=code,
            code_verifier=flow.verifier, timeout=TIMEOUT,
        )  # fmt: skip
    except Exception as exc:  # authlib's OAuthError, requests' errors: never their text
        log.warning("sign-in: the code exchange failed (%s)", type(exc).__name__)
        raise SignInRefused("The sign-in provider would not complete the sign-in.", 502) from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SignInRefused("The sign-in provider sent no ID token.", 502)
    claims = _validated(provider, id_token, client_id, flow.nonce, token.get("access_token"))
    wanted = ["email", *([settings.group_claim] if settings.group_claim else [])]
    userinfo = metadata.get("userinfo_endpoint")
    if any(k not in claims for k in wanted) and isinstance(userinfo, str):
        try:
            extra = client.get(userinfo, timeout=TIMEOUT).json()
        except Exception as exc:
            log.warning("sign-in: user-info unavailable (%s)", type(exc).__name__)
            extra = {}
        if isinstance(extra, dict) and extra.get("sub") == claims["sub"]:
            claims = {**extra, **claims}
    return claims


def _validated(
    provider: _Provider, id_token: str, client_id: str, nonce: str, access_token: Any
) -> dict[str, Any]:
    """The ID token's claims: signed by one of the provider's keys, for this client, from this
    issuer, not expired, with this flow's nonce; SignInRefused otherwise."""
    jwt = JsonWebToken(ALGORITHMS)
    options = {
        "iss": {"essential": True, "value": provider.settings.issuer},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "nonce": {"essential": True},
    }
    params = {"nonce": nonce, "client_id": client_id}
    if isinstance(access_token, str):
        params["access_token"] = access_token
    for attempt in (0, 1):  # a key the provider rotated in: fetch the keys once more
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                claims = jwt.decode(
                    id_token, provider.keys(refresh=attempt == 1), claims_cls=CodeIDToken,
                    claims_options=options, claims_params=params,
                )  # fmt: skip
                claims.validate(leeway=LEEWAY)
            return dict(claims)
        except (JoseError, ValueError) as exc:
            retry = attempt == 0 and "key" in type(exc).__name__.lower() + str(exc).lower()
            if not retry:
                log.warning("sign-in: the ID token was refused (%s)", type(exc).__name__)
                raise SignInRefused("The sign-in provider's ID token was not valid.") from None
    raise SignInRefused("The sign-in provider's ID token was not valid.")  # pragma: no cover


# --- who may come in, as what ---------------------------------------------------------------


def _admit(settings: OidcSettings, claims: dict[str, Any]) -> tuple[str, Role, str | None]:
    """(e-mail address, role, display name) for claims of an allowed account."""
    email = claims.get("email")
    if not isinstance(email, str) or email.count("@") != 1:
        raise SignInRefused("That account has no e-mail address, so it cannot sign in here.")
    if "email_verified" in claims and claims["email_verified"] not in (True, "true"):
        raise SignInRefused("That account's e-mail address is not verified.")
    email = email.strip().lower()
    domain = email.rsplit("@", 1)[1]
    if domain not in settings.allowed_domains:
        log.info("sign-in refused: an account of a domain that is not allowed (%s)", domain)
        raise SignInRefused("That account's domain is not allowed here.")
    groups: set[str] = set()
    raw = claims.get(settings.group_claim) if settings.group_claim else None
    if isinstance(raw, str):
        raw = [raw]
    if isinstance(raw, list):
        groups = {str(g).strip().lower() for g in raw}
    names = groups | {email}
    if names & set(settings.admins):
        role = Role.ADMIN
    elif names & set(settings.approvers):
        role = Role.APPROVER
    else:
        role = Role.AUTHOR
    display = claims.get("name")
    return email, role, display if isinstance(display, str) else None
