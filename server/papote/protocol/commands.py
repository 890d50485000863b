"""Client frames as typed commands: one class per frame type, exactly the frames of docs/protocol.md.

A frame is decoded straight into its class by msgspec, which checks every type, length, range and
pattern in C while it decodes (no intermediate dict, no per-field Python); the few rules a type cannot
say (free-form data's depth, the configured body limit) are checked right after. A command that exists
is valid: handlers read typed attributes and never re-check.

Where the two endpoints accept one frame type with different fields, each has its class under a common
base (`VisitorSend` and `AgentSend` are both a `Send`); the frames they share are one class. The
endpoint's frame table is a union of classes (`VISITOR_FRAMES`, `AGENT_FRAMES`): a new class joins the
decoder, the authorization matrix (`frame_types`) and, through `assert_never` in the dispatch, the type
check that fails until a handler exists for it.

Field conventions, as the protocol has always had them: a field not listed is ignored; a nil optional
field is the same as an absent one; a nil required field is a missing one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum
from typing import Annotated, Any, ClassVar, Literal, NotRequired, TypeAlias, TypedDict, get_args

from msgspec import Meta, Struct

from papote.errors import ErrorCode, ProtocolError

#: Seqs, read positions and `n` fit a JavaScript number exactly (the widget and console are JS).
MAX_SAFE_INT = 2**53
#: Conversations one `resume` may name. Each costs a lookup, and an unknown one is a lookup for nothing:
#: the cap bounds what one frame can cost. A client following more sends several (the widget and the
#: console split theirs).
MAX_RESUME_CONVERSATIONS = 100
#: Conversations one `subscribe` or `unsubscribe` may name.
MAX_SUBSCRIBE_CONVERSATIONS = 200
#: Deep nesting is how decoders are made to recurse; nothing in the protocol needs more than this.
MAX_DEPTH = 6
#: Files one message may carry (each uploaded first: docs/protocol.md, "Attachments").
MAX_ATTACHMENTS = 10
#: Free-form maps (attributes, tracked event data) are bounded in keys so one frame cannot balloon the store.
MAX_MAP_KEYS = 50
MAX_STR_IN_DATA = 1000


class Endpoint(str, Enum):
    VISITOR = "visitor"
    AGENT = "agent"


# ---------------------------------------------------------------------------------------------------
# Field types. msgspec's `pattern` is a `re.search`: anchored with \A and \Z (a `$` would let a
# trailing newline through).

_TOKEN_CHARS = r"\A[A-Za-z0-9_-]+\Z"
Id = Annotated[str, Meta(min_length=1, max_length=64, pattern=_TOKEN_CHARS)]
ClientMsgId = Annotated[str, Meta(min_length=8, max_length=64, pattern=_TOKEN_CHARS)]
#: The upper bound is the server's `max_body_chars` setting: `ProtocolConnection` checks it.
Body = Annotated[str, Meta(min_length=1)]
#: A proactive rule's id, as sites.py checks it.
RuleId = Annotated[str, Meta(min_length=1, max_length=40, pattern="^[A-Za-z0-9_-]+$")]
Seq = Annotated[int, Meta(ge=0, le=MAX_SAFE_INT)]
Url = Annotated[str, Meta(max_length=2048)]
Title = Annotated[str, Meta(max_length=300)]
Name = Annotated[str, Meta(max_length=120)]
Email = Annotated[str, Meta(min_length=3, max_length=254, pattern=r"\A[^@\s]+@[^@\s]+\.[^@\s]+\Z")]
Ref = Annotated[int, Meta(ge=-MAX_SAFE_INT, le=MAX_SAFE_INT)] | Annotated[str, Meta(min_length=1, max_length=64)]
AttributeKey = Annotated[str, Meta(pattern=r"\A[A-Za-z0-9_.-]{1,64}\Z")]
#: Custom attributes are flat: a key to a scalar, so agents can show and filter them. nil removes one.
AttributeValue = Annotated[str, Meta(max_length=500)] | int | float | bool | None
#: Not blank: a label of spaces alone shows as nothing (the REST API refuses it too).
LabelName = Annotated[str, Meta(min_length=1, max_length=40, pattern="[^ \t\n\r]")]
#: Quick replies' bounds, as papote.quick_replies states them with their reasons (kept literal here:
#: the protocol package imports nothing above it). A label is not blank; a repeated one is left out there.
MAX_QUICK_REPLIES = 10
#: Agents one private note may mention: a team's worth; more is a broadcast, which a note is not.
MAX_MENTIONS = 20
QuickReplyLabel = Annotated[str, Meta(min_length=1, max_length=60, pattern="[^ \t\n\r]")]
QuickReplyValue = Annotated[str, Meta(min_length=1, max_length=200)]


class PageInfo(TypedDict):
    """Where the visitor is (`hello.page`); kept as the map it is stored and shown as."""

    url: Url
    title: NotRequired[Title | None]
    referrer: NotRequired[Url | None]


class QuickReply(TypedDict):
    """One option of an agent's message (`send.quick_replies`): the button's text and, optionally,
    what it stands for (the label when absent)."""

    label: QuickReplyLabel
    value: NotRequired[QuickReplyValue | None]


class QuickReplyChoice(TypedDict):
    """The option a visitor's message chooses (`send.quick_reply`): the seq of the message that
    offered it and its index there."""

    seq: Annotated[int, Meta(ge=1, le=MAX_SAFE_INT)]
    option: Annotated[int, Meta(ge=0, le=MAX_QUICK_REPLIES - 1)]


class DeviceInfo(TypedDict):
    tz: NotRequired[Annotated[str, Meta(max_length=64)] | None]
    lang: NotRequired[Annotated[str, Meta(max_length=35)] | None]
    screen: NotRequired[Annotated[str, Meta(max_length=32)] | None]


# ---------------------------------------------------------------------------------------------------
# The commands.


class Command(Struct, frozen=True, kw_only=True, gc=False, tag_field="t"):
    """One validated client frame. `ref` is copied into the answer (`ack`, `ok`, `error`).

    `gc=False`: a decoded frame holds only strings, numbers, lists and maps, so it can never be part
    of a reference cycle, and the collector need not track the one allocated per frame.
    """

    ref: Ref | None = None

    @property
    def type(self) -> str:
        """The frame's `t`."""
        return frame_type(type(self))


def frame_type(cls: type[Command]) -> str:
    tag = cls.__struct_config__.tag
    assert isinstance(tag, str), f"{cls.__name__} has no frame type"
    return tag


# -- shared by both endpoints ------------------------------------------------------------------------


class Hello(Command, frozen=True, kw_only=True, tag="hello"):
    """The first frame. Each endpoint's hello adds its own fields."""

    v: Annotated[int, Meta(ge=0, le=1000)]


class Resume(Command, frozen=True, kw_only=True, tag="resume"):
    epoch: Annotated[str, Meta(max_length=64)]
    conversations: Annotated[dict[Id, Seq], Meta(max_length=MAX_RESUME_CONVERSATIONS)]


class Fetch(Command, frozen=True, kw_only=True, tag="fetch"):
    #: A page without `limit` has this many messages.
    DEFAULT_LIMIT: ClassVar[int] = 50

    conversation: Id
    before_seq: Annotated[int, Meta(ge=1, le=MAX_SAFE_INT)] | None = None
    limit: Annotated[int, Meta(ge=1, le=100)] | None = None


class Send(Command, frozen=True, kw_only=True, tag="send"):
    """A message. Each endpoint's send says whether `conversation` is required and what else it takes.

    `attachments`: the ids of files the sender uploaded first, in the order shown; a message with files
    may have no `body` (nil: absent; an empty string is still refused, as it always was). A file named
    twice is sent once (the first place it is named)."""

    conversation: Id | None = None
    client_msg_id: ClientMsgId
    body: Body | None = None
    attachments: Annotated[list[Id], Meta(max_length=MAX_ATTACHMENTS)] | None = None

    def __post_init__(self) -> None:
        if self.body is None and not self.attachments:
            raise ProtocolError("field 'body' is required (unless the message carries attachments)",
                                ErrorCode.BAD_FIELD)

    @property
    def text(self) -> str:
        """The body, empty when the message is only files."""
        return self.body or ""


class Typing(Command, frozen=True, kw_only=True, tag="typing"):
    conversation: Id
    on: bool


class Read(Command, frozen=True, kw_only=True, tag="read"):
    conversation: Id
    seq: Seq


class Ping(Command, frozen=True, kw_only=True, tag="ping"):
    n: Seq | None = None


# -- the visitor's (/ws/visitor) ---------------------------------------------------------------------


class VisitorHello(Hello, frozen=True, kw_only=True, tag="hello"):
    site: Id
    token: Annotated[str, Meta(min_length=16, max_length=128, pattern=_TOKEN_CHARS)] | None = None
    link_code: Annotated[str, Meta(min_length=4, max_length=64, pattern=_TOKEN_CHARS)] | None = None
    locale: Annotated[str, Meta(min_length=2, max_length=16, pattern=r"\A[A-Za-z-]+\Z")] | None = None
    page: PageInfo | None = None
    device: DeviceInfo | None = None


class VisitorSend(Send, frozen=True, kw_only=True, tag="send"):
    """`conversation` nil starts a conversation (or finds the one this `client_msg_id` started).
    `answers`: the id of the site's proactive rule whose message this one answers (it is stored with
    the message, so agents read what the visitor replied to)."""

    answers: RuleId | None = None
    #: The pre-chat form's topic (its id), on the message that starts a conversation; one the site does
    #: not offer is ignored.
    topic: RuleId | None = None
    #: A tap on a quick reply: which option of which message (the conversation must be named).
    quick_reply: QuickReplyChoice | None = None


class Page(Command, frozen=True, kw_only=True, tag="page"):
    url: Url
    title: Title | None = None
    referrer: Url | None = None


class Identify(Command, frozen=True, kw_only=True, tag="identify"):
    user_id: Annotated[str, Meta(min_length=1, max_length=128)]
    hash: Annotated[str, Meta(min_length=64, max_length=64, pattern=r"\A[0-9a-fA-F]+\Z")] | None = None
    jwt: Annotated[str, Meta(min_length=10, max_length=4096)] | None = None
    name: Name | None = None
    email: Email | None = None


class Set(Command, frozen=True, kw_only=True, tag="set"):
    """The visitor's own details: custom attributes (merged), and name and email unless verified."""

    attributes: Annotated[dict[AttributeKey, AttributeValue], Meta(max_length=MAX_MAP_KEYS)] | None = None
    name: Name | None = None
    email: Email | None = None


class Track(Command, frozen=True, kw_only=True, tag="track"):
    event: Annotated[str, Meta(min_length=1, max_length=64, pattern=r"\A[A-Za-z0-9_.:-]+\Z")]
    data: Any = None

    def __post_init__(self) -> None:
        if self.data is not None:
            _check_plain_data("data", self.data, 0)


class Contact(Command, frozen=True, kw_only=True, tag="contact"):
    email: Email
    conversation: Id | None = None


class Transcript(Command, frozen=True, kw_only=True, tag="transcript"):
    """Mail me this conversation's transcript (to an address I am known to hold: docs/protocol.md)."""

    conversation: Id


class Rate(Command, frozen=True, kw_only=True, tag="rate"):
    conversation: Id
    rating: Annotated[int, Meta(ge=1, le=5)]
    comment: Annotated[str, Meta(max_length=2000)] | None = None


class NpsAnswer(Command, frozen=True, kw_only=True, tag="nps"):
    """The visitor's answer to the NPS survey offered in a closed conversation (papote/nps.py)."""

    conversation: Id
    survey: Id
    score: Annotated[int, Meta(ge=0, le=10)]
    comment: Annotated[str, Meta(max_length=2000)] | None = None


class Link(Command, frozen=True, kw_only=True, tag="link"):
    """Ask for a code to continue this conversation on another device. With `url` (the page the widget
    is on, without its fragment, on one of the site's origins) the answer carries the link to open
    and its QR code."""

    url: Url | None = None


class Redeem(Command, frozen=True, kw_only=True, tag="redeem"):
    """A code from another device, typed in (or read from a link in a tab already open): this socket
    continues as the visitor who asked for it."""

    code: Annotated[str, Meta(min_length=4, max_length=64, pattern=_TOKEN_CHARS)]


class Fired(Command, frozen=True, kw_only=True, tag="fired"):
    """The widget showed the site's proactive rule `rule`: the server remembers it for the visitor, so
    their other devices do not show it again."""

    rule: RuleId


# -- the agent's (/ws/agent) -------------------------------------------------------------------------


class AgentHello(Hello, frozen=True, kw_only=True, tag="hello"):
    """The session cookie authenticates; hello only names the protocol version."""


class AgentSend(Send, frozen=True, kw_only=True, tag="send"):
    conversation: Id
    #: A private note, never shown to the visitor. nil is false.
    note: bool | None = None
    #: Buttons offered under the message (never on a note); the visitor's tap is their next message.
    quick_replies: Annotated[list[QuickReply], Meta(max_length=MAX_QUICK_REPLIES)] | None = None
    #: Agents of the site a note mentions (only with `note`): each is told (`mentioned`), followed or not.
    mentions: Annotated[list[Id], Meta(max_length=MAX_MENTIONS)] | None = None


class Subscribe(Command, frozen=True, kw_only=True, tag="subscribe"):
    conversations: Annotated[list[Id], Meta(max_length=MAX_SUBSCRIBE_CONVERSATIONS)]


class Unsubscribe(Command, frozen=True, kw_only=True, tag="unsubscribe"):
    conversations: Annotated[list[Id], Meta(max_length=MAX_SUBSCRIBE_CONVERSATIONS)]


class Claim(Command, frozen=True, kw_only=True, tag="claim"):
    conversation: Id


class Assign(Command, frozen=True, kw_only=True, tag="assign"):
    conversation: Id
    agent: Id


class Transfer(Command, frozen=True, kw_only=True, tag="transfer"):
    conversation: Id
    agent: Id
    #: For the next agent: a private note in the conversation.
    note: Annotated[str, Meta(max_length=4000)] | None = None


class Close(Command, frozen=True, kw_only=True, tag="close"):
    conversation: Id


class Reopen(Command, frozen=True, kw_only=True, tag="reopen"):
    conversation: Id


class Snooze(Command, frozen=True, kw_only=True, tag="snooze"):
    """Set an open conversation aside until `until` (conversations/snooze.py)."""

    conversation: Id
    #: When it comes back, in ms since the epoch: in the coming year (checked against the server's
    #: clock by the conversation service, which says `bad_field` otherwise).
    until: Annotated[int, Meta(ge=0, le=MAX_SAFE_INT)]


class Unsnooze(Command, frozen=True, kw_only=True, tag="unsnooze"):
    conversation: Id


class Label(Command, frozen=True, kw_only=True, tag="label"):
    conversation: Id
    add: Annotated[list[LabelName], Meta(max_length=20)] | None = None
    remove: Annotated[list[LabelName], Meta(max_length=20)] | None = None


StatusValue = Literal["online", "away", "offline"]


class Status(Command, frozen=True, kw_only=True, tag="status"):
    status: StatusValue
    capacity: Annotated[int, Meta(ge=1, le=50)] | None = None


# ---------------------------------------------------------------------------------------------------
# The frame tables. Each endpoint's commands after hello are its shared ones plus its own: the socket
# layer handles the shared ones once (web/live.py) and the endpoint handles its own, exhaustively.

SharedCommand: TypeAlias = Resume | Fetch | Typing | Read | Ping
VisitorCommand: TypeAlias = (
    VisitorSend | Page | Identify | Set | Track | Contact | Rate | NpsAnswer | Link | Redeem | Fired | Transcript
)
AgentCommand: TypeAlias = (
    AgentSend | Subscribe | Unsubscribe | Claim | Assign | Transfer | Close | Reopen | Snooze | Unsnooze | Label
    | Status
)

SHARED: tuple[type[Command], ...] = get_args(SharedCommand)
FRAMES: dict[Endpoint, tuple[type[Command], ...]] = {
    Endpoint.VISITOR: (VisitorHello, *SHARED, *get_args(VisitorCommand)),
    Endpoint.AGENT: (AgentHello, *SHARED, *get_args(AgentCommand)),
}
VISITOR_FRAMES = FRAMES[Endpoint.VISITOR]
AGENT_FRAMES = FRAMES[Endpoint.AGENT]


def frame_types(endpoint: Endpoint) -> Iterable[str]:
    """Every client frame type an endpoint accepts (the authorization matrix is generated from it)."""
    return [frame_type(cls) for cls in FRAMES[endpoint]]


# ---------------------------------------------------------------------------------------------------
# The rules a type cannot say.


def _check_plain_data(name: str, value: Any, depth: int) -> None:
    """Free-form data (tracked events): scalars, lists and maps with short string keys, bounded."""
    if depth > MAX_DEPTH:
        raise ProtocolError(f"field '{name}' is nested too deeply", ErrorCode.TOO_LARGE)
    if value is None or isinstance(value, bool | int | float):
        return
    if isinstance(value, str):
        if len(value) > MAX_STR_IN_DATA:
            raise ProtocolError(f"field '{name}' has a string over {MAX_STR_IN_DATA} characters",
                                ErrorCode.TOO_LARGE)
        return
    if isinstance(value, list):
        if len(value) > MAX_MAP_KEYS:
            raise ProtocolError(f"field '{name}' has a list over {MAX_MAP_KEYS} items", ErrorCode.TOO_LARGE)
        for item in value:
            _check_plain_data(name, item, depth + 1)
        return
    if isinstance(value, dict):
        if len(value) > MAX_MAP_KEYS:
            raise ProtocolError(f"field '{name}' has over {MAX_MAP_KEYS} keys", ErrorCode.TOO_LARGE)
        for key, item in value.items():
            if not isinstance(key, str) or not 0 < len(key) <= 64:
                raise ProtocolError(f"field '{name}' has a key that is not a short string", ErrorCode.BAD_FIELD)
            _check_plain_data(name, item, depth + 1)
        return
    raise ProtocolError(f"field '{name}' holds a value that is not plain data", ErrorCode.BAD_FIELD)


# ---------------------------------------------------------------------------------------------------
# msgspec's validation messages → the protocol's coded errors. msgspec says what it expected and where
# ("Expected `str` of length <= 4000 - at `$.body`"); the protocol names the field and gives the code:
# over an upper bound of length or size is `too_large`, any other mismatch `bad_field`.

_WHERE = re.compile(r"^(?P<what>.*?)(?: - at `(?P<path>[^`]*)`(?: in `(?P<outer>[^`]*)`)?)?$", re.S)
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]*)`$")
_EXPECTED = re.compile(r"^Expected `(?P<want>[^`]*)`, got `(?P<got>[^`]*)`$")
_LENGTH = re.compile(r"^Expected `(?P<kind>[^`]*)` of length (?P<op>[<>]=) (?P<n>\d+)$")
_BOUND = re.compile(r"^Expected `(?P<kind>[^`]*)` (?P<op>[<>]=) (?P<n>-?\d+)$")
_NOUNS = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
          "array": "a list", "object": "a map", "null": "nil"}
_LENGTH_UNITS = {"str": "characters", "array": "items", "object": "keys"}
_REF_SHAPE = "field 'ref' must be an integer or a string of 1 to 64 characters"
#: The fields whose value is one of a few words, by name (their message lists the words).
_CHOICES: dict[str, tuple[str, ...]] = {"status": get_args(StatusValue)}


def _field_of(path: str) -> str:
    """`$.page.url` → `page.url`; `$.conversations[...]` → `conversations`; `$` → ``."""
    return re.sub(r"\[[^\]]*\]", "", path.removeprefix("$").removeprefix("."))


def _describe(what: str, field: str) -> tuple[str, ErrorCode]:
    if match := _EXPECTED.match(what):
        if match["got"] in ("None", "null"):  # nil for a required field: missing, as always
            return "is required", ErrorCode.BAD_FIELD
        wanted = [_NOUNS.get(w, w) for w in match["want"].split(" | ") if w != "null"]
        return "must be " + " or ".join(wanted), ErrorCode.BAD_FIELD
    if match := _LENGTH.match(what):
        unit = _LENGTH_UNITS.get(match["kind"], "items")
        if match["op"] == "<=":
            verb = "must be" if match["kind"] == "str" else "must have"
            return f"{verb} at most {match['n']} {unit}", ErrorCode.TOO_LARGE
        return f"must be at least {match['n']} {unit}", ErrorCode.BAD_FIELD
    if match := _BOUND.match(what):
        side = "at most" if match["op"] == "<=" else "at least"
        return f"must be {side} {match['n']}", ErrorCode.BAD_FIELD
    if what.startswith("Expected `str` matching regex"):
        return "has characters that are not allowed", ErrorCode.BAD_FIELD
    if what.startswith("Invalid enum value") and field in _CHOICES:
        return "must be one of " + ", ".join(_CHOICES[field]), ErrorCode.BAD_FIELD
    return what[:200], ErrorCode.BAD_FIELD


def protocol_error(message: str) -> ProtocolError:
    """The coded error for one msgspec ValidationError message."""
    if message.startswith("Invalid value '") and message.endswith("' - at `$.t`"):
        # Checked first: the type is the client's string, and may itself look like a path.
        kind = message[len("Invalid value '"):-len("' - at `$.t`")]
        return ProtocolError(f"unknown frame type '{kind[:32]}'", ErrorCode.UNKNOWN_TYPE)
    where = _WHERE.match(message)
    assert where is not None  # the pattern matches any string
    what, path, outer = where["what"], where["path"] or "$", where["outer"]
    in_key = path == "key" and outer is not None
    field = _field_of(outer if in_key else path)
    if not field:
        # About the frame itself: its shape, its type, a required field, a map key.
        if missing := _MISSING.match(what):
            name = missing["name"]
            if name == "t":
                return ProtocolError("a frame needs a string 't' naming its type")
            return ProtocolError(f"field '{name}' is required", ErrorCode.BAD_FIELD)
        if in_key:
            return ProtocolError("frame keys must be strings")
        return ProtocolError("a frame must be a MessagePack map")
    if field == "t":
        return ProtocolError("a frame needs a string 't' naming its type")
    if field == "ref":
        return ProtocolError(_REF_SHAPE, ErrorCode.BAD_FIELD)
    if missing := _MISSING.match(what):
        return ProtocolError(f"field '{field}.{missing['name']}' is required", ErrorCode.BAD_FIELD)
    description, code = _describe(what, field)
    if in_key:
        return ProtocolError(f"field '{field}': a key {description}", code)
    if "[...]" in path:
        return ProtocolError(f"field '{field}': a value {description}", code)
    if "[" in path:
        return ProtocolError(f"field '{field}': an item {description}", code)
    return ProtocolError(f"field '{field}' {description}", code)
