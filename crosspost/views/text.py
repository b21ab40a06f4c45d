"""How validate and preview print: readable text, or JSON for scripts."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from crosspost.checking.project import Project
from crosspost.core.paths import display_path
from crosspost.core.problems import Problem
from crosspost.core.times import format_local
from crosspost.rendering.render import Rendered


def preview_record(r: Rendered) -> dict[str, Any]:
    """One (post, channel) pair as the preview JSON contract describes it."""
    return {
        "post_id": r.post_id,
        "channel": r.channel,
        "platform": r.platform,
        "handle": r.handle,
        "status": r.post.status,
        "publish_at": r.publish_at.isoformat() if r.publish_at else None,
        "text": r.text,
        "length": r.length,
        "limit": r.limit,
        "problems": list(r.problems),
        "warnings": list(r.warnings),
        "thread": [
            {"text": text, "length": length}
            for text, length in zip(r.thread, r.thread_lengths, strict=True)
        ],
        "link": r.link,
        "first_comment": r.first_comment,
        "media": [{"path": m.rel, "alt": m.alt} for m in r.media],
        "file": display_path(r.post.file),
        "template": display_path(r.template) if r.template else None,
    }


def preview_json(rendered: list[Rendered]) -> str:
    return json.dumps([preview_record(r) for r in rendered], indent=2, ensure_ascii=False)


def preview_text(project: Project, rendered: list[Rendered]) -> str:
    zone = project.config.timezone
    lines: list[str] = []
    current = None
    for r in rendered:
        if r.post is not current:
            current = r.post
            when = format_local(r.post.publish_at, zone) if r.post.publish_at else "no time set"
            if lines:
                lines.append("")
            lines.append(f"═══ {r.post_id} · {when} · {r.post.status}")
            lines.append(f"    {display_path(r.post.file)}")
        label = project.config.channels[r.channel].rules.label
        meter = f"{r.length:,}/{r.limit:,}"
        flag = "✗" if r.problems else "✓"
        lines.append("")
        head = f"─── {flag} {r.channel} · {label} {r.handle} · {meter}"
        if r.publish_at and r.publish_at != r.post.publish_at:
            head += f" · at {format_local(r.publish_at, zone)}"
        lines.append(head)
        lines.extend(_indent(r.text or "(no text)"))
        for number, (part, length) in enumerate(
            zip(r.thread, r.thread_lengths, strict=True), start=2
        ):
            lines.append(f"    ── thread part {number} · {length}/{r.limit}")
            lines.extend(_indent(part))
        if r.link:
            lines.append(f"    link: {r.link}")
        for m in r.media:
            lines.append(f"    image: {m.rel}")
            lines.extend(
                textwrap.wrap(m.alt, 92, initial_indent="      alt: ", subsequent_indent="      ")
            )
        if r.first_comment:
            lines.append("    first comment:")
            lines.extend(_indent(r.first_comment, "      "))
        for problem in r.problems:
            lines.append(f"    ✗ problem: {problem}")
        for warning in r.warnings:
            lines.append(f"    ! warning: {warning}")
    return "\n".join(lines)


def _indent(text: str, prefix: str = "    │ ") -> list[str]:
    return [prefix + line if line else prefix.rstrip() for line in text.split("\n")]


def problems_text(problems: list[Problem]) -> str:
    return "\n".join(str(p) for p in problems)


def summary(project: Project) -> str:
    errors = len(project.problems.errors)
    warnings = len(project.problems.warnings)
    pairs = len(project.rendered)
    return (
        f"{len(project.posts)} posts, {pairs} deliveries over {len(project.config.channels)} "
        f"channels: {errors} error{'s' * (errors != 1)}, "
        f"{warnings} warning{'s' * (warnings != 1)}"
    )
