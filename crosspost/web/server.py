"""Running the web app: uvicorn on the app, a watcher that tells it when files change, and
the `--demo` scratch copy."""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from crosspost.loading.config import load_config
from crosspost.web.accounts import Role
from crosspost.web.app import Web, demo_password, make_app

DEMO_USER = "demo"


def run_server(
    config_path: Path | str,
    *,
    host: str,
    port: int,
    allowed_hosts: list[str],
    secure_cookies: bool,
    demo: bool,
    echo: Callable[[str], None],
) -> None:
    """Serve until Ctrl-C or SIGTERM."""
    import uvicorn

    # SIGTERM (systemctl stop) ends with SystemExit, here and after uvicorn (which stops on
    # it, then raises it again): the demo's scratch copy is removed, never left behind
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    scratch = tempfile.TemporaryDirectory(prefix="crosspost-demo-") if demo else None
    try:
        if scratch is not None:
            config_path = demo_copy(Path(config_path), Path(scratch.name))
        app = make_app(config_path, allowed_hosts=allowed_hosts, secure_cookies=secure_cookies)
        web: Web = app.state.web
        if scratch is not None:
            password = demo_password()
            web.accounts.add(DEMO_USER, Role.ADMIN, password, display="Demo account")
            echo(f"demo: a scratch copy of the project in {scratch.name}; nothing real is written")
            echo(f"demo: sign in as '{DEMO_USER}' with the password {password}")
        elif not web.accounts.users():
            echo("no accounts yet: add one with crosspost user add NAME --role admin")
        stop = threading.Event()
        watcher = threading.Thread(target=watch, args=(web, stop), daemon=True)
        watcher.start()
        echo(f"serving crosspost at http://{host}:{port}/ (Ctrl-C stops)")
        uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=True,
                    server_header=False, date_header=False)  # fmt: skip
        stop.set()
    finally:
        if scratch is not None:
            scratch.cleanup()


def watch(web: Web, stop: threading.Event) -> None:
    """Tell the site when a file under the project changes (the queue, templates, config,
    approvals): the next request loads again, as the daemon reloads."""
    import watchfiles

    root = web.config.root
    for _changes in watchfiles.watch(root, stop_event=stop, debounce=150, step=50,
                                     watch_filter=_project_files):  # fmt: skip
        web.site.changed()


_NOT_THE_PROJECT = ("/.git/", "/.venv/", "/var/", "/__pycache__/", "/node_modules/")


def _project_files(change: object, path: str) -> bool:
    """The queue, templates, config and approvals: not git's own files (a save's commit),
    the virtualenv, the state folder or hidden and temporary files."""
    name = Path(path).name
    if any(part in path for part in _NOT_THE_PROJECT) or name.startswith("."):
        return False
    return not path.endswith((".db", "-wal", "-shm", ".guard", "~"))


def demo_copy(config_path: Path, into: Path) -> Path:
    """Copy the project (config, queue, templates, approvals) into `into`, with every path
    the config names (queue, templates, state, approvals) pointing inside the copy, so the
    demo never writes a real queue, ledger or accounts file; the copy's config."""
    from ruamel.yaml import YAML

    config = load_config(config_path)
    target = into / "project"
    target.mkdir()
    shutil.copytree(config.queue_dir, target / "queue")
    shutil.copytree(config.templates_dir, target / "templates")
    if config.approvals_path is not None and config.approvals_path.exists():
        shutil.copy(config.approvals_path, target / "approvals.yaml")
    yaml = YAML()
    data = yaml.load(config_path.read_text(encoding="utf-8"))
    data.update(
        queue="queue", templates="templates", state="var/crosspost.db", approvals="approvals.yaml"
    )
    with (target / "crosspost.yaml").open("w", encoding="utf-8") as out:
        yaml.dump(data, out)
    return target / "crosspost.yaml"
