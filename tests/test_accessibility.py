"""The accessibility lint: hashtags, emoji, styled letters and bare links, as a reader hears them.

Most tables pair a text that passes with a near miss that does not, so that each row shows
where the line is drawn, and fails if the rule goes.
"""

from __future__ import annotations

import dataclasses
import random
import re
from pathlib import Path

import pytest
import yaml

from crosspost.adapters.rules import HASHTAG, URL, Finding
from crosspost.checking.accessibility import (
    MAX_EMOJI,
    NOT_EMOJI,
    _emoji_in,
    _hashtags,
    _only_link,
    lint,
)
from crosspost.checking.project import load_project, render_all
from crosspost.core.problems import ERROR, WARNING
from crosspost.rendering.render import Rendered

from .conftest import NOW, render_post

LINK = "https://www.pcc-kent.gov.uk"


def post_yaml(channels: str = "[PCCKent]", **fields: object) -> str:
    head = f"publish_at: 2027-01-15 10:00\nchannels: {channels}\n"
    return head + yaml.safe_dump(fields, allow_unicode=True, sort_keys=False)


def render(project: Path, channel: str = "PCCKent", **fields: object) -> Rendered:
    channels = "[KentPCC]" if channel == "KentPCC" else "[PCCKent]"
    return render_post(project, post_yaml(channels, **fields), channel)


def with_text(project: Path, text: str, thread: list[str] | None = None) -> Rendered:
    """A rendered post carrying `text` as is.

    For texts that are errors: `render_post` refuses a post with errors, and once validate
    runs this lint, styled letters are one.
    """
    return dataclasses.replace(render(project, title="Hello Kent."), text=text, thread=thread or [])


def messages(findings: list[Finding], severity: str = WARNING) -> list[str]:
    return [f.message for f in findings if f.severity == severity]


# --- hashtags ----------------------------------------------------------------------------

# (passes, is reported, the hashtag named in the warning)
HASHTAG_PAIRS = [
    ("Hello #SaferCommunities", "Hello #safercommunities", "#safercommunities"),
    ("Hello #SaferCommunities", "Hello #SAFERCOMMUNITIES", "#SAFERCOMMUNITIES"),
    ("Hello #CrimePrevention", "Hello #Crimeprevention", "#Crimeprevention"),
    ("Hello #KentPCCAnnualReport", "Hello #KentPCCannualreport", "#KentPCCannualreport"),
    # the line: a word of LONGEST_WORD (12) letters passes, one of 13 is reported
    ("Hello #Safeguarding", "Hello #Domesticabuse", "#Domesticabuse"),
    ("Hello #Kent #kent #VAWG #vawg", "Hello #Kent #bystandertraining", "#bystandertraining"),
    ("Hello #OpenDays2027", "Hello #opendayscountyshow2027", "#opendayscountyshow2027"),
    ("Hello #Safer_Communities", "Hello #safer_communitiesweek", "#safer_communitiesweek"),
    (
        f"See {LINK}/news#safercommunitiesprogramme",  # a link's fragment is not a hashtag
        f"See {LINK}/news #safercommunitiesprogramme",
        "#safercommunitiesprogramme",
    ),
    ("Hello #安全社区安全社区安全社区安全", "Hello ＃safercommunities", "＃safercommunities"),
]


@pytest.mark.parametrize(("good", "bad", "tag"), HASHTAG_PAIRS, ids=lambda v: str(v)[:28])
def test_hashtags_must_be_camel_case(project: Path, good: str, bad: str, tag: str) -> None:
    assert lint(render(project, title=good)) == []
    [message] = messages(lint(render(project, title=bad)))
    assert message.startswith(f"hashtag {tag} reads as one long word: ")
    assert "start each word in it with a capital, like #SaferCommunities" in message


def test_hashtags_written_with_spaces_come_out_camel_case(project: Path) -> None:
    """The `hashtag` filter capitalises words it can see: it cannot split one."""
    assert lint(render(project, title="Hello Kent.", hashtags=["safer communities"])) == []
    rendered = render(project, title="Hello Kent.", hashtags=["safercommunities", "Kent"])
    assert rendered.text.endswith("#Safercommunities #Kent")
    [message] = messages(lint(rendered))
    assert "#Safercommunities" in message
    assert "in 'hashtags', separate the words with spaces: safer communities" in message


def test_a_hashtag_is_reported_once_for_all_thread_parts(project: Path) -> None:
    rendered = render(
        project,
        title="Hello #safercommunities",
        thread=["More #safercommunities", "And #crimepreventionweek"],
    )
    found = messages(lint(rendered))
    assert [m.split(" reads")[0] for m in found] == [
        "hashtag #safercommunities",
        "hashtag #crimepreventionweek",
    ]


# --- emoji -------------------------------------------------------------------------------

# (passes, is reported, how many emoji the warning counts)
EMOJI_COUNT_PAIRS = [
    ("Road closed 🚧🚓🚨 in Dover.", "Road closed 🚧🚓🚨🚧 in Dover.", 4),
    # a skin tone is part of its emoji; so is a sequence (family, flag, keycap)
    ("Well done 👏🏽👏🏽👏🏽", "Well done 👏🏽👏🏽👏🏽👏🏽👏🏽", 5),
    ("Family day 👨‍👩‍👧 🇬🇧 2️⃣", "Family day 👨‍👩‍👧 🇬🇧 2️⃣ #️⃣", 4),
    ("Kent™ © 2026 ® ✅", "Kent™ © 2026 ® ✅✅✅✅", 4),  # © ® ™ are read as words
    ("Safety first ⚠️ ❤ ‼", "Safety first ⚠️ ❤ ‼ ↔", 4),  # text-style symbols X counts too
]


@pytest.mark.parametrize(("good", "bad", "count"), EMOJI_COUNT_PAIRS, ids=lambda v: str(v)[:20])
def test_more_than_three_emoji(project: Path, good: str, bad: str, count: int) -> None:
    assert lint(render(project, title=good)) == []
    [message] = messages(lint(render(project, title=bad)))
    assert message == (
        f"text has {count} emoji: keep to {MAX_EMOJI} or fewer; screen readers read out the "
        "name of every one"
    )


def test_emoji_are_counted_per_thread_part(project: Path) -> None:
    rendered = render(project, title="One 🚓🚓", thread=["Two 🚓🚓", "Three 🚓🚓🚓🚓"])
    assert messages(lint(rendered)) == [
        "thread part 3 has 4 emoji: keep to 3 or fewer; screen readers read out the name of "
        "every one"
    ]


# (passes, is reported, what the warning says about where)
EMOJI_OPENING_PAIRS = [
    ("Road closed in Dover 🚧", "🚧 Road closed", "text: line 1 starts with an emoji (🚧)"),
    (
        "Road closed.\nDiversion in place ➡️",
        "Road closed.\n  ➡️ Diversion in place",
        "text: line 2 starts with an emoji (➡️)",
    ),
    (
        "Open days:\n- Dover ✅\n- Deal ✅",
        "Open days:\n✅ Dover\n✅ Deal",
        "text: lines 2, 3 start with an emoji (✅)",
    ),
    ("Thank you 🇬🇧", "🇬🇧 Thank you", "text: line 1 starts with an emoji (🇬🇧)"),
    ("Two weeks to go 2️⃣", "2️⃣ weeks to go", "text: line 1 starts with an emoji (2️⃣)"),
    ("© Kent PCC 2026", "1️⃣ Kent PCC 2026", "text: line 1 starts with an emoji (1️⃣)"),
]


@pytest.mark.parametrize(("good", "bad", "where"), EMOJI_OPENING_PAIRS, ids=lambda v: str(v)[:20])
def test_an_emoji_opening_a_line(project: Path, good: str, bad: str, where: str) -> None:
    assert lint(render(project, title=good)) == []
    [message] = messages(lint(render(project, title=bad)))
    if "lines" in where:
        assert message == (
            f"{where}: move them to the ends of the lines or leave them out; screen readers "
            "read their names before the words"
        )
    else:
        assert message == (
            f"{where}: move it to the end of the line or leave it out; screen readers read its "
            "name before the words"
        )


def test_an_emoji_opening_a_thread_part_or_a_facebook_post(project: Path) -> None:
    rendered = render(project, title="Road closed.", thread=["📢 Diversion in place."])
    assert messages(lint(rendered)) == [
        "thread part 2: line 1 starts with an emoji (📢): move it to the end of the line or "
        "leave it out; screen readers read its name before the words"
    ]
    facebook = render(project, "KentPCC", body="Road closed.\n\n📢 Diversion in place.")
    assert facebook.platform == "facebook"
    [message] = messages(lint(facebook))
    assert message.startswith("text: line 3 starts with an emoji (📢)")


def test_emoji_are_found_as_twitter_text_finds_them() -> None:
    """Scanning only the stretches of symbols finds what the full (slow) scan finds."""
    from twitter_text.extract_emojis import extract_emojis_with_indices
    from twitter_text.regexp.emoji import emoji_list

    pool = [e.emoji for e in emoji_list[::7]] + list("ab 1#*\n©®™’–€→\u200d\ufe0f\u20e3🏻")
    rng = random.Random(2)
    texts = ["".join(rng.choice(pool) for _ in range(rng.randint(0, 12))) for _ in range(400)]
    texts += ["Hello 👩🏽‍🚒 and 🏴󠁧󠁢󠁥󠁮󠁧󠁿 and 9️⃣ and © and 🅰️", "plain text only", ""]
    for text in texts:
        expected = [
            (e["indices"][0], e["emoji"])
            for e in extract_emojis_with_indices(text)
            if e["emoji"][0] not in NOT_EMOJI
        ]
        assert _emoji_in(text) == expected, text
    assert len(_emoji_in("Hello 👩🏽‍🚒 and 🏴󠁧󠁢󠁥󠁮󠁧󠁿 and 9️⃣ and © and 🅰️")) == 4


# --- styled letters ----------------------------------------------------------------------

# (passes, is an error, the styled stretch named, its plain letters)
STYLED_PAIRS = [
    ("Bold news for Kent", "𝐁𝐨𝐥𝐝 news for Kent", "𝐁𝐨𝐥𝐝", "Bold"),
    ("Italic news", "𝘐𝘵𝘢𝘭𝘪𝘤 news", "𝘐𝘵𝘢𝘭𝘪𝘤", "Italic"),
    ("Read this: Safer Streets!", "Read this: 𝐒𝐚𝐟𝐞𝐫 𝐒𝐭𝐫𝐞𝐞𝐭𝐬!", "𝐒𝐚𝐟𝐞𝐫 𝐒𝐭𝐫𝐞𝐞𝐭𝐬", "Safer Streets"),
    ("Hello Kent", "ℍ𝕖𝕝𝕝𝕠 Kent", "ℍ𝕖𝕝𝕝𝕠", "Hello"),  # ℍ is a Letterlike Symbol
    ("Score: 123", "Score: 𝟏𝟐𝟑", "𝟏𝟐𝟑", "123"),
    ("Wide awake", "Ｗｉｄｅ awake", "Ｗｉｄｅ", "Wide"),
    ("Circled", "ⓒⓘⓡⓒⓛⓔⓓ", "ⓒⓘⓡⓒⓛⓔⓓ", "circled"),
    ("New", "🅽🅴🆆 today", "🅽🅴🆆", "NEW"),
    ("Small caps", "ꜱᴍᴀʟʟ ᴄᴀᴘꜱ", "ꜱᴍᴀʟʟ ᴄᴀᴘꜱ", "small caps"),
    # superscripts, circled digits, accents and the emoji among the enclosed letters are fine
    ("10 m² ① café 🅿️ Kent™ ℹ️", "10 m² ① café 🅿️ Kent™ ℹ️ 𝑓𝑖𝑛𝑒", "𝑓𝑖𝑛𝑒", "fine"),
]


@pytest.mark.parametrize(
    ("good", "bad", "styled", "plain"), STYLED_PAIRS, ids=lambda v: str(v)[:20]
)
def test_styled_letters_are_an_error(
    project: Path, good: str, bad: str, styled: str, plain: str
) -> None:
    assert messages(lint(with_text(project, good)), ERROR) == []
    [message] = messages(lint(with_text(project, bad)), ERROR)
    assert message == (
        f'text has styled letters "{styled}": use plain letters ("{plain}"); screen readers '
        f'spell out "{styled}" letter by letter or skip it'
    )


def test_styled_letters_in_several_places_and_parts(project: Path) -> None:
    findings = lint(with_text(project, "𝐁𝐨𝐥𝐝 and 𝐦𝐨𝐫𝐞", ["Fine.", "𝘐𝘵𝘢𝘭𝘪𝘤"]))
    assert [f.severity for f in findings] == [ERROR, ERROR]
    assert findings[0].message.startswith('thread part 1 has styled letters "𝐁𝐨𝐥𝐝" (and 1 more')
    assert findings[1].message.startswith('thread part 3 has styled letters "𝘐𝘵𝘢𝘭𝘪𝘤"')
    assert all(f.mark is None for f in findings)  # validate reports them at the post


def test_styled_letters_written_in_the_post_are_found(project: Path) -> None:
    """Through the template, as validate sees them."""
    (project / "queue" / "post.yaml").write_text(post_yaml(title="𝐁𝐨𝐥𝐝 news"), encoding="utf-8")
    loaded = load_project(project / "crosspost.yaml", now=NOW)
    [rendered] = render_all(loaded, channels=["PCCKent"])
    assert rendered.text == "𝐁𝐨𝐥𝐝 news"
    assert messages(lint(rendered), ERROR) == [
        'text has styled letters "𝐁𝐨𝐥𝐝": use plain letters ("Bold"); screen readers spell out '
        '"𝐁𝐨𝐥𝐝" letter by letter or skip it'
    ]


# --- a post that is only a link ----------------------------------------------------------

LINK_PAIRS = [
    (f"Read the report: {LINK}", LINK),
    (f"Read the report: {LINK} #VAWG", f"{LINK} #VAWG #Kent"),
    (f"{LINK}\n\nThe final report.", f"{LINK}/report.pdf."),
    (f"Report {LINK}", f"www.pcc-kent.gov.uk/report - {LINK}"),
    (f"2027 {LINK}", f"🔗 {LINK}"),  # an emoji is not a word (and it opens the line)
]


@pytest.mark.parametrize(("good", "bad"), LINK_PAIRS, ids=lambda v: str(v)[:24])
def test_a_post_that_is_only_a_link(project: Path, good: str, bad: str) -> None:
    assert lint(render(project, title=good)) == []
    assert messages(lint(render(project, title=bad)))[0] == (
        "text is only a link: say in words what it leads to (screen readers read out the address)"
    )


def test_a_thread_part_that_is_only_a_link(project: Path) -> None:
    rendered = render(project, title="The final report is out.", thread=[LINK])
    assert messages(lint(rendered)) == [
        "thread part 2 is only a link: say in words what it leads to (screen readers read out "
        "the address)"
    ]


def test_a_photo_post_with_only_a_link_on_facebook(project: Path) -> None:
    """Facebook puts the link into the text of a photo post: alone, it is all a reader hears."""
    media = [{"path": "media/square.jpg", "alt": "A navy square."}]
    rendered = render(project, "KentPCC", body=" ", link=LINK, media=media)
    assert rendered.text == LINK
    assert messages(lint(rendered)) == [
        "text is only a link: say in words what it leads to (screen readers read out the address)"
    ]
    with_words = render(project, "KentPCC", body="The report.", link=LINK, media=media)
    assert lint(with_words) == []


def test_the_quick_link_and_hashtag_scans_match_their_definitions() -> None:
    """Hashtags are those of the text with its links taken out; a post is only a link when
    it has one and nothing but links and hashtags holds a letter or digit."""
    pool = list("ab_# ＃&1Z.é安(/:\n") + [f"{LINK}/a", "www.k.uk", "http://", "WWW.", "#Kent"]
    rng = random.Random(9)
    texts = ["".join(rng.choice(pool) for _ in range(rng.randint(0, 10))) for _ in range(5000)]
    texts += [f"{LINK}/#news", f"#{LINK}", f"({LINK}) #Kent", "#Kent", f"#Kent {LINK}"]
    for text in texts:
        words, links = URL.subn(" ", text)
        assert sorted(_hashtags(text)) == sorted(HASHTAG.findall(words)), text
        bare = re.search(r"[^\W_]", HASHTAG.sub(" ", words))
        assert _only_link(text) == (links > 0 and bare is None), text
    assert _only_link(f"#Kent {LINK}") and _hashtags(f"{LINK}/#news #Kent") == ["#Kent"]


# --- the example queue -------------------------------------------------------------------


def test_the_example_queue_is_clean(example: Path) -> None:
    loaded = load_project(example / "crosspost.yaml", now=NOW)
    everything = render_all(loaded)
    assert len(everything) >= 15
    for rendered in everything:
        assert lint(rendered) == [], (rendered.post_id, rendered.channel)
        # the lint does read these texts: an emoji in front would be reported
        shouted = dataclasses.replace(rendered, text="📢 " + rendered.text)
        assert "starts with an emoji (📢)" in messages(lint(shouted))[0]
