"""The configuration file: timezone, paths and channels, with secrets only as ${ENV_VAR}."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from crosspost.core.envref import ENV_REF
from crosspost.core.problems import ConfigError, Mark, Problem, Problems
from crosspost.core.times import zone_or_error
from crosspost.loading import yamlfile
from crosspost.loading.alert_settings import AlertSettings, parse_alerts
from crosspost.loading.fields import Reader
from crosspost.loading.state import StateSpec, parse_state

if TYPE_CHECKING:
    from crosspost.adapters.base import Adapter, Setting
    from crosspost.adapters.rules import PlatformRules

DEFAULT_CONFIG = "crosspost.yaml"
TOP_KEYS = (
    "timezone",
    "queue",
    "templates",
    "state",
    "channels",
    "daemon",
    "require_approval",
    "forbid_self_approval",
    "approvals",
    "blackouts",
    "alerts",
    "sign_in",
)
BLACKOUT_KEYS = ("name", "start", "end", "channels", "reason", "allow_tags")
DAEMON_KEYS = ("lateness", "sweep_interval", "settle_after", "lease", "retry", "host_id")
PG_LEASE = timedelta(seconds=60)  # several servers: a dead one's claims are taken over soon
RETRY_KEYS = ("attempts", "first", "max")
CHANNEL_KEYS = ("platform", "handle", "template", "quota", "credentials")
CHANNEL_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
SIGN_IN_KEYS = ("oidc",)
OIDC_KEYS = (
    "label", "issuer", "client_id", "client_secret", "allowed_domains", "group_claim",
    "approvers", "admins", "redirect_uri",
)  # fmt: skip
CALLBACK = "/login/oidc/callback"
_LOOPBACK = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$)")


@dataclass(frozen=True)
class Quota:
    """At most `posts` publications in any rolling window of `per`."""

    posts: int
    per: timedelta
    mark: Mark


@dataclass
class Channel:
    """One account on one platform, as configured."""

    key: str
    platform: str
    handle: str
    template: str
    settings: dict[str, Any]
    credentials: dict[str, str]  # credential name -> environment variable
    quota: Quota | None
    adapter: type[Adapter]
    rules: PlatformRules
    mark: Mark
    env_refs: list[tuple[str, str, Mark]] = field(default_factory=list)  # (var, used by, where)


@dataclass(frozen=True)
class DaemonSettings:
    """How the daemon behaves; every value has a default a public body can live with."""

    lateness: timedelta = timedelta(minutes=30)  # later than this after downtime: expired
    sweep_interval: timedelta = timedelta(seconds=30)  # catch what a timer missed
    settle_after: timedelta = timedelta(minutes=2)  # look-ups may lag a fresh post
    lease: timedelta = timedelta(minutes=10)  # a claim older than this, unresolved, is in doubt
    host_id: str | None = None  # this server's name in claims (else $CROSSPOST_HOST_ID, host name)
    retry_attempts: int = 8
    retry_first: timedelta = timedelta(minutes=1)
    retry_max: timedelta = timedelta(hours=1)

    def backoff(self, attempts: int) -> timedelta | None:
        """Wait before retry number `attempts` (1, 2, 4 ... minutes, capped), None when spent."""
        if attempts >= self.retry_attempts:
            return None
        return min(self.retry_first * (2 ** max(attempts - 1, 0)), self.retry_max)


@dataclass(frozen=True)
class Blackout:
    """A window (e.g. the pre-election period) in which deliveries are held, not published."""

    name: str
    start: datetime
    end: datetime
    channels: tuple[str, ...] | None  # None: every channel
    reason: str
    allow_tags: frozenset[str]  # posts with one of these tags are exempt
    mark: Mark

    def holds(self, channel: str, when: datetime | None, tags: list[str]) -> bool:
        """Whether a delivery on `channel` at `when` with these tags is held by this window."""
        if when is None or not (self.start <= when < self.end):
            return False
        if self.channels is not None and channel not in self.channels:
            return False
        return not (self.allow_tags & set(tags))


@dataclass(frozen=True)
class OidcSettings:
    """Sign-in with the office's accounts (OpenID Connect): the provider, this app's client
    (its id and secret as the names of environment variables, never the values) and who may
    come in with which role. Everyone allowed in who is in neither list is an author."""

    label: str
    issuer: str
    client_id_var: str
    client_secret_var: str
    allowed_domains: tuple[str, ...]  # lower case
    group_claim: str | None
    approvers: tuple[str, ...]  # group ids/names, or e-mail addresses (lower case)
    admins: tuple[str, ...]
    mark: Mark
    env_refs: tuple[tuple[str, str, Mark], ...] = ()  # (var, used by, where)
    # the address the provider sends people back to, as registered with it; None: the
    # address the request came in on (behind a proxy, uvicorn must then see its headers)
    redirect_uri: str | None = None

    def client_id(self, environ: Mapping[str, str] | None = None) -> str:
        return (os.environ if environ is None else environ).get(self.client_id_var, "")

    def client_secret(self, environ: Mapping[str, str] | None = None) -> str:
        return (os.environ if environ is None else environ).get(self.client_secret_var, "")


@dataclass
class Config:
    path: Path
    root: Path  # the project: the config file's folder; media may not leave it
    timezone: ZoneInfo
    queue_dir: Path
    templates_dir: Path
    state_path: Path
    channels: dict[str, Channel]
    mark: Mark
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    require_approval: bool = False
    forbid_self_approval: bool = False
    approvals_path: Path | None = None
    blackouts: list[Blackout] = field(default_factory=list)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    state: StateSpec | None = None  # where the ledger lives (None: SQLite at state_path)
    oidc: OidcSettings | None = None  # sign_in.oidc: None when only local accounts sign in
    warnings: list[Problem] = field(default_factory=list)  # shown by validate, never lost

    @property
    def ledger_spec(self) -> StateSpec:
        """Where the ledger lives (SQLite at `state_path` unless the config says otherwise)."""
        return self.state or StateSpec.sqlite(self.state_path)

    def blackout_for(self, channel: str, when: datetime | None, tags: list[str]) -> Blackout | None:
        return next((b for b in self.blackouts if b.holds(channel, when, tags)), None)

    def environment_problems(self, environ: Mapping[str, str] | None = None) -> list[Problem]:
        """Errors for every ${VAR} a channel uses that the environment does not set."""
        env = os.environ if environ is None else environ
        out = []
        for channel in self.channels.values():
            for var, used_by, mark in channel.env_refs:
                if not env.get(var):
                    out.append(
                        Problem(
                            mark,
                            f"environment variable {var} is not set "
                            f"(channel {channel.key} needs it for {used_by})",
                        )
                    )
        out += self.alerts.environment_problems(env)
        for var, used_by, mark in self.state.env_refs if self.state else ():
            if not env.get(var):
                out.append(Problem(mark, f"environment variable {var} is not set ({used_by})"))
        for var, used_by, mark in self.oidc.env_refs if self.oidc else ():
            if not env.get(var):
                out.append(
                    Problem(mark, f"environment variable {var} is not set (sign_in.oidc needs "
                            f"it for {used_by})")
                )  # fmt: skip
        return out


def load_config(path: Path | str) -> Config:
    """Read and check a config file; raise ConfigError listing every problem in it."""
    path = Path(path).absolute()
    data = _config_data(path)
    problems = Problems()
    reader = Reader(data, problems, "the config")
    reader.check_keys(TOP_KEYS)
    root = path.parent
    zone = _timezone(reader, problems)
    queue_dir = _directory(reader, root, "queue", "queue", True)
    templates_dir = _directory(reader, root, "templates", "templates", True)
    state = parse_state(reader, root)
    channels = _channels(reader, problems)
    daemon = _daemon(reader, problems, state.is_postgresql)
    require_approval = reader.boolean("require_approval") or False
    forbid_self = reader.boolean("forbid_self_approval") or False
    approvals_path = _directory(reader, root, "approvals", "approvals.yaml", False)
    blackouts = _blackouts(reader, zone, channels, problems)
    alerts = parse_alerts(reader.mapping("alerts"), problems)
    oidc = _sign_in(reader, problems)
    if problems.errors:
        raise ConfigError(problems.sorted())
    return Config(
        daemon=daemon,
        require_approval=require_approval,
        forbid_self_approval=forbid_self,
        approvals_path=approvals_path,
        blackouts=blackouts,
        alerts=alerts,
        oidc=oidc,
        path=path,
        root=root,
        timezone=zone,
        queue_dir=queue_dir,
        templates_dir=templates_dir,
        state_path=state.path,
        state=state,
        channels=channels,
        mark=data.mark,
        warnings=problems.warnings,
    )


def _config_data(path: Path) -> yamlfile.LocatedDict:
    """The config file's top-level mapping; ConfigError if it is missing, broken or no mapping."""
    if not path.exists():
        raise ConfigError(
            [
                Problem(
                    Mark(path),
                    "config file not found; pass --config PATH or copy config.example.yaml "
                    f"to {DEFAULT_CONFIG}",
                )
            ]
        )
    try:
        data = yamlfile.load(path, show_values=False)  # a config may hold a secret
    except yamlfile.YamlError as exc:
        raise ConfigError([Problem(exc.mark, exc.message)]) from None
    if not isinstance(data, yamlfile.LocatedDict):
        raise ConfigError([Problem(Mark(path), "the config must be a mapping (key: value lines)")])
    return data


def _timezone(reader: Reader, problems: Problems) -> ZoneInfo:
    """The configured 'timezone', Europe/London by default."""
    zone = ZoneInfo("Europe/London")
    zone_name = reader.text("timezone")
    if zone_name is not None:
        try:
            zone = zone_or_error(zone_name)
        except ValueError as exc:
            problems.error(reader.data.value_mark("timezone"), str(exc))
    return zone


def _directory(reader: Reader, root: Path, key: str, default: str, must_exist: bool) -> Path:
    """The path set by `key` (or `default`), resolved against the project folder `root`."""
    data = reader.data
    value = reader.text(key) or default
    try:
        resolved = (root / value).resolve()
        is_dir = resolved.is_dir()
    except (OSError, ValueError) as exc:  # a NUL byte, a name too long, a loop of links
        reader.error(data.value_mark(key), f"'{key}' is not a usable path: {exc}")
        return root / default
    if must_exist and not is_dir:
        reader.error(data.value_mark(key), f"'{key}' folder {value} does not exist")
    return resolved


def _channels(reader: Reader, problems: Problems) -> dict[str, Channel]:
    """The configured channels, by name; broken ones are reported and left out."""
    channels: dict[str, Channel] = {}
    raw_channels = reader.mapping("channels", required=True)
    if raw_channels is not None and not raw_channels:
        problems.error(reader.data.value_mark("channels"), "no channels configured")
    for key, raw in (raw_channels or {}).items():
        assert isinstance(raw_channels, yamlfile.LocatedDict)
        if not CHANNEL_KEY.match(key):
            problems.error(
                raw_channels.key_mark(key),
                f"channel name '{key}' may hold only letters, digits, '_', '.' and '-'",
            )
        if not isinstance(raw, yamlfile.LocatedDict):
            problems.error(raw_channels.value_mark(key), f"channel {key} must be a mapping")
            continue
        channel = _channel(key, raw, problems)
        if channel is not None:
            channels[key] = channel
    return channels


def _blackouts(
    reader: Reader, zone: ZoneInfo, channels: dict[str, Channel], problems: Problems
) -> list[Blackout]:
    from crosspost.core.times import TimeError, parse_publish_at

    items = reader.items("blackouts")
    out: list[Blackout] = []
    for i, item in enumerate(items or []):
        assert items is not None
        if not isinstance(item, yamlfile.LocatedDict):
            problems.error(items.item_mark(i), "each blackout window must be a mapping")
            continue
        sub = Reader(item, problems, "a blackout window")
        sub.check_keys(BLACKOUT_KEYS)
        name = sub.text("name", required=True) or f"blackout {i + 1}"
        times = {}
        for key in ("start", "end"):
            raw = sub.text(key, required=True)
            if raw is None:
                continue
            try:
                times[key] = parse_publish_at(raw, zone)
            except TimeError as exc:
                problems.error(item.value_mark(key), f"'{key}': {exc}")
        names = sub.text_list("channels")
        for unknown in [n for n in names or [] if n not in channels]:
            problems.error(item.value_mark("channels"), f"unknown channel '{unknown}'")
        if len(times) == 2 and times["end"] <= times["start"]:
            problems.error(item.value_mark("end"), f"blackout '{name}' ends before it starts")
            continue
        if len(times) == 2:
            out.append(
                Blackout(
                    name=name,
                    start=times["start"],
                    end=times["end"],
                    channels=tuple(names) if names is not None else None,
                    reason=sub.text("reason") or name,
                    allow_tags=frozenset(sub.text_list("allow_tags") or ()),
                    mark=item.mark,
                )
            )
    return out


def _daemon(reader: Reader, problems: Problems, shared: bool = False) -> DaemonSettings:
    raw = reader.mapping("daemon")
    # one SQLite ledger has one server: a long lease costs nothing; several servers on one
    # PostgreSQL ledger take a dead one's claims over once its lease runs out (decisions.md)
    values: dict[str, Any] = {"lease": PG_LEASE} if shared else {}
    if raw is None:
        return DaemonSettings(**values)
    sub = Reader(raw, problems, "daemon settings")
    sub.check_keys(DAEMON_KEYS)
    host_id = sub.text("host_id")
    if host_id is not None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", host_id):
            sub.error(raw.value_mark("host_id"), "host_id may hold only letters, digits, '_', "
                      "'.' and '-' (at most 64)")  # fmt: skip
        else:
            values["host_id"] = host_id
    # lateness 0s would expire every post (a timer fires a few milliseconds late); a sweep
    # or a lease of 0s would spin or time out every send
    least = {"lateness": timedelta(minutes=1), "sweep_interval": timedelta(seconds=1),
             "settle_after": timedelta(0), "lease": timedelta(seconds=5)}  # fmt: skip
    for key in ("lateness", "sweep_interval", "settle_after", "lease"):
        duration = sub.duration(key, minimum=least[key])
        if duration is not None:
            values[key] = duration
    retry = sub.mapping("retry")
    if retry is not None:
        retry_reader = Reader(retry, problems, "daemon retry settings")
        retry_reader.check_keys(RETRY_KEYS)
        attempts = retry_reader.integer("attempts", minimum=1)
        if attempts is not None:
            values["retry_attempts"] = attempts
        for key in ("first", "max"):
            duration = retry_reader.duration(key)
            if duration is not None:
                values[f"retry_{key}"] = duration
    return DaemonSettings(**values)


def _channel(key: str, raw: yamlfile.LocatedDict, problems: Problems) -> Channel | None:
    from crosspost.adapters import UnknownPlatform, adapter_class

    reader = Reader(raw, problems, f"channel {key}")
    platform = reader.text("platform", required=True)
    if platform is None:
        return None
    try:
        adapter = adapter_class(platform)
    except UnknownPlatform as exc:
        problems.error(raw.value_mark("platform"), str(exc))
        return None
    reader.check_keys((*CHANNEL_KEYS, *adapter.settings))
    handle = reader.text("handle") or key
    template = reader.text("template") or key
    env_refs: list[tuple[str, str, Mark]] = []
    settings = _channel_settings(reader, adapter, env_refs)
    credentials = _credentials(key, reader, adapter, problems, env_refs)
    quota = _quota(key, reader, problems)
    return Channel(
        key=key,
        platform=platform,
        handle=handle,
        template=template,
        settings=settings,
        credentials=credentials,
        quota=quota,
        adapter=adapter,
        rules=adapter.rules_for(settings),
        mark=raw.mark,
        env_refs=env_refs,
    )


def _channel_settings(
    reader: Reader, adapter: type[Adapter], env_refs: list[tuple[str, str, Mark]]
) -> dict[str, Any]:
    """The adapter's settings for a channel; ${VAR}s they use are added to `env_refs`."""
    raw = reader.data
    settings: dict[str, Any] = {}
    for name, spec in adapter.settings.items():
        value = _setting(reader, name, spec)
        if value is not None:
            settings[name] = value
            if isinstance(value, str):
                for var in ENV_REF.findall(value):
                    env_refs.append((var, name, raw.value_mark(name)))
    return settings


def _credentials(
    key: str,
    reader: Reader,
    adapter: type[Adapter],
    problems: Problems,
    env_refs: list[tuple[str, str, Mark]],
) -> dict[str, str]:
    """A channel's credentials: the name of the ${ENV_VAR} holding each (added to `env_refs`)."""
    credentials: dict[str, str] = {}
    creds = reader.mapping("credentials")
    if adapter.credentials or creds:
        creds_reader = Reader(creds, problems, f"channel {key} credentials") if creds else None
        if creds_reader is None:
            problems.error(
                reader.data.mark,
                f"channel {key} needs 'credentials' with {', '.join(adapter.credentials)} "
                "as ${ENV_VAR} references",
            )
        else:
            assert creds is not None
            creds_reader.check_keys(adapter.credentials)
            for name in adapter.credentials:
                value = creds_reader.text(name, required=True)
                if value is None:
                    continue
                match = ENV_REF.fullmatch(value.strip())
                if not match:
                    # never echo the value: it may be the secret itself
                    problems.error(
                        creds.value_mark(name),
                        f"credentials.{name} must be an ${{ENV_VAR}} reference such as "
                        f"${{{key.upper()}_{name.upper()}}}, never the secret itself",
                    )
                    continue
                credentials[name] = match.group(1)
                env_refs.append((match.group(1), f"credentials.{name}", creds.value_mark(name)))
    return credentials


def _redirect_uri(oidc: Reader, data: Any) -> str | None:
    """`redirect_uri`: this app's public https:// address of the callback, as registered."""
    value = oidc.text("redirect_uri")
    if value is None:
        return None
    value = value.strip()
    if not (value.startswith("https://") or _LOOPBACK.match(value)) or not value.endswith(CALLBACK):
        oidc.error(
            data.value_mark("redirect_uri"),
            f"'redirect_uri' must be the web app's https:// address followed by {CALLBACK} "
            f"(e.g. https://crosspost.kent.pcc.police.uk{CALLBACK}), as registered with the "
            "provider",
        )
        return None
    return value


def _sign_in(reader: Reader, problems: Problems) -> OidcSettings | None:
    """The `sign_in` section: `oidc` (the office's accounts), None when it is not set."""
    raw = reader.mapping("sign_in")
    if raw is None:
        return None
    sub = Reader(raw, problems, "sign_in")
    sub.check_keys(SIGN_IN_KEYS)
    data = sub.mapping("oidc", required=True)
    if data is None:
        return None
    oidc = Reader(data, problems, "sign_in.oidc")
    oidc.check_keys(OIDC_KEYS)
    label = oidc.text("label") or "the office's account"
    issuer = oidc.text("issuer", required=True)
    if issuer is not None:
        issuer = issuer.strip().rstrip("/")
        if not (issuer.startswith("https://") or _LOOPBACK.match(issuer)):
            oidc.error(
                data.value_mark("issuer"),
                "'issuer' must be the provider's https:// address (e.g. "
                "https://login.microsoftonline.com/TENANT/v2.0 or https://accounts.google.com)",
            )
    variables, env_refs = _oidc_client(oidc, data)
    domains = [d.strip().lower().lstrip("@") for d in oidc.text_list("allowed_domains") or []]
    if "allowed_domains" not in data:
        oidc.error(
            data.mark,
            "sign_in.oidc needs 'allowed_domains': the e-mail domains whose accounts may sign "
            "in (e.g. [kent.pcc.police.uk])",
        )
    elif not domains or not all(re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", d) for d in domains):
        oidc.error(
            data.value_mark("allowed_domains"),
            "'allowed_domains' must list e-mail domains such as kent.pcc.police.uk",
        )
    group_claim = oidc.text("group_claim")
    redirect_uri = _redirect_uri(oidc, data)
    approvers = tuple(v.strip().lower() for v in oidc.text_list("approvers") or [])
    admins = tuple(v.strip().lower() for v in oidc.text_list("admins") or [])
    if issuer is None or len(variables) < 2:
        return None
    return OidcSettings(
        label=label,
        issuer=issuer,
        client_id_var=variables["client_id"],
        client_secret_var=variables["client_secret"],
        allowed_domains=tuple(domains),
        group_claim=group_claim,
        approvers=approvers,
        admins=admins,
        mark=data.mark,
        env_refs=tuple(env_refs),
        redirect_uri=redirect_uri,
    )


def _oidc_client(
    oidc: Reader, data: yamlfile.LocatedDict
) -> tuple[dict[str, str], list[tuple[str, str, Mark]]]:
    """The client id and secret of sign_in.oidc: the ${ENV} variable holding each (a value
    written out is an error, never echoed: it may be the secret itself)."""
    env_refs: list[tuple[str, str, Mark]] = []
    variables: dict[str, str] = {}
    for key in ("client_id", "client_secret"):
        value = oidc.text(key, required=True)
        if value is None:
            continue
        match = ENV_REF.fullmatch(value.strip())
        if not match:
            oidc.error(
                data.value_mark(key),
                f"sign_in.oidc.{key} must be an ${{ENV_VAR}} reference such as "
                f"${{OIDC_{key.upper()}}}, never the value itself",
            )
            continue
        variables[key] = match.group(1)
        env_refs.append((match.group(1), key, data.value_mark(key)))
    return variables, env_refs


def _quota(key: str, reader: Reader, problems: Problems) -> Quota | None:
    """A channel's 'quota' (posts per period), None when it sets none."""
    quota = None
    raw_quota = reader.mapping("quota")
    if raw_quota is not None:
        quota_reader = Reader(raw_quota, problems, f"channel {key} quota")
        quota_reader.check_keys(("posts", "per"))
        posts = quota_reader.integer("posts", minimum=1)
        per = quota_reader.duration("per", minimum=timedelta(seconds=1))
        if posts is None or per is None:
            if "posts" not in raw_quota or "per" not in raw_quota:
                problems.error(raw_quota.mark, "a quota needs 'posts' and 'per' (e.g. 17 per 24h)")
        else:
            quota = Quota(posts, per, raw_quota.mark)
    return quota


def _setting(reader: Reader, name: str, spec: Setting) -> Any:
    data = reader.data
    if name not in data:
        if spec.required:
            reader.error(data.mark, f"{reader.what} needs '{name}' ({spec.help})")
        return spec.default
    if spec.kind == "number":
        return reader.number(name, minimum=0)
    if spec.kind == "choice":
        return reader.choice(name, spec.choices)
    if spec.kind == "platform":  # any registered platform but the fake itself
        from crosspost.adapters import registered

        return reader.choice(name, tuple(sorted(n for n in registered() if n != "fake")))
    if spec.kind == "list":
        items = reader.text_list(name)
        for i, item in enumerate(items or []):
            if spec.choices and item not in spec.choices:
                where = data[name].item_mark(i) if isinstance(data[name], list) else data.mark
                reader.error(where, f"'{item}' is not one of {', '.join(spec.choices)} in '{name}'")
        return tuple(items or ())
    value = reader.text(name)
    is_url = value is not None and spec.kind == "url" and not ENV_REF.search(value)
    if is_url and not str(value).startswith("https://"):
        reader.error(data.value_mark(name), f"'{name}' must be a public https:// URL")
    return value
