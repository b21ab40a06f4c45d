"""`crosspost serve`: live pages from the current queue, read-only, on localhost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from crosspost.views.serve import make_server

from .conftest import NOW


def get(url: str, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=b"x" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_serves_live_pages_read_only_on_localhost(example: Path) -> None:
    server, site = make_server(example / "crosspost.yaml", port=0, now=NOW)
    assert server.server_address[0] == "127.0.0.1"
    base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        code, page = get(base + "/index.html")
        assert code == 200 and "safer-streets-towns" in page
        page_url = base + "/posts/safer-streets-towns.html"
        code, page = get(page_url)
        assert code == 200 and "The new Safer Streets money" in page
        post = example / "queue" / "2026-12-15-safer-streets-towns.yaml"
        post.write_text(post.read_text().replace("The new Safer Streets money", "Fresh words"))
        code, page = get(page_url)
        assert code == 200 and "Fresh words" in page  # written again from the changed queue
        assert get(page_url, "POST")[0] in (405, 501)  # read-only
    finally:
        server.shutdown()
        server.server_close()
        site.close()
    assert not site.dir.exists()  # the scratch folder goes with the server


def test_a_broken_config_keeps_the_last_good_site(example: Path) -> None:
    server, site = make_server(example / "crosspost.yaml", port=0, now=NOW)
    try:
        (example / "crosspost.yaml").write_text("timezone: Nowhere\nchannels: {}\n")
        site.refresh()
        assert site.error and "Nowhere" in site.error
        assert (site.dir / "index.html").exists()
    finally:
        server.server_close()
        site.close()


@pytest.mark.parametrize("args", [["serve", "--help"]])
def test_serve_help(args: list[str]) -> None:
    from click.testing import CliRunner

    from crosspost.cli import main

    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0 and "localhost" in result.output


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stopping_serve_removes_its_scratch_folder(example: Path, tmp_path: Path, sig: int) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "CROSSPOST_NOW": NOW.isoformat()}
    cmd = [sys.executable, "-m", "crosspost", "serve", "--port", "0",
           "--config", str(example / "crosspost.yaml")]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "serving the preview at http://127.0.0.1:" in line, proc.stderr.read()  # type: ignore[union-attr]
        url = line.split(" at ")[1].split()[0]
        assert get(url)[0] == 200
        assert [p.name[:16] for p in scratch.iterdir()] == ["crosspost-serve-"]
        proc.send_signal(sig)
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
        proc.wait()
    assert list(scratch.iterdir()) == []  # nothing left behind in the temp folder


def _raw(port: int, path: str, host: str) -> int:
    """One GET with exactly this Host header and path (urllib would tidy both)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        head = conn.recv(64).decode("latin-1")
    return int(head.split()[1])


def test_serve_answers_only_to_its_own_name_and_survives_broken_input(example: Path) -> None:
    """DNS rebinding: a page elsewhere makes the browser ask 127.0.0.1 in its own name; the
    preview (the unpublished queue) must not answer it. A broken post file or an odd path
    must not stop the preview either."""
    (example / "queue" / "broken.yaml").write_text("publish_at: 2027-01-15 10:00\ntitle: !!int x\n")
    server, site = make_server(example / "crosspost.yaml", port=0, now=NOW,
                               allow_hosts=("preview.office.internal",))  # fmt: skip
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert _raw(port, "/index.html", f"evil.example:{port}") == 421
        assert _raw(port, "/index.html", "evil.example") == 421
        assert _raw(port, "/index.html", "") == 421
        for name in (f"127.0.0.1:{port}", f"localhost:{port}", "preview.office.internal"):
            assert _raw(port, "/index.html", name) == 200, name
        assert _raw(port, "/index%00.html", f"127.0.0.1:{port}") == 400
        code, page = get(f"http://127.0.0.1:{port}/index.html")
        assert code == 200 and "broken" in page  # shown, blocked, not left out
        (example / "queue" / "worse.yaml").write_text("{{{{")
        assert get(f"http://127.0.0.1:{port}/index.html")[0] == 200
    finally:
        server.shutdown()
        server.server_close()
        site.close()
