"""The spam and abuse filter's rules, and the NPS arithmetic: pure functions, tested without a server.

A visitor's message is judged on what it says and how fast its author writes; a message any rule
flags is *held* for an agent to review (never silently dropped: a false positive costs a customer).
The rules, each with the reason code it gives:

* `words`: the message contains a word or phrase of the site's list (`spam_words`), compared without
  case or accents, on word boundaries ("sex" does not flag "Essex");
* `links`: more links than the site allows (`spam_max_links`; bare domains like shop.example count);
* `rate`: the author sent more than `spam_rate` messages in the last minute (a person types slower).

The site settings that drive them are checked here too (`check_setting`), so sites.py stays about sites.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from papote.errors import ErrorCode, PapoteError

#: The window of the rate rule: a minute is long enough to tell a script from a fast typist.
RATE_WINDOW_MS = 60_000
#: At most this many words in a list: a list is scanned per message, and a site's slurs and spam
#: phrases fit well under it.
MAX_WORDS = 500
MAX_WORD_CHARS = 60

#: The settings of moderation and NPS, with their defaults (merged into sites.DEFAULTS).
DEFAULTS: dict[str, Any] = {
    #: Words and phrases that hold a message for review; empty turns the content rule off.
    "spam_words": [],
    #: More links than this in one message hold it; None (the default) turns the rule off. Every rule
    #: is a site's choice: a filter on by default would hold messages a site never asked to review
    #: (a shop's customers paste order links; a load test sends a message a second). 3 is a good start.
    "spam_max_links": None,
    #: More messages than this within RATE_WINDOW_MS hold the next ones; None (the default) turns the
    #: rule off. 20 a minute is beyond anyone typing, short of pasting.
    "spam_rate": None,
    #: The NPS survey after a conversation closes (widget, and email to a visitor who left).
    "nps_enabled": False,
    #: A visitor is asked at most once in this many days, whatever the number of their conversations.
    "nps_every_days": 90,
}

_LINK = re.compile(
    r"(?:https?://|www\.)\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|info|biz|io|ru|cn|xyz|top|click|"
    r"link|site|online|shop|fr|de|uk|co)\b(?:/\S*)?",
    re.IGNORECASE)


def fold(text: str) -> str:
    """Lowercase without accents: "Crédit" and "credit" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def count_links(text: str) -> int:
    return len(_LINK.findall(text))


def matched_words(text: str, words: list[str]) -> list[str]:
    """The listed words or phrases that occur in `text` as whole words."""
    if not words:
        return []  # the common case: no list, no normalising of every message
    folded = fold(text)
    found = []
    for word in words:
        w = fold(word).strip()
        if w and re.search(r"(?<!\w)" + re.escape(w) + r"(?!\w)", folded):
            found.append(word)
    return found


@dataclass(frozen=True, slots=True)
class Verdict:
    #: Reason codes, in rule order; empty means the message goes through.
    reasons: tuple[str, ...] = ()
    words: tuple[str, ...] = field(default=())

    @property
    def held(self) -> bool:
        return bool(self.reasons)


def judge(body: str, settings: dict[str, Any], recent: int) -> Verdict:
    """Whether to hold a message. `recent`: the author's messages in the last RATE_WINDOW_MS,
    this one excluded."""
    reasons: list[str] = []
    words = matched_words(body, settings.get("spam_words") or [])
    if words:
        reasons.append("words")
    max_links = settings.get("spam_max_links")
    if max_links is not None and count_links(body) > max_links:
        reasons.append("links")
    rate = settings.get("spam_rate")
    if rate is not None and recent >= rate:
        reasons.append("rate")
    return Verdict(tuple(reasons), tuple(words))


class RecentSends:
    """Each author's send times within the window, in memory (per node: a visitor's socket is on one
    node, and a flood through several nodes at once is the rate limits' business). Bounded: the
    authors idle longest are forgotten first."""

    def __init__(self, max_authors: int = 50_000) -> None:
        self._times: dict[str, list[int]] = {}
        self._max = max_authors

    def count_and_add(self, author: str, now: int) -> int:
        """Sends by `author` in the window before `now`; then counts this one."""
        times = [t for t in self._times.pop(author, []) if t > now - RATE_WINDOW_MS]
        recent = len(times)
        times.append(now)
        self._times[author] = times  # re-inserted: dicts keep order, so the oldest authors come first
        if len(self._times) > self._max:
            del self._times[next(iter(self._times))]
        return recent


# -- NPS -------------------------------------------------------------------------------------------

def nps_category(score: int) -> str:
    """9–10 promoter, 7–8 passive, 0–6 detractor (the standard NPS bands)."""
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def nps_score(scores: Iterable[int]) -> float | None:
    """% promoters − % detractors, from −100 to 100 (one decimal); None with no answer."""
    values = list(scores)
    if not values:
        return None
    promoters = sum(1 for s in values if s >= 9)
    detractors = sum(1 for s in values if s <= 6)
    return round(100 * (promoters - detractors) / len(values), 1)


# -- settings --------------------------------------------------------------------------------------

def _bad(message: str) -> PapoteError:
    return PapoteError(message, ErrorCode.BAD_FIELD)


def check_setting(key: str, value: Any) -> Any:
    """The checked value of one of DEFAULTS' settings, or `bad_field`."""
    if key == "spam_words":
        if (not isinstance(value, list) or len(value) > MAX_WORDS
                or not all(isinstance(w, str) and 0 < len(w.strip()) <= MAX_WORD_CHARS for w in value)):
            raise _bad(f"spam_words must list at most {MAX_WORDS} words of 1 to {MAX_WORD_CHARS} characters")
        return list(dict.fromkeys(w.strip() for w in value))
    if key in ("spam_max_links", "spam_rate"):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000):
            raise _bad(f"{key} must be a whole number from 0 to 1000, or null to turn the rule off")
        return value
    if key == "nps_enabled":
        if not isinstance(value, bool):
            raise _bad("nps_enabled must be true or false")
        return value
    if key == "nps_every_days":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
            raise _bad("nps_every_days must be a whole number of days from 1 to 3650")
        return value
    raise _bad(f"unknown setting '{key}'")
