"""What a comms officer trips over (issue 13): each mistake, made as a person makes it, and
what crosspost says. docs/mistakes.md is checked against these messages."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import responses
from click.testing import CliRunner
from urllib3.exceptions import MaxRetryError, NameResolutionError

from crosspost.cli import main
from crosspost.scheduling.ledger import Ledger

from .conftest import canary_environ, render_post
from .test_daemon import state
from .test_daemon_process import Daemon as Process
from .test_daemon_process import make_site, wait_for


def run(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    environment = {"CROSSPOST_NOW": "2026-11-25T12:00+00:00", "USER": "", "LOGNAME": ""}
    result = CliRunner().invoke(
        main, [*args, "--config", str(root / "crosspost.yaml")], env={**environment, **(env or {})}
    )
    return result.exit_code, result.output


def test_a_control_without_a_name_is_refused_not_recorded_as_unknown(example: Path) -> None:
    code, out = run(example, "pause", "--reason", "a critical incident")
    assert code == 2
    assert "say who is acting" in out and '--by "Your Name"' in out
    ledger_file = example / "var" / "crosspost.db"
    if ledger_file.exists():
        with Ledger(ledger_file) as ledger:
            assert not [e for e in ledger.events() if e.kind == "control"]
    code, out = run(example, "pause", "--reason", "a critical incident", env={"USER": "jsmith"})
    assert code == 0, out
    with Ledger(ledger_file) as ledger:
        assert [(e.kind, e.actor) for e in ledger.events()] == [("control", "jsmith")]


# --- 6. controls take effect promptly -----------------------------------------------------


def test_a_release_reaches_a_running_daemon_within_two_seconds(tmp_path: Path) -> None:
    """The sweep runs once a minute here: only the wake gets the release out in time."""
    root = make_site(tmp_path, posts=1, spread=0, start_in=5.0, latency=0)
    config = root / "crosspost.yaml"
    config.write_text(config.read_text().replace("sweep_interval: 1s", "sweep_interval: 60s"))
    assert run(root, "pause", "--reason", "incident", env={"USER": "sam"})[0] == 0
    proc = Process(root)
    try:
        assert wait_for(lambda: proc.running, 15)
        assert wait_for(lambda: state(root, "p0000") == "held", 20)
        code, out = run(root, "resume", env={"USER": "sam"})
        assert code == 0 and "overdue and stay held" in out
        time.sleep(1.5)
        assert state(root, "p0000") == "held"  # a plain resume sends nothing by itself
        code, out = run(root, "release", "p0000", "--channel", "x", env={"USER": "sam"})
        assert code == 0 and "a running daemon sends it within a few seconds" in out, out
        asked = time.monotonic()
        assert wait_for(lambda: state(root, "p0000") == "published", 10)
        took = time.monotonic() - asked
        assert took <= 2.0, f"the release took {took:.1f} s to reach the daemon"
        # --release-overdue after a plain resume sends the rest
        code, out = run(root, "resume", "--release-overdue", env={"USER": "sam"})
        assert code == 0 and "1 held deliveries released" in out and "resumed" not in out, out
        assert wait_for(lambda: state(root, "p0000", "fb") == "published", 2.5)
    finally:
        proc.stop()


def test_releasing_a_post_that_does_not_exist_says_so(example: Path) -> None:
    code, out = run(example, "pause", "--reason", "r", env={"USER": "sam"})
    code, out = run(example, "release", "2026-12-01-safer-street-funding", env={"USER": "sam"})
    assert code == 1
    assert "there is no post '2026-12-01-safer-street-funding' in the ledger" in out
    code, out = run(example, "resume", env={"USER": "sam"})
    code, out = run(example, "resume", "--release-overdue", env={"USER": "sam"})
    assert code == 1 and "publishing is not paused" in out


# --- 1. hashtags written as people write them ---------------------------------------------


@pytest.mark.parametrize(
    "written",
    ["#Kent #CountyShow", "Kent, CountyShow", '"#Kent #CountyShow"', "[Kent, County Show]"],
)
def test_hashtags_as_people_write_them_reach_the_post(project: Path, written: str) -> None:
    post = f"publish_at: 2027-01-15 10:00\ntitle: See us at the show.\nhashtags: {written}\n"
    rendered = render_post(project, post + "channels: [PCCKent]\n", "PCCKent")
    assert rendered.text.endswith("#Kent #CountyShow")


def test_validate_says_how_to_write_hashtags(project: Path) -> None:
    (project / "queue" / "show.yaml").write_text(
        "publish_at: 2027-01-15 10:00\ntitle: See us at the show.\nhashtags: #Kent #CountyShow\n"
        "channels: [PCCKent]\n"
    )
    code, out = run(project, "validate")
    assert code == 0, out
    assert "show.yaml:3:11: warning: read as the hashtags Kent, CountyShow" in out
    assert "hashtags: [Kent, CountyShow]" in out


def test_a_title_starting_with_hash_says_to_quote_it_not_to_edit_the_template(
    project: Path,
) -> None:
    (project / "queue" / "t.yaml").write_text("publish_at: 2027-01-15 10:00\ntitle: #Kent news\n")
    code, out = run(project, "validate")
    assert code == 1
    assert "t.yaml:2:8: error: 'title' is empty" in out and 'title: "#Kent news"' in out
    assert "template" not in out.split("t.yaml", 1)[1].split("\n")[0]


# --- 2. YAML syntax errors in a comms officer's words -------------------------------------


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("title: Update: road closures", 'in quotes: title: "Update: road closures"'),
        ("title: @KentPolice visit", 'a value cannot start with \'@\' in YAML'),
        ('title: "Road closures', "is never closed: add the closing \""),
        ("\ttitle: Road closures", "a tab character"),
        ("  title: Road closures", "indented further than the line above"),
    ],
)  # fmt: skip
def test_yaml_mistakes_say_what_the_line_needs_and_show_it(
    project: Path, line: str, said: str
) -> None:
    (project / "queue" / "p.yaml").write_text(f"publish_at: 2027-01-15 10:00\n{line}\n")
    code, out = run(project, "validate")
    assert code == 1 and said in out, out
    assert "invalid YAML" not in out
    assert f"   2 | {line.replace(chr(9), ' ')}" in out  # the line itself, under the message


# --- 7. doctor lists every missing credential; a network failure is one line --------------


def test_doctor_lists_every_missing_credential_and_where_to_find_them(example: Path) -> None:
    code, out = run(example, "doctor", env={"X_CONSUMER_KEY": "k"})
    assert code == 1
    x = out.split("KentPCC")[0]
    for var in ("X_CONSUMER_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"):
        assert f"environment variable {var} is not set" in x
    assert "X_CONSUMER_KEY" not in x
    assert "FB_PAGE_ID is not set" in out and "FB_PAGE_ACCESS_TOKEN is not set" in out
    assert out.count("docs/credentials.md") == 3  # once per channel


@responses.activate
def test_doctor_says_a_network_failure_in_one_line(example: Path) -> None:
    def unreachable(host: str) -> requests.ConnectionError:
        pool = f"HTTPSConnectionPool(host='{host}', port=443)"
        reason = NameResolutionError(host, None, OSError(-2, "Name or service not known"))  # type: ignore[arg-type]
        return requests.ConnectionError(MaxRetryError(pool, "/", reason))  # type: ignore[arg-type]

    responses.add(responses.GET, re.compile(r"https://api\.twitter\.com/.*"),
                  body=unreachable("api.twitter.com"))  # fmt: skip
    responses.add(responses.GET, re.compile(r"https://graph\.facebook\.com/.*"),
                  body=unreachable("graph.facebook.com"))  # fmt: skip
    code, out = run(example, "doctor", env=canary_environ())
    assert code == 1
    problems = [
        line for line in out.splitlines() if line.strip().startswith("✗ ") and " (" not in line[:6]
    ]
    assert len([p for p in problems if "could not be looked up" in p]) == 3, out
    assert "HTTPSConnectionPool" not in out and "Max retries" not in out
    assert all(len(line) < 200 for line in out.splitlines()), out


# --- 4. status tells the truth ------------------------------------------------------------


def test_status_of_a_pause_says_who_why_since_when_and_how_to_resume(example: Path) -> None:
    run(example, "pause", "--reason", "Critical incident in Maidstone", env={"USER": "jsmith"})
    code, out = run(example, "status")
    assert "⏸ PAUSED: every channel, by jsmith since " in out
    assert "why: Critical incident in Maidstone" in out
    assert "crosspost resume --by NAME" in out
    assert "nothing needs attention" not in out and "{" not in out


def test_status_after_a_dry_run_says_the_ledger_is_untouched_and_shows_the_queue(
    example: Path,
) -> None:
    code, out = run(example, "run", "--dry-run", "--once")
    assert code == 0, out
    code, out = run(example, "status")
    assert code == 0
    assert "No deliveries in the ledger yet" in out and "never writes to the ledger" in out
    assert "2026-12-01-safer-streets-funding → PCCKent (X @PCCKent)" in out
    assert "17 queued, not yet planned" in out  # 19 deliveries, 2 of a draft


def test_the_start_up_plan_and_status_name_the_post_held_for_approval(example: Path) -> None:
    post = example / "queue" / "2026-12-08-audit-and-victims-survey.yaml"
    post.write_text(post.read_text().replace("Every criminal", "Every single criminal", 1))
    code, out = run(example, "run", "--dry-run", "--once")
    held = [line for line in out.splitlines() if line.startswith("! will be held when due")]
    assert held and "approval is stale" in held[0], out
    assert "2026-12-08-audit-and-victims-survey → PCCKent" in held[0]
    assert "crosspost approve 2026-12-08-audit-and-victims-survey --by NAME" in out
    assert "POST_ID" not in out


def test_status_of_a_delivery_held_for_approval_names_it_and_the_command(
    example: Path,
) -> None:
    from crosspost.core.states import Hold, State

    with Ledger(example / "var" / "crosspost.db") as ledger:
        held = ledger.ensure("2026-12-08-audit-and-victims-survey", "PCCKent", None, "h", "t")
        ledger.set_state(held, State.HELD, error_kind=Hold.APPROVAL, error="not approved")
    code, out = run(example, "status")
    assert "crosspost approve 2026-12-08-audit-and-victims-survey --by NAME" in out
    assert "crosspost doctor" not in out  # only a held channel needs the doctor
    assert "POST_ID" not in out


# --- 5. the HTML preview shows every post file ----------------------------------------------


def test_the_html_preview_shows_files_that_fail_to_load_and_counts_posts_apart(
    example: Path, tmp_path: Path
) -> None:
    queue = example / "queue"
    (queue / "roads.yaml").write_text("publish_at: 2027-01-15 10:00\ntitle: Update: roads\n")
    (queue / "photo.yaml").write_text(
        "publish_at: 2027-01-15 10:00\ntitle: Photo\nmedia:\n  - path: media/vawg-report.jpg\n"
    )
    code, _ = run(example, "preview", "--html", str(tmp_path / "site"))
    assert code == 1
    page = (tmp_path / "site" / "index.html").read_text()
    assert "<code>queue/roads.yaml</code> (line 2, column 14)" in page
    assert "put the whole text in quotes" in page
    assert "<code>queue/photo.yaml</code> (line 4, column 5)" in page and "no alt text" in page
    assert "9 post files in the queue (2 with errors, blocked);" in page
    assert "19 deliveries (a post on one channel): " in page


# --- 9. the mock-ups agree with the platforms -----------------------------------------------


def test_the_facebook_mock_up_draws_a_link_preview_only_for_a_post_without_photos(
    example: Path, tmp_path: Path
) -> None:
    (example / "queue" / "text-only.yaml").write_text(
        "publish_at: 2027-01-15 10:00\ntitle: Read the report.\nbody: Read the report.\n"
        "link: https://www.pcc-kent.gov.uk/report\nchannels: [KentPCC]\n"
    )
    code, _ = run(example, "preview", "--html", str(tmp_path / "site"))
    pages = tmp_path / "site" / "posts"
    text_only = (pages / "text-only.html").read_text()
    assert 'class="link-preview"' in text_only
    photo = (pages / "2026-12-01-safer-streets-funding.html").read_text()
    facebook = photo.split("Facebook @KentPCC", 1)[1].split("</article>", 1)[0]
    assert 'class="link-preview"' not in facebook  # a photo post: the link is in its text
    assert "https://www.pcc-kent.gov.uk" in facebook


def test_the_quick_start_dry_run_shows_a_would_publish_within_a_minute(tmp_path: Path) -> None:
    """The README's first command, with --rehearse: the first post's 'would publish'."""
    repo = Path(__file__).resolve().parent.parent
    for name in ("config.example.yaml", "approvals.yaml"):
        shutil.copy(repo / name, tmp_path / name)
    for name in ("queue", "templates"):
        shutil.copytree(repo / name, tmp_path / name)
    exe = str(Path(sys.executable).with_name("crosspost"))
    proc = subprocess.Popen(
        [exe, "run", "--dry-run", "--rehearse", "--config", "config.example.yaml"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        start_new_session=True,
    )  # fmt: skip
    seen: list[str] = []
    started = time.monotonic()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if "would publish to" in line:
                break
        took = time.monotonic() - started
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    assert any("would publish to" in line for line in seen), "".join(seen)
    assert "rehearsal: the clock is set to Tue 01 Dec 2026 09:59 GMT" in "".join(seen)
    assert took < 60, f"the first 'would publish' took {took:.0f} s"


def test_an_approval_reaches_a_running_daemon_within_two_seconds(tmp_path: Path) -> None:
    root = make_site(tmp_path, posts=1, spread=0, start_in=5.0, latency=0)
    config = root / "crosspost.yaml"
    config.write_text(
        config.read_text().replace("sweep_interval: 1s", "sweep_interval: 60s")
        + "require_approval: true\n"
    )
    proc = Process(root)
    try:
        assert wait_for(lambda: proc.running, 15)
        assert wait_for(lambda: state(root, "p0000") == "held", 20)
        code, out = run(root, "approve", "p0000", "--by", "Head of Comms")
        assert code == 0, out
        asked = time.monotonic()
        assert wait_for(lambda: state(root, "p0000") == "published", 10)
        took = time.monotonic() - asked
        assert took <= 2.0, f"the approval took {took:.1f} s to reach the daemon"
    finally:
        proc.stop()


def test_a_yaml_mistake_in_the_config_never_shows_the_secret_on_its_line(example: Path) -> None:
    config = example / "crosspost.yaml"
    secret = "EAAGm0PX4ZCpsBAKZCsecretTOKEN123"
    text = config.read_text().replace(
        "page_access_token: ${FB_PAGE_ACCESS_TOKEN}", f"page_access_token: {secret}: x"
    )
    assert secret in text
    config.write_text(text)
    code, out = run(example, "validate")
    assert code == 2 and "put the whole value in quotes" in out, out
    assert secret not in out and "EAAG" not in out
    config.write_text(text.replace(f"{secret}: x", f"@{secret}"))
    code, out = run(example, "validate")
    assert code == 2 and "a value cannot start with '@'" in out, out
    assert secret not in out


def test_status_after_a_pause_is_lifted_says_to_release_not_to_resume(example: Path) -> None:
    from crosspost.core.states import Hold, State

    run(example, "pause", "--reason", "incident", env={"USER": "sam"})
    with Ledger(example / "var" / "crosspost.db") as ledger:
        held = ledger.ensure("2026-12-08-audit-and-victims-survey", "PCCKent", None, "h", "t")
        ledger.set_state(held, State.HELD, error_kind=Hold.PAUSED, error="paused")
    code, out = run(example, "release", "2026-12-08-audit-and-victims-survey", env={"USER": "sam"})
    assert code == 1 and "would be held again" in out and "Resume first" in out
    run(example, "resume", env={"USER": "sam"})
    code, out = run(example, "status")
    assert "the pause is over" in out
    assert "crosspost release 2026-12-08-audit-and-victims-survey --channel PCCKent" in out
    assert "crosspost resume --by NAME, then" not in out


def test_status_before_any_daemon_names_what_will_be_held_and_broken_files(example: Path) -> None:
    post = example / "queue" / "2026-12-08-audit-and-victims-survey.yaml"
    post.write_text(post.read_text().replace("Every criminal", "Every single criminal", 1))
    (example / "queue" / "roads.yaml").write_text("publish_at: 2027-01-15 10:00\ntitle: a: b\n")
    code, out = run(example, "status")
    assert "✗ queue/roads.yaml has errors" in out
    assert "will be held: approval is stale" in out
    assert "crosspost approve 2026-12-08-audit-and-victims-survey --by NAME" in out
    assert "nothing needs attention" not in out and "3 will be held" in out  # 3 channels


def test_a_pause_that_would_end_in_the_past_is_refused(example: Path) -> None:
    code, out = run(example, "pause", "--reason", "r", "--until", "2020-01-01 10:00",
                    env={"USER": "sam"})  # fmt: skip
    assert code == 1 and "has passed" in out
    code, out = run(example, "status")
    assert "PAUSED" not in out
