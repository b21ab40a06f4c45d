"""The Bluesky plugin's own tests: crosspost's contract kit, and publishing through the real
atproto SDK with only HTTP intercepted (respx), by a PDS that answers as the XRPC lexicons say
(com.atproto.server.createSession, repo.uploadBlob, repo.putRecord, repo.getRecord,
repo.listRecords, identity.resolveHandle), keeps the records it was given, and checks each
post record against the app.bsky.feed.post lexicon (the SDK's models of it)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from crosspost_bluesky import BlueskyAdapter, graphemes, new_tid, tid_time

from crosspost.core.errors import AuthError, InDoubt
from crosspost.testing import (
    check_adapter_class,
    check_credentials_report,
    check_offline,
    check_receipt,
    render_sample,
    sample_project,
)

DID = "did:plc:kentpcc0000000000000000a"
HANDLE = "kentpcc.bsky.social"
PDS = "https://pds.example"
SECRET = "CANARY-app-pass-1234"
ENV = {"BSKY_ID": HANDLE, "BSKY_PW": SECRET}


def jwt(seconds: int) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    payload = {"scope": "com.atproto.appPass", "sub": DID, "exp": int(time.time()) + seconds}
    return f"{part({'alg': 'ES256K', 'typ': 'at+jwt'})}.{part(payload)}.c2lnbmF0dXJl"


class Pds:
    """The account's PDS, as the lexicons describe its answers."""

    def __init__(self, mock: respx.MockRouter):
        self.records: dict[str, dict[str, Any]] = {}
        self.puts: list[dict[str, Any]] = []
        self.blobs: list[bytes] = []
        self.lose_answers = 0  # the next N putRecords are kept but answered with a timeout
        self.unreadable = False  # getRecord answers 502
        self.handles = {"trafficpolice.bsky.social": "did:plc:traffic0000000000000000"}
        route = mock.route
        route(method="POST", url=f"{PDS}/xrpc/com.atproto.server.createSession").mock(
            side_effect=lambda request: self.session(request)
        )
        route(method="POST", url=f"{PDS}/xrpc/com.atproto.repo.uploadBlob").mock(
            side_effect=lambda request: self.upload(request)
        )
        route(method="POST", url=f"{PDS}/xrpc/com.atproto.repo.putRecord").mock(
            side_effect=lambda request: self.put(request)
        )
        route(method="GET", url__startswith=f"{PDS}/xrpc/com.atproto.repo.getRecord").mock(
            side_effect=lambda request: self.get(request)
        )
        route(method="GET", url__startswith=f"{PDS}/xrpc/com.atproto.repo.listRecords").mock(
            side_effect=lambda request: self.list(request)
        )
        route(method="GET", url__startswith=f"{PDS}/xrpc/com.atproto.identity.resolveHandle").mock(
            side_effect=lambda request: self.resolve(request)
        )

    def session(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["identifier"] != HANDLE or body["password"] != SECRET:
            said = {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}
            return httpx.Response(401, json=said)
        return httpx.Response(200, json={
            "accessJwt": jwt(7200), "refreshJwt": jwt(86400), "handle": HANDLE, "did": DID,
            "active": True,
        })  # fmt: skip

    def upload(self, request: httpx.Request) -> httpx.Response:
        self.blobs.append(request.content)
        link = f"bafkreiblob{len(self.blobs):04d}"
        # the SDK sends */* (the lexicon's input encoding); the PDS reads the type off the bytes
        sniffed = {b"\xff\xd8": "image/jpeg", b"\x89P": "image/png"}.get(request.content[:2])
        return httpx.Response(200, json={"blob": {
            "$type": "blob", "ref": {"$link": link},
            "mimeType": sniffed or "application/octet-stream", "size": len(request.content),
        }})  # fmt: skip

    def put(self, request: httpx.Request) -> httpx.Response:
        from atproto_client import models
        from atproto_client.models.utils import get_or_create

        body = json.loads(request.content)
        assert body["repo"] == DID and body["collection"] == "app.bsky.feed.post"
        rkey = body["rkey"]
        assert len(rkey) == 13 and tid_time(rkey)  # a TID, as the lexicon's key requires
        get_or_create(body["record"], models.AppBskyFeedPost.Record, strict=True)  # valid
        self.puts.append(body)
        uri = f"at://{DID}/app.bsky.feed.post/{rkey}"
        self.records[rkey] = {"uri": uri, "cid": f"bafyrei{rkey}", "value": body["record"]}
        if self.lose_answers:
            self.lose_answers -= 1
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200, json={
            "uri": uri, "cid": f"bafyrei{rkey}", "validationStatus": "valid",
            "commit": {"cid": "bafyreicommit", "rev": "3l" + rkey[:11]},
        })  # fmt: skip

    def get(self, request: httpx.Request) -> httpx.Response:
        if self.unreadable:
            return httpx.Response(502, json={"error": "UpstreamFailure"})
        rkey = request.url.params["rkey"]
        if rkey not in self.records:
            return httpx.Response(400, json={
                "error": "RecordNotFound",
                "message": f"Could not locate record: at://{DID}/app.bsky.feed.post/{rkey}",
            })  # fmt: skip
        return httpx.Response(200, json=self.records[rkey])

    def list(self, request: httpx.Request) -> httpx.Response:
        records = [self.records[k] for k in sorted(self.records, reverse=True)]
        return httpx.Response(200, json={"records": records})

    def resolve(self, request: httpx.Request) -> httpx.Response:
        handle = request.url.params["handle"]
        if handle not in self.handles:
            return httpx.Response(400, json={"error": "InvalidRequest",
                                             "message": "Unable to resolve handle"})  # fmt: skip
        return httpx.Response(200, json={"did": self.handles[handle]})

    @property
    def posts(self) -> list[dict[str, Any]]:
        return [r["value"] for r in self.records.values()]


@pytest.fixture
def pds() -> Any:
    with respx.mock(assert_all_called=False) as mock:
        yield Pds(mock)


def project(tmp: Path, post: str | None = None, **settings: Any) -> Path:
    root = sample_project(
        tmp, platform="bluesky", settings={"service": PDS, **settings},
        credentials={"identifier": "BSKY_ID", "app_password": "BSKY_PW"},
    )  # fmt: skip
    if post is not None:
        (root / "queue" / "hello.yaml").write_text(post, encoding="utf-8")
    return root


def adapter(root: Path, environ: dict[str, str] | None = None) -> BlueskyAdapter:
    from crosspost.loading.config import load_config

    channel = load_config(root / "crosspost.yaml").channels["c"]
    env = ENV if environ is None else environ
    return BlueskyAdapter(channel, root=root, environ=env, sleep=lambda seconds: None)


def image(root: Path, name: str = "pier.jpg") -> None:
    from PIL import Image

    (root / "queue" / "media").mkdir(exist_ok=True)
    Image.new("RGB", (1200, 800), (10, 60, 120)).save(root / "queue" / "media" / name, "JPEG")


# --- the contract -------------------------------------------------------------------------


def test_the_adapter_keeps_the_contract(tmp_path: Path) -> None:
    assert check_adapter_class(BlueskyAdapter) == []
    assert check_offline(project(tmp_path), "bluesky") == []


def test_length_is_counted_in_graphemes() -> None:
    assert graphemes("Kent") == (4, True)
    assert graphemes("👍🏽🇬🇧e\u0301") == (3, True)  # a skin tone, a flag, an accent: one each
    assert graphemes("警察と犯罪") == (5, True)


def test_record_keys_are_tids_that_keep_their_time() -> None:
    key = new_tid("p/c/0", micros=1_768_471_200_000_000)
    assert len(key) == 13 and key[0] in "234567abcdefghij"
    assert tid_time(key).isoformat() == "2026-01-15T10:00:00+00:00"
    assert new_tid("p/c/0", 5) != new_tid("p/c/1", 5)  # each part its own clock id


# --- publishing ---------------------------------------------------------------------------

POST = """\
publish_at: 2027-01-15 10:00
title: "Safer streets in Kent 👮🏽‍♀️: the Commissioner visits Folkestone. Thanks \\
  @trafficpolice.bsky.social and @nobody.example #SaferStreets #Kent \\
  https://www.kent-pcc.gov.uk/news"
media:
  - {path: media/pier.jpg, alt: "The Commissioner with officers on Folkestone harbour arm"}
"""


def test_a_post_with_link_hashtags_mention_emoji_and_an_image(tmp_path: Path, pds: Pds) -> None:
    root = project(tmp_path, POST)
    image(root)
    rendered = render_sample(root)
    notes: dict[str, str] = {}
    parts = []
    receipt = adapter(root).publish(rendered, on_note=notes.__setitem__, on_part=parts.append)
    assert check_receipt(receipt) == []
    [put] = pds.puts
    record = put["record"]
    assert put["rkey"] == notes["rkey.0"]  # chosen, and noted, before the call
    assert receipt.remote_id == f"at://{DID}/app.bsky.feed.post/{notes['rkey.0']}"
    assert receipt.url == f"https://bsky.app/profile/{HANDLE}/post/{notes['rkey.0']}"
    raw = record["text"].encode("utf-8")

    def spans(kind: str) -> list[str]:
        return [
            raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode("utf-8")
            for f in record["facets"]
            if f["features"][0]["$type"] == f"app.bsky.richtext.facet#{kind}"
        ]

    assert spans("link") == ["https://www.kent-pcc.gov.uk/news"]
    assert spans("tag") == ["#SaferStreets", "#Kent"]
    assert spans("mention") == ["@trafficpolice.bsky.social"]  # @nobody.example: no such handle
    mention = next(f for f in record["facets"] if "mention" in f["features"][0]["$type"])
    assert mention["features"][0]["did"] == "did:plc:traffic0000000000000000"
    [img] = record["embed"]["images"]
    assert record["embed"]["$type"] == "app.bsky.embed.images"
    assert img["alt"].startswith("The Commissioner with officers")
    assert (img["aspectRatio"]["width"], img["aspectRatio"]["height"]) == (1200, 800)
    assert img["image"]["mimeType"] == "image/jpeg" and pds.blobs[0][:2] == b"\xff\xd8"
    assert record["createdAt"].endswith("Z")


@pytest.mark.parametrize(
    "text",
    [
        "Café crème for #Kent's officers at https://example.org/é — thank you!",
        "👍🏽🇬🇧 then #Folkestone 🎉 https://example.org/a?b=c 👩‍👩‍👧 #Dover",
        "警察と犯罪委員会 #ケント https://example.jp/ニュース の発表 #安全",
        "Ελληνικά #Καλημέρα και https://example.gr",
    ],
)
def test_facet_offsets_are_utf8_bytes(tmp_path: Path, pds: Pds, text: str) -> None:
    facets = adapter(project(tmp_path)).facets(text)
    assert facets
    raw = text.encode("utf-8")
    for facet in facets:
        got = raw[facet["index"]["byteStart"] : facet["index"]["byteEnd"]].decode("utf-8")
        feature = facet["features"][0]
        if "link" in feature["$type"]:
            assert got == feature["uri"] and got in text
        else:
            assert got == "#" + feature["tag"]
        # and never a character offset passed off as a byte offset
        assert facet["index"]["byteStart"] == len(text[: text.index(got)].encode("utf-8"))


def test_a_link_without_images_becomes_a_card(tmp_path: Path, pds: Pds) -> None:
    root = project(
        tmp_path, "publish_at: 2027-01-15 10:00\ntitle: Read the plan.\n"
        "link: https://www.kent-pcc.gov.uk/plan\n",
    )  # fmt: skip
    adapter(root).publish(render_sample(root))
    record = pds.puts[0]["record"]
    assert record["embed"]["$type"] == "app.bsky.embed.external"
    card = record["embed"]["external"]
    assert (card["uri"], card["title"]) == ("https://www.kent-pcc.gov.uk/plan", "Read the plan.")
    assert record["text"] == "Read the plan."  # the link is the card, beside the text


def test_a_thread_of_three_replies_with_root_and_parent(tmp_path: Path, pds: Pds) -> None:
    root = project(tmp_path, "publish_at: 2027-01-15 10:00\ntitle: One.\nthread: [Two., Three.]\n")
    notes: dict[str, str] = {}
    receipt = adapter(root).publish(render_sample(root), on_note=notes.__setitem__)
    assert check_receipt(receipt, texts=3) == []
    one, two, three = (p["record"] for p in pds.puts)
    first, second = receipt.parts[0], receipt.parts[1]
    assert "reply" not in one
    assert two["reply"]["root"]["uri"] == first.remote_id == two["reply"]["parent"]["uri"]
    assert three["reply"]["root"]["uri"] == first.remote_id
    parent = three["reply"]["parent"]
    assert (parent["uri"], parent["cid"]) == (second.remote_id, f"bafyrei{notes['rkey.1']}")
    assert [n for n in notes] == ["rkey.0", "rkey.1", "rkey.2"]


def test_a_thread_resumes_after_its_recorded_parts(tmp_path: Path, pds: Pds) -> None:
    root = project(tmp_path, "publish_at: 2027-01-15 10:00\ntitle: One.\nthread: [Two., Three.]\n")
    notes: dict[str, str] = {}
    parts: list[Any] = []
    pds_lose = adapter(root)
    pds_lose.publish(render_sample(root), on_note=notes.__setitem__, on_part=parts.append)
    pds.puts.clear()
    # a later attempt that knows only the first part: it goes on from the second, under the
    # keys noted the first time (putRecord again writes the same two records, never new ones)
    receipt = adapter(root).publish(render_sample(root), resume=parts[:1], notes=notes)
    assert [p["rkey"] for p in pds.puts] == [notes["rkey.1"], notes["rkey.2"]]
    assert len(pds.records) == 3 and receipt.parts[0] == parts[0]


def test_a_send_that_times_out_after_it_was_accepted_is_one_post(tmp_path: Path, pds: Pds) -> None:
    root = project(tmp_path, POST)
    image(root)
    pds.lose_answers = 1
    notes: dict[str, str] = {}
    receipt = adapter(root).publish(render_sample(root), on_note=notes.__setitem__)
    assert len(pds.records) == 1  # one post at the end
    assert receipt.remote_id.endswith(notes["rkey.0"])
    assert len(pds.puts) == 1  # found under its key: not even written twice


def test_lost_answers_every_time_leave_it_in_doubt_and_settlement_reads_the_record(
    tmp_path: Path, pds: Pds
) -> None:
    from crosspost.adapters.base import Sent

    root = project(tmp_path, "publish_at: 2027-01-15 10:00\ntitle: One.\n")
    a = adapter(root)
    notes: dict[str, str] = {}
    pds.unreadable, pds.lose_answers = True, 5
    with pytest.raises(InDoubt, match="same record key"):
        a.publish(render_sample(root), on_note=notes.__setitem__)
    pds.unreadable = False
    assert len(pds.puts) == 3  # the same call, three times
    assert len(pds.records) == 1 and len({p["rkey"] for p in pds.puts}) == 1
    settled = a.settle(Sent("hello", ("One.",), (), tid_time(notes["rkey.0"]), notes))
    assert settled.found is not None and settled.found.remote_id.endswith(notes["rkey.0"])
    nothing = a.settle(Sent("hello", ("One.",), (), tid_time(notes["rkey.0"]), {}))
    assert nothing.found is None and nothing.searched_back  # no key used: certainly not sent
    other = {"rkey.0": new_tid("never-used")}
    assert a.settle(Sent("hello", ("One.",), (), tid_time(other["rkey.0"]), other)).found is None


def test_a_wrong_app_password_holds_the_channel_and_says_what_to_create(
    tmp_path: Path, pds: Pds
) -> None:
    root = project(tmp_path)
    wrong = adapter(root, {"BSKY_ID": HANDLE, "BSKY_PW": "not-it"})
    with pytest.raises(AuthError, match="app password"):
        wrong.publish(render_sample(root))
    report = wrong.check_credentials()
    assert check_credentials_report(report) == []
    assert not report.ok and "App passwords" in report.problems[0]
    good = adapter(root).check_credentials()
    assert good.ok and good.account == f"@{HANDLE} ({DID})"
    missing = adapter(root, {}).check_credentials()
    assert not missing.ok and "BSKY_ID" in missing.problems[0]
    assert SECRET not in repr((report, good, missing))


def test_recent_reads_the_account_back(tmp_path: Path, pds: Pds) -> None:
    root = project(tmp_path, "publish_at: 2027-01-15 10:00\ntitle: One.\nthread: [Two.]\n")
    a = adapter(root)
    receipt = a.publish(render_sample(root))
    found = {p.remote_id: p for p in a.recent()}
    second = found[receipt.parts[1].remote_id]
    assert second.text == "Two." and second.reply_to == receipt.parts[0].remote_id


# --- what a review found ------------------------------------------------------------------


def test_an_expired_session_signs_in_again_and_posts_once(tmp_path: Path, pds: Pds) -> None:
    root = project(tmp_path, "publish_at: 2027-01-15 10:00\ntitle: One.\n")
    a = adapter(root)
    a.client()  # signed in earlier; the PDS has since ended that session
    put, refused = pds.put, []

    def expired_once(request: httpx.Request) -> httpx.Response:
        if not refused:
            refused.append(request)
            said = {"error": "ExpiredToken", "message": "Token has expired"}
            return httpx.Response(400, json=said)
        return put(request)

    signed_in = []
    session = pds.session
    pds.session = lambda request: signed_in.append(1) or session(request)  # type: ignore[method-assign]
    pds.put = expired_once  # type: ignore[method-assign]
    receipt = a.publish(render_sample(root))
    assert check_receipt(receipt) == [] and len(pds.records) == 1 and signed_in == [1]


def test_a_later_attempt_is_dated_now_not_when_its_key_was_chosen(tmp_path: Path, pds: Pds) -> None:
    from datetime import UTC, datetime

    root = project(tmp_path, "publish_at: 2027-01-15 10:00\ntitle: One.\n")
    old_key = new_tid("hello/c/0", micros=1_700_000_000_000_000)  # chosen in November 2023
    receipt = adapter(root).publish(render_sample(root), notes={"rkey.0": old_key})
    [put] = pds.puts
    assert put["rkey"] == old_key  # the same key: no second post can come of it
    created = datetime.fromisoformat(put["record"]["createdAt"].replace("Z", "+00:00"))
    assert abs((created - datetime.now(UTC)).total_seconds()) < 60
    assert abs((receipt.published_at - datetime.now(UTC)).total_seconds()) < 60


def test_without_link_cards_the_template_places_the_link(tmp_path: Path, pds: Pds) -> None:
    root = project(
        tmp_path, "publish_at: 2027-01-15 10:00\ntitle: Read the plan.\n"
        "link: https://www.kent-pcc.gov.uk/plan\n", link_card="no",
    )  # fmt: skip
    (root / "templates" / "c.j2").write_text("{{ title }} {{ link }}")
    adapter(root).publish(render_sample(root))
    record = pds.puts[0]["record"]
    assert "embed" not in record and record["text"].endswith("https://www.kent-pcc.gov.uk/plan")
    assert [f["features"][0]["uri"] for f in record["facets"]] == [
        "https://www.kent-pcc.gov.uk/plan"
    ]  # and it is a link


def test_a_refusal_for_size_is_final_and_a_rate_limit_waits_for_its_reset(
    tmp_path: Path, pds: Pds
) -> None:
    from crosspost.core.errors import RateLimited, Rejected

    root = project(tmp_path, "publish_at: 2027-01-15 10:00\ntitle: One.\n")
    pds.put = lambda request: httpx.Response(413, json={"error": "PayloadTooLarge"})  # type: ignore[method-assign]
    with pytest.raises(Rejected, match="too large"):
        adapter(root).publish(render_sample(root))
    reset = int(time.time()) + 900
    pds.put = lambda request: httpx.Response(  # type: ignore[method-assign]
        429, json={"error": "RateLimitExceeded"}, headers={"ratelimit-reset": str(reset)}
    )
    with pytest.raises(RateLimited) as limited:
        adapter(root).publish(render_sample(root))
    assert limited.value.retry_at is not None and int(limited.value.retry_at.timestamp()) == reset


def test_validate_counts_bytes_as_well_as_graphemes(tmp_path: Path) -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # one grapheme, 25 bytes
    root = project(tmp_path, f'publish_at: 2027-01-15 10:00\ntitle: "{family * 158}"\n')
    findings = adapter(root).check(render_sample(root))
    assert any("3,950 bytes in UTF-8, over Bluesky's limit of 3,000" in f.message for f in findings)


def test_a_deadline_that_passes_after_a_call_with_no_answer_is_in_doubt(
    tmp_path: Path, pds: Pds
) -> None:
    """The first call may have made the post: running out of lease before the repeat must
    not be taken for "nothing was sent"."""
    from crosspost.adapters.base import SendDeadline, send_deadline

    root = project(tmp_path, "publish_at: 2027-01-15 10:00\ntitle: One.\n")
    deadline = SendDeadline(60, margin=0)
    pds.lose_answers = 1
    put = pds.put

    def slow(request: httpx.Request) -> httpx.Response:
        deadline.until = 0  # the lease ran out while this call went unanswered
        return put(request)

    pds.unreadable = True  # and the record cannot be read back either
    pds.put = slow  # type: ignore[method-assign]
    with send_deadline(deadline), pytest.raises(InDoubt, match="after a call with no answer"):
        adapter(root).publish(render_sample(root))
    assert len(pds.records) == 1
