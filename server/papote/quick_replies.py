"""Quick replies: the buttons an agent's (later a bot's) message offers, and the visitor's choice of one.

They are part of the message model, not of a client's drawing: the options ride in the message's
`data` (`{quick_replies: [{label, value?}]}`), so they have the message's seq, reach every tab and
device, and replay on resume with no new table. A visitor's tap is an ordinary `send` (its own
`client_msg_id`, exactly once like any send) whose `data.quick_reply` says which option it chose —
taken from the stored message by seq, never from the client — so "answered" is read from the history
by anyone (the widget after a reload, the visitor's other devices, the console, a bot).

Pure functions: the protocol (commands.py) and the REST route check the shape, these check the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from papote.errors import ErrorCode, PapoteError
from papote.store import Message
from papote.types import AuthorKind, MessageKind

#: Options one message may offer. Past a handful, buttons stop being a quick answer and become a menu
#: the visitor has to read; ten fits a phone's width in two or three rows.
MAX_OPTIONS = 10
#: A button's text: one short line on a phone. Not blank: it has a character other than these spaces
#: (written out: `\s` means different things in the browser's regexes and in Python's), which are
#: also what is trimmed from its ends.
MAX_LABEL = 60
BLANKS = " \t\n\r"
LABEL_PATTERN = "[^ \t\n\r]"
#: What the option stands for, for whoever reads the choice (a bot's branch, an integration's code).
MAX_VALUE = 200
#: The `data` key of a message that offers options, and of the visitor's message that chose one.
OPTIONS_KEY = "quick_replies"
CHOICE_KEY = "quick_reply"
#: Who may offer options: a person or a program speaking for the site, never the visitor.
OFFERED_BY = frozenset({AuthorKind.AGENT, AuthorKind.SYSTEM, AuthorKind.BOT})


def options_data(options: Iterable[Mapping[str, Any]] | None, *, note: bool) -> dict[str, Any] | None:
    """The `data` of an agent's message offering `options` (each `{label, value?}`, shapes already
    checked by the protocol or the REST schema), or None without options.

    Where options meet each other or the message, they get a meaning rather than a refusal, as
    everywhere two fields meet (web/api_schemas.py): a private note offers nothing (the visitor never
    sees it, so nobody could answer) and its options are left out; an option whose label repeats an
    earlier one (trimmed, without case) is left out, since the visitor could not tell which one they
    pressed. What a shape says is still refused here too (`bad_field`/`too_large`), for callers that
    did not check it."""
    if options is None or note:
        return None
    items = list(options)
    if len(items) > MAX_OPTIONS:
        raise PapoteError(f"field 'quick_replies' must have at most {MAX_OPTIONS} items", ErrorCode.TOO_LARGE)
    seen: set[str] = set()
    stored: list[dict[str, str]] = []
    for item in items:
        label = str(item.get("label") or "").strip(BLANKS)
        if not label:
            raise PapoteError("field 'quick_replies.label' must not be blank", ErrorCode.BAD_FIELD)
        if len(label) > MAX_LABEL:
            raise PapoteError(f"field 'quick_replies.label' must be at most {MAX_LABEL} characters",
                              ErrorCode.TOO_LARGE)
        key = label.casefold()
        if key in seen:
            continue
        seen.add(key)
        option = {"label": label}
        value = item.get("value")
        if value is not None:
            value = str(value)
            if not value or len(value) > MAX_VALUE:
                raise PapoteError(f"field 'quick_replies.value' must be 1 to {MAX_VALUE} characters",
                                  ErrorCode.BAD_FIELD if not value else ErrorCode.TOO_LARGE)
            option["value"] = value
        stored.append(option)
    return {OPTIONS_KEY: stored} if stored else None


def offered(message: Message) -> list[dict[str, str]]:
    """The options a stored message offers ([] for one that offers none)."""
    if message.kind != MessageKind.TEXT or message.author_kind not in OFFERED_BY or not message.data:
        return []
    options = message.data.get(OPTIONS_KEY)
    return options if isinstance(options, list) else []


def choice_data(message: Message | None, seq: int, option: int) -> dict[str, Any]:
    """The `data.quick_reply` of a visitor's message choosing option `option` of the message at `seq`
    (`message`: what the store has at that seq, or None). The label and value come from the stored
    message; `bad_field` when it offers no such option (a client bug or a forgery: nothing is stored)."""
    options = offered(message) if message is not None and message.seq == seq else []
    if not 0 <= option < len(options):
        raise PapoteError("field 'quick_reply' names no quick reply of this conversation", ErrorCode.BAD_FIELD)
    chosen = options[option]
    label = str(chosen.get("label", ""))
    return {CHOICE_KEY: {"seq": seq, "option": option, "label": label, "value": str(chosen.get("value", label))}}


def as_text(body: str, options: list[dict[str, str]]) -> str:
    """A message and the options it offers as plain text, for channels that cannot draw them as their
    own buttons (SMS; WhatsApp past its buttons' and lists' limits): the options but the last
    numbered, which the customer may type back (the bot reads a number as a tap); the last, a bot's
    "Talk to a person", written out, since its words hand over when typed."""
    if not options:
        return body
    *choices, last = options
    lines = [f"{n}. {o['label']}" for n, o in enumerate(choices, 1)]
    return "\n".join([body, "", *lines, f"– {last['label']}"])


#: What a native button of a messaging app carries back when tapped (WhatsApp's reply id, Telegram's
#: callback_data, Messenger's payload): `qr:<n>:<value>`, the option's place (1-based, as the customer
#: would type it) and its value. Both are checked against what the bot offers *now* (bot/stepper.py
#: `tapped`): a tap is only ever a claim, since an old message's button stays tappable and a modified
#: client can send any data.
TAP_PREFIX = "qr:"
#: Telegram's callback_data holds 1-64 bytes, the shortest of the three (WhatsApp 256/200, Messenger
#: 1000): a button whose tap would not fit is not drawn natively on any app (the numbered text is).
MAX_TAP_BYTES = 64


def tap_payload(place: int, value: str) -> str:
    return f"{TAP_PREFIX}{place}:{value}"


def read_tap(payload: str) -> tuple[int, str] | None:
    """(place, value) of a tap's payload, or None when it is not one of ours."""
    if not payload.startswith(TAP_PREFIX):
        return None
    place, sep, value = payload[len(TAP_PREFIX):].partition(":")
    if not sep or not place.isdigit() or not value or len(place) > 2:
        return None
    return int(place), value
