"""`crosspost serve`: the HTML preview, live from the current queue, read-only, on localhost."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from datetime import datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class LiveSite:
    """The static site in a scratch folder, written again whenever its sources change."""

    def __init__(self, config_path: Path | str, now: Any = None):
        self.config_path = Path(config_path)
        self.now = now
        self.dir = Path(tempfile.mkdtemp(prefix="crosspost-serve-"))
        self._stamp: object = None
        self._lock = threading.Lock()
        self.error: str | None = None

    def stamp(self) -> object:
        """Changes when the config, queue, templates, approvals or ledger change."""
        from crosspost.loading.config import load_config

        config = load_config(self.config_path)
        paths = [self.config_path, config.approvals_path, config.state_path]
        for folder in (config.queue_dir, config.templates_dir):
            paths.extend(p for p in folder.rglob("*") if p.is_file())
        out = []
        for path in paths:
            if path is not None and path.exists():
                st = path.stat()
                out.append((str(path), st.st_mtime_ns, st.st_size))
        return tuple(sorted(out))

    def refresh(self) -> None:
        """Write the site again if anything it is made from changed."""
        from crosspost.checking.project import load_project, render_all
        from crosspost.core.problems import ConfigError
        from crosspost.scheduling.ledger import Ledger
        from crosspost.views.html import write_site

        with self._lock:
            try:
                stamp = self.stamp()
                if stamp == self._stamp:
                    return
                project = load_project(self.config_path, now=self.now or None)
                render_all(project)
                state = project.config.state_path
                ledger = Ledger(state) if state.exists() else None
                fresh = Path(tempfile.mkdtemp(prefix="crosspost-serve-"))
                try:
                    write_site(project, fresh, ledger=ledger, now=project.now)
                except BaseException:
                    shutil.rmtree(fresh, ignore_errors=True)
                    raise
                finally:
                    if ledger is not None:
                        ledger.close()
                old, self.dir = self.dir, fresh
                shutil.rmtree(old, ignore_errors=True)
                self._stamp, self.error = stamp, None
            except ConfigError as exc:
                self.error = str(exc)  # keep serving the last good site
            except Exception as exc:  # noqa: BLE001 -- never stop serving: say why, keep the last site
                log.error("the preview was not rewritten: %s: %s", type(exc).__name__, exc)
                self.error = f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        """Remove the scratch folder (the site is written again on the next start)."""
        with self._lock:
            shutil.rmtree(self.dir, ignore_errors=True)


class Handler(SimpleHTTPRequestHandler):
    """GET and HEAD only (the standard handler refuses every other method): read-only.

    Only requests that name this server in their Host header are answered: a web page the
    user visits elsewhere can make the browser send requests to 127.0.0.1 under its own
    name (DNS rebinding) and read the unpublished queue from the answers.
    """

    site: LiveSite
    timeout = 30  # seconds an idle connection may hold its thread

    def __init__(self, *args: Any, site: LiveSite, hosts: frozenset[str], **kwargs: Any):
        self.site = site
        self.hosts = hosts
        super().__init__(*args, directory=str(site.dir), **kwargs)

    def _refused(self) -> bool:
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.hosts:
            self.send_error(421, "Misdirected Request", "this preview answers only to its own name")
            return True
        from urllib.parse import unquote

        if any(ord(c) < 32 for c in unquote(self.path)):  # a NUL would raise in os.stat
            self.send_error(400, "Bad Request")
            return True
        return False

    def do_GET(self) -> None:
        if not self._refused():
            self.site.refresh()
            self.directory = str(self.site.dir)
            super().do_GET()

    def do_HEAD(self) -> None:
        if not self._refused():
            self.site.refresh()
            self.directory = str(self.site.dir)
            super().do_HEAD()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


def host_names(host: str, port: int, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The Host header values this server answers to: its address (and, on the loopback,
    localhost), with and without the port, and any name given with --allow-host."""
    host = host.lower()
    names = {host}
    if host in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "::", ""):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    names |= {n.strip().lower() for n in extra}
    return frozenset(
        {n for n in names if n} | {f"{n}:{port}" for n in names if n} | {f"[{host}]:{port}"}
    )


def make_server(
    config_path: Path | str,
    host: str = "127.0.0.1",
    port: int = 8000,
    now: datetime | None = None,
    allow_hosts: tuple[str, ...] = (),
) -> tuple[ThreadingHTTPServer, LiveSite]:
    site = LiveSite(config_path, now=now)
    site.refresh()
    server = ThreadingHTTPServer((host, port), partial(Handler, site=site, hosts=frozenset()))
    hosts = host_names(host, server.server_address[1], allow_hosts)
    server.RequestHandlerClass = partial(Handler, site=site, hosts=hosts)  # type: ignore[assignment]
    return server, site
