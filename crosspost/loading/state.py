"""Where the ledger lives: `state:` in the config.

    state: var/crosspost.db                          # SQLite, the default: nothing to install
    state: postgresql://crosspost:${CROSSPOST_DB_PASSWORD}@db.internal/crosspost
    state:                                           # or as a mapping
      postgresql: postgresql://crosspost@db.internal/crosspost?sslmode=verify-full
      password: ${CROSSPOST_DB_PASSWORD}             # omit to use ~/.pgpass or a client cert
      schema: office_kent                            # several offices in one database
      pool: 16

A password is never written in the config itself: only as a `${NAME}` reference, resolved from
the environment when the ledger is opened (an EnvironmentFile in systemd). Messages print the
address without it (`describe`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from crosspost.core.envref import ENV_REF
from crosspost.core.problems import Mark
from crosspost.loading import yamlfile
from crosspost.loading.fields import Reader

SCHEMES = ("postgresql://", "postgres://")
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
DEFAULT_POOL = 16


@dataclass(frozen=True)
class StateSpec:
    """The ledger's store: a SQLite file, or a PostgreSQL database (and schema in it)."""

    kind: str  # "sqlite" | "postgresql"
    # SQLite: the ledger file. PostgreSQL: a local name beside which this host keeps the
    # ledger's guard file (`<path>.guard`) and the web app's accounts.db
    path: Path
    dsn: str = ""  # the address, without any password
    password_var: str | None = None  # the environment variable holding the password
    schema: str = ""
    pool: int = DEFAULT_POOL
    env_refs: list[tuple[str, str, Mark]] = field(default_factory=list, compare=False)

    @classmethod
    def sqlite(cls, path: Path | str) -> StateSpec:
        return cls("sqlite", Path(path))

    @property
    def is_postgresql(self) -> bool:
        return self.kind == "postgresql"

    def describe(self) -> str:
        """For messages: the file, or the database's address without a password."""
        if not self.is_postgresql:
            return str(self.path)
        return self.dsn + (f" (schema {self.schema})" if self.schema else "")

    def exists(self) -> bool:
        """Whether there may be a ledger to read (a database is asked; a file must exist)."""
        return self.is_postgresql or self.path.exists()

    def password(self, environ: Mapping[str, str] | None = None) -> str | None:
        if self.password_var is None:
            return None
        return (os.environ if environ is None else environ).get(self.password_var) or None


def parse_state(reader: Reader, root: Path) -> StateSpec:
    """`state:` as a path (SQLite), a postgresql:// address, or a mapping."""
    data = reader.data
    raw = data.get("state")
    mark = data.value_mark("state") if "state" in data else data.mark
    if isinstance(raw, yamlfile.LocatedDict):
        return _mapping(Reader(raw, reader.problems, "state"), root, mark)
    if isinstance(raw, str) and raw.startswith(SCHEMES):
        return _postgresql(reader, root, raw, None, "", DEFAULT_POOL, mark)
    value = reader.text("state") or "var/crosspost.db"
    try:
        return StateSpec.sqlite((root / value).resolve())
    except (OSError, ValueError) as exc:  # a NUL byte, a name too long, a loop of links
        reader.error(mark, f"'state' is not a usable path: {exc}")
        return StateSpec.sqlite(root / "var/crosspost.db")


def _mapping(reader: Reader, root: Path, mark: Mark) -> StateSpec:
    reader.check_keys(("postgresql", "password", "schema", "pool"))
    dsn = reader.text("postgresql", required=True) or ""
    if dsn and not dsn.startswith(SCHEMES):
        reader.error(
            reader.data.value_mark("postgresql"),
            "'postgresql' must be an address like postgresql://crosspost@db.internal/crosspost",
        )
    password = reader.text("password")
    var = None
    if password is not None:
        found = ENV_REF.fullmatch(password.strip())
        if found is None:
            reader.error(
                reader.data.value_mark("password"),
                "write the database password as ${NAME}, an environment variable set where "
                "crosspost runs (never in the config file itself)",
            )
        else:
            var = found.group(1)
    schema = reader.text("schema") or ""
    if schema and not SCHEMA_NAME.match(schema):
        reader.error(
            reader.data.value_mark("schema"),
            f"schema '{schema}' must be lower-case letters, digits and '_' (at most 63)",
        )
    pool = reader.integer("pool", minimum=2) or DEFAULT_POOL
    return _postgresql(reader, root, dsn, var, schema, pool, mark)


def _postgresql(
    reader: Reader,
    root: Path,
    address: str,
    var: str | None,
    schema: str,
    pool: int,
    mark: Mark,
) -> StateSpec:
    """The address without its password; a password written in it is refused."""
    try:
        parts = urlsplit(address)
    except ValueError as exc:
        reader.error(mark, f"the PostgreSQL address is not a valid URL: {exc}")
        return StateSpec.sqlite(root / "var/crosspost.db")
    userinfo, at, host = parts.netloc.rpartition("@")
    user, colon, secret = userinfo.partition(":")
    if colon:
        found = ENV_REF.fullmatch(secret)
        if found is None:
            reader.error(
                mark,
                "the PostgreSQL address holds a password: write it as ${NAME} (for example "
                "postgresql://crosspost:${CROSSPOST_DB_PASSWORD}@db.internal/crosspost) and set "
                "that environment variable where crosspost runs",
            )
        elif var is not None:
            reader.error(mark, "the password is given twice (in the address and as 'password')")
        else:
            var = found.group(1)
    secret_params = {"password", "passfile", "sslpassword"} & {
        name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)
    }
    if secret_params:
        reader.error(
            mark,
            f"the PostgreSQL address holds a secret ({', '.join(sorted(secret_params))}=): "
            "give the password as ${NAME} instead (docs/server.md §16)",
        )
        parts = parts._replace(query="")
    netloc = f"{user}{at}{host}" if at else host
    dsn = urlunsplit(parts._replace(netloc=netloc))
    if "${" in dsn:
        reader.error(mark, "only the password may be a ${NAME} reference in the address")
    refs = [(var, "the ledger's database password", mark)] if var else []
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{parts.hostname or 'local'}-{schema or 'public'}")
    return StateSpec(
        "postgresql", (root / "var" / f"ledger-{name}").resolve(), dsn, var, schema, pool, refs
    )
