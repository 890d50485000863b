"""The bot's step: (tree, state, input, context) → (new state, outputs). Pure: no I/O, no clock.

The runner (runner.py) feeds it each visitor message of a conversation the bot holds and performs the
outputs. The rules that keep a visitor from being trapped live here, where they are unit-tested:

* every message the bot says offers "talk to a person" (`PERSON`), and choosing it hands over;
* a handover word (tree.HANDOVER_WORDS and the site's own) anywhere in a visitor's text hands over;
* the second answer the bot did not understand hands over (`MAX_MISSES`);
* outside opening hours a handover first asks for an email, so the email continuation can answer, and
  never more than once: a second miss or "talk to a person" there hands over without one;
* once handed over the bot says nothing more.

States are an enum phase plus where the bot waits; illegal inputs do not exist (any text or choice has
a meaning in every phase). A step says at most `MAX_HOPS` nodes: a tree the validation let through
cannot loop, but a stepper that cannot hang costs one counter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from papote import quick_replies
from papote.bot import faq
from papote.bot.tree import HANDOVER_WORDS, texts_for
from papote.errors import ErrorCode, PapoteError

#: The value of the "talk to a person" option on every bot message.
PERSON = "person"
#: The value prefix of an option that goes to a node: "go:<node id>".
GO = "go:"
#: Answers the bot did not understand before it hands over: the second one. A visitor who was not
#: understood twice is better served by a person than by a third guess.
MAX_MISSES = 2
#: Nodes entered in one step at most (messages and branches chain without waiting).
MAX_HOPS = 25
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}")
_ORDER = re.compile(r"#?([A-Za-z0-9][A-Za-z0-9-]{2,39})")
_WORD = re.compile(r"[a-z']+")


class Phase(StrEnum):
    ACTIVE = "active"  # following the tree
    AWAY_EMAIL = "away_email"  # handing over outside opening hours: asked for an email
    RESOLVED = "resolved"  # reached an `end` node
    HANDED = "handed"  # a person has it: the bot is done


@dataclass(frozen=True)
class State:
    phase: Phase = Phase.ACTIVE
    #: The node the bot waits at (None before it starts, or at a message with nothing after it).
    node: str | None = None
    started: bool = False
    misses: int = 0
    #: What the visitor told the bot: {"email": …, "name": …, "order": …}.
    fields: dict[str, str] = field(default_factory=dict)
    #: Why the bot handed over ("asked", "not_understood", "flow", "after_end"), once it did.
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"phase": self.phase.value, "node": self.node, "started": self.started, "misses": self.misses,
                "fields": dict(self.fields), "reason": self.reason}

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> State:
        """The state `as_dict` gave; `bad_field` for anything else (the preview takes one from a client)."""
        if not data:
            return cls()
        phase, node, reason = data.get("phase", "active"), data.get("node"), data.get("reason")
        misses, fields = data.get("misses", 0), data.get("fields") or {}
        if (phase not in Phase.__members__.values() or not isinstance(node, str | None)
                or not isinstance(reason, str | None) or isinstance(misses, bool) or not isinstance(misses, int)
                or not isinstance(fields, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                           for k, v in fields.items())):
            raise PapoteError("field 'state' is not a state the bot gave", ErrorCode.BAD_FIELD)
        return cls(Phase(phase), node, bool(data.get("started")), max(0, misses), dict(fields), reason)


@dataclass(frozen=True)
class Input:
    """A visitor's message: its text, and the value of the quick reply it chose (if it chose one).
    `stale`: a messaging app's tap on a button the bot does not offer where it is now (an old
    message's, or forged): the bot asks again, and it is no miss."""

    text: str = ""
    choice: str | None = None
    stale: bool = False


@dataclass(frozen=True)
class Context:
    """What a branch and a handover look at, read by the runner when the input arrives."""

    open_now: bool = True
    agents_online: int = 0
    page_url: str = ""
    language: str | None = None
    #: The visitor's address if the site already knows it (then out of hours no address is asked).
    email: str = ""
    #: Whether the site can answer by email (a relay, continuation on): otherwise none is asked for.
    can_email: bool = True


@dataclass(frozen=True)
class Say:
    """A bot message. `options` are quick replies as stored ({label, value}); the last is the person."""

    text: str
    options: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Handover:
    """Give the conversation to a person: routing takes it (to `group`'s agents when set)."""

    reason: str
    group: str | None = None


@dataclass(frozen=True)
class Remember:
    """The visitor gave a field (an email goes to the conversation's contact email)."""

    field: str
    value: str


@dataclass(frozen=True)
class Resolved:
    """The visitor reached an end of the tree: the bot resolved the conversation."""


Output = Say | Handover | Remember | Resolved


def is_handover_word(text: str, extra: list[str]) -> bool:
    words = set(_WORD.findall(faq.fold(text)))
    wanted = {faq.fold(w) for w in (*HANDOVER_WORDS, *extra)}
    return any(w in words or (" " in w and w in faq.fold(text)) for w in wanted)


def validate(field_name: str, text: str) -> str | None:
    """The value of a question's answer, or None when it is not one."""
    text = text.strip()
    if field_name == "email":
        found = _EMAIL.search(text)
        return found.group(0).strip(".,;") if found else None
    if field_name == "order":
        found = _ORDER.search(text)
        value = found.group(1) if found else None
        return value if value and any(c.isdigit() for c in value) else None
    return text if 0 < len(text) <= 80 and any(c.isalpha() for c in text) else None


class _Step:
    """One step's scratch: the tree, the state as it changes, and the outputs so far."""

    def __init__(self, bot: dict[str, Any], state: State, ctx: Context) -> None:
        self.bot = bot
        self.nodes = {n["id"]: n for n in bot.get("nodes", [])}
        self.state = state
        self.ctx = ctx
        self.texts = texts_for(bot, ctx.language)
        self.out: list[Output] = []

    def person(self) -> tuple[str, str]:
        return (self.texts["person"], PERSON)

    def say(self, text: str, options: list[tuple[str, str]] | None = None) -> None:
        self.out.append(Say(text, (*(options or []), self.person())))

    def known_email(self) -> str:
        return self.state.fields.get("email") or self.ctx.email

    def handover(self, reason: str, group: str | None = None, text: str = "") -> None:
        """Hand over now, or out of hours without an address, ask for one first (once)."""
        if not self.ctx.open_now and not self.ctx.can_email:
            self.out.append(Say(self.texts["away"], ()))
        elif not self.ctx.open_now and self.state.phase is not Phase.AWAY_EMAIL:
            email = self.known_email()
            if not email:
                # The node's own words promise a person now: out of hours the truth is the email.
                self.say(self.texts["away_email"])
                self.state = replace(self.state, phase=Phase.AWAY_EMAIL, misses=0, reason=reason,
                                     fields={**self.state.fields, "group": group or ""})
                return
            self.out.append(Say(self.texts["away_known"].replace("{email}", email), ()))
        else:
            self.out.append(Say(text or self.texts["handover"], ()))
        self.out.append(Handover(reason, group))
        self.state = replace(self.state, phase=Phase.HANDED, reason=reason)

    def enter(self, node_id: str | None) -> None:
        """Say the nodes from `node_id` on, until one waits for the visitor or the bot is done."""
        for _ in range(MAX_HOPS):
            node = self.nodes.get(node_id or "")
            if node is None:
                self.handover("flow")  # a tree that lost a node: a person rather than silence
                return
            kind = node["kind"]
            if kind == "branch":
                node_id = node["yes"] if self._holds(node) else node["no"]
                continue
            if kind == "handover":
                self.handover("flow", node.get("group"), node.get("text", ""))
                return
            if kind == "end":
                self.say(node["text"])
                self.out.append(Resolved())
                self.state = replace(self.state, phase=Phase.RESOLVED, node=node["id"])
                return
            options = [(o["label"], GO + o["next"]) for o in node.get("options", [])]
            self.say(node["text"], options)
            self.state = replace(self.state, node=node["id"])
            if kind == "message" and node.get("next"):
                node_id = node["next"]
                continue
            return
        self.handover("flow")

    def _holds(self, node: dict[str, Any]) -> bool:
        on = node["on"]
        if on == "open":
            return self.ctx.open_now
        if on == "agents_online":
            return self.ctx.agents_online > 0
        if on == "page":
            return fnmatchcase(self.ctx.page_url, node["value"])
        return bool((self.ctx.language or "")[:2].lower() == node["value"])

    def miss(self) -> None:
        misses = self.state.misses + 1
        self.state = replace(self.state, misses=misses)
        if misses >= MAX_MISSES:
            self.handover("not_understood")
            return
        node = self.nodes.get(self.state.node or "")
        if node is not None and node["kind"] in ("buttons", "question", "faq"):
            hint = self.texts[f"bad_{node['field']}"] if node["kind"] == "question" else self.texts["not_understood"]
            options = [(o["label"], GO + o["next"]) for o in node.get("options", [])]
            self.say(f"{hint} {node['text']}", options)
        else:
            self.say(self.texts["not_understood"])

    def ask_again(self) -> None:
        """A tap on a button not offered here: say where the bot is again, counting no miss (the
        customer did answer, to an older question)."""
        if self.state.phase is Phase.AWAY_EMAIL:
            self.say(self.texts["away_email"])
            return
        node = self.nodes.get(self.state.node or "")
        if node is not None and node["kind"] in ("buttons", "question", "faq"):
            options = [(o["label"], GO + o["next"]) for o in node.get("options", [])]
            self.say(f"{self.texts['not_understood']} {node['text']}", options)
        else:
            self.say(self.texts["not_understood"])

    def answer_faq(self, text: str) -> bool:
        entry = faq.best_entry(text, self.bot.get("faq", []))
        if entry is None:
            return False
        self.say(entry["answer"])
        return True

    def text(self, text: str) -> None:
        """A free text where the bot waits."""
        node = self.nodes.get(self.state.node or "")
        kind = node["kind"] if node else None
        if node is not None and kind == "question":
            value = validate(node["field"], text)
            if value is None:
                self.miss()
                return
            self.out.append(Remember(node["field"], value))
            self.state = replace(self.state, fields={**self.state.fields, node["field"]: value})
            self.enter(node["next"])
            return
        if node is not None and kind == "buttons":
            wanted = faq.fold(text.strip())
            for n, option in enumerate(node["options"], start=1):
                if wanted in (faq.fold(option["label"]), str(n)):
                    self.enter(option["next"])
                    return
        if self.answer_faq(text):
            if node is not None and kind == "faq" and node.get("next"):
                self.enter(node["next"])
            return
        self.miss()

    def away_email(self, text: str) -> None:
        value = validate("email", text)
        if value is None:
            misses = self.state.misses + 1
            self.state = replace(self.state, misses=misses)
            if misses >= MAX_MISSES:
                self.hand_over_away()
                return
            self.say(f"{self.texts['bad_email']} {self.texts['away_email']}")
            return
        self.out.append(Remember("email", value))
        self.state = replace(self.state, fields={**self.state.fields, "email": value})
        self.out.append(Say(self.texts["email_thanks"].replace("{email}", value), ()))
        self.hand_over_away(said=True)

    def hand_over_away(self, *, said: bool = False) -> None:
        if not said:
            self.out.append(Say(self.texts["handover"], ()))
        group = self.state.fields.get("group") or None
        self.out.append(Handover(self.state.reason or "asked", group))
        fields = {k: v for k, v in self.state.fields.items() if k != "group"}
        self.state = replace(self.state, phase=Phase.HANDED, fields=fields)


def tapped(bot: dict[str, Any], state: State, text: str, payload: str) -> Input:
    """A messaging app's button tap (`payload`: quick_replies.tap_payload) as the bot's input: "talk to
    a person" is always offered; an option counts as its number typed, and only if the node the bot
    waits at offers that very option in that place now. Anything else is `stale`."""
    tap = quick_replies.read_tap(payload)
    if tap is None:
        return Input(text, stale=True)
    place, value = tap
    if value == PERSON:
        return Input(text, PERSON)
    node = next((n for n in bot.get("nodes", []) if n["id"] == state.node), None)
    if (state.phase is Phase.ACTIVE and state.started and node is not None and node["kind"] == "buttons"
            and value.startswith(GO) and 1 <= place <= len(node["options"])
            and node["options"][place - 1]["next"] == value[len(GO):]):
        return Input(str(place))
    return Input(text, stale=True)


def step(bot: dict[str, Any], state: State, message: Input, ctx: Context) -> tuple[State, list[Output]]:
    """Feed one visitor message to the bot. The first message of a conversation starts it at its
    `start` node (a handover word in it hands over at once; at a waiting `faq` node it is the question)."""
    s = _Step(bot, state, ctx)
    phase = state.phase
    if phase is Phase.HANDED:
        return state, []
    if message.stale and state.started and phase is not Phase.RESOLVED:
        s.ask_again()
        return s.state, s.out
    wants_person = message.choice == PERSON or is_handover_word(message.text, bot.get("handover_words", []))
    if phase is Phase.AWAY_EMAIL:
        if message.choice == PERSON:
            s.hand_over_away()
        else:
            s.away_email(message.text)
        return s.state, s.out
    if wants_person:
        s.handover("asked")
        return s.state, s.out
    if phase is Phase.RESOLVED:
        s.handover("after_end")  # the visitor still writes after "resolved": they want more
        return s.state, s.out
    if not state.started:
        s.state = replace(s.state, started=True)
        s.enter(bot.get("start") or None)
        waiting = s.nodes.get(s.state.node or "")
        if (s.state.phase is Phase.ACTIVE and waiting is not None and waiting["kind"] == "faq"
                and message.text.strip() and faq.best_entry(message.text, bot.get("faq", [])) is not None):
            s.answer_faq(message.text)
        return s.state, s.out
    if message.choice is not None and message.choice.startswith(GO):
        target = message.choice[len(GO):]
        if target in s.nodes:
            s.state = replace(s.state, misses=0)
            s.enter(target)
            return s.state, s.out
    s.text(message.text)
    return s.state, s.out
