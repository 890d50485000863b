"""The quick-reply rules, without a server: what an offer stores, what a choice stores, what is refused."""

from __future__ import annotations

import pytest

from papote.errors import ErrorCode, PapoteError
from papote.quick_replies import MAX_OPTIONS, choice_data, offered, options_data
from papote.store import Message
from papote.types import AuthorKind, MessageKind


def message(seq: int, data: dict[str, object] | None, author: AuthorKind = AuthorKind.AGENT,
            kind: MessageKind = MessageKind.TEXT) -> Message:
    return Message("c_1", seq, kind, author, "a_1", "Léa", "m-12345678", "Pick one", None, data, 1)


def test_an_offer_is_stored_trimmed_with_its_values() -> None:
    data = options_data([{"label": "  Yes "}, {"label": "No", "value": "no-thanks"}, {"label": "Maybe", "value": None}],
                        note=False)
    assert data == {"quick_replies": [{"label": "Yes"}, {"label": "No", "value": "no-thanks"}, {"label": "Maybe"}]}
    assert options_data(None, note=False) is None and options_data([], note=False) is None


def test_where_options_meet_they_get_a_meaning() -> None:
    # A repeated label (trimmed, without case) is left out; a note offers none.
    assert options_data([{"label": "Yes"}, {"label": " yes"}, {"label": "No"}], note=False) == {
        "quick_replies": [{"label": "Yes"}, {"label": "No"}]}
    assert options_data([{"label": "Yes"}], note=True) is None


@pytest.mark.parametrize(("options", "note", "code"), [
    ([{"label": " "}], False, ErrorCode.BAD_FIELD),
    ([{"label": "x" * 61}], False, ErrorCode.TOO_LARGE),
    ([{"label": str(n)} for n in range(MAX_OPTIONS + 1)], False, ErrorCode.TOO_LARGE),
    ([{"label": "Yes", "value": ""}], False, ErrorCode.BAD_FIELD),
    ([{"label": "Yes", "value": "v" * 201}], False, ErrorCode.TOO_LARGE),
])
def test_a_bad_offer_is_refused(options: list[dict[str, object]], note: bool, code: ErrorCode) -> None:
    with pytest.raises(PapoteError) as info:
        options_data(options, note=note)
    assert info.value.code is code and "quick_replies" in info.value.message


def test_a_choice_takes_its_label_and_value_from_the_stored_offer() -> None:
    offer = message(4, {"quick_replies": [{"label": "Yes"}, {"label": "No", "value": "no-thanks"}]})
    assert choice_data(offer, 4, 1) == {"quick_reply": {"seq": 4, "option": 1, "label": "No", "value": "no-thanks"}}
    assert choice_data(offer, 4, 0)["quick_reply"]["value"] == "Yes"


@pytest.mark.parametrize("stored", [
    None,                                                                         # no message there
    message(3, {"quick_replies": [{"label": "Yes"}]}),                            # an earlier one (4 is a note)
    message(4, {"quick_replies": [{"label": "Yes"}]}, author=AuthorKind.VISITOR),  # visitors offer nothing
    message(4, {"quick_replies": [{"label": "Yes"}]}, kind=MessageKind.NOTE),
    message(4, {"proactive": {"rule": "r", "message": "hi"}}),
    message(4, {"quick_replies": [{"label": "Yes"}]}),                            # option 1 of one
])
def test_a_choice_of_nothing_offered_is_refused(stored: Message | None) -> None:
    with pytest.raises(PapoteError) as info:
        choice_data(stored, 4, 1 if stored is not None and offered(stored) else 0)
    assert info.value.code is ErrorCode.BAD_FIELD


def test_options_as_text_number_the_choices_and_write_the_last_out() -> None:
    from papote.quick_replies import as_text

    options = [{"label": "Shipping", "value": "go:ship"}, {"label": "Returns", "value": "go:ret"},
               {"label": "Talk to a person", "value": "person"}]
    assert as_text("What is it about?", options) == (
        "What is it about?\n\n1. Shipping\n2. Returns\n– Talk to a person")
    assert as_text("Hello", []) == "Hello"
