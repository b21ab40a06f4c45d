"""The Mastodon plugin's own tests: crosspost's contract kit, and publishing through the real
Mastodon.py with only HTTP intercepted (responses), by an instance that answers as Mastodon's
API documentation says (POST /api/v1/statuses honouring Idempotency-Key, POST /api/v2/media
processed asynchronously, GET /api/v2/instance with its limits, verify_credentials)."""

from __future__ import annotations

import html
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
import responses
from crosspost_mastodon import MastodonAdapter, as_text, mastodon_length

from crosspost.core.errors import InDoubt, Rejected
from crosspost.testing import (
    check_adapter_class,
    check_credentials_report,
    check_offline,
    check_receipt,
    render_sample,
    sample_project,
)

BASE = "https://social.example.gov.uk"
TOKEN = "CANARY-mastodon-token-5678"
ENV = {"MASTODON_TOKEN": TOKEN}
ACCOUNT = {
    "id": "109000000000000001", "username": "kentpcc", "acct": "kentpcc",
    "display_name": "Kent PCC", "url": f"{BASE}/@kentpcc", "created_at": "2023-01-01T00:00:00.000Z",
}  # fmt: skip


def render(text: str) -> str:
    """A status's text as Mastodon's HTML: escaped, line breaks, and a remote mention shown
    by its user name alone (app/lib/text_formatter.rb)."""
    out = html.escape(text).replace("\n", "<br />")
    card = (
        r'<span class="h-card"><a href="https://\2/@\1" class="u-url mention">'
        r"@<span>\1</span></a></span>"
    )
    return re.sub(r"@(\w+)@([\w.-]+\w)", card, out)


def form(body: Any) -> dict[str, Any]:
    """A form-encoded request body; `name[]` fields as lists, as Rails reads them."""
    if isinstance(body, bytes):
        body = body.decode()
    out: dict[str, Any] = {}
    for name, value in parse_qsl(body or ""):
        if name.endswith("[]"):
            out.setdefault(name[:-2], []).append(value)
        else:
            out[name] = value
    return out


class Instance:
    """A Mastodon instance, as its API documentation describes its answers."""

    def __init__(self, mock: responses.RequestsMock):
        self.statuses: list[dict[str, Any]] = []
        self.keys: dict[str, dict[str, Any]] = {}  # Idempotency-Key -> the status it made
        self.requests: list[dict[str, Any]] = []
        self.media: dict[str, dict[str, Any]] = {}
        self.lose_answers = 0
        self.scopes = ["read", "write:statuses", "write:media"]
        self.max_characters = 500
        self.image_size_limit = 16777216
        self.has_v2 = True

        def add(method: str, path: str, callback: Any) -> None:  # Rails takes a final /
            name = callback.__name__  # looked up at each call: a test may swap it
            mock.add_callback(method, re.compile(rf"{re.escape(BASE)}{path}/?(\?.*)?$"),
                              callback=lambda request: getattr(self, name)(request))  # fmt: skip

        add("GET", "/api/v2/instance", self.instance)
        add("GET", "/api/v1/instance", self.instance_v1)  # Mastodon.py reads the version there
        add("POST", "/api/v1/statuses", self.post)
        add("POST", "/api/v2/media", self.upload)
        add("GET", r"/api/v1/media/\d+", self.medium)
        add("GET", "/api/v1/accounts/verify_credentials", self.verify)
        add("GET", "/api/v1/apps/verify_credentials", self.app)
        add("GET", r"/api/v1/accounts/\d+/statuses", self.listing)

    @staticmethod
    def authorised(request: Any) -> bool:
        return request.headers.get("Authorization") == f"Bearer {TOKEN}"

    def refuse(self) -> tuple[int, dict[str, str], str]:
        return 401, {}, json.dumps({"error": "The access token is invalid"})

    def instance(self, request: Any) -> tuple[int, dict[str, str], str]:
        if not self.has_v2:  # Mastodon before 4.0
            return 404, {}, json.dumps({"error": "Record not found"})
        return 200, {}, json.dumps({
            "domain": "social.example.gov.uk", "title": "Example", "version": "4.4.0",
            "api_versions": {"mastodon": 6},
            "configuration": {
                "statuses": {"max_characters": self.max_characters, "max_media_attachments": 4,
                             "characters_reserved_per_url": 23},
                "media_attachments": {"image_size_limit": self.image_size_limit,
                                      "description_limit": 1500,
                                      "supported_mime_types": ["image/jpeg", "image/png"]},
            },
        })  # fmt: skip

    def instance_v1(self, request: Any) -> tuple[int, dict[str, str], str]:
        return 200, {}, json.dumps({"uri": "social.example.gov.uk", "title": "Example",
                                    "version": "4.4.0"})  # fmt: skip

    def post(self, request: Any) -> tuple[int, dict[str, str], str]:
        if not self.authorised(request):
            return self.refuse()
        key = request.headers.get("Idempotency-Key")
        if key in self.keys:  # "a repeated key returns the status made the first time"
            if self.lose_answers:
                self.lose_answers -= 1
                raise requests.ReadTimeout("read timed out")
            return 200, {}, json.dumps(self.keys[key])
        body = form(request.body)
        self.requests.append({"key": key, **body})
        text = body.get("status", "")
        if len(text) > self.max_characters:
            return 422, {}, json.dumps({"error": "Validation failed: Text character limit of "
                                                 f"{self.max_characters} exceeded"})  # fmt: skip
        number = 110000000000000000 + len(self.statuses) + 1
        status = {
            "id": str(number), "created_at": "2027-01-15T10:00:00.000Z",
            "in_reply_to_id": body.get("in_reply_to_id"), "sensitive": bool(body.get("sensitive")),
            "spoiler_text": body.get("spoiler_text") or "", "visibility": body.get("visibility"),
            "language": body.get("language"), "uri": f"{BASE}/users/kentpcc/statuses/{number}",
            "url": f"{BASE}/@kentpcc/{number}",
            "content": "<p>" + render(text) + "</p>",
            "media_attachments": [self.media[i] for i in body.get("media_ids", []) or []],
            "account": ACCOUNT, "mentions": [], "tags": [], "emojis": [],
            "reblogs_count": 0, "favourites_count": 0, "replies_count": 0,
        }  # fmt: skip
        self.statuses.append(status)
        if key:
            self.keys[key] = status
        if self.lose_answers:
            self.lose_answers -= 1
            raise requests.ReadTimeout("read timed out")
        return 200, {}, json.dumps(status)

    def upload(self, request: Any) -> tuple[int, dict[str, str], str]:
        number = str(120000000000000000 + len(self.media) + 1)
        description = re.search(rb'name="description"\r\n\r\n(.*?)\r\n--', request.body, re.S)
        self.media[number] = {
            "id": number, "type": "image", "url": None, "preview_url": None,
            "description": description.group(1).decode() if description else None,
        }  # fmt: skip
        return 202, {}, json.dumps(self.media[number])  # processed asynchronously

    def medium(self, request: Any) -> tuple[int, dict[str, str], str]:
        number = request.url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        self.media[number]["url"] = f"{BASE}/media/{number}.jpg"  # processed by now
        return 200, {}, json.dumps(self.media[number])

    def verify(self, request: Any) -> tuple[int, dict[str, str], str]:
        return (200, {}, json.dumps(ACCOUNT)) if self.authorised(request) else self.refuse()

    def app(self, request: Any) -> tuple[int, dict[str, str], str]:
        if not self.authorised(request):
            return self.refuse()
        return 200, {}, json.dumps({"name": "crosspost", "website": None, "scopes": self.scopes})

    def listing(self, request: Any) -> tuple[int, dict[str, str], str]:
        return 200, {}, json.dumps(list(reversed(self.statuses)))


@pytest.fixture
def instance() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield Instance(mock)


def project(tmp: Path, post: str | None = None, **settings: Any) -> Path:
    root = sample_project(
        tmp, platform="mastodon", settings={"instance": BASE, **settings},
        credentials={"access_token": "MASTODON_TOKEN"},
    )  # fmt: skip
    if post is not None:
        (root / "queue" / "hello.yaml").write_text(post, encoding="utf-8")
    return root


def adapter(root: Path, environ: dict[str, str] | None = None) -> MastodonAdapter:
    from crosspost.loading.config import load_config

    channel = load_config(root / "crosspost.yaml").channels["c"]
    env = ENV if environ is None else environ
    return MastodonAdapter(channel, root=root, environ=env, sleep=lambda seconds: None)


def image(root: Path) -> None:
    from PIL import Image

    (root / "queue" / "media").mkdir(exist_ok=True)
    Image.new("RGB", (1200, 800), (10, 60, 120)).save(root / "queue" / "media" / "pier.jpg")


def test_the_adapter_keeps_the_contract(tmp_path: Path) -> None:
    assert check_adapter_class(MastodonAdapter) == []
    assert check_offline(project(tmp_path), "mastodon") == []


def test_length_counts_links_as_23_and_remote_mentions_by_user_name() -> None:
    assert mastodon_length("Hello Kent")[0] == 10
    long_link = "https://www.kent-pcc.gov.uk/news/2027/01/a-very-long-address-indeed"
    assert mastodon_length(f"See {long_link}")[0] == 4 + 23
    assert mastodon_length("Thanks @kentpolice@mastodon.social!")[0] == len("Thanks @kentpolice!")
    assert mastodon_length("👍🏽🇬🇧")[0] == 2


POST = """\
publish_at: 2027-01-15 10:00
title: "Safer streets in Kent: the Commissioner visits Folkestone with \\
  @kentpolice@mastodon.social #SaferStreets 🎉"
body: Read more at https://www.kent-pcc.gov.uk/news
media:
  - {path: media/pier.jpg, alt: "The Commissioner with officers on Folkestone harbour arm"}
"""


def test_a_post_with_an_image_a_description_and_a_content_warning(
    tmp_path: Path, instance: Instance
) -> None:
    root = project(tmp_path, POST, content_warning="Police news", visibility="unlisted")
    image(root)
    notes: dict[str, str] = {}
    receipt = adapter(root).publish(render_sample(root), on_note=notes.__setitem__)
    assert check_receipt(receipt) == []
    [sent] = instance.requests
    assert sent["key"] == notes["idempotency.0"]  # chosen and noted before the call
    assert sent["spoiler_text"] == "Police news" and sent["sensitive"] in (True, "1", "true")
    assert sent["visibility"] == "unlisted" and sent["language"] == "en"
    assert "@kentpolice@mastodon.social #SaferStreets 🎉" in sent["status"]  # as written
    assert sent["status"].endswith("Read more at https://www.kent-pcc.gov.uk/news")  # a link
    [medium] = instance.media.values()
    assert medium["description"].startswith("The Commissioner with officers")
    assert sent["media_ids"] == [medium["id"]]
    assert receipt.url == f"{BASE}/@kentpcc/110000000000000001"


def test_a_thread_of_three_replies_in_order(tmp_path: Path, instance: Instance) -> None:
    root = project(tmp_path, "publish_at: 2027-01-15 10:00\ntitle: One.\nthread: [Two., Three.]\n")
    receipt = adapter(root).publish(render_sample(root))
    assert check_receipt(receipt, texts=3) == []
    replies = [r.get("in_reply_to_id") for r in instance.requests]
    assert replies == [None, receipt.parts[0].remote_id, receipt.parts[1].remote_id]
    assert len({r["key"] for r in instance.requests}) == 3


def test_a_send_that_times_out_after_it_was_accepted_is_one_status(
    tmp_path: Path, instance: Instance
) -> None:
    root = project(tmp_path, "publish_at: 2027-01-15 10:00\ntitle: One.\nthread: [Two.]\n")
    instance.lose_answers = 1
    receipt = adapter(root).publish(render_sample(root))
    assert len(instance.statuses) == 2  # one per part, the timed-out one not made twice
    assert receipt.parts[0].remote_id == instance.statuses[0]["id"]
    assert instance.statuses[1]["in_reply_to_id"] == instance.statuses[0]["id"]


def test_no_answer_every_time_is_in_doubt_with_at_most_one_status(
    tmp_path: Path, instance: Instance
) -> None:
    root = project(tmp_path, "publish_at: 2027-01-15 10:00\ntitle: One.\n")
    instance.lose_answers = 9
    notes: dict[str, str] = {}
    with pytest.raises(InDoubt, match="same Idempotency-Key"):
        adapter(root).publish(render_sample(root), on_note=notes.__setitem__)
    assert len(instance.statuses) == 1
    # the daemon's next attempt uses the key on record: the instance answers with that status
    instance.lose_answers = 0
    receipt = adapter(root).publish(render_sample(root), notes=notes)
    assert len(instance.statuses) == 1 and receipt.remote_id == instance.statuses[0]["id"]
    # and settling reads the account back
    found = adapter(root).recent()
    assert [p.text for p in found] == ["One."]


def test_the_instance_limits_are_read_and_enforced_before_sending(
    tmp_path: Path, instance: Instance
) -> None:
    instance.max_characters = 50
    root = project(tmp_path, "publish_at: 2027-01-15 10:00\ntitle: " + "word " * 15 + "\n")
    with pytest.raises(Rejected, match="allows 50"):
        adapter(root).publish(render_sample(root))
    assert instance.statuses == []  # nothing sent
    report = adapter(root).check_credentials()
    assert report.ok and any("max_characters: 50" in w for w in report.warnings)


def test_doctor_says_which_permissions_the_token_lacks(tmp_path: Path, instance: Instance) -> None:
    root = project(tmp_path)
    good = adapter(root).check_credentials()
    assert check_credentials_report(good) == [] and good.ok and good.account == "@kentpcc"
    instance.scopes = ["read"]
    lacking = adapter(root).check_credentials()
    assert not lacking.ok and "write:statuses" in lacking.problems[0]
    assert "Preferences → Development → New application" in lacking.problems[0]
    wrong = adapter(root, {"MASTODON_TOKEN": "nope"}).check_credentials()
    assert not wrong.ok and "access token" in wrong.problems[0]
    assert TOKEN not in repr((good, lacking, wrong))


def test_html_content_reads_back_as_the_words_sent() -> None:
    assert as_text("<p>One &amp; two<br />three</p><p>four</p>") == "One & two\nthree\n\nfour"


# --- what a review found ------------------------------------------------------------------


def test_a_post_with_a_remote_mention_is_found_when_settling(
    tmp_path: Path, instance: Instance
) -> None:
    from crosspost.adapters.base import Sent

    text = "Thanks @kentpolice@mastodon.social for today"
    root = project(tmp_path, f"publish_at: 2027-01-15 10:00\ntitle: {text}\n")
    adapter(root).publish(render_sample(root))
    assert "@<span>kentpolice</span>" in instance.statuses[0]["content"]  # as Mastodon shows it
    settled = adapter(root).settle(Sent("hello", (text,), (), datetime(2027, 1, 1, tzinfo=UTC)))
    assert settled.found is not None and settled.found.remote_id == instance.statuses[0]["id"]


def test_the_content_warning_counts_towards_the_limit(tmp_path: Path, instance: Instance) -> None:
    words = "x" * 480
    root = project(tmp_path, f"publish_at: 2027-01-15 10:00\ntitle: {words}\n",
                   content_warning="A warning of thirty characters")  # fmt: skip
    findings = adapter(root).check(render_sample(root))
    assert any("over Mastodon's limit of 500" in f.message for f in findings)
    with pytest.raises(Rejected, match="allows 500"):
        adapter(root).publish(render_sample(root))
    assert instance.statuses == []


def test_an_instance_without_v2_limits_still_posts(tmp_path: Path, instance: Instance) -> None:
    instance.has_v2 = False
    root = project(tmp_path, "publish_at: 2027-01-15 10:00\ntitle: One.\n")
    assert check_receipt(adapter(root).publish(render_sample(root))) == []


def test_the_instance_image_size_limit_is_enforced(tmp_path: Path, instance: Instance) -> None:
    instance.image_size_limit = 1000
    root = project(tmp_path, POST)
    image(root)
    with pytest.raises(Rejected, match="takes images up to 1,000"):
        adapter(root).publish(render_sample(root))
    assert instance.statuses == [] and instance.media == {}


def test_doctor_names_the_read_scopes_settling_needs(tmp_path: Path, instance: Instance) -> None:
    instance.scopes = ["write:statuses", "write:media"]
    report = adapter(project(tmp_path)).check_credentials()
    assert not report.ok and "read:accounts" in report.problems[0]
    assert "settled" in report.problems[0]


def test_a_key_older_than_the_instance_keeps_is_renewed(tmp_path: Path, instance: Instance) -> None:
    root = project(tmp_path, "publish_at: 2027-01-15 10:00\ntitle: One.\n")
    old = f"crosspost-{int(time.time()) - 2 * 3600}-abcdef012345"
    notes = {"idempotency.0": old}
    adapter(root).publish(render_sample(root), notes=notes, on_note=notes.__setitem__)
    assert notes["idempotency.0"] != old and instance.requests[0]["key"] == notes["idempotency.0"]
    fresh = dict(notes)
    adapter(root).publish(render_sample(root), notes=fresh, on_note=fresh.__setitem__)
    assert fresh == notes and len(instance.statuses) == 1  # a recent key is used as it is


def test_a_deadline_that_passes_after_a_call_with_no_answer_is_in_doubt(
    tmp_path: Path, instance: Instance
) -> None:
    from crosspost.adapters.base import SendDeadline, send_deadline

    root = project(tmp_path, "publish_at: 2027-01-15 10:00\ntitle: One.\n")
    deadline = SendDeadline(60, margin=0)
    instance.lose_answers = 1
    post = instance.post

    def slow(request: Any) -> tuple[int, dict[str, str], str]:
        deadline.until = 0  # the lease ran out while this call went unanswered
        return post(request)

    instance.post = slow  # type: ignore[method-assign]
    with send_deadline(deadline), pytest.raises(InDoubt, match="after a call with no answer"):
        adapter(root).publish(render_sample(root))
    assert len(instance.statuses) == 1


def test_a_link_ending_a_sentence_counts_23_without_its_full_stop() -> None:
    assert mastodon_length("See https://example.org/a.")[0] == 4 + 23 + 1
