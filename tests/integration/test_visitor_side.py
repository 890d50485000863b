"""The visitor's side through a real server: proactive rules remembered per person across devices
(`fired`), continuing on another device with a typed code on an open socket (`redeem`) or a link's code at
hello, the link's QR code, and the site's texts per language."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import PapoteServer, identify, new_msg_id, visitor

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]

RULES = [{"id": "welcome", "trigger": "url", "url": "*", "message": "Need help?"},
         {"id": "cart", "trigger": "event", "event": "add_to_cart", "message": "Free shipping today"}]


def patch_settings(server: PapoteServer, settings: dict[str, Any]) -> tuple[int, Any]:
    status, body, _ = server.http("PATCH", f"/api/sites/{server.site_key}", {"settings": settings},
                                  cookie=server.login())
    return status, body


async def test_a_rule_shown_to_a_person_is_known_on_their_other_devices(papote_server: PapoteServer) -> None:
    server = papote_server
    assert patch_settings(server, {"rules": RULES})[0] == 200
    laptop = await visitor(server)
    assert laptop.welcome["fired"] == []
    await identify(server, laptop, "user-7")
    await laptop.send({"t": "fired", "ref": 1, "rule": "welcome"})
    await laptop.expect("ok", ref=1)
    await laptop.send({"t": "fired", "ref": 2, "rule": "welcome"})  # again: still once, still ok
    await laptop.expect("ok", ref=2)
    # A rule the site does not have is refused, and stores nothing.
    await laptop.send({"t": "fired", "ref": 3, "rule": "made-up"})
    assert (await laptop.expect("error", ref=3))["code"] == "not_found"
    await laptop.send({"t": "fired", "ref": 4, "rule": "bad id!"})
    assert (await laptop.expect("error", ref=4))["code"] == "bad_field"

    # The phone arrives anonymous: nothing fired for it yet; once identified, the person's rules.
    phone = await visitor(server)
    assert phone.welcome["fired"] == []
    identified = await identify(server, phone, "user-7")
    assert identified["fired"] == ["welcome"]
    # Back on the phone with its token: the welcome says it at once.
    again = await visitor(server, token=identified["token"])
    assert again.welcome["fired"] == ["welcome"]
    # An anonymous visitor's rules join the person's when they identify (a merge).
    tablet = await visitor(server)
    await tablet.send({"t": "fired", "ref": 5, "rule": "cart"})
    await tablet.expect("ok", ref=5)
    assert sorted((await identify(server, tablet, "user-7"))["fired"]) == ["cart", "welcome"]
    # Another person is another person.
    stranger = await visitor(server)
    assert (await identify(server, stranger, "user-8"))["fired"] == []


async def test_a_typed_code_continues_on_an_open_socket(papote_server: PapoteServer) -> None:
    server = papote_server
    laptop = await visitor(server)
    await laptop.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "hi"})
    cid = (await laptop.expect("ack", ref=1))["conversation"]
    await laptop.send({"t": "link", "ref": 2})
    link = await laptop.expect("link", ref=2)
    assert "url" not in link and "qr" not in link

    phone = await visitor(server)
    await phone.send({"t": "redeem", "ref": 3, "code": "WRONGCODE2"})
    wrong = await phone.expect("error", ref=3)
    assert wrong["code"] == "not_found" and wrong["frame"] == "redeem"
    # Typed in lower case, as a phone keyboard does: the code is the code.
    await phone.send({"t": "redeem", "ref": 4, "code": link["code"].lower()})
    linked = await phone.expect("linked", ref=4)
    assert linked["visitor"]["id"] == laptop.welcome["visitor"]["id"]
    assert [c["id"] for c in linked["conversations"]] == [cid] and linked["token"]
    # The socket speaks for the laptop's visitor now: it sends into the thread and the laptop sees it.
    await phone.send({"t": "send", "ref": 5, "conversation": cid, "client_msg_id": new_msg_id(), "body": "phone"})
    await phone.expect("ack", ref=5)
    assert (await laptop.expect("message", body="phone"))["conversation"] == cid
    # The code was single-use.
    other = await visitor(server)
    await other.send({"t": "redeem", "ref": 6, "code": link["code"]})
    assert (await other.expect("error", ref=6))["code"] == "not_found"
    # The new token opens the same visitor later.
    back = await visitor(server, token=linked["token"])
    assert back.welcome["visitor"]["id"] == laptop.welcome["visitor"]["id"]


async def test_a_wrong_code_at_hello_is_said_and_codes_tried_are_limited(papote_server: PapoteServer) -> None:
    server = papote_server
    first = await visitor(server, link_code="NOSUCHCODE")
    refused = await first.expect("error", frame="hello")
    assert refused["code"] == "not_found"
    token = first.welcome["token"]  # it arrived as a new anonymous visitor all the same
    tries = 1
    client = first
    while tries < 25:
        await client.send({"t": "redeem", "ref": tries, "code": "NOSUCHCODE"})
        answer = await client.expect("error", ref=tries)
        tries += 1
        if answer["code"] == "rate_limited":
            break
        assert answer["code"] == "not_found"
    assert answer["code"] == "rate_limited" and tries <= 22
    # Over the budget even a right code waits: guessing cannot go on by changing the code.
    owner = await visitor(server, token=token)
    await owner.send({"t": "link", "ref": 1})
    code = (await owner.expect("link", ref=1))["code"]
    await client.send({"t": "redeem", "ref": 99, "code": code})
    assert (await client.expect("error", ref=99))["code"] == "rate_limited"


async def test_the_link_comes_with_its_url_and_qr_code(papote_server: PapoteServer) -> None:
    server = papote_server
    client = await visitor(server)
    page = server.base_url + "/demo/?item=lamp"
    await client.send({"t": "link", "ref": 1, "url": page + "#section"})
    link = await client.expect("link", ref=1)
    assert link["url"] == f"{page}#papote={link['code']}"
    assert link["qr"]["size"] > 21 and link["qr"]["path"].startswith("M")
    # A page elsewhere than the site's origins gets no QR code of ours.
    await client.send({"t": "link", "ref": 2, "url": "https://evil.example/phish"})
    assert (await client.expect("error", ref=2))["code"] == "bad_field"


async def test_texts_per_language_are_validated_and_published(papote_server: PapoteServer) -> None:
    server = papote_server
    texts = {"greeting": "Hello!", "away": "We are out.", "rules": RULES,
             "translations": {"fr": {"greeting": "Bonjour !", "away": "Nous sommes absents.",
                                     "rules": {"welcome": "Besoin d'aide ?", "cart": ""}}}}
    status, body = patch_settings(server, texts)
    assert status == 200, body
    saved = body["settings"]
    # An empty text is the default one: not stored.
    assert saved["translations"] == {"fr": {"greeting": "Bonjour !", "away": "Nous sommes absents.",
                                            "rules": {"welcome": "Besoin d'aide ?"}}}
    client = await visitor(server, locale="fr")
    site = client.welcome["site"]
    assert site["away"] == "We are out." and site["translations"]["fr"]["greeting"] == "Bonjour !"
    for bad in ({"translations": {"french": {"greeting": "x"}}},
                {"translations": {"fr": {"subject": "x"}}},
                {"translations": {"fr": {"greeting": "x" * 501}}},
                {"translations": {"fr": {"rules": {"bad id!": "x"}}}},
                {"away": 3}):
        status, body = patch_settings(server, bad)
        assert status == 400 and body["error"]["code"] == "bad_field", (bad, body)
    # A rule removed takes its translations with it.
    status, body = patch_settings(server, {"rules": RULES[1:]})
    assert status == 200 and body["settings"]["translations"]["fr"].get("rules", {}) == {}
    # The French visitor's answer to a proactive message quotes the French text.
    status, body = patch_settings(server, {"rules": RULES,
                                           "translations": {"fr": {"rules": {"cart": "Livraison offerte"}}}})
    assert status == 200
    french = await visitor(server, locale="fr", device={"lang": "fr-FR"})
    await french.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(),
                       "body": "Super", "answers": "cart"})
    cid = (await french.expect("ack", ref=1))["conversation"]
    status, page, _ = server.http("GET", f"/api/conversations/{cid}/messages", cookie=server.login())
    assert page["messages"][0]["data"]["proactive"] == {"rule": "cart", "message": "Livraison offerte"}
