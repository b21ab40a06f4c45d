"""An example crosspost platform: each post becomes a JSON file in a folder.

A complete plugin in one file: the platform's rules (what validate checks offline), its
settings and credentials, and publish / recent / delete / check_credentials. A real network
platform does the same with its SDK, and maps its SDK's exceptions to crosspost's errors
(crosspost.core.errors) in one place, passing anything raised after the call that creates the post
through crosspost.core.errors.after_publishing_call.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
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
)
from crosspost.adapters.rules import MB, PlatformRules
from crosspost.core.errors import PartReceipt, Rejected, TransientError


def graphemes(text: str) -> tuple[int, bool]:
    """Length in user-perceived characters (combining marks do not count), as some
    platforms count: a plugin brings its own counter."""
    length = sum(1 for ch in unicodedata.normalize("NFC", text) if not unicodedata.combining(ch))
    return length, True


class OutboxAdapter(Adapter):
    platform = "outbox"
    rules = PlatformRules(
        platform="outbox",
        label="Outbox",
        text_limit=500,
        unit="characters",
        thread=True,
        max_media=4,
        media_formats=frozenset({"JPEG", "PNG"}),
        max_media_bytes=2 * MB,
        alt_limit=1500,
        counter=graphemes,
    )
    settings = {
        "folder": Setting("text", required=True, help="the folder each post is written to"),
    }
    credentials = ()

    @property
    def folder(self) -> Path:
        path = Path(str(self.setting("folder")))
        return path if path.is_absolute() else self.root / path

    def publish(
        self,
        rendered: Any,
        *,
        resume: Sequence[PartReceipt] = (),
        on_part: OnPart | None = None,
        notes: Mapping[str, str] | None = None,
        on_note: OnNote | None = None,
    ) -> Receipt:
        texts = [rendered.text, *rendered.thread]
        parts = list(resume)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for index in range(len(parts), len(texts)):
                remote_id = f"{rendered.post_id}-{index + 1}"
                images = (
                    [{"path": m.rel, "alt": m.alt} for m in rendered.media] if not index else []
                )
                for media in rendered.media if not index else []:
                    self.media_bytes(media)  # only the bytes that were checked and approved
                record = {"id": remote_id, "text": texts[index], "media": images,
                          "reply_to": parts[-1].remote_id if parts else None,
                          "at": self.now().isoformat()}  # fmt: skip
                (self.folder / f"{remote_id}.json").write_text(json.dumps(record), "utf-8")
                part = PartReceipt(index, remote_id, (self.folder / f"{remote_id}.json").as_uri())
                parts.append(part)
                if on_part:
                    on_part(part)
        except OSError as exc:  # the one place this platform's failures are typed
            raise TransientError(f"cannot write to {self.folder}: {exc.strerror}") from None
        return Receipt(parts[0].remote_id, parts[0].url, self.now(), parts=tuple(parts))

    def recent(self, limit: int = 50, since: datetime | None = None) -> list[RemotePost]:
        found = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.exists() else []:
            record = json.loads(path.read_text("utf-8"))
            found.append(RemotePost(record["id"], record["text"],
                                    datetime.fromisoformat(record["at"]), path.as_uri(),
                                    reply_to=record.get("reply_to")))  # fmt: skip
        found.sort(key=lambda p: p.created_at or datetime.min, reverse=True)
        return found[:limit]

    def delete(self, remote_id: str) -> None:
        path = self.folder / f"{remote_id}.json"
        if not path.exists():
            raise Rejected(f"{remote_id} is not in {self.folder}")
        path.unlink()

    def check_credentials(self) -> CredentialReport:
        if self.folder.exists() and not self.folder.is_dir():
            return CredentialReport(ok=False, problems=[f"{self.folder} is not a folder"])
        return CredentialReport(ok=True, account=f"the folder {self.folder}")
