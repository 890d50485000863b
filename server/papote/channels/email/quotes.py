"""What a person wrote in an email reply, without what they quoted or their signature. Pure functions.

Mail clients quote in a handful of shapes: a header line (`On … wrote:`, `Le … a écrit :`), an Outlook
header block (`From:`/`De :` then `Sent:`/`Envoyé :`…), a `-----Original Message-----` rule, `>`-prefixed
lines; they sign with `-- ` or a device line (`Sent from my iPhone`). `strip_text` cuts at the first of
these; `html_to_text` first drops the quoting elements of HTML-only mail (`blockquote`, Gmail's
`gmail_quote`, Outlook's `divRplyFwdMsg`/`appendonsend`, Thunderbird's `moz-cite-prefix`). Interleaved
answers (a `>` block, then an answer, then another block) keep the answers and lose the quoted lines.

Left out on purpose: heuristics on names and long signatures with no delimiter (they would eat real
text); the full body is kept on the message's data for the agent who needs it.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

#: An attribution line. English and French clients (Gmail, Apple Mail, Thunderbird), and German; a line
#: folded by the client is joined with the next before matching (`_attribution_at`).
_ATTRIBUTION = [
    re.compile(r"^\s*On\b.{0,200}\bwrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Le\b.{0,200}\ba\s+écrit\s*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Am\b.{0,200}\bschrieb\b.{0,100}:\s*$", re.IGNORECASE),
]
_RULES = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Message d'origine|Message original|Ursprüngliche Nachricht)\s*-{2,}"
    r"|_{20,}|-{5,}\s*Forwarded message\s*-{5,})\s*$",
    re.IGNORECASE,
)
#: Outlook's header block: a From line followed, within the next lines, by Sent/Date and To/Subject.
_FROM = re.compile(r"^\s*\**(From|De|Von)\s*:\**\s", re.IGNORECASE)
_SENT = re.compile(r"^\s*\**(Sent|Date|Envoyé|Gesendet)\s*:\**\s", re.IGNORECASE)
_TO = re.compile(r"^\s*\**(To|À|A|An|Subject|Objet|Betreff|Cc)\s*:\**\s", re.IGNORECASE)
_SIGNATURE = re.compile(
    r"^\s*(--|-- |__"
    r"|Sent from my \w+.*|Sent from (Mail|Outlook|Yahoo Mail) for \w+.*|Get Outlook for \w+.*"
    r"|Envoyé de mon \w+.*|Envoyé depuis mon \w+.*|Obtenir Outlook pour \w+.*"
    r"|Von meinem \w+ gesendet.*)\s*$",
    re.IGNORECASE,
)


def _attribution_at(lines: list[str], i: int) -> bool:
    line = lines[i]
    if any(p.match(line) for p in _ATTRIBUTION):
        return True
    # Gmail folds a long attribution: "On Mon, … Papote <" / "reply+…> wrote:".
    if i + 1 < len(lines) and re.match(r"^\s*(On|Le|Am)\b", line, re.IGNORECASE):
        joined = line.rstrip() + " " + lines[i + 1].strip()
        return any(p.match(joined) for p in _ATTRIBUTION)
    return False


def _outlook_block_at(lines: list[str], i: int) -> bool:
    if not _FROM.match(lines[i]):
        return False
    following = lines[i + 1:i + 6]
    return any(_SENT.match(x) for x in following) and any(_TO.match(x) for x in following)


def strip_text(text: str) -> str:
    """The new text of a plain-text reply: no quote, no signature, no trailing blank lines."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _attribution_at(lines, i) or _RULES.match(line) or _outlook_block_at(lines, i):
            break
        if _SIGNATURE.match(line):
            break
        if line.lstrip().startswith(">"):
            continue  # a quoted line; an answer written between two quoted blocks stays
        kept.append(line.rstrip())
    while kept and not kept[-1].strip():
        kept.pop()
    while kept and not kept[0].strip():
        kept.pop(0)
    out = "\n".join(kept)
    return re.sub(r"\n{3,}", "\n\n", out)


# -- HTML --------------------------------------------------------------------------------------------------

_BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "pre", "hr"}
_SKIP = {"style", "script", "head", "title"}
_VOID = {"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base", "source"}
#: Elements that hold a quote; the rest of the message after a marker of Outlook's is quote too.
_QUOTE_CLASSES = {"gmail_quote", "gmail_attr", "moz-cite-prefix", "yahoo_quoted", "protonmail_quote"}
_STOP_IDS = {"divrplyfwdmsg", "appendonsend", "stopspelling", "mail-editor-reference-message-container"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping: list[str] = []  # the stack of open tags inside a skipped element
        self.stopped = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.stopped:
            return
        found = dict(attrs)
        classes = set((found.get("class") or "").split())
        if self.skipping:
            if tag not in _VOID:
                self.skipping.append(tag)
            return
        if (found.get("id") or "").lower() in _STOP_IDS:
            self.stopped = True
            return
        if tag == "blockquote" or tag in _SKIP or classes & _QUOTE_CLASSES:
            if tag not in _VOID:
                self.skipping.append(tag)
            return
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.skipping and not self.stopped and tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self.stopped:
            return
        if self.skipping:
            # Close up to the matching tag (HTML in mail is often not well nested).
            if tag in self.skipping:
                while self.skipping and self.skipping.pop() != tag:
                    pass
            return
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping and not self.stopped:
            self.parts.append(re.sub(r"[ \t\r\n]+", " ", data))


def html_to_text(markup: str) -> str:
    """The visible text of an HTML mail without its quoting elements, one line per block."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    text = html.unescape("".join(parser.parts)).replace("\xa0", " ")
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def strip_html(markup: str) -> str:
    """The new text of an HTML-only reply."""
    return strip_text(html_to_text(markup))
