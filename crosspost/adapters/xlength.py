"""X's weighted length (twitter-text v3), exact and fast.

`twitter-text-parser` is the reference: it passes the official conformance file. It is slow
(about 1.5 ms a text, mostly its emoji scan), so texts made only of code points that weigh 1
and cannot be emoji take a shortcut that gives the same answer: length minus the URLs, plus 23
per URL. Everything else goes to the library. The tests hold the two paths equal.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

X_LIMIT = 280
URL_LENGTH = 23
_LIGHT_MAX = "\u10ff"  # code points 0..4351 weigh 1 in twitter-text v3
_LIGHT_EMOJI = ("\u00a9", "\u00ae")  # the only emoji in that range (© and ®)
_EOL = re.compile(r"\r\n|\r")
_WORD = re.compile(r"[^ \t\n]+")
_DOT_LETTER = re.compile(r"\.[^\W\d_]")  # every domain ends in a dot and a letter
# twitter-text's URL pattern backtracks quadratically on long runs of labels without a blank
# ("a.a.a." × 2,500 took 30 s, "a-a-…a." × 20 took 10 s, freezing validate, reloads and
# serve). So the counter never shows it a run longer than MAX_WORD with more than MAX_DOTS
# dots and hyphens: no link or word a person writes looks like that, and such a run is
# counted at its length, its dots and hyphens as another one-weight character (so no link is
# found in it). What is left costs time in
# proportion to the length (about 1.3 s for 10,000 characters with emoji, the slow path), so
# a text longer than MAX_TEXT is counted at its length at once: far over 280 whatever it
# holds, unless it is one link of 20,000 characters, which nobody posts.
MAX_WORD = 100
MAX_DOTS = 60
MAX_TEXT = 20_000
MAX_SLOW_TEXT = 5_000  # the same, for texts with emoji or wide characters (the slow path)
_LONG_WORD = re.compile(rf"[^ \t\n]{{{MAX_WORD + 1},}}")


def _bounded(text: str) -> str:
    def defuse(match: re.Match[str]) -> str:
        word = match.group()
        if word.count(".") + word.count("-") <= MAX_DOTS:
            return word
        return word.replace(".", "\u00b7").replace("-", "\u00b7")

    return _LONG_WORD.sub(defuse, text)


@lru_cache(maxsize=8192)
def _url_saving(context: str) -> int:
    """How much X's counting of the URLs in `context` differs from their length.

    Cached: a queue repeats the same few links in post after post.
    """
    from twitter_text.extract_urls import extract_urls_with_indices

    return sum(URL_LENGTH - len(url["url"]) for url in extract_urls_with_indices(context))


def x_length(text: str) -> tuple[int, bool]:
    """(weighted length, whether every character is allowed) as X counts them."""
    norm = unicodedata.normalize("NFC", text)
    if "\r" in norm:
        norm = _EOL.sub("\n", norm)
    if not norm:
        return 0, True
    if len(norm) > MAX_TEXT:
        from twitter_text.has_invalid_characters import has_invalid_characters

        return len(norm), not has_invalid_characters(norm)
    if len(norm) > MAX_WORD and norm.count(".") + norm.count("-") > MAX_DOTS:
        norm = text = _bounded(norm)
    if max(norm) <= _LIGHT_MAX and not any(e in norm for e in _LIGHT_EMOJI):
        # A URL never spans a space, tab or newline, so only the words with a dot before a
        # letter need the (slow) URL scan, each with the blank before it.
        length = len(norm)
        if not _DOT_LETTER.search(norm):
            return length, True
        for match in _WORD.finditer(norm):
            word = match.group()
            if "." in word and _DOT_LETTER.search(word):
                # keep the character before the word: the URL pattern reads it
                length += _url_saving(word if match.start() == 0 else " " + word)
        return length, True
    from twitter_text import parse_tweet
    from twitter_text.has_invalid_characters import has_invalid_characters

    if len(norm) > MAX_SLOW_TEXT:  # the library's path costs ~1.3 s per 10,000 characters
        return len(norm), not has_invalid_characters(norm)  # and is far over 280 anyway
    return parse_tweet(text).weightedLength, not has_invalid_characters(norm)
