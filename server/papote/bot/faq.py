"""Which FAQ entry answers a visitor's words: token overlap, no model.

A question and an entry are reduced to their significant tokens (case and accents folded, short words
and a few stop words of English and French dropped, a plural's final s taken off). The entry sharing the
most tokens with the question wins, if it shares enough: at least one token covering at least a third of
the question's tokens, or two tokens. "Where is my parcel?" finds "Where is my order / parcel tracking";
"hello" finds nothing (and the bot says it did not understand rather than guess).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

#: Words that say nothing about the subject (English and French, the languages the widget ships in).
STOP_WORDS = frozenset(
    "the and for you your are can how what when where which who why with this that have has from does "
    "not but our out get any was will would could should about there here them they its into please "
    "les des une est pour que qui quoi dans par sur avec vous votre vos nous mon mes ton pas plus "
    "comment quand quel quelle quels quelles est-ce estce cette ces aux etre avoir fait faire".split()
)
#: Tokens shorter than this are dropped ("is", "my", "de"): they match everything.
MIN_TOKEN = 3
#: An entry needs at least this share of the question's tokens when it shares a single one.
MIN_SHARE = 1 / 3

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def fold(text: str) -> str:
    """Lower case without accents: "Épuisé" → "epuise"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text: str) -> frozenset[str]:
    out = set()
    for word in _WORD.findall(fold(text)):
        if len(word) < MIN_TOKEN or word in STOP_WORDS:
            continue
        if len(word) > MIN_TOKEN + 1 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]  # parcels → parcel, commandes → commande
        out.add(word)
    return frozenset(out)


def best_entry(question: str, entries: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The entry (`{id, question, keywords, answer}`) that answers `question`, or None. Ties go to the
    entry listed first: the site owner orders them."""
    asked = tokens(question)
    if not asked:
        return None
    best: tuple[int, dict[str, Any]] | None = None
    for entry in entries:
        known = tokens(entry.get("question", "") + " " + " ".join(entry.get("keywords", [])))
        shared = len(asked & known)
        if shared == 0 or (shared < 2 and shared / len(asked) < MIN_SHARE):
            continue
        if best is None or shared > best[0]:
            best = (shared, entry)
    return best[1] if best else None
