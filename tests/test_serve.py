"""`crosspost serve`: live pages from the current queue, read-only, on localhost."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from crosspost.serve import make_server

from .conftest import NOW


def get(url: str, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=b"x" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_serves_live_pages_read_only_on_localhost(example: Path) -> None:
    server, _ = make_server(example / "crosspost.yaml", port=0, now=NOW)
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


def test_a_broken_config_keeps_the_last_good_site(example: Path) -> None:
    server, site = make_server(example / "crosspost.yaml", port=0, now=NOW)
    try:
        (example / "crosspost.yaml").write_text("timezone: Nowhere\nchannels: {}\n")
        site.refresh()
        assert site.error and "Nowhere" in site.error
        assert (site.dir / "index.html").exists()
    finally:
        server.server_close()


@pytest.mark.parametrize("args", [["serve", "--help"]])
def test_serve_help(args: list[str]) -> None:
    from click.testing import CliRunner

    from crosspost.cli import main

    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0 and "localhost" in result.output
