"""The fake platform: a real adapter with no network, for tests and dry runs.

Each publication is appended as one JSON line to the channel's `outbox`; look-ups read it
back. `latency` makes every call take that long; `script` scripts the outcomes of successive
publish calls (`ok`, `transient`, `rate_limited`, `auth`, `rejected`; then `ok` forever),
counted across processes in a file beside the outbox. `imitates` applies a real platform's
rules. Writes are serialised with a file lock, so several processes can share one outbox.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from crosspost.adapters.base import (
    Adapter,
    CredentialReport,
    OnNote,
    OnPart,
    Receipt,
    RemotePost,
    Setting,
    check_deadline,
)
from crosspost.adapters.rules import MB, PlatformRules
from crosspost.core.errors import AuthError, PartReceipt, RateLimited, Rejected, TransientError

PERMISSIVE = PlatformRules(
    platform="fake",
    label="fake",
    text_limit=100_000,
    thread=True,
    first_comment=True,
    link_field=True,
    max_media=10,
    media_formats=frozenset({"JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"}),
    max_media_bytes=50 * MB,
)
OUTCOMES = ("ok", "transient", "rate_limited", "auth", "rejected")


class FakeAdapter(Adapter):
    platform = "fake"
    look_up_limit = 100_000
    rules = PERMISSIVE
    settings = {
        "outbox": Setting("text", help="JSON Lines file each publication is appended to"),
        "latency": Setting("number", default=0, help="seconds each call takes"),
        "script": Setting(
            "list",
            default=(),
            help="outcomes of successive calls: ok, transient, rate_limited, auth, rejected",
            choices=OUTCOMES,
        ),
        "imitates": Setting(
            "platform", help="apply that platform's limits and rules (any registered platform)"
        ),
    }

    @classmethod
    def rules_for(cls, settings: dict[str, Any]) -> PlatformRules:
        imitated = settings.get("imitates")
        if not imitated:
            return cls.rules
        from crosspost.adapters import adapter_class

        return adapter_class(imitated).rules

    @property
    def outbox(self) -> Path:
        name = self.channel.settings.get("outbox") or f"var/fake-{self.channel.key}.jsonl"
        path = Path(name)
        return path if path.is_absolute() else self.root / path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[Path]:
        self.outbox.parent.mkdir(parents=True, exist_ok=True)
        with open(self.outbox.with_suffix(self.outbox.suffix + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield self.outbox
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _wait(self) -> None:
        latency = float(self.channel.settings.get("latency") or 0)
        if latency:
            self.sleep(latency)

    def _next_outcome(self) -> str:
        """The scripted outcome of this call; the count lives beside the outbox."""
        script = tuple(self.channel.settings.get("script") or ())
        if not script:
            return "ok"
        counter = self.outbox.with_suffix(self.outbox.suffix + ".calls")
        calls = int(counter.read_text() or 0) if counter.exists() else 0
        counter.write_text(str(calls + 1))
        return script[calls] if calls < len(script) else "ok"

    def _scripted_failure(self, outcome: str) -> None:
        if outcome == "transient":
            raise TransientError("fake: scripted transient failure")
        if outcome == "rate_limited":
            raise RateLimited(
                "fake: scripted rate limit", retry_at=self.now() + timedelta(seconds=60)
            )
        if outcome == "auth":
            raise AuthError("fake: scripted authentication failure")
        if outcome == "rejected":
            raise Rejected("fake: scripted rejection")

    def publish(
        self,
        rendered: Any,
        *,
        resume: Sequence[PartReceipt] = (),
        on_part: OnPart | None = None,
        notes: Mapping[str, str] | None = None,
        on_note: OnNote | None = None,
    ) -> Receipt:
        self._wait()
        with self._locked() as outbox:
            outcome = self._next_outcome()
            self._scripted_failure(outcome)
            for media in rendered.media:  # read as a real platform would: only as approved
                self.media_bytes(media)
            when = self.now()
            texts = [rendered.text, *rendered.thread]
            parts = list(resume)
            new = []
            for index in range(len(parts), len(texts)):
                remote_id = uuid.uuid4().hex[:16]
                part = PartReceipt(index, remote_id, f"fake://{self.channel.key}/{remote_id}")
                parts.append(part)
                new.append(part)
            record = {
                "id": parts[0].remote_id,
                "channel": self.channel.key,
                "post_id": rendered.post_id,
                "text": rendered.text,
                "thread": list(rendered.thread),
                "link": rendered.link,
                "media": [{"path": m.rel, "alt": m.alt} for m in rendered.media],
                "first_comment": rendered.first_comment,
                "parts": [p.remote_id for p in parts],
                "published_at": when.isoformat(),
            }
            # the last moment before the platform "creates" the post, inside the outbox's
            # lock, which a settlement's look-up takes too: a daemon that lost its claim
            # while it waited never posts, so this channel is exactly-once by construction
            check_deadline()
            with outbox.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            # as a real platform: a part is reported only once it exists (the ledger trusts a
            # recorded part, and never sends it again)
            for part in new:
                if on_part:
                    on_part(part)
        return Receipt(
            remote_id=parts[0].remote_id,
            url=parts[0].url,
            published_at=when,
            parts=tuple(parts),
        )

    def records(self) -> list[dict[str, Any]]:
        """Every line of the outbox for this channel, oldest first."""
        if not self.outbox.exists():
            return []
        lines = self.outbox.read_text(encoding="utf-8").splitlines()
        out = [json.loads(line) for line in lines if line.strip()]
        return [r for r in out if r.get("channel") == self.channel.key]

    def recent(self, limit: int = 50, since: datetime | None = None) -> list[RemotePost]:
        """Every part of every post, newest first; a thread's parts reply to the one before."""
        self._wait()
        with self._locked():  # never between another process's deadline check and its post
            records = self.records()
        deleted = {r["deleted"] for r in records if "deleted" in r}
        posts: list[RemotePost] = []
        for record in records:
            if "id" not in record or record["id"] in deleted:
                continue
            created = datetime.fromisoformat(record["published_at"])
            texts = [record["text"], *record.get("thread", [])]
            ids = record.get("parts") or [record["id"]]
            for index, (remote_id, text) in enumerate(zip(ids, texts, strict=False)):
                posts.append(
                    RemotePost(
                        remote_id=remote_id,
                        text=text,
                        created_at=created,
                        url=f"fake://{self.channel.key}/{remote_id}",
                        reply_to=ids[index - 1] if index else None,
                    )
                )
        return list(reversed(posts[-limit:]))

    def delete(self, remote_id: str) -> None:
        self._wait()
        with self._locked() as outbox, outbox.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"channel": self.channel.key, "deleted": remote_id}) + "\n")

    def check_credentials(self) -> CredentialReport:
        return CredentialReport(ok=True, account=f"fake channel {self.channel.key}")
