"""An Instagram business account through facebook-sdk (Graph API content publishing).

Instagram fetches each image itself from `media_base_url`, so publishing is: read the
24-hour publishing quota; create a media container (a carousel: one per image, then the
parent); wait until the container is FINISHED (polling every `poll_interval` seconds for at
most `poll_timeout`); `media_publish` it; then the first comment. The API cannot delete a
post: that is done in the Instagram app.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crosspost.adapters.base import (
    CredentialReport,
    OnNote,
    OnPart,
    Receipt,
    RemotePost,
    Sent,
    Setting,
    Settlement,
    fail,
)
from crosspost.adapters.graph import (
    DEFAULT_GRAPH_VERSION,
    TRANSIENT_SUBCODES,
    Graph,
    GraphAdapter,
    explain,
    first_comment,
    inspect_token,
    require_id,
    resumed,
)
from crosspost.adapters.rules import MB, PlatformRules
from crosspost.core.errors import (
    InDoubt,
    PartReceipt,
    PublishError,
    RateLimited,
    Rejected,
    TransientError,
)

if TYPE_CHECKING:
    from crosspost.rendering.render import Rendered

log = logging.getLogger(__name__)

REQUIRED_SCOPES = ("instagram_basic", "instagram_content_publish", "pages_read_engagement")
WANTED_SCOPES = {"instagram_manage_comments": "first comments cannot be posted"}
MAX_CAROUSEL = 10
CONTAINER = "container"  # the note that keeps an attempt's container id
LOOK_BACK = timedelta(days=1)  # a container lives 24 hours: its media is no older
_CODE_IN_STATUS = re.compile(r"\b(\d{7})\b")


class InstagramAdapter(GraphAdapter):
    platform = "instagram"
    look_up_limit = 500  # recent() follows the Graph API's pages of 100
    rules = PlatformRules(
        platform="instagram",
        label="Instagram",
        text_limit=2200,
        first_comment=True,
        needs_media=True,
        max_media=10,
        media_formats=frozenset({"JPEG"}),
        max_media_bytes=8 * MB,
        alt_limit=1000,
        aspect_range=(0.8, 1.91),
        max_hashtags=30,
        max_mentions=20,
        links_clickable=False,
    )
    credentials = ("access_token",)
    can_delete = False
    settings = {
        "ig_user_id": Setting("text", required=True, help="the Instagram business account id"),
        "media_base_url": Setting(
            "url",
            required=True,
            help="public https URL where the office's web server serves the queue's images",
        ),
        "graph_version": Setting(
            "text", default=DEFAULT_GRAPH_VERSION, help="Graph API version, e.g. v26.0"
        ),
        "timeout": Setting("number", default=30, help="seconds before an HTTP call gives up"),
        "poll_interval": Setting("number", default=60, help="seconds between status checks"),
        "poll_timeout": Setting("number", default=300, help="give up on a container after this"),
    }
    token_label = "Instagram access token"
    comment_scope = "instagram_manage_comments"

    def _graph(self) -> Graph:
        return Graph(self, self.secret("access_token"), token_label=self.token_label)

    @property
    def user_id(self) -> str:
        return str(self.setting("ig_user_id"))

    def _number(self, name: str) -> float:
        value = self.setting(name)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise fail(
                Rejected(f"{name} must be a number of seconds, not {value!r}"), self
            ) from None
        return max(number, 0.0)

    # --- publishing ------------------------------------------------------------------------

    def publish(
        self,
        rendered: Rendered,
        *,
        resume: Sequence[PartReceipt] = (),
        on_part: OnPart | None = None,
        notes: Mapping[str, str] | None = None,
        on_note: OnNote | None = None,
    ) -> Receipt:
        if resume:
            return resumed(self, rendered, resume, "media", "in the Instagram app")
        if not rendered.media:
            raise fail(Rejected("an Instagram post needs an image: this one has none"), self)
        if len(rendered.media) > MAX_CAROUSEL:
            raise fail(Rejected(f"Instagram takes at most {MAX_CAROUSEL} images in one post"), self)
        for media in rendered.media:  # Meta fetches the file: check it is the approved one
            self.media_bytes(media)
        images = [(self._image_url(m.path, m.rel), m.alt) for m in rendered.media]
        user = self.user_id
        with self._graph() as graph:
            # an earlier attempt's container: never build a second one while it may publish
            container = self._reusable(graph, (notes or {}).get(CONTAINER), rendered)
            if isinstance(container, Receipt):
                return container
            self._check_quota(graph, user)
            if container is None:
                container = self._container(graph, user, rendered.text, images)
                if on_note:  # recorded before media_publish, so a retry looks at it first
                    on_note(CONTAINER, container)
            self._wait_until_ready(graph, container)
            result = graph.post(f"{user}/media_publish", publishing=True, creation_id=container)
            media_id = require_id(result, self, publishing=True, what="media_publish")
            published_at = self.now()
            part = PartReceipt(0, media_id, None)
            if on_part:  # recorded before any best-effort read that may fail
                on_part(part)
            part = PartReceipt(0, media_id, self._permalink(graph, media_id))
            comment_id, warnings = first_comment(
                self, graph, media_id, rendered.first_comment, "media"
            )
        return Receipt(
            media_id, part.url, published_at, parts=(part,), comment_id=comment_id,
            warnings=warnings,
        )  # fmt: skip

    def _reusable(
        self, graph: Graph, container: str | None, rendered: Rendered
    ) -> str | Receipt | None:
        """What became of the container an earlier attempt made (its id was noted before
        `media_publish`): PUBLISHED, the media it became (found on the account); FINISHED or
        IN_PROGRESS, the container, to publish; EXPIRED, ERROR or unknown, None (a new one
        is made). Postiz published posts twice by building a new container here (PR #1681)."""
        if not container:
            return None
        answer = graph.get(container, fields="status_code")
        code = str(answer.get("status_code") or "")
        if code == "PUBLISHED":
            sent = Sent(rendered.post_id, (rendered.text,), (), self.now() - LOOK_BACK)
            settled = self.settle(sent, containers=(container,), status=code)
            assert settled.found is not None  # a PUBLISHED container is always found
            log.info("%s: container %s was already published", self.channel.key, container)
            return Receipt(
                settled.found.remote_id, settled.found.url, settled.published_at or self.now(),
                parts=(settled.found,),
                warnings=("published by an earlier attempt; its first comment was not "
                          "retried: check it in the Instagram app",)
                if rendered.first_comment else (),
            )  # fmt: skip
        if code in ("FINISHED", "IN_PROGRESS"):
            return container
        if code in ("EXPIRED", "ERROR"):
            return None  # never published: a new container is made
        raise fail(
            InDoubt(
                f"Instagram gave container {container} the status {code or 'none'}, which says "
                "neither published nor not: settled later, or by crosspost resolve"
            ),
            self,
        )

    def settle(
        self, sent: Sent, *, containers: Sequence[str] = (), status: str | None = None
    ) -> Settlement:
        """Look at the container first: not PUBLISHED means not published, whatever the
        account shows (and, FINISHED, it is published on the next attempt, not rebuilt);
        PUBLISHED, or no container noted, means the media is looked for on the account."""
        container = containers[0] if containers else sent.notes.get(CONTAINER)
        if container and status is None:
            with self._graph() as graph:
                status = str(graph.get(container, fields="status_code").get("status_code") or "")
        if container and status in ("FINISHED", "IN_PROGRESS", "EXPIRED", "ERROR"):
            return Settlement(
                None, True, detail=f"container {container} is {status}, not published"
            )
        if container and status != "PUBLISHED":  # a status we cannot read: do not guess
            return Settlement(None, False, detail=f"container {container} is {status or '?'}")
        settled = super().settle(sent)
        if container and settled.found is None:
            # PUBLISHED is certain, but a container does not name the media it became (the
            # IG Container node has no such field) and the caption was not found: record the
            # container, so that nothing is ever published again
            part = PartReceipt(0, container, None)
            return Settlement(part, True, None, f"container {container} is PUBLISHED")
        return settled

    def _image_url(self, path: Path, rel: str) -> str:
        try:
            return self.media_url(path)
        except ValueError:
            raise fail(
                Rejected(f"{rel} is outside the project, so media_base_url cannot serve it"), self
            ) from None

    def _check_quota(self, graph: Graph, user: str) -> None:
        """RateLimited when the rolling 24-hour publishing quota is used up."""
        answer = graph.get(f"{user}/content_publishing_limit", fields="quota_usage,config")
        used, total = _quota(answer)
        if used is not None and total is not None and used >= total:
            raise fail(
                RateLimited(
                    f"Instagram's publishing limit is reached: {used} of {total} posts in the "
                    "last 24 hours; the post will go out when the oldest of them is a day old"
                ),
                self,
            )

    def _container(
        self, graph: Graph, user: str, caption: str, images: list[tuple[str, str]]
    ) -> str:
        """The id of the container to publish: one image, or a carousel of 2-10."""
        if len(images) == 1:
            [(url, alt)] = images
            result = graph.post(f"{user}/media", image_url=url, caption=caption, alt_text=alt)
            return require_id(result, self, what="the media container")
        children = []
        for url, alt in images:
            result = graph.post(f"{user}/media", image_url=url, is_carousel_item=True, alt_text=alt)
            children.append(require_id(result, self, what="a carousel item container"))
        result = graph.post(
            f"{user}/media", media_type="CAROUSEL", children=",".join(children), caption=caption
        )
        return require_id(result, self, what="the carousel container")

    def _wait_until_ready(self, graph: Graph, container: str) -> None:
        """Poll the container until FINISHED; ERROR is Rejected, EXPIRED or too slow Transient."""
        interval = max(self._number("poll_interval"), 1.0)
        limit = self._number("poll_timeout")
        waited = 0.0
        deadline = time.monotonic() + limit + interval  # the calls take time too
        while True:
            answer = graph.get(container, fields="status_code,status")
            code = str(answer.get("status_code") or "")
            said = str(answer.get("status") or "") or None
            if code == "FINISHED":
                return
            if code == "ERROR":
                raise fail(self._container_error(container, said), self)
            if code == "EXPIRED":
                raise fail(
                    TransientError(
                        f"the Instagram media container {container} expired before it was "
                        "published; a new one is made on the next attempt",
                        platform_message=said,
                    ),
                    self,
                )
            if code == "PUBLISHED":
                raise fail(
                    InDoubt(f"Instagram says container {container} is already published"), self
                )
            if waited >= limit or time.monotonic() > deadline:
                raise fail(
                    TransientError(
                        f"the Instagram media container {container} was not ready after "
                        f"{waited:g} s (status {code or 'unknown'}); it is tried again later",
                        platform_message=said,
                    ),
                    self,
                )
            pause = min(interval, limit - waited)
            self.sleep(pause)
            waited += pause

    def _container_error(self, container: str, said: str | None) -> PublishError:
        codes = {int(c) for c in _CODE_IN_STATUS.findall(said or "")}
        if codes & TRANSIENT_SUBCODES:
            return TransientError(
                f"Instagram could not process container {container} this time",
                platform_message=said,
            )
        return Rejected(
            f"Instagram could not process the image(s) of container {container}"
            + (f": {said}" if said else " and gave no reason"),
            platform_message=said,
        )

    def _permalink(self, graph: Graph, media_id: str) -> str | None:
        try:
            url = graph.get(media_id, fields="permalink").get("permalink")
        except PublishError as exc:
            log.warning(
                "%s: media %s is published but its address could not be read: %s",
                self.channel.key,
                media_id,
                exc.describe(),
            )
            return None
        return str(url) if url else None

    # --- look-ups --------------------------------------------------------------------------

    def recent(self, limit: int = 50, since: datetime | None = None) -> list[RemotePost]:
        with self._graph() as graph:
            return graph.recent(f"{self.user_id}/media", "caption", "timestamp", "permalink", limit)

    def delete(self, remote_id: str) -> None:
        raise fail(
            Rejected(
                f"Instagram's API cannot delete posts: delete post {remote_id} in the Instagram "
                "app (open the post, tap ..., then Delete)"
            ),
            self,
        )

    def check_credentials(self) -> CredentialReport:
        try:
            token = self.secret("access_token")
            user = self.user_id
            graph = self._graph()
        except PublishError as exc:
            return CredentialReport(ok=False, problems=[exc.describe()])
        with graph:
            report, data = inspect_token(
                self, graph, token, required=REQUIRED_SCOPES, wanted=WANTED_SCOPES
            )
            if data.get("is_valid"):
                try:
                    about = graph.get(user, fields="username")
                    name = about.get("username")
                    report.account = f"@{name}" if name else user
                except PublishError as exc:
                    report.problems.append(explain(exc, self.token_label))
                try:
                    used, total = _quota(
                        graph.get(f"{user}/content_publishing_limit", fields="quota_usage,config")
                    )
                except PublishError as exc:
                    report.warnings.append(f"could not read the publishing quota: {exc.describe()}")
                else:
                    if used is not None and total is not None:
                        report.quota = f"{used} of {total} posts used in the last 24 hours"
                        if used >= total:
                            report.warnings.append(
                                f"Instagram's publishing limit is reached ({report.quota}): "
                                "posts wait until older ones are a day old"
                            )
        report.ok = not report.problems
        return report


def _quota(answer: dict[str, Any]) -> tuple[int | None, int | None]:
    """(posts used, posts allowed) from content_publishing_limit; None where not said."""
    rows = answer.get("data")
    row = rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], dict) else {}
    config = row.get("config")
    used = row.get("quota_usage")
    total = config.get("quota_total") if isinstance(config, dict) else None
    return (
        int(used) if isinstance(used, int | float) else None,
        int(total) if isinstance(total, int | float) else None,
    )
