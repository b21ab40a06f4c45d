"""Exactly once against the platforms as they really answer, end to end through `crosspost run`.

Each scenario is a send whose answer is lost or misleading after the platform created the
post: the first `crosspost run --once` leaves it in doubt, the second settles it by reading
the account back as the platform answers (X's escaped text and t.co links, Instagram's
container status), and exactly one post exists at the end. Real tweepy, facebook-sdk and
requests code runs; only HTTP is intercepted (`responses`), by a small model of the account
that remembers what was created.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest
import requests
import responses
from click.testing import CliRunner

from crosspost.cli import main
from tests.conftest import ledger_of

from .conftest import canary_environ, make_adapter

pytestmark = pytest.mark.both_stores

TWEETS = "https://api.twitter.com/2/tweets"
ME = "https://api.twitter.com/2/users/me"
USER_ID = "1234567890"
TIMELINE = f"https://api.twitter.com/2/users/{USER_ID}/tweets"
UPLOAD = "https://api.x.com/2/media/upload"
METADATA = "https://api.x.com/2/media/metadata"
GRAPH = "https://graph.facebook.com/v26.0/"
IG_USER = "17841400000000000"
PAGE = "104857600"


def due_now(minutes_ago: int = 1) -> str:
    """A publish_at (Europe/London, as the config says) that is due and within lateness."""
    moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return moment.astimezone(ZoneInfo("Europe/London")).strftime("%Y-%m-%d %H:%M")


@pytest.fixture
def site(project: Path) -> Path:
    """The example project, without approval (not what these tests are about), settling at
    once and retrying after a second."""
    config = project / "crosspost.yaml"
    text = config.read_text().replace("require_approval: true", "require_approval: false")
    text = text.replace(
        "state: var/crosspost.db",
        "state: var/crosspost.db\ndaemon:\n  settle_after: 0s\n  retry: {first: 1s}",
    )
    config.write_text(text)
    return project


def run_once(root: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["run", "--once", "--config", str(root / "crosspost.yaml")], env=canary_environ()
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def delivery(root: Path, post_id: str, channel: str) -> Any:
    with ledger_of(root) as ledger:
        return ledger.get(post_id, channel)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """`crosspost run` in-process sets up the crosspost logger (its own handler, no
    propagation); put it back, so later tests' caplog still sees every record."""
    import logging

    logger = logging.getLogger("crosspost")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


# --- X: what POST /2/tweets created, and the timeline as X returns it -----------------------


class XAccount:
    """X as seen through the API: posts are created by POST /2/tweets, and the timeline
    returns their `text` as X stores it: &, < and > HTML-escaped, every link a t.co link,
    and a post with media ending in one more t.co link for the attachment."""

    def __init__(self, api: responses.RequestsMock, lose_answers: set[int], lose_requests: int = 0):
        self.posts: list[dict[str, Any]] = []
        self.lose_answers = lose_answers  # which creations (0-based) time out after creating
        self.lose_requests = lose_requests  # this many first requests time out before X acts
        self.creations = 0
        self.timeline_queries: list[dict[str, list[str]]] = []
        api.post(UPLOAD, json={"data": {"id": "1880028106020515840", "media_key": "3_188"}})
        api.post(METADATA, json={"data": {"associated_metadata": True}})
        api.get(ME, json={"data": {"id": USER_ID, "name": "Kent PCC", "username": "PCCKent"}})
        api.add_callback(responses.POST, TWEETS, callback=self.create)
        api.add_callback(responses.GET, TIMELINE, callback=self.timeline)

    def create(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.lose_requests:
            self.lose_requests -= 1
            raise requests.ReadTimeout("Read timed out. (read timeout=30)")
        body = json.loads(request.body)
        number = self.creations
        self.creations += 1
        tweet_id = str(1861234567890123456 + number)
        text = html.escape(body["text"], quote=False)
        text = " ".join(
            f"https://t.co/l{number}{i}" if "://" in word or word.endswith(".gov.uk/report")
            else word
            for i, word in enumerate(text.split(" "))
        )  # fmt: skip
        if body.get("media"):
            text += f" https://t.co/m{number}"
        reply = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        self.posts.append(
            {"id": tweet_id, "text": text, "reply_to": reply,
             "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")}
        )  # fmt: skip
        if number in self.lose_answers:
            raise requests.ReadTimeout("Read timed out. (read timeout=30)")
        return 201, {}, json.dumps({"data": {"id": tweet_id, "text": text}})

    def timeline(self, request: Any) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlparse(request.url).query)
        self.timeline_queries.append(query)
        start = query.get("start_time", [""])[0]
        data = []
        for post in reversed(self.posts):
            if start and post["created_at"][:19] < start[:19]:
                continue
            item = {"id": post["id"], "text": post["text"], "created_at": post["created_at"],
                    "edit_history_tweet_ids": [post["id"]]}  # fmt: skip
            if post["reply_to"]:
                item["referenced_tweets"] = [{"type": "replied_to", "id": post["reply_to"]}]
            data.append(item)
        meta = {"result_count": len(data)}
        return 200, {}, json.dumps({"data": data, "meta": meta} if data else {"meta": meta})


X_POST = """\
publish_at: {when}
title: unused
media:
  - path: media/square.jpg
    alt: Navy blue card with the words Safer Streets in gold.
channels: [PCCKent]
overrides:
  PCCKent:
    text: "Safer Streets: £1.4m for Kent & Medway town centres <this winter>. Read more at https://www.pcc-kent.gov.uk/safer-streets"
"""  # noqa: E501


def test_x_send_in_doubt_is_found_as_x_stores_it(site: Path, api: responses.RequestsMock) -> None:
    """X answers with `&amp;`, `&lt;`, t.co links and a trailing media link: settlement must
    still recognise the post, or it is sent again after settle_after (a duplicate)."""
    (site / "queue" / "funding.yaml").write_text(X_POST.format(when=due_now()))
    account = XAccount(api, lose_answers={0})

    code, output = run_once(site)
    assert code == 1, output
    assert delivery(site, "funding", "PCCKent").state == "in_doubt"
    assert "&amp;" in account.posts[0]["text"] and account.posts[0]["text"].endswith("/m0")

    code, output = run_once(site)
    assert code == 0, output
    done = delivery(site, "funding", "PCCKent")
    assert done.state == "published"
    assert done.remote_id == account.posts[0]["id"]
    assert account.creations == 1  # exactly one post exists
    # X bills reads per post: the look-up asked only for posts since the claim
    [query] = account.timeline_queries
    claimed = datetime.fromisoformat(query["start_time"][0].replace("Z", "+00:00"))
    assert timedelta(0) < done.claimed_at - claimed <= timedelta(minutes=5, seconds=1)


X_THREAD = """\
publish_at: {when}
title: unused
channels: [PCCKent]
overrides:
  PCCKent:
    text: "The VAWG inquiry report is out today (1/3)."
thread:
  - "It makes twelve recommendations: read them at pcc-kent.gov.uk/report (2/3)."
  - "Thank you to everyone who gave evidence (3/3)."
"""


def test_x_thread_part_in_doubt_is_settled_by_its_part(
    site: Path, api: responses.RequestsMock
) -> None:
    """The second part times out after X created it. Settlement looks for that part (its
    words, replying to the first part), records it, and the thread goes on with the third
    part replying to it: three posts, none twice."""
    (site / "queue" / "report.yaml").write_text(X_THREAD.format(when=due_now()))
    account = XAccount(api, lose_answers={1})

    code, _ = run_once(site)
    assert code == 1
    stuck = delivery(site, "report", "PCCKent")
    assert stuck.state == "in_doubt" and [p.index for p in stuck.parts] == [0]

    code, output = run_once(site)
    assert code == 0, output
    done = delivery(site, "report", "PCCKent")
    assert done.state == "published"
    assert account.creations == 3
    ids = [p["id"] for p in account.posts]
    assert [p.remote_id for p in done.parts] == ids
    assert [p["reply_to"] for p in account.posts] == [None, ids[0], ids[1]]


def test_x_settlement_does_not_take_another_post_for_ours(
    site: Path, api: responses.RequestsMock
) -> None:
    """The account has a post with the same words from before the claim, and one from after
    it that differs: neither is ours, so the post is sent again once settle_after passes."""
    (site / "queue" / "funding.yaml").write_text(X_POST.format(when=due_now()))
    account = XAccount(api, lose_answers=set(), lose_requests=1)
    old = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    words = html.escape(X_POST.split('text: "')[1].split('"')[0], quote=False)
    account.posts += [
        {"id": "1", "text": words.split(" Read more")[0], "reply_to": None, "created_at": now},
        {"id": "2", "text": words, "reply_to": None, "created_at": old},  # before the claim
    ]

    code, _ = run_once(site)
    assert code == 1 and delivery(site, "funding", "PCCKent").state == "in_doubt"

    code, output = run_once(site)
    assert code == 0, output
    done = delivery(site, "funding", "PCCKent")
    assert done.state == "published" and done.remote_id not in ("1", "2")
    assert account.creations == 1  # sent again: the one post it makes is ours


# --- Instagram: a container, and media_publish answering an error after publishing ----------


class InstagramAccount:
    """Instagram through the Graph API: containers (FINISHED until media_publish makes them
    PUBLISHED) and the account's media. `publish_answer` is what media_publish answers after
    it has published (None: the media id, as normal)."""

    def __init__(self, api: responses.RequestsMock, publish_answers: list[Any]):
        self.containers: dict[str, str] = {}
        self.media: list[dict[str, str]] = []
        self.captions: dict[str, str] = {}
        self.publish_calls: list[str] = []
        self.publish_answers = publish_answers
        api.get(f"{GRAPH}{IG_USER}/content_publishing_limit",
                json={"data": [{"quota_usage": 1, "config": {"quota_total": 100}}]})  # fmt: skip
        api.add_callback(responses.POST, f"{GRAPH}{IG_USER}/media", callback=self.container)
        api.add_callback(responses.POST, f"{GRAPH}{IG_USER}/media_publish", callback=self.publish)
        api.add_callback(responses.GET, f"{GRAPH}{IG_USER}/media", callback=self.listing)
        api.add_callback(
            responses.GET, re.compile(re.escape(GRAPH) + r"[cm]\d+(\?.*)?$"), callback=self.node
        )

    def container(self, request: Any) -> tuple[int, dict[str, str], str]:
        form = parse_qs(request.body)
        container_id = f"c{len(self.containers) + 1}"
        self.containers[container_id] = "FINISHED"
        self.captions[container_id] = form["caption"][0]
        return 200, {"Content-Type": "application/json"}, json.dumps({"id": container_id})

    def publish(self, request: Any) -> tuple[int, dict[str, str], Any]:
        container_id = parse_qs(request.body)["creation_id"][0]
        self.publish_calls.append(container_id)
        answer = self.publish_answers.pop(0) if self.publish_answers else None
        if answer == "lost-before":  # the request never got as far as publishing
            raise requests.ReadTimeout("Read timed out. (read timeout=30)")
        media_id = f"m{len(self.media) + 1}"
        self.containers[container_id] = "PUBLISHED"
        self.media.insert(
            0,
            {"id": media_id, "caption": self.captions[container_id],
             "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
             "permalink": f"https://www.instagram.com/p/{media_id}/"},
        )  # fmt: skip
        if answer is None:
            return 200, {"Content-Type": "application/json"}, json.dumps({"id": media_id})
        if answer == "lost-after":
            raise requests.ReadTimeout("Read timed out. (read timeout=30)")
        # Postiz's production case (its PR #1681): code 4 after a live publication
        return 400, {"Content-Type": "application/json"}, json.dumps(answer)

    def listing(self, request: Any) -> tuple[int, dict[str, str], str]:
        return 200, {"Content-Type": "application/json"}, json.dumps({"data": self.media})

    def node(self, request: Any) -> tuple[int, dict[str, str], str]:
        node = urlparse(request.url).path.rsplit("/", 1)[-1]
        if node in self.containers:
            body = {"id": node, "status_code": self.containers[node]}
        else:
            body = {"id": node, "permalink": f"https://www.instagram.com/p/{node}/"}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)


IG_POST = """\
publish_at: {when}
title: unused
body: Our stand at the County Show, with the Safer Streets team.
media:
  - path: media/square.jpg
    alt: Navy blue card with the words Safer Streets in gold.
channels: [kent_opcc]
"""
APP_LIMIT = {
    "error": {
        "message": "Application request limit reached",
        "type": "OAuthException",
        "is_transient": True,
        "code": 4,
        "error_subcode": 2207051,
        "fbtrace_id": "AXyZ0123456",
    }
}


def test_instagram_error_after_publishing_is_settled_not_published_again(
    site: Path, api: responses.RequestsMock
) -> None:
    """media_publish publishes, then answers code 4 (is_transient). A blind retry would build
    a new container and publish again, as Postiz did on a live post; here the error is in
    doubt, the container's status says PUBLISHED, and the media is found on the account."""
    (site / "queue" / "show.yaml").write_text(IG_POST.format(when=due_now()))
    account = InstagramAccount(api, publish_answers=[APP_LIMIT])

    code, output = run_once(site)
    assert code == 1, output
    stuck = delivery(site, "show", "kent_opcc")
    assert stuck.state == "in_doubt"
    assert stuck.notes == {"container": "c1"}  # noted before media_publish was called

    time.sleep(1.1)  # past the 1 s retry a blind retry would have waited for
    code, output = run_once(site)
    assert code == 0, output
    done = delivery(site, "show", "kent_opcc")
    assert done.state == "published" and done.remote_id == "m1"
    assert account.publish_calls == ["c1"] and list(account.containers) == ["c1"]
    assert len(account.media) == 1


def test_instagram_container_not_published_is_published_not_rebuilt(
    site: Path, api: responses.RequestsMock
) -> None:
    """media_publish times out before Instagram acted: the container is still FINISHED. The
    next attempt publishes that container; it does not build a second one."""
    (site / "queue" / "show.yaml").write_text(IG_POST.format(when=due_now()))
    account = InstagramAccount(api, publish_answers=["lost-before"])

    code, _ = run_once(site)
    assert code == 1 and delivery(site, "show", "kent_opcc").state == "in_doubt"

    code, output = run_once(site)
    assert code == 0, output
    done = delivery(site, "show", "kent_opcc")
    assert done.state == "published" and done.remote_id == "m1"
    assert list(account.containers) == ["c1"]
    assert account.publish_calls == ["c1", "c1"]
    assert len(account.media) == 1


# --- what goes wrong after publishing is on the record; a used-up cap holds the channel -----

FB_POST = """\
publish_at: {when}
title: unused
body: The Safer Streets fund is open to every town centre in Kent and Medway.
first_comment: Which town centre would you like to see made safer next?
channels: [KentPCC]
"""
NO_PERMISSION = {
    "error": {
        "message": "(#200) Requires pages_manage_engagement permission to manage the object",
        "type": "OAuthException",
        "code": 200,
        "fbtrace_id": "AbCdEfGhIjK",
    }
}


def test_a_failed_first_comment_is_recorded_shown_and_alerted(
    site: Path, api: responses.RequestsMock, hook: Any
) -> None:
    config = site / "crosspost.yaml"
    config.write_text(config.read_text() + f"alerts:\n  urls: ['{hook.url()}']\n")
    api.add_passthru(f"http://127.0.0.1:{hook.port}")  # the alerts reach the local endpoint
    (site / "queue" / "fund.yaml").write_text(FB_POST.format(when=due_now()))
    api.post(f"{GRAPH}{PAGE}/feed", json={"id": f"{PAGE}_987"})
    api.post(f"{GRAPH}{PAGE}_987/comments", json=NO_PERMISSION, status=403)

    code, output = run_once(site)
    assert code == 0, output  # the post itself is published
    done = delivery(site, "fund", "KentPCC")
    assert done.state == "published" and done.comment_id is None
    assert "first comment was not posted" in (done.warning or "")
    assert "pages_manage_engagement" in (done.warning or "")

    env = canary_environ()
    history = CliRunner().invoke(main, ["history", "--config", str(config)], env=env)
    assert "! the first comment was not posted" in history.output
    status = CliRunner().invoke(main, ["status", "--config", str(config)], env=env)
    assert "Published, but something after it failed (1)" in status.output
    assert "add it by hand on Facebook" in status.output
    [alert] = hook.payloads()
    assert "post published on @KentPCC, but something after it failed" in alert["title"]
    assert "pages_manage_engagement" in alert["message"]


def test_the_x_monthly_cap_holds_the_channel_with_one_alert(
    site: Path, api: responses.RequestsMock, hook: Any
) -> None:
    """429 usage-capped: retrying every few minutes until the attempts run out cannot help.
    The channel is held with an alert that says what happened and what to do."""
    config = site / "crosspost.yaml"
    config.write_text(config.read_text() + f"alerts:\n  urls: ['{hook.url()}']\n")
    api.add_passthru(f"http://127.0.0.1:{hook.port}")  # the alerts reach the local endpoint
    for name in ("one", "two"):
        (site / "queue" / f"{name}.yaml").write_text(
            f"publish_at: {due_now()}\ntitle: Post {name}\nchannels: [PCCKent]\n"
        )
    cap = {
        "account_id": "1234567", "product_name": "standard-basic", "title": "UsageCapExceeded",
        "period": "Monthly", "scope": "Product",
        "detail": "Usage cap exceeded: Monthly product cap",
        "type": "https://api.twitter.com/2/problems/usage-capped",
    }  # fmt: skip
    api.post(TWEETS, json=cap, status=429, headers={"x-rate-limit-remaining": "39999"})

    code, _ = run_once(site)
    assert code == 1
    assert [delivery(site, n, "PCCKent").state for n in ("one", "two")] == ["held", "held"]
    assert len([c for c in api.calls if c.request.url == TWEETS]) == 1  # no futile retries
    with ledger_of(site) as ledger:
        assert (ledger.control("hold:PCCKent") or "").startswith("capped: ")
    titles = [p["title"] for p in hook.payloads()]
    assert any("allowance for the app is used up" in t for t in titles), titles
    capped = [p for p in hook.payloads() if "allowance" in p["title"]][0]
    assert "monthly post cap" in capped["message"] and "crosspost doctor" in capped["message"]


def test_instagram_timeout_after_publishing_is_settled(
    site: Path, api: responses.RequestsMock
) -> None:
    """media_publish published, then the answer was lost: the container says PUBLISHED."""
    (site / "queue" / "show.yaml").write_text(IG_POST.format(when=due_now()))
    account = InstagramAccount(api, publish_answers=["lost-after"])
    code, _ = run_once(site)
    assert code == 1 and delivery(site, "show", "kent_opcc").state == "in_doubt"
    code, output = run_once(site)
    assert code == 0, output
    assert delivery(site, "show", "kent_opcc").remote_id == "m1"
    assert account.publish_calls == ["c1"] and len(account.media) == 1


# --- Facebook: /feed answers a server error after creating the post -------------------------


FB_SERVER_ERROR = {
    "error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1,
              "is_transient": True, "fbtrace_id": "AbCdEfGhIjK"}
}  # fmt: skip


@pytest.mark.parametrize("failure", ["graph-error", "stalled-answer"])
def test_facebook_send_in_doubt_is_settled_by_the_page_posts(
    site: Path, api: responses.RequestsMock, failure: str
) -> None:
    """/feed creates the post, then answers Graph code 1 (is_transient) or its answer stalls:
    in doubt, found among the Page's posts, published once; the first comment that the cut
    off send never posted is on the record."""
    from urllib3.exceptions import ReadTimeoutError

    (site / "queue" / "fund.yaml").write_text(FB_POST.format(when=due_now()))
    page_posts: list[dict[str, str]] = []

    def feed(request: Any) -> Any:
        body = parse_qs(request.body)
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
        post_id = f"{PAGE}_{len(page_posts) + 1}"
        page_posts.insert(
            0, {"id": post_id, "message": body["message"][0], "created_time": created}
        )
        if failure == "stalled-answer":
            stall = ReadTimeoutError(None, "/feed", "Read timed out.")  # type: ignore[arg-type]
            raise requests.ConnectionError(stall)
        return 500, {"Content-Type": "application/json"}, json.dumps(FB_SERVER_ERROR)

    api.add_callback(responses.POST, f"{GRAPH}{PAGE}/feed", callback=feed)
    api.add_callback(
        responses.GET, f"{GRAPH}{PAGE}/posts",
        callback=lambda r: (200, {"Content-Type": "application/json"},
                            json.dumps({"data": page_posts})),
    )  # fmt: skip
    code, _ = run_once(site)
    assert code == 1 and delivery(site, "fund", "KentPCC").state == "in_doubt"
    time.sleep(1.1)  # past the 1 s retry a blind retry would have waited for
    code, output = run_once(site)
    assert code == 0, output
    done = delivery(site, "fund", "KentPCC")
    assert done.state == "published" and done.remote_id == f"{PAGE}_1"
    assert len(page_posts) == 1
    assert "its first comment was not posted" in (done.warning or "")


# --- what settlement must not take for ours ----------------------------------------------


def _settle(root: Path, channel: str, posts: list[Any], **sent: Any) -> Any:
    """Settle with a look-up that returns `posts` (RemotePost), as the platform would."""
    from crosspost.adapters.base import Sent

    adapter = make_adapter(root, channel, environ=canary_environ())
    adapter.recent = lambda limit=50, since=None: posts  # type: ignore[method-assign]
    defaults: dict[str, Any] = {"post_id": "p", "texts": ("Safer Streets funding.",),
                                "parts": (), "since": CLAIMED}  # fmt: skip
    return adapter.settle(Sent(**{**defaults, **sent}))


CLAIMED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _remote(remote_id: str, text: str, minutes: int = 1, reply_to: str | None = None) -> Any:
    from crosspost.adapters.base import RemotePost

    return RemotePost(remote_id, text, CLAIMED + timedelta(minutes=minutes), reply_to=reply_to)


def test_settlement_skips_an_older_post_with_the_same_words(project: Path) -> None:
    settled = _settle(project, "KentPCC", [_remote("old", "Safer Streets funding.", -60)])
    assert settled.found is None and settled.searched_back
    settled = _settle(project, "KentPCC", [_remote("new", "Safer Streets funding.", 1)])
    assert settled.found.remote_id == "new"


def test_settlement_of_a_thread_part_needs_the_reply_to_the_part_before(project: Path) -> None:
    from crosspost.core.errors import PartReceipt

    texts = ("Part one (1/2).", "Part two (2/2).")
    parts = (PartReceipt(0, "101"),)
    elsewhere = _remote("201", "Part two (2/2).", reply_to="999")  # same words, another thread
    settled = _settle(project, "PCCKent", [elsewhere], texts=texts, parts=parts)
    assert settled.found is None
    ours = _remote("202", "Part two (2/2).", reply_to="101")
    settled = _settle(project, "PCCKent", [elsewhere, ours], texts=texts, parts=parts)
    assert settled.found.remote_id == "202" and settled.found.index == 1


def test_settlement_skips_posts_other_deliveries_stand_for(project: Path) -> None:
    twin = [_remote("301", "Safer Streets funding.")]
    settled = _settle(project, "KentPCC", twin, taken=frozenset({"301"}))
    assert settled.found is None


def test_x_allows_the_media_link_only_for_a_post_with_media(project: Path) -> None:
    with_link = [_remote("401", "Safer Streets funding. https://t.co/AbCdE")]
    assert _settle(project, "PCCKent", with_link, media=0).found is None  # someone else's
    assert _settle(project, "PCCKent", with_link, media=1).found.remote_id == "401"
    plain = [_remote("402", "Safer Streets funding.")]
    assert _settle(project, "PCCKent", plain, media=1).found is None  # ours had an image


def test_a_post_without_words_is_never_settled_by_guessing(project: Path) -> None:
    anything = [_remote("501", "https://t.co/AbCdE"), _remote("502", "")]
    settled = _settle(project, "PCCKent", anything, texts=("",), media=1)
    assert settled.found is None and not settled.searched_back  # stays in doubt: resolve
