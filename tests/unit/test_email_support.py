"""Email as a channel, the pure parts: which conversation a mail's references name, the contact's key."""

from __future__ import annotations

from papote.channels.email import tokens
from papote.channels.email.support import client_msg_id, contact_token_hash, conversations_named

CID = "c_" + "A" * 21 + "w"


def test_our_message_ids_name_their_conversation() -> None:
    code = tokens.conversation_code(CID)
    ours = [f"<papote.{code}.7.abcd1234@reply.shop.test>", f"<papote.{code}@reply.shop.test>"]
    assert conversations_named(["<ann-1@example.test>", *ours]) == [CID]
    assert conversations_named(["<ann-1@example.test>", "<papote.confirm.0123456789abcdef@x>"]) == []
    assert conversations_named([]) == []


def test_the_contact_key_is_per_site_and_address() -> None:
    assert contact_token_hash("s_1", "ann@example.test") == contact_token_hash("s_1", "ann@example.test")
    assert contact_token_hash("s_1", "ann@example.test") != contact_token_hash("s_2", "ann@example.test")
    assert contact_token_hash("s_1", "ann@example.test") != contact_token_hash("s_1", "bob@example.test")


def test_the_dedupe_key_is_the_message_id() -> None:
    assert client_msg_id("<a@b>", b"one") == client_msg_id("<a@b>", b"two")
    assert client_msg_id("", b"one") != client_msg_id("", b"two")
    assert len(client_msg_id("<" + "x" * 900 + "@b>", b"")) <= 64
