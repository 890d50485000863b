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
    """A message and the options it offers as plain text, for channels without buttons of ours (SMS,
    WhatsApp, Telegram, Messenger): the options but the last numbered, which the customer may type back
    (the bot reads a number as a tap); the last, a bot's "Talk to a person", written out, since its
    words hand over when typed."""
    if not options:
        return body
    *choices, last = options
    lines = [f"{n}. {o['label']}" for n, o in enumerate(choices, 1)]
    return "\n".join([body, "", *lines, f"– {last['label']}"])
