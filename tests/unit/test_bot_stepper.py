"""The bot's pure step, without a server: every rule that keeps a visitor from being trapped, plus
property tests over random trees and random visitors (every bot message offers a person; asking for
one always gets one; nothing after a handover)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papote.bot import faq
from papote.bot.stepper import (
    GO,
    MAX_MISSES,
    PERSON,
    Context,
    Handover,
    Input,
    Phase,
    Remember,
    Resolved,
    Say,
    State,
    step,
    tapped,
    validate,
)
from papote.bot.tree import check_bot
from papote.errors import PapoteError

SHOP: dict[str, Any] = check_bot({
    "enabled": True, "name": "Papote", "start": "hello",
    "nodes": [
        {"id": "hello", "kind": "buttons", "text": "Hi! What is it about?",
         "options": [{"label": "My order", "next": "order"}, {"label": "Questions", "next": "ask"},
                     {"label": "All done", "next": "bye"}]},
        {"id": "order", "kind": "question", "field": "order", "text": "Your order number?", "next": "mail"},
        {"id": "mail", "kind": "question", "field": "email", "text": "Your email?", "next": "hours"},
        {"id": "hours", "kind": "branch", "on": "open", "yes": "pass", "no": "closed"},
        {"id": "closed", "kind": "message", "text": "We are closed, but we keep your question.", "next": "pass"},
        {"id": "pass", "kind": "handover", "text": "A colleague takes it from here.", "group": "sales"},
        {"id": "ask", "kind": "faq", "text": "Ask me anything."},
        {"id": "bye", "kind": "end", "text": "Glad I could help!"},
    ],
    "faq": [{"id": "ship", "question": "How long does shipping take?", "keywords": ["delivery", "parcel"],
             "answer": "2 to 4 working days."},
            {"id": "back", "question": "How do I return an item?", "keywords": ["refund"],
             "answer": "Within 30 days, from your account."}],
    "handover_words": ["vendeur"],
})
OPEN = Context(open_now=True, agents_online=1, page_url="https://shop.example/cart", language="en")
CLOSED = Context(open_now=False, agents_online=0, language="en")


def run(inputs: list[Input], ctx: Context = OPEN, bot: dict[str, Any] = SHOP) -> tuple[State, list[Any]]:
    state, out = State(), []
    for message in inputs:
        state, said = step(bot, state, message, ctx)
        out.append(said)
    return state, out


def texts(outputs: list[Any]) -> list[str]:
    return [o.text for o in outputs if isinstance(o, Say)]


def test_the_first_message_starts_the_tree_and_buttons_offer_a_person() -> None:
    state, [first] = run([Input("hello")])
    assert state.phase is Phase.ACTIVE and state.node == "hello"
    [say] = first
    assert say.text == "Hi! What is it about?"
    assert say.options == (("My order", GO + "order"), ("Questions", GO + "ask"), ("All done", GO + "bye"),
                           ("Talk to a person", PERSON))


def test_a_flow_collects_validated_answers_then_hands_over_to_the_group() -> None:
    state, outs = run([Input("hi"), Input("My order", GO + "order"), Input("it's #A-1234"),
                       Input("me at jo@shop.example please")])
    assert outs[2][0] == Remember("order", "A-1234")
    assert outs[3][0] == Remember("email", "jo@shop.example")
    assert outs[3][-1] == Handover("flow", "sales") and texts(outs[3]) == ["A colleague takes it from here."]
    assert state.phase is Phase.HANDED and state.fields == {"order": "A-1234", "email": "jo@shop.example"}


def test_a_typed_label_or_its_number_works_like_a_tap() -> None:
    assert run([Input("hi"), Input("  my ORDER ")])[0].node == "order"
    assert run([Input("hi"), Input("2")])[0].node == "ask"


def test_an_app_tap_is_its_number_typed_only_where_the_bot_offers_it_now() -> None:
    """A messaging app's button carries `qr:<place>:<value>`; it is checked against the node the bot
    waits at, since an old message's buttons stay tappable and a client can send any payload."""
    started, _ = run([Input("hi")])
    assert tapped(SHOP, started, "Questions", "qr:2:go:ask") == Input("2")
    assert tapped(SHOP, started, "x", "qr:3:person") == Input("x", PERSON)  # offered on every message
    for forged in ("qr:2:go:order", "qr:9:go:ask", "qr:0:go:ask", "qr:2:", "qr:x:go:ask", "go:ask", "", "qr:123:go:a"):
        assert tapped(SHOP, started, "x", forged) == Input("x", stale=True), forged
    at_order, _ = run([Input("hi"), Input("1")])
    assert tapped(SHOP, at_order, "Questions", "qr:2:go:ask").stale  # the first message's button, later


def test_a_stale_tap_asks_again_and_is_no_miss() -> None:
    state, outs = run([Input("hi"), Input("1"), Input("", stale=True), Input("", stale=True), Input("", stale=True)])
    assert state.phase is Phase.ACTIVE and state.node == "order" and state.misses == 0
    for said in outs[2:]:
        assert texts(said) == ["Sorry, I didn't understand that. Your order number?"]
    at_buttons, [said] = run([Input("hi"), Input("", stale=True)])[0], run([Input("hi"), Input("", stale=True)])[1][1:]
    assert at_buttons.node == "hello" and [o[1] for o in said[0].options] == [GO + "order", GO + "ask", GO + "bye",
                                                                                PERSON]
    # Out of hours, waiting for an email: the question again. After the end: writing again (a person).
    away, outs = run([Input("hi"), Input("help me, a human"), Input("", stale=True)], CLOSED)
    assert away.phase is Phase.AWAY_EMAIL and texts(outs[-1]) == [texts(outs[1])[0]]
    ended, _ = run([Input("hi"), Input("3"), Input("All done", stale=True)])
    assert ended.phase is Phase.HANDED and ended.reason == "after_end"


@pytest.mark.parametrize("words", ["I want a human", "AGENT", "une personne svp", "un conseiller",
                                   "Conseillère !", "le vendeur", "talk to someone"])
def test_handover_words_hand_over_at_once_from_anywhere(words: str) -> None:
    for before in ([], [Input("hi")], [Input("hi"), Input("x", GO + "order")], [Input("hi"), Input("x", GO + "ask")]):
        state, outs = run([*before, Input(words)])
        assert state.phase is Phase.HANDED and state.reason == "asked"
        assert isinstance(outs[-1][-1], Handover)


def test_the_person_option_hands_over() -> None:
    state, outs = run([Input("hi"), Input("Talk to a person", PERSON)])
    assert state.phase is Phase.HANDED and outs[-1][-1] == Handover("asked", None)


def test_two_answers_not_understood_hand_over() -> None:
    state, outs = run([Input("hi"), Input("blorp")])
    assert state.phase is Phase.ACTIVE and state.misses == 1
    assert texts(outs[-1])[0].startswith("Sorry, I didn't understand that.")
    assert outs[-1][0].options[-1] == ("Talk to a person", PERSON)
    state, outs = run([Input("hi"), Input("blorp"), Input("zzz")])
    assert state.phase is Phase.HANDED and state.reason == "not_understood"
    assert MAX_MISSES == 2


def test_an_invalid_answer_to_a_question_is_a_miss_that_re_asks() -> None:
    state, outs = run([Input("hi"), Input("x", GO + "mail"), Input("not an address")])
    assert state.misses == 1 and state.node == "mail"
    assert texts(outs[-1]) == ["That doesn't look like an email address. Your email?"]


def test_the_faq_answers_free_questions_anywhere_the_bot_waits() -> None:
    state, outs = run([Input("hi"), Input("where is my parcel? delivery time?")])
    assert texts(outs[-1]) == ["2 to 4 working days."] and state.misses == 0
    state, outs = run([Input("hi"), Input("x", GO + "ask"), Input("can I get a refund")])
    assert texts(outs[-1]) == ["Within 30 days, from your account."] and state.node == "ask"


def test_a_first_message_is_the_question_when_the_tree_starts_with_the_faq() -> None:
    bot = check_bot({**SHOP, "start": "ask"})
    _, [first] = run([Input("How long does shipping take?")], bot=bot)
    assert texts(first) == ["Ask me anything.", "2 to 4 working days."]


def test_out_of_hours_a_handover_asks_for_an_email_once() -> None:
    state, outs = run([Input("hi"), Input("human")], CLOSED)
    assert state.phase is Phase.AWAY_EMAIL and not any(isinstance(o, Handover) for o in outs[-1])
    assert texts(outs[-1]) == ["Our team is away right now. Leave your email and we'll answer you there."]
    state, outs = run([Input("hi"), Input("human"), Input("jo@shop.example")], CLOSED)
    assert outs[-1] == [Remember("email", "jo@shop.example"),
                        Say("Thanks! We'll answer you at jo@shop.example.", ()), Handover("asked", None)]
    assert state.phase is Phase.HANDED


def test_out_of_hours_with_a_known_email_or_after_misses_it_hands_over_anyway() -> None:
    known = Context(open_now=False, email="jo@shop.example")
    state, outs = run([Input("hi"), Input("human")], known)
    assert state.phase is Phase.HANDED and "jo@shop.example" in texts(outs[-1])[0]
    state, _ = run([Input("hi"), Input("human"), Input("no"), Input("nope")], CLOSED)
    assert state.phase is Phase.HANDED
    state, _ = run([Input("hi"), Input("human"), Input("x", PERSON)], CLOSED)
    assert state.phase is Phase.HANDED
    # Without a way to email, no address is asked: the visitor is told someone answers here later.
    state, outs = run([Input("hi"), Input("human")], Context(open_now=False, can_email=False))
    assert state.phase is Phase.HANDED and texts(outs[-1]) == [
        "Our team is away right now: someone will answer here when they are back."]


def test_branches_read_the_context() -> None:
    bot = check_bot({"enabled": True, "start": "b1", "nodes": [
        {"id": "b1", "kind": "branch", "on": "page", "value": "*/cart*", "yes": "b2", "no": "other"},
        {"id": "b2", "kind": "branch", "on": "language", "value": "fr", "yes": "fr", "no": "b3"},
        {"id": "b3", "kind": "branch", "on": "agents_online", "yes": "staff", "no": "other"},
        {"id": "fr", "kind": "message", "text": "Bonjour"},
        {"id": "staff", "kind": "message", "text": "Staff here"},
        {"id": "other", "kind": "message", "text": "Other"}]})
    assert texts(run([Input("hi")], OPEN, bot)[1][0]) == ["Staff here"]
    assert texts(run([Input("hi")], Context(page_url="https://x/cart", language="fr-CA"), bot)[1][0]) == ["Bonjour"]
    assert texts(run([Input("hi")], Context(page_url="https://x/"), bot)[1][0]) == ["Other"]
    out = run([Input("hi")], Context(page_url="https://x/cart", language="fr"), bot)[1][0]
    assert out[0].options == (("Parler à une personne", PERSON),)


def test_an_end_resolves_and_a_later_message_hands_over() -> None:
    state, outs = run([Input("hi"), Input("x", GO + "bye")])
    assert state.phase is Phase.RESOLVED and Resolved() in outs[-1]
    state, outs = run([Input("hi"), Input("x", GO + "bye"), Input("one more thing")])
    assert state.phase is Phase.HANDED and state.reason == "after_end"


def test_nothing_is_said_after_a_handover() -> None:
    state, _ = run([Input("human")])
    assert step(SHOP, state, Input("hello?"), OPEN) == (state, [])


def test_the_state_round_trips_through_storage() -> None:
    state, _ = run([Input("hi"), Input("x", GO + "order"), Input("A1234")])
    assert State.of(state.as_dict()) == state and State.of(None) == State()
    for bad in ({"phase": "lost"}, {"misses": "2"}, {"fields": {"email": 1}}, {"node": 3}, {"misses": True}):
        with pytest.raises(PapoteError):
            State.of(bad)


def test_validation_of_answers() -> None:
    assert validate("email", "a@b.co") == "a@b.co" and validate("email", "a@b") is None
    assert validate("order", "order 12345") is None or validate("order", "#12345") == "12345"
    assert validate("order", "ABC") is None and validate("name", "Jo") == "Jo" and validate("name", "42") is None


def test_faq_matching_tokens() -> None:
    assert faq.tokens("Où sont mes colis ?") == {"sont", "coli"} or "coli" in faq.tokens("Où sont mes colis ?")
    assert faq.best_entry("hello", SHOP["faq"]) is None
    assert faq.best_entry("RETURN an item", SHOP["faq"])["id"] == "back"  # type: ignore[index]


@pytest.mark.parametrize("bad", [
    {"nodes": [{"id": "a", "kind": "question", "field": "age", "text": "x"}]},
    {"nodes": [{"id": "a", "kind": "wat"}]},
    {"nodes": [{"id": "a b", "kind": "end", "text": "x"}]},
    {"nodes": [{"id": "a", "kind": "message", "text": "   "}]},
    {"texts": {"nope": "x"}},
    {"surprise": 1},
])
def test_a_tree_of_the_wrong_shape_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(PapoteError) as caught:
        check_bot(bad)
    assert caught.value.code == "bad_field"


def test_what_nodes_make_of_each_other_gets_a_meaning() -> None:
    bot = check_bot({"enabled": True, "start": "gone", "nodes": [
        {"id": "a", "kind": "message", "text": "x", "next": "b"},
        {"id": "b", "kind": "branch", "on": "open", "yes": "a", "no": "nowhere"},
        {"id": "a", "kind": "end", "text": "the second a"},
        {"id": "c", "kind": "buttons", "text": "pick", "options": [
            {"label": "One", "next": "a"}, {"label": " one ", "next": "b"}, {"label": "Lost", "next": "gone"}]},
        {"id": "q", "kind": "question", "field": "order", "text": "Number?"}],
        "texts": {"person": "  ", "handover": "A person comes"}})
    assert bot["start"] == "a"  # a start naming no node: the first one
    assert [n["id"] for n in bot["nodes"]] == ["a", "b", "c", "q"]  # the second "a" is left out
    assert bot["nodes"][1]["yes"] is None and bot["nodes"][1]["no"] is None  # the loop is cut, nowhere is none
    assert bot["nodes"][2]["options"] == [{"label": "One", "next": "a"}]
    assert bot["texts"] == {"handover": "A person comes"}
    # A branch side that leads nowhere hands over; so does a question with nothing after it.
    state, out = step(bot, State(), Input("hi"), OPEN)
    assert state.phase is Phase.HANDED and texts(out) == ["x", "A person comes"]
    state, out = step(bot, State(started=True, node="q"), Input("A1234"), OPEN)
    assert out[0] == Remember("order", "A1234") and state.phase is Phase.HANDED


# -- properties over random trees and random visitors ----------------------------------------------

@st.composite
def trees(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 8))
    ids = [f"n{i}" for i in range(n)]
    nodes = []
    for i, nid in enumerate(ids):
        later = ids[i + 1:]  # messages and branches only point forward: no loop without waiting
        kind = draw(st.sampled_from(["message", "buttons", "question", "faq", "end", "handover"]
                                    + (["branch"] if later else [])))
        node: dict[str, Any] = {"id": nid, "kind": kind, "text": f"text {nid}"}
        if kind == "message" and later and draw(st.booleans()):
            node["next"] = draw(st.sampled_from(later))
        if kind == "buttons":
            node["options"] = [{"label": f"opt {j}", "next": draw(st.sampled_from(ids))}
                               for j in range(draw(st.integers(1, 3)))]
        if kind == "question":
            node["field"] = draw(st.sampled_from(["email", "name", "order"]))
            node["next"] = draw(st.sampled_from(ids))
        if kind == "faq" and draw(st.booleans()):
            node["next"] = draw(st.sampled_from(ids))
        if kind == "branch":
            node["on"] = draw(st.sampled_from(["open", "agents_online"]))
            node["yes"], node["no"] = draw(st.sampled_from(later)), draw(st.sampled_from(later))
        if kind == "handover":
            node["text"] = ""
        nodes.append(node)
    return check_bot({"enabled": True, "start": ids[0], "nodes": nodes, "faq": SHOP["faq"]})


def inputs_for(bot: dict[str, Any]) -> st.SearchStrategy[Input]:
    gos = [GO + n["id"] for n in bot["nodes"]]
    return st.one_of(
        st.builds(Input, st.sampled_from(["hi", "blorp", "jo@shop.example", "A1234", "Jo", "shipping delivery",
                                          "refund", "", "1", "opt 0"])),
        st.builds(lambda g: Input("tap", g), st.sampled_from(gos)),
    )


contexts = st.builds(Context, st.booleans(), st.integers(0, 2), st.just(""), st.sampled_from(["en", "fr", None]),
                     st.sampled_from(["", "known@shop.example"]), st.booleans())


@settings(max_examples=300, deadline=None)
@given(data=st.data(), ctx=contexts)
def test_every_reachable_state_offers_a_person_and_asking_always_gets_one(data: st.DataObject, ctx: Context) -> None:
    bot = data.draw(trees())
    state = State()
    for message in data.draw(st.lists(inputs_for(bot), min_size=1, max_size=8)):
        before = state
        state, out = step(bot, state, message, ctx)
        says = [o for o in out if isinstance(o, Say)]
        # Every bot message offers "talk to a person", except the last words of a handover.
        handed = any(isinstance(o, Handover) for o in out)
        for say in (says[:-1] if handed else says):
            assert say.options and say.options[-1][1] == PERSON
        if before.phase is Phase.HANDED:
            assert out == [] and state == before
        assert (state.phase is Phase.HANDED) == (handed or before.phase is Phase.HANDED)
        assert state.misses < MAX_MISSES or state.phase is Phase.HANDED
        # From wherever the bot is now, "talk to a person" gets one: at once, or (out of hours, with no
        # address known) after two more messages at most, whatever they say (the second answer the
        # bot does not understand hands over there too), or at once with the button again.
        after, said = step(bot, state, Input("x", PERSON), ctx)
        if after.phase is not Phase.HANDED:
            assert after.phase is Phase.AWAY_EMAIL and not ctx.open_now
            assert said[-1].options[-1][1] == PERSON  # type: ignore[union-attr]
            assert step(bot, after, Input("x", PERSON), ctx)[0].phase is Phase.HANDED
            final = after
            for message in data.draw(st.lists(inputs_for(bot), min_size=2, max_size=2)):
                final = step(bot, final, message, ctx)[0]
            assert final.phase is Phase.HANDED
        # The words work as well as the button.
        assert step(bot, state, Input("human please"), ctx)[0].phase in (Phase.HANDED, Phase.AWAY_EMAIL)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), ctx=contexts)
def test_the_step_is_deterministic(data: st.DataObject, ctx: Context) -> None:
    bot = data.draw(trees())
    state = State()
    for message in data.draw(st.lists(inputs_for(bot), min_size=1, max_size=6)):
        first = step(bot, state, message, ctx)
        assert step(bot, state, message, ctx) == first
        state = first[0]
