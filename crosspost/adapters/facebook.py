"""A Facebook Page through facebook-sdk (Graph API).

Text (with the link as a link preview): `POST /{page}/feed`. One photo: `POST /{page}/photos`
with the file as multipart `source`. Several photos: each uploaded unpublished, then one
`POST /{page}/feed` with `attached_media`. The first comment follows the post; if it fails,
the post stands (it is published) and the failure is logged as a warning.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crosspost.adapters.base import (
    CredentialReport,
    OnNote,
    OnPart,
    Receipt,
    RemotePost,
    Setting,
    fail,
)
from crosspost.adapters.graph import (
    DEFAULT_GRAPH_VERSION,
    Graph,
    GraphAdapter,
    explain,
    first_comment,
    inspect_token,
    require_id,
    resumed,
)
from crosspost.adapters.rules import MB, PlatformRules
from crosspost.core.errors import PartReceipt, PublishError, Rejected

if TYPE_CHECKING:
    from crosspost.loading.posts import Media
    from crosspost.rendering.render import Rendered

log = logging.getLogger(__name__)

PERMALINK = "https://www.facebook.com/{}"
REQUIRED_SCOPES = ("pages_manage_posts", "pages_read_engagement", "pages_show_list")
# commenting as the Page (the first comment) needs pages_manage_engagement (Meta's Pages API
# documentation, "Comments": "pages_manage_engagement" to create a comment)
WANTED_SCOPES = {
    "pages_manage_engagement": "first comments cannot be posted (posts with a first_comment "
    "are published without it, with a warning)"
}


class FacebookAdapter(GraphAdapter):
    platform = "facebook"
    look_up_limit = 500  # recent() follows the Graph API's pages of 100
    rules = PlatformRules(
        platform="facebook",
        label="Facebook",
        text_limit=63206,
        first_comment=True,
        link_field=True,
        max_media=10,
        media_formats=frozenset({"JPEG", "PNG", "GIF", "BMP", "TIFF"}),
        max_media_bytes=10 * MB,
        alt_limit=1000,
    )
    credentials = ("page_access_token",)
    settings = {
        "page_id": Setting("text", required=True, help="the Page's numeric id"),
        "graph_version": Setting(
            "text", default=DEFAULT_GRAPH_VERSION, help="Graph API version, e.g. v26.0"
        ),
        "timeout": Setting("number", default=30, help="seconds before an HTTP call gives up"),
    }
    token_label = "Facebook Page token"
    comment_scope = "pages_manage_engagement"

    def _graph(self) -> Graph:
        return Graph(self, self.secret("page_access_token"), token_label=self.token_label)

    @property
    def page_id(self) -> str:
        return str(self.setting("page_id"))

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
            return resumed(self, rendered, resume, "post", "on the Page")
        with self._graph() as graph:
            post_id = self._post(graph, rendered)
            published_at = self.now()
            part = PartReceipt(0, post_id, PERMALINK.format(post_id))
            if on_part:
                on_part(part)
            comment_id, warnings = first_comment(
                self, graph, post_id, rendered.first_comment, "post"
            )
        return Receipt(
            post_id, part.url, published_at, parts=(part,), comment_id=comment_id,
            warnings=warnings,
        )  # fmt: skip

    def _post(self, graph: Graph, rendered: Rendered) -> str:
        """Publish the post itself; its id ('{page}_{post}')."""
        page = self.page_id
        message = rendered.text  # rendering already moved a photo post's link into it
        if not rendered.media:
            result = graph.post(
                f"{page}/feed", publishing=True, message=message, link=rendered.link
            )
            return require_id(result, self, publishing=True, what="the post")
        if len(rendered.media) == 1:
            [media] = rendered.media
            result = graph.post(
                f"{page}/photos",
                publishing=True,
                files=self._source(media),
                caption=message,
                alt_text_custom=media.alt,
            )
            if result.get("post_id"):
                return str(result["post_id"])
            return f"{page}_{require_id(result, self, publishing=True, what='the photo')}"
        photo_ids = []
        for media in rendered.media:
            # unpublished uploads show nowhere until the feed post below attaches them
            result = graph.post(
                f"{page}/photos",
                files=self._source(media),
                published=False,
                alt_text_custom=media.alt,
            )
            photo_ids.append(require_id(result, self, what=f"the upload of {media.rel}"))
        attached = {f"attached_media[{i}]": {"media_fbid": pid} for i, pid in enumerate(photo_ids)}
        result = graph.post(f"{page}/feed", publishing=True, message=message, **attached)
        return require_id(result, self, publishing=True, what="the post")

    def _source(self, media: Media) -> dict[str, Any]:
        data = self.media_bytes(media)
        kind = mimetypes.guess_type(media.path.name)[0] or "application/octet-stream"
        return {"source": (media.path.name, data, kind)}

    # --- look-ups --------------------------------------------------------------------------

    def recent(self, limit: int = 50, since: datetime | None = None) -> list[RemotePost]:
        with self._graph() as graph:
            posts = graph.recent(
                f"{self.page_id}/posts", "message", "created_time", "permalink_url", limit
            )
        return [p if p.url else replace(p, url=PERMALINK.format(p.remote_id)) for p in posts]

    def delete(self, remote_id: str) -> None:
        with self._graph() as graph:
            result = graph.delete(remote_id)
        if result.get("success") is False:
            raise fail(Rejected(f"Facebook did not delete post {remote_id}"), self)

    def check_credentials(self) -> CredentialReport:
        try:
            token = self.secret("page_access_token")
            page = self.page_id
            graph = self._graph()
        except PublishError as exc:
            return CredentialReport(ok=False, problems=[exc.describe()])
        with graph:
            report, data = inspect_token(
                self, graph, token, required=REQUIRED_SCOPES, wanted=WANTED_SCOPES
            )
            if data.get("is_valid"):
                kind = str(data.get("type") or "")
                if kind and kind != "PAGE":
                    report.problems.append(
                        f"the token in {self.channel.credentials['page_access_token']} is a "
                        f"{kind.lower()} token, not a Page token: posts would not appear as "
                        "the Page. Generate a Page access token"
                    )
                owner = data.get("profile_id")
                if kind == "PAGE" and owner and str(owner) != page:
                    report.problems.append(
                        f"the {self.token_label} belongs to Page {owner}, not to the "
                        f"configured page_id {page}"
                    )
                try:
                    about = graph.get(page, fields="name")
                    report.account = str(about.get("name") or page)
                except PublishError as exc:
                    report.problems.append(explain(exc, self.token_label))
        report.ok = not report.problems
        return report
