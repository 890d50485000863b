"""The quote and signature stripper (channels/email/quotes.py) on the reply shapes mail clients produce."""

from __future__ import annotations

import pytest

from papote.channels.email.quotes import html_to_text, strip_html, strip_text

GMAIL = """Thanks, that fixed it!

See you,
Ann

On Mon, 7 Dec 2026 at 10:02, Shop <reply+abc.def@mail.shop.test> wrote:

> Léa:
> Try clearing the cache.
"""

GMAIL_WRAPPED = """Parfait, merci.

Le lun. 7 déc. 2026 à 10:02, Shop <
reply+abc.def@mail.shop.test> a écrit :

> Essayez de vider le cache.
"""

OUTLOOK_EN = """Yes, order 1234.

________________________________
From: Shop <reply+abc.def@mail.shop.test>
Sent: Monday, December 7, 2026 10:02 AM
To: ann@example.test
Subject: Your conversation with Shop

Léa:
Which order is it?
"""

OUTLOOK_FR = """Oui, la commande 1234.

De : Shop <reply+abc.def@mail.shop.test>
Envoyé : lundi 7 décembre 2026 10:02
À : ann@example.test
Objet : Votre conversation avec Shop

Léa :
De quelle commande s'agit-il ?
"""

APPLE = """It works now.

Sent from my iPhone

> On 7 Dec 2026, at 10:02, Shop <reply+abc.def@mail.shop.test> wrote:
>
> Try clearing the cache.
"""

THUNDERBIRD = """Here is the screenshot you asked for.

--\u0020
Ann Example
Head of purchasing, Example Ltd

On 07/12/2026 10:02, Shop wrote:
> Could you send a screenshot?
"""

ORIGINAL_MESSAGE = """Still broken, sorry.

-----Original Message-----
From: Shop [mailto:reply+abc.def@mail.shop.test]
Sent: 07 December 2026 10:02
Subject: Your conversation with Shop

Try clearing the cache.
"""

TOP_POSTED_QUOTE = """No luck, same error.
> Léa: Try clearing the cache.
> Léa: And restart the browser.
"""

INTERLEAVED = """> Which browser?
Firefox 140.
> And which page?
The checkout.
"""

SHAPES = [
    ("gmail", GMAIL, "Thanks, that fixed it!\n\nSee you,\nAnn"),
    ("gmail French, wrapped attribution", GMAIL_WRAPPED, "Parfait, merci."),
    ("outlook English", OUTLOOK_EN, "Yes, order 1234."),
    ("outlook French", OUTLOOK_FR, "Oui, la commande 1234."),
    ("apple mail, sent from my iPhone", APPLE, "It works now."),
    ("thunderbird with a signature", THUNDERBIRD, "Here is the screenshot you asked for."),
    ("original message rule", ORIGINAL_MESSAGE, "Still broken, sorry."),
    ("top-posted with a > block", TOP_POSTED_QUOTE, "No luck, same error."),
    ("interleaved answers", INTERLEAVED, "Firefox 140.\nThe checkout."),
]


@pytest.mark.parametrize(("shape", "mail", "expected"), SHAPES, ids=[s[0] for s in SHAPES])
def test_text_replies_keep_only_what_was_written(shape: str, mail: str, expected: str) -> None:
    assert strip_text(mail) == expected
    assert strip_text(mail.replace("\n", "\r\n")) == expected


GMAIL_HTML = """<div dir="ltr">Thanks, <b>that</b> fixed it!<br><br>Ann</div><br>
<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, 7 Dec 2026 at 10:02, Shop wrote:<br></div>
<blockquote class="gmail_quote" style="margin:0 0 0 .8ex">Try clearing the cache.</blockquote></div>"""

OUTLOOK_HTML = """<html><head><style>p {margin:0}</style></head><body>
<div>Yes, order&nbsp;1234.</div>
<div id="appendonsend"></div>
<hr><div id="divRplyFwdMsg"><b>From:</b> Shop<br><b>Sent:</b> Monday</div>
<div>Which order is it?</div></body></html>"""

APPLE_HTML = """<html><body><div>Fixed, thank you &amp; bye.</div><div><br></div>
<div>Sent from my iPhone</div><div><br><blockquote type="cite">On 7 Dec 2026, Shop wrote:<br>
<div>Try clearing the cache.</div></blockquote></div></body></html>"""


@pytest.mark.parametrize(("markup", "expected"), [
    (GMAIL_HTML, "Thanks, that fixed it!\n\nAnn"),
    (OUTLOOK_HTML, "Yes, order 1234."),
    (APPLE_HTML, "Fixed, thank you & bye."),
], ids=["gmail html-only", "outlook html-only", "apple html-only"])
def test_html_only_replies_keep_only_what_was_written(markup: str, expected: str) -> None:
    assert strip_html(markup) == expected


def test_html_text_keeps_the_quote_when_asked_for_the_whole() -> None:
    assert "Ann" in html_to_text(GMAIL_HTML) and "<" not in html_to_text(GMAIL_HTML)


def test_a_reply_of_only_a_quote_is_empty() -> None:
    assert strip_text("> just the quote\n> again\n") == ""
