"""Accessibility lint: what a screen reader would make of each channel's rendered post.

`lint(rendered)` looks at what the channel will receive (the text and, on X, each further
thread part; each part is a post of its own to the reader) and returns `Finding`s, like the
platform checks in `rules.py`. Findings carry no mark: `validate` reports them at the post.

The rules, and the heuristics behind them:

- **Styled letters** (error). "Fake bold/italic" made of look-alike symbols is spelt out letter
  by letter ("mathematical bold capital B, ...") or skipped. Styled means: the Mathematical
  Alphanumeric Symbols block (U+1D400-U+1D7FF: 𝐁𝐨𝐥𝐝, 𝘐𝘵𝘢𝘭𝘪𝘤, 𝔉𝔯𝔞𝔨𝔱𝔲𝔯, 𝕯𝖔𝖚𝖇𝖑𝖊, 𝟏𝟐𝟑), the
  letters that fill that block's gaps in Letterlike Symbols (ℝ, ℋ, ℭ, ℎ...), fullwidth Latin
  letters (Ｗｉｄｅ), circled, parenthesised and squared Latin letters (ⓒⓘⓡⓒⓛⓔⓓ, 🄱🄾🅇), except
  the four that are emoji (🅰 🅱 🅾 🅿), and phonetic small capitals used as fake small caps
  (ꜱᴍᴀʟʟ ᴄᴀᴘꜱ). Superscripts (m², ™) and circled digits (①) are not reported.
- **Hashtags that are not CamelCase** (warning). A screen reader reads a hashtag as words only
  where capitals mark them: #SaferCommunities is two words, #safercommunities one unreadable
  one. Without a dictionary, long is the tell: a hashtag is reported when one of its words is
  longer than `LONGEST_WORD` (12) letters, where words are split at digits, underscores and
  wherever a capital follows a small letter. So #Kent, #VAWG, #Safeguarding, #KentPCC and
  #SaferStreets pass, #safercommunities, #Crimeprevention and #SAFERCOMMUNITIES are reported.
  The price of being predictable: a short pair of joined words (#knifecrime, #saferstreets)
  passes, and a single word of 13 letters or more (#Neighbourhood, #Sittingbourne) is reported.
  Letters without case (Chinese, Arabic...) are not counted; hashtags inside links are ignored.
- **More than `MAX_EMOJI` (3) emoji** in a part (warning): each is read out by its name.
- **An emoji opening a line** (warning, one per part): its name comes before the words.
  Emoji are what X counts as emoji (twitter-text's list, so 👨‍👩‍👧 and 🇬🇧 are one each), except
  © ® ™, which are read as the words they stand for.
- **A part that is only a link** (warning): once URLs and hashtags are taken out, no letter
  or digit is left. Screen readers read the address out; say in words where it leads.

Speed: `validate` runs this on every (post, channel) pair, so each costly scan runs only where
a cheap test says it could find something: hashtags are read only where a # is (and checked
against links only when the # does not follow a space), links are scanned only when the first
letter of a part starts a link or a hashtag, the styled-letter and emoji scans run only on a
part with a character beyond Latin-1 (£ and é do not count; curly quotes and dashes do), and
the emoji scan (twitter-text's expression, slow on long texts) reads only the short stretches
of symbol characters around a code point from U+203C up.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from crosspost.adapters.rules import HASHTAG, URL, Finding
from crosspost.core.problems import ERROR, WARNING

if TYPE_CHECKING:
    from crosspost.rendering.render import Rendered

__all__ = ["lint"]

MAX_EMOJI = 3
LONGEST_WORD = 12  # letters; a longer word inside a hashtag is reported
NOT_EMOJI = "\u00a9\u00ae\u2122"  # © ® ™: twitter-text counts them, screen readers say the word

_STYLED_CHARS = (
    "\U0001d400-\U0001d7ff"  # Mathematical Alphanumeric Symbols
    # the letters of those alphabets that live in Letterlike Symbols (not ℹ, an emoji)
    "\u2102\u210a-\u210e\u2110-\u2113\u2115\u2119-\u211d\u2124\u2128\u212c\u212d"
    "\u212f-\u2131\u2133\u2134\u2145-\u2149"
    "\uff21-\uff3a\uff41-\uff5a"  # fullwidth A-Z, a-z
    "\u249c-\u24e9"  # parenthesised and circled a-z, A-Z
    "\U0001f110-\U0001f12c\U0001f130-\U0001f169"  # parenthesised, squared, negative circled
    "\U0001f172-\U0001f17d\U0001f180-\U0001f189"  # negative squared, without 🅰 🅱 🅾 🅿
    # phonetic small capitals, as used for fake small caps
    "\u0262\u026a\u0274\u0280\u028f\u0299\u029c\u029f"
    "\u1d00\u1d04\u1d05\u1d07\u1d0a\u1d0b\u1d0d\u1d0f\u1d18\u1d1b\u1d1c\u1d20-\u1d22"
    "\ua730\ua731"
)
# a stretch of styled text: styled letters, and the spaces and punctuation between them
_STYLED_RUN = re.compile(f"[{_STYLED_CHARS}]+(?:[ '’.,:;!?&-]+[{_STYLED_CHARS}]+)*")

_EMOJI_FROM = "\u203c"  # ‼, the lowest code point to start an emoji once © and ® are left out
_EMOJI_HINT = re.compile(f"[{_EMOJI_FROM}-\U0010ffff]")
# Every character an emoji sequence can hold: those from U+203C up (selectors, modifiers, tags,
# the keycap) and, around them, keycap digits, the zero-width joiner, © and ®.
_EMOJI_LEAD = frozenset("#*0123456789\u00a9\u00ae\u200d")
_EMOJI_TAIL = re.compile(f"[#*0-9\u00a9\u00ae\u200d{_EMOJI_FROM}-\U0010ffff]*")

_LONG_LETTERS = re.compile(rf"[^\W\d_]{{{LONGEST_WORD + 1},}}")
_ALNUM = re.compile(r"[^\W_]")
_LINK_ONLY = "is only a link: say in words what it leads to (screen readers read out the address)"


def lint(rendered: Rendered) -> list[Finding]:
    """The accessibility errors and warnings for what one channel will receive."""
    out: list[Finding] = []
    parts = [rendered.text, *rendered.thread]
    tags: dict[str, None] = {}  # long-word hashtags, each reported once, in order
    for number, part in enumerate(parts, start=1):
        if not part:
            continue
        where = f"thread part {number}" if len(parts) > 1 else "text"
        if _only_link(part):
            out.append(Finding(WARNING, f"{where} {_LINK_ONLY}"))
        for tag in _hashtags(part, longer_than=LONGEST_WORD + 1):  # '#' and the letters
            if _LONG_LETTERS.search(tag) and _longest_word(tag) > LONGEST_WORD:
                tags.setdefault(tag)
        if _plain_text(part):
            continue
        styled = _STYLED_RUN.findall(part)
        if styled:
            first = styled[0]
            more = f" (and {len(styled) - 1} more places)" if len(styled) > 1 else ""
            out.append(
                Finding(
                    ERROR,
                    f'{where} has styled letters "{first}"{more}: use plain letters '
                    f'("{_plain(first)}"); screen readers spell out "{first}" letter by letter '
                    "or skip it",
                )
            )
        out.extend(_emoji_findings(where, part))
    for tag in tags:
        out.append(
            Finding(
                WARNING,
                f"hashtag {tag} reads as one long word: start each word in it with a capital, "
                "like #SaferCommunities, so screen readers can say the words apart "
                "(in 'hashtags', separate the words with spaces: safer communities)",
            )
        )
    return out


def _plain_text(text: str) -> bool:
    """Whether every character is below U+0100, where no styled letter or emoji starts."""
    if text.isascii():
        return True
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _hashtags(text: str, longer_than: int = 0) -> list[str]:
    """The hashtags of `text` (of more than `longer_than` characters) that are not part of a
    link, looking only where a # is."""
    found = []
    for sign in "#＃":
        at = text.find(sign)
        while at != -1:
            match = HASHTAG.match(text, at)
            if match and match.end() - at > longer_than and not _in_link(text, at, match.end()):
                found.append(match.group())
            at = text.find(sign, at + 1)
    return found


def _in_link(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] overlaps a link."""
    # A link never holds a space, so a # first or after a space is outside links, unless its
    # word starts one ('#https://...'); only the rare others need the (slower) link scan.
    if (start == 0 or text[start - 1].isspace()) and not URL.match(text, start + 1):
        return False
    return any(link.start() < end and start < link.end() for link in URL.finditer(text))


def _only_link(text: str) -> bool:
    """Whether `text` holds a link and, outside links and hashtags, no letter or digit."""
    first = _ALNUM.search(text)
    if first is None:
        return False  # no letters at all, so no link either
    at = first.start()
    if (at == 0 or text[at - 1] not in "#＃") and not URL.match(text, at):
        return False  # the first letter or digit starts neither a hashtag nor a link: a word
    words, links = URL.subn(" ", text)
    return links > 0 and _ALNUM.search(HASHTAG.sub(" ", words)) is None


def _longest_word(tag: str) -> int:
    """Letters in the longest word of a hashtag; a capital after a small letter starts one."""
    longest = run = 0
    after_small = False
    for char in tag:
        if char.islower():
            run, after_small = run + 1, True
        elif char.isupper():
            run = 1 if after_small else run + 1
            after_small = False
        else:  # digit, underscore, #, or a letter without case
            run, after_small = 0, False
        longest = max(longest, run)
    return longest


def _plain(styled: str) -> str:
    """The plain letters a stretch of styled ones stands for: '𝐁𝐨𝐥𝐝' -> 'Bold'."""
    out = []
    for char in styled:
        plain = unicodedata.normalize("NFKC", char)
        if len(plain) != 1 or plain == char:  # ⒜ is '(a)'; 🅐 and ᴀ do not decompose
            name = unicodedata.name(char, "")
            letter = name.rsplit(" ", 1)[-1]
            if len(letter) == 1:
                plain = letter.lower() if "SMALL" in name else letter
        out.append(plain)
    return "".join(out)


def _emoji_in(text: str) -> list[tuple[int, str]]:
    """(index, emoji) for each emoji in `text` as X finds them, without © ® ™."""
    hint = _EMOJI_HINT.search(text)
    if hint is None:
        return []
    from twitter_text.extract_emojis import extract_emojis_with_indices

    found = []
    end = 0
    # An emoji never reaches outside a stretch of the characters emoji are made of, and such
    # stretches are short: scanning them alone finds what scanning the whole text would (with
    # twitter-text's slow expression), many times faster.
    while hint is not None:
        start = hint.start()
        while start > end and text[start - 1] in _EMOJI_LEAD:
            start -= 1
        tail = _EMOJI_TAIL.match(text, hint.start())
        end = tail.end() if tail else hint.end()
        for emoji in extract_emojis_with_indices(text[start:end]):
            if emoji["emoji"][0] not in NOT_EMOJI:
                found.append((start + emoji["indices"][0], emoji["emoji"]))
        hint = _EMOJI_HINT.search(text, end)
    return found


def _emoji_findings(where: str, part: str) -> list[Finding]:
    out = []
    found = _emoji_in(part)
    if len(found) > MAX_EMOJI:
        out.append(
            Finding(
                WARNING,
                f"{where} has {len(found)} emoji: keep to {MAX_EMOJI} or fewer; screen "
                "readers read out the name of every one",
            )
        )
    openers = []
    for index, emoji in found:
        start = part.rfind("\n", 0, index) + 1
        if not part[start:index].strip():
            openers.append((part.count("\n", 0, index) + 1, emoji))
    if len(openers) == 1:
        [(line, emoji)] = openers
        message = (
            f"{where}: line {line} starts with an emoji ({emoji}): move it to the end of the line "
            "or leave it out; screen readers read its name before the words"
        )
        out.append(Finding(WARNING, message))
    elif openers:
        lines = ", ".join(str(line) for line, _ in openers)
        emojis = " ".join(dict.fromkeys(emoji for _, emoji in openers))
        message = (
            f"{where}: lines {lines} start with an emoji ({emojis}): move them to the ends of "
            "the lines or leave them out; screen readers read their names before the words"
        )
        out.append(Finding(WARNING, message))
    return out
