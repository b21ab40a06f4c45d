"""How fast is the web app on a 10,000-post queue? p50 and p95 of the calendar, the post
list (with a search) and a live-preview round trip, through the real ASGI app in-process.

Uses bench/validate.py's queue. The first request loads and renders the whole queue (timed
apart: it happens once, and again only after a file changes); then each page is asked for
R times. Targets (issue 14): p95 <= 150 ms for pages, <= 100 ms for a preview.

    python bench/web.py [--posts N] [--repeat R]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import warnings  # noqa: E402

from argon2 import PasswordHasher  # noqa: E402

warnings.simplefilter("ignore", DeprecationWarning)  # the test client's httpx notice
from starlette.testclient import TestClient  # noqa: E402
from validate import make_project  # noqa: E402

from crosspost.web.accounts import AccountStore, Role  # noqa: E402
from crosspost.web.app import make_app  # noqa: E402

PASSWORD = "benchmark password 1"


def timed(client: TestClient, method: str, url: str, repeat: int, **kwargs: object) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = client.request(method, url, **kwargs)  # type: ignore[arg-type]
        out.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
    return out


def line(name: str, ms: list[float], target: int) -> str:
    ms = sorted(ms)
    p50 = statistics.median(ms)
    p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
    return f"{name:<22} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   (target p95 <= {target} ms)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = make_project(Path(tmp) / "bench", args.posts)
        accounts = AccountStore(
            config.parent / "var" / "accounts.db",
            hasher=PasswordHasher(time_cost=1, memory_cost=64, parallelism=1),
        )
        accounts.add("bench", Role.AUTHOR, PASSWORD)
        started = time.perf_counter()
        app = make_app(config, accounts=accounts)  # loads, renders and checks the queue
        with TestClient(app, base_url="http://localhost") as client:
            client.post("/login", data={"name": "bench", "password": PASSWORD})
            client.get("/?month=2027-01")
            first = time.perf_counter() - started
            form = client.get("/posts/new").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
            post = {
                "csrf": csrf, "publish_at": "2027-02-01 10:00", "status": "ready",
                "title": "Safer streets for Kent and Medway: new CCTV in Ashford.",
                "body": "We've secured funding for more CCTV.\n\nMore at the link.",
                "link": "https://www.pcc-kent.gov.uk", "hashtags": "Safer Streets, Kent",
                "channels": ["PCCKent", "KentPCC", "kent_opcc"],
            }  # fmt: skip
            calendar = timed(client, "GET", "/?month=2027-01", args.repeat)
            week = timed(client, "GET", "/?month=2027-02&view=week", args.repeat)
            listing = timed(client, "GET", "/posts", args.repeat)
            search = timed(client, "GET", "/posts?q=ashford&channel=PCCKent", args.repeat)
            preview = timed(
                client, "POST", "/preview", args.repeat, data=post,
                headers={"x-csrf-token": csrf},
            )  # fmt: skip
            reloads = []
            for i in range(3):  # a file saved (here or through git): the next page loads again
                edited = config.parent / "queue" / f"post-{i:05d}.yaml"
                edited.write_text(edited.read_text() + f"\n# edited {i}\n")
                app.state.web.site.changed()
                reloads += timed(client, "GET", "/?month=2027-01", 1)
        accounts.close()
    print(f"posts:                 {args.posts:,} ({args.repeat} requests each)")
    print(f"first load:            {first:.2f} s (load, render and plan the queue, once)")
    print(line("calendar (month)", calendar, 150))
    print(line("calendar (week)", week, 150))
    print(line("post list", listing, 150))
    print(line("post list, searched", search, 150))
    print(line("live preview", preview, 100))
    print(
        f"page after a file change: {', '.join(f'{ms / 1000:.2f} s' for ms in reloads)} "
        "(only what changed is read again)"
    )


if __name__ == "__main__":
    main()
