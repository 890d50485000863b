"""Signed email tokens (channels/email/tokens.py) and digest rendering (render.py): pure parts."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from papote.channels.email import render, tokens
from papote.channels.email.inbound import MailKind, read_mail
from papote.ids import new_id
from papote.store import Message
from papote.types import AuthorKind, MessageKind

SECRET, OLD = "sec_current", "sec_previous"


def test_a_reply_address_round_trips_and_survives_lowercasing() -> None:
    cid = new_id("c")
    address = tokens.reply_address(SECRET, cid, "mail.shop.test")
    local = address.split("@")[0]
    assert len(local) <= 64 and local.startswith("reply+")
    for form in (address, address.upper(), f"<{address}>"):
        token = tokens.parse_reply_address(form, "mail.shop.test")
        assert token is not None and token.conversation_id == cid
        assert tokens.verify_reply([SECRET], token)
    assert tokens.verify_reply([OLD, SECRET], tokens.parse_reply_address(address, "mail.shop.test"))  # type: ignore[arg-type]


def test_a_forged_or_foreign_reply_address_does_not_verify() -> None:
    cid, other = new_id("c"), new_id("c")
    good = tokens.parse_reply_address(tokens.reply_address(SECRET, cid, "m.test"), "m.test")
    assert good is not None
    assert not tokens.verify_reply(["another-site-secret"], good)
    # The MAC of one conversation does not open another.
    moved = tokens.ReplyToken(other, good.mac)
    assert not tokens.verify_reply([SECRET], moved)
    assert tokens.parse_reply_address(tokens.reply_address(SECRET, cid, "m.test"), "other.test") is None
    assert tokens.parse_reply_address("support@m.test", "m.test") is None
    assert tokens.parse_reply_address("reply+zz.zz@m.test", "m.test") is None


def test_links_are_signed_for_one_purpose_and_expire() -> None:
    claim = tokens.LinkClaim("confirm", "s_1", "ann@example.test", "v_1", expires_at=2_000)
    token = tokens.sign_link(SECRET, claim)
    assert tokens.verify_link([SECRET], token, "confirm", 1_000) == claim
    assert tokens.verify_link([SECRET], token, "confirm", 2_001) is None  # expired
    assert tokens.verify_link([SECRET], token, "unsubscribe", 1_000) is None  # another purpose
    assert tokens.verify_link(["other"], token, "confirm", 1_000) is None
    body, _, sig = token.partition(".")
    tampered = tokens.sign_link(SECRET, tokens.LinkClaim("confirm", "s_1", "eve@example.test", "v_1", 2_000))
    assert tokens.verify_link([SECRET], tampered.split(".")[0] + "." + sig, "confirm", 1_000) is None
    assert tokens.verify_link([SECRET], "garbage", "confirm", 0) is None


def _msg(seq: int, body: str) -> Message:
    return Message("c_x", seq, MessageKind.TEXT, AuthorKind.AGENT, "a_1", "Léa", None, body, None, None, 0)


def test_a_digest_renders_text_and_html_with_threading_and_unsubscribe() -> None:
    threading = render.Threading("<p.2@m.test>", "<p.1@m.test>", ["<root@m.test>", "<p.1@m.test>"])
    payload = render.digest("Shop", "fr", [_msg(3, "Bonjour <b>!"), _msg(5, "Encore là ?")],
                            reply_to="reply+x.y@m.test", unsubscribe="https://papote.test/email/unsubscribe?t=a",
                            threading=threading)
    assert payload["subject"] == "Votre conversation avec Shop" and payload["seqs"] == [3, 5]
    msg = render.build_message(payload, "support@shop.test", "ann@example.test")
    parsed = BytesParser(policy=policy.default).parsebytes(msg.as_bytes())
    assert parsed["Message-ID"] == "<p.2@m.test>" and parsed["In-Reply-To"] == "<p.1@m.test>"
    assert parsed["References"] == "<root@m.test> <p.1@m.test>"
    assert parsed["Auto-Submitted"] == "auto-generated" and parsed["Reply-To"] == "reply+x.y@m.test"
    assert parsed["List-Unsubscribe"] == "<https://papote.test/email/unsubscribe?t=a>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Shop vous a envoyé 2 réponses" in text and "Bonjour <b>!" in text and "Encore là ?" in text
    assert "Bonjour &lt;b&gt;!" in html and 'lang="fr"' in html
    # Our own digest, were it to come back to us, reads as automatic: no loop.
    assert read_mail(msg.as_bytes()).kind is MailKind.AUTOMATIC


def test_a_confirmation_request_says_nothing_of_the_conversation() -> None:
    payload = render.confirmation("Shop", "en", confirm="https://p.test/email/confirm?t=z", message_id="<c@m>")
    assert "https://p.test/email/confirm?t=z" in payload["text"] and payload["reply_to"] == ""
    assert render.language("fr-FR", "en") == "fr" and render.language(None, "auto") == "en"


def test_inbound_kinds() -> None:
    reply = b"From: Ann <Ann@Example.test>\r\nMessage-ID: <a1@x>\r\nIn-Reply-To:\r\n <p.1@m.test>\r\n" \
            b"Subject: Re\r\n\r\nYes!\r\n\r\nOn Mon, Shop wrote:\r\n> hi\r\n"
    mail = read_mail(reply)
    assert (mail.kind, mail.sender, mail.text) == (MailKind.REPLY, "ann@example.test", "Yes!")
    assert mail.message_id == "<a1@x>"
    assert mail.references == ["<p.1@m.test>"]
    ooo = b"From: a@x\r\nAuto-Submitted: auto-replied\r\n\r\nI am away.\r\n"
    assert read_mail(ooo).kind is MailKind.AUTOMATIC
    assert read_mail(b"From: a@x\r\nPrecedence: bulk\r\n\r\nNews\r\n").kind is MailKind.AUTOMATIC
    assert read_mail(b"From: a@x\r\nX-Autoreply: yes\r\n\r\nAway\r\n").kind is MailKind.AUTOMATIC
    assert read_mail(b"From: a@x\r\n\r\nHi\r\n", envelope_sender="<>").kind is MailKind.AUTOMATIC
    dsn = (b"From: MAILER-DAEMON@x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; "
           b"report-type=delivery-status; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nFailed.\r\n"
           b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
           b"Final-Recipient: rfc822; Ann@Example.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--B--\r\n")
    bounce = read_mail(dsn)
    assert bounce.kind is MailKind.BOUNCE and bounce.failed == ["ann@example.test"]


def test_retries_back_off_exponentially_within_bounds() -> None:
    from papote.channels.outbox import FIRST_RETRY_MS, MAX_RETRY_MS, backoff_ms

    assert backoff_ms(1, lambda: 0.5) == FIRST_RETRY_MS
    assert backoff_ms(3, lambda: 0.5) == 4 * FIRST_RETRY_MS
    assert backoff_ms(30, lambda: 1.0) == int(MAX_RETRY_MS * 1.2)
    assert backoff_ms(1, lambda: 0.0) == int(FIRST_RETRY_MS * 0.8)


def test_smtp_urls() -> None:
    from papote.channels.email.smtp import parse_smtp_url

    s = parse_smtp_url("smtp://user%40x:p%3Ass@relay.test:2525?starttls=require")
    assert (s.host, s.port, s.username, s.password, s.use_tls, s.start_tls) == (
        "relay.test", 2525, "user@x", "p:ss", False, True)
    t = parse_smtp_url("smtps://relay.test?verify=off")
    assert (t.port, t.use_tls, t.start_tls, t.validate_certs, t.username) == (465, True, False, False, None)


def test_an_html_only_reply_is_read_from_its_html() -> None:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "Ann <ann@example.test>"
    msg["Message-ID"] = "<h1@x>"
    msg.set_content('<div dir="ltr">Yes, <b>size M</b>.</div><div class="gmail_quote">On Mon, Shop wrote:'
                    "<blockquote>Which size?</blockquote></div>", subtype="html")
    mail = read_mail(msg.as_bytes())
    assert (mail.kind, mail.text) == (MailKind.REPLY, "Yes, size M.")
    assert "Which size?" not in mail.text
