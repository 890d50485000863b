"""What the REST API accepts and answers, as JSON Schemas: the one source for OpenAPI and validation.

Request schemas (bodies, query parameters) are enforced by `papote.web.schema.validate` before a
handler runs. Response schemas are published under `components.schemas` and checked by the API
conformance test (tests/integration/test_openapi_conformance.py). The same limits as the WebSocket
protocol apply where a field means the same thing (ids, client_msg_id, labels).

No rule here compares one field with another (JSON Schema cannot say it): where two fields meet, the
server gives the pair a meaning instead of refusing it. A report's `from` at or after its `to` is an
empty range; a range of more than 400 buckets starts later (the answer's `from` says where); an opening
span whose close is not after its open runs past midnight.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from papote.bot.tree import DEFAULT_TEXTS
from papote.errors import ErrorCode
from papote.quick_replies import LABEL_PATTERN, MAX_LABEL, MAX_OPTIONS, MAX_VALUE
from papote.sites import (
    ATTACHMENT_CATEGORIES,
    ATTACHMENTS_MAX_MB,
    DAYS,
    MAX_SPANS,
    RETENTION_MAX_DAYS,
    RETENTION_SETTINGS,
    SUPPORT_ADDRESS,
)
from papote.web.schema import (
    MAX_SAFE_INT,
    Schema,
    any_json,
    array,
    boolean,
    enum,
    integer,
    nullable,
    number,
    obj,
    string,
)

BOT_TEXTS = tuple(DEFAULT_TEXTS["en"])

# -- request fields ------------------------------------------------------------------------------------

ID = string(1, 64, pattern="^[A-Za-z0-9_-]+$", description="an opaque id")
CLIENT_MSG_ID = string(8, 64, pattern="^[A-Za-z0-9_-]+$",
                       description="the sender's idempotency key: a retry with the same one is stored once")
ROLE = enum("owner", "admin", "agent")
#: Anything with an @ that is not at either end (the address is trimmed and lower-cased).
EMAIL = string(3, 254, pattern="^[^@]+@[^@]+$")
PASSWORD_NEW = string(8, 256, description="8 to 256 characters")
PASSWORD = string(0, 256)
HTTPS_URL = string(9, 500, pattern="^https://", description="an https URL")
#: How a browser writes an Origin header; a trailing slash and upper-case letters are normalised away.
ORIGIN = string(8, 300, pattern="^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9._-]+(:[0-9]{1,5})?/?$",
                description="an origin such as https://shop.example (scheme, host, optional port)")
TIME_ZONES = sorted(available_timezones())
TIME_ZONE = enum(*TIME_ZONES, description="an IANA time zone name")
HHMM = string(5, 5, pattern="^([01][0-9]|2[0-3]):[0-5][0-9]$")
#: Text with a character other than spaces, and no NUL anywhere (the rule every text obeys, spelled out
#: here because a pattern of its own would otherwise let generators put one in).
SOME_TEXT = "^[^\\x00]*[^ \\t\\n\\r\\x00][^\\x00]*$"
#: Names and texts people read (a label, a site's, an agent's, a canned reply): spaces alone would show
#: as nothing at all.
def named(max_len: int) -> Schema:
    return string(1, max_len, pattern=SOME_TEXT, description="not blank")


LABEL = named(40)

HOURS = nullable(obj({
    "tz": TIME_ZONE,
    "days": obj({day: array(array(HHMM, 2, 2), MAX_SPANS) for day in DAYS}, closed=True,
                description="mon..sun → a list of [open, close] spans, stored in order; a close not "
                            "after its open is on the next day (22:00 to 02:00), 00:00 to 00:00 is the "
                            "whole day; spans of one day that overlap are stored as one"),
}, required=["tz"], description="opening hours; null means always open"))

_RULE_COMMON: dict[str, Schema] = {
    "id": string(1, 40, pattern="^[A-Za-z0-9_-]+$"),
    "message": named(1000),
    "seconds": nullable(integer(0, 3600)),
}
# Closed like the settings around them: a key a rule does not have is refused, not silently dropped.
RULE = {"oneOf": [
    obj({**_RULE_COMMON, "trigger": {"const": "url"}, "url": string(0, 500)},
        required=["id", "trigger", "message", "url"], closed=True,
        description="shows when the page URL matches (* is a wildcard)"),
    obj({**_RULE_COMMON, "trigger": {"const": "time_on_page"}, "seconds": integer(0, 3600)},
        required=["id", "trigger", "message", "seconds"], closed=True,
        description="shows after this many seconds on a page"),
    obj({**_RULE_COMMON, "trigger": {"const": "event"}, "event": string(1, 64),
         "condition": nullable(obj({"field": string(0, 64), "op": enum(">", ">=", "<", "<=", "=="),
                                    "value": {"anyOf": [number(), string(0, 500)]}},
                                   required=["field", "op", "value"], closed=True))},
        required=["id", "trigger", "message", "event"], closed=True,
        description="shows when the page tracks this event"),
]}

#: No NUL anywhere (the rule every text obeys, docs/rest-api.md). Spelled out where a string sits under
#: `additionalProperties`: generators that honour "no NUL" elsewhere put one there.
_NO_NUL = "^[^\\x00]*$"

TRANSLATION = obj({
    "greeting": string(0, 500, pattern=_NO_NUL),
    "away": string(0, 500, pattern=_NO_NUL),
    "rules": obj({}, additionalProperties=string(0, 1000, pattern=_NO_NUL), maxProperties=50,
                 propertyNames=string(1, 40, pattern="^[A-Za-z0-9_-]+$"),
                 description="rule id → its message in this language"),
}, closed=True, description="a site's texts in one language; an empty or missing text is the default one")

_NODE_ID = string(1, 40, pattern="^[A-Za-z0-9_-]+$")
_SAID = string(1, 1000, pattern=SOME_TEXT, description="not blank")
_NEXT = nullable(string(1, 40, pattern="^[A-Za-z0-9_-]+$", description="a node id; one the tree does not have "
                        "means none"))
_NODE_KINDS: dict[str, tuple[dict[str, Schema], list[str], str]] = {
    "message": ({"text": _SAID, "next": _NEXT}, ["text"], "says its text, then goes on to `next` or waits"),
    "buttons": ({"text": _SAID, "options": array(obj({
        "label": string(1, MAX_LABEL, pattern=SOME_TEXT, description="not blank"), "next": _NODE_ID},
        required=["label", "next"], closed=True), MAX_OPTIONS - 1)}, ["text", "options"],
        "says its text with quick replies, each going to a node"),
    "question": ({"text": _SAID, "field": enum("email", "name", "order"), "next": _NEXT}, ["text", "field"],
                 "asks for an email, a name or an order number, validated; then `next` (none: a person)"),
    "faq": ({"text": _SAID, "next": _NEXT}, ["text"], "answers free questions from the FAQ entries"),
    "branch": ({"on": enum("open", "agents_online", "page", "language"), "value": string(0, 500, pattern=_NO_NUL),
                "yes": _NEXT, "no": _NEXT}, ["on"],
               "goes to `yes` or `no` (none: a person) after opening hours, agents online, the page URL "
               "(`value`: a pattern, * is a wildcard) or the language (`value`: a code)"),
    "handover": ({"text": string(0, 1000, pattern=_NO_NUL), "group": nullable(_NODE_ID)}, [], "hands over to a person"),
    "end": ({"text": _SAID}, ["text"], "the bot resolved it"),
}
#: The bot's tree (bot/tree.py, docs/bot.md). The shape is exact here; what nodes make of each other (a
#: `next` naming no node, a loop that never waits) gets a meaning in `check_bot`, not a refusal.
BOT = obj({
    "enabled": boolean(),
    "name": string(1, 60, pattern=SOME_TEXT, description="the name the bot's messages are signed with"),
    "start": string(0, 40, pattern="^[A-Za-z0-9_-]*$",
                    description="the node the bot starts at (empty, or a node it does not have: the first one)"),
    "nodes": array({"oneOf": [
        obj({"id": _NODE_ID, "kind": {"const": kind}, **fields}, required=["id", "kind", *required], closed=True,
            description=about)
        for kind, (fields, required, about) in _NODE_KINDS.items()]}, 100,
        description="the first node with an id wins; later ones with the same id are left out"),
    "faq": array(obj({"id": _NODE_ID, "question": string(1, 300, pattern=SOME_TEXT),
                      "keywords": array(string(1, 40, pattern=SOME_TEXT), 50),
                      "answer": string(1, 2000, pattern=SOME_TEXT)}, required=["question", "answer"],
                     closed=True), 200),
    "handover_words": array(string(1, 40, pattern=SOME_TEXT), 50, description="words that hand over at "
                            "once, besides human, agent, person, personne, conseiller…"),
    "texts": obj({k: string(0, 500, pattern=_NO_NUL) for k in BOT_TEXTS}, closed=True,
                 description="the bot's own words, overriding the defaults (docs/bot.md); empty: the default"),
}, closed=True, description="the site's bot: a decision tree and FAQ that always offers a person")

BOT_PREVIEW = obj({
    "bot": BOT,
    "state": nullable(obj({}, description="the `state` the previous preview answered (null: a new conversation)")),
    "input": obj({"text": string(0, 4000), "choice": nullable(string(1, 200, description="a quick reply's value"))},
                 closed=True, description="the visitor's message"),
    "context": obj({"open_now": boolean(), "agents_online": integer(0, 10000), "page_url": string(0, 2000),
                    "language": nullable(string(0, 35)), "email": string(0, 254), "can_email": boolean()},
                   closed=True, description="what branches and handovers look at (defaults: open, one agent "
                                            "online, no page, no language, no email, email possible)"),
}, description="a draft tree (the saved one when absent), a state and the visitor's message")

SETTINGS = obj({
    "color": string(7, 7, pattern="^#[0-9a-fA-F]{6}$"),
    "position": enum("left", "right"),
    "greeting": string(0, 500),
    "away": string(0, 500, description="what the widget says when nobody answers now; empty: the widget's "
                   "own words in the visitor's language"),
    "translations": obj({}, additionalProperties=TRANSLATION, maxProperties=20,
                        propertyNames=string(2, 2, pattern="^[a-z]{2}$"),
                        description="two-letter language code (fr, de…) → the greeting, away text and "
                                    "proactive messages in that language; a visitor whose language has "
                                    "none reads the default texts. Translations of removed rules are dropped"),
    "reply_time": integer(0, 7 * 86400, description="typical reply time in seconds"),
    "locale": enum("auto", "en", "fr"),
    "hours": HOURS,
    "launcher_icon": nullable(HTTPS_URL),
    "custom_css": {**string(0, 20000), "not": {"pattern": "</"}, "description": "CSS without `</`"},
    "rules": array(RULE, 50),
    "storage": enum("consent", "always"),
    "routing": enum("auto", "manual"),
    "after_hours": enum("away", "online", description="outside opening hours: away (nobody is assigned, "
                        "the widget says the team is away) or online (online agents pick up, the widget "
                        "says someone is there)"),
    "theme": enum("auto", "light", "dark", description="the widget's colour scheme; auto follows the "
                  "visitor's system"),
    "attachments_types": array(enum(*ATTACHMENT_CATEGORIES), len(ATTACHMENT_CATEGORIES),
                               description="the kinds of files visitors and agents may attach (an empty "
                                           "list turns attachments off)"),
    "attachments_max_mb": integer(1, ATTACHMENTS_MAX_MB, description="the largest file, in MB"),
    "email_continuation": boolean(description="email the visitor the agents' replies they have not read (only "
                                  "when the server has a relay, PAPOTE_SMTP_URL: see `email_available`)"),
    "email_delay": integer(0, 7 * 86400, description="seconds an agent's reply stays unread before it is emailed"),
    "email_foreign_sender": enum("flag", "refuse", description="a reply by email from another address than "
                                 "the visitor's: stored and flagged, or refused"),
    "spam_words": array(string(1, 60), 500, description="words or phrases that hold a visitor's message for "
                        "review (compared without case or accents, as whole words)"),
    "spam_max_links": nullable(integer(0, 1000, description="more links than this in one message hold it; "
                                       "null turns the rule off")),
    "spam_rate": nullable(integer(0, 1000, description="more messages than this from one visitor within a "
                                  "minute hold the next ones; null turns the rule off")),
    "nps_enabled": boolean(description="offer the NPS survey (0-10) after a conversation closes"),
    "nps_every_days": integer(1, 3650, description="ask one visitor at most once in this many days"),
    "consent_required": boolean(description="the widget stores nothing and opens no socket before the "
                                "visitor consents (its prompt, or the page's Papote('consent')); it wins "
                                "over storage always"),
    **{key: nullable(integer(1, RETENTION_MAX_DAYS, description=f"days; null keeps them ({what})"))
       for key, what in zip(RETENTION_SETTINGS, ("messages older than this are deleted, a conversation left "
                                                 "empty with them", "visitors not seen for this long are "
                                                 "erased whole", "files older than this are deleted; "
                                                 "their messages stay"), strict=True)},
    "email_support_address": string(0, 254, pattern=f"^({SUPPORT_ADDRESS})?$",
                                    description="mail to this address starts or continues a conversation "
                                                "(email as a channel); empty: off; another site's: conflict"),
    "email_transcript_on_close": boolean(description="mail the visitor the transcript when the conversation "
                                         "closes (to a confirmed address)"),
    "bot": BOT,
    "prechat": obj({
        "enabled": boolean(), "name": enum("off", "optional", "required"), "email": enum("off", "optional", "required"),
        "topics": array(obj({"id": string(1, 40, pattern="^[A-Za-z0-9_-]+$"),
                             "label": string(1, 60, pattern=SOME_TEXT),
                             "group": nullable(string(1, 40, pattern="^[A-Za-z0-9_-]+$"))},
                            required=["id", "label"], closed=True), 10,
                        description="a topic whose id or label repeats an earlier one is left out"),
    }, closed=True, description="the pre-chat form, also the away form (docs/bot.md#pre-chat-form)"),
    "groups": array(obj({"id": string(1, 40, pattern="^[A-Za-z0-9_-]+$"),
                         "name": string(1, 80, pattern=SOME_TEXT),
                         "agents": array(ID, 500, description="agent ids; one that is no member is never chosen")},
                        required=["id"], closed=True), 20,
                    description="groups of agents a bot's handover may name (docs/bot.md); a group whose id "
                                "repeats an earlier one is left out"),
}, closed=True, description="only the settings named change; the others keep their values")

# -- request bodies ------------------------------------------------------------------------------------

LOGIN = obj({"email": string(0, 254), "password": PASSWORD}, required=["email", "password"])
UPDATE_ME = obj({"name": named(80), "avatar": nullable(HTTPS_URL), "capacity": integer(1, 50)})
FORGOT_PASSWORD = obj({"email": string(0, 254)}, required=["email"])
RESET_PASSWORD = obj({"token": string(8, 128), "password": PASSWORD_NEW}, required=["token", "password"])
UPDATE_MY_MAIL = obj({"waiting": boolean(description="a mail when a visitor writes and no agent is online")})
CHANGE_PASSWORD = obj({"current": PASSWORD, "new": PASSWORD_NEW}, required=["current", "new"])
SITE_FIELDS: dict[str, Schema] = {"name": named(120), "origins": array(ORIGIN, 50), "settings": SETTINGS}
CREATE_SITE = obj(SITE_FIELDS, required=["name"])
UPDATE_SITE = obj(SITE_FIELDS)
UPDATE_AGENT = obj({"role": ROLE, "disabled": boolean()})
TRANSFER = obj({"agent": ID}, required=["agent"], description="the member who becomes the owner")
CREATE_KEY = obj({"name": named(80)}, required=["name"])
SAVE_CANNED = obj({"shortcut": string(1, 40, pattern="^[A-Za-z0-9_-]+$"), "body": named(4000)},
                  required=["shortcut", "body"])

#: Web Push: the alerts a device may get (store/push.py `ALERTS`), each on or off.
ALERT_CHOICES = obj({
    "new_conversation": boolean(description="a visitor starts a conversation on one of my sites"),
    "visitor_reply": boolean(description="a visitor writes in a conversation assigned to me"),
    "transfer": boolean(description="another agent transfers or assigns a conversation to me"),
    "mention": boolean(description="another agent mentions me in a private note"),
}, closed=True, description="alerts not named keep their value (all on for a new device)")
SUBSCRIBE_DEVICE = obj({
    "endpoint": string(12, 2000, pattern="^https?://", description="the push service's URL for this browser "
                       "(PushSubscription.endpoint); it must belong to a service of PAPOTE_PUSH_SERVICES"),
    "keys": obj({"p256dh": string(80, 100, pattern="^[A-Za-z0-9_-]+=*$"),
                 "auth": string(16, 30, pattern="^[A-Za-z0-9_-]+=*$")},
                required=["p256dh", "auth"], closed=True, description="PushSubscription.toJSON().keys"),
    "label": string(0, 80, description="what I call this device"),
    "alerts": ALERT_CHOICES,
}, required=["endpoint", "keys"])
CHOOSE_ALERTS = obj({"alerts": ALERT_CHOICES}, required=["alerts"])


QUICK_REPLY = obj({"label": string(1, MAX_LABEL, pattern=LABEL_PATTERN, description="not blank"),
                   "value": nullable(string(1, MAX_VALUE))}, required=["label"],
                  description="a button under the message; `value` (the label when absent) is what choosing "
                              "it stands for")


#: A reply that mentions someone: a mention is for agents, and a reply reaches the visitor.
_REPLY_WITH_MENTIONS: Schema = {"required": ["mentions"],
                                "properties": {"mentions": {"minItems": 1}, "note": {"not": {"const": True}}}}


def post_message(max_body_chars: int) -> Schema:
    schema = obj({"body": string(1, max_body_chars), "client_msg_id": CLIENT_MSG_ID,
                  "note": boolean(description="a private note, seen by agents only"),
                  "quick_replies": array(QUICK_REPLY, MAX_OPTIONS, description=(
                      "options the visitor may tap, shown under the message; a note offers none (they are "
                      "left out), and an option repeating an earlier label (trimmed, without case) is left out")),
                  "mentions": array(ID, 20, description=(
                      "agents of the site a note mentions (only with `note`; 404 for an id that is not an agent "
                      "of the site): each is told, on their consoles and devices")),
                  "attachments": array(ID, 10, description="ids of files uploaded first (POST "
                                       "/api/sites/{key}/attachments), in the order shown; with some, "
                                       "`body` may be left out")},
                 description="`body`, `attachments` or both; `mentions` only with `note: true`",
                 anyOf=[{"required": ["body"]},
                        {"required": ["attachments"], "properties": {"attachments": {"minItems": 1}}}])
    return {**schema, "not": _REPLY_WITH_MENTIONS}


ASSIGN = obj({"agent": ID, "note": nullable(string(0, 4000))}, required=["agent"])
SNOOZE = obj({"until": integer(0, MAX_SAFE_INT, description=(
    "epoch milliseconds, after now and within a year (`bad_field` otherwise)"))}, required=["until"])
LABEL_CHANGE = obj({"add": nullable(array(LABEL, 20)), "remove": nullable(array(LABEL, 20))})
CREATE_INVITE = {**obj({"email": EMAIL, "role": {**ROLE, "default": "agent"}}, required=["email"],
                       description="no password: the person chooses theirs when accepting"),
                 "not": {"required": ["password"]}}
INVITE_TOKEN = string(8, 128)
INSPECT_INVITE = obj({"token": INVITE_TOKEN}, required=["token"])
ACCEPT_INVITE = obj({"token": INVITE_TOKEN, "password": PASSWORD_NEW, "name": nullable(string(0, 120))},
                    required=["token", "password"])

# -- query parameters ----------------------------------------------------------------------------------

LIST_CONVERSATIONS_QUERY: dict[str, Schema] = {
    "site": string(0, 64, description="a site key: only this site's conversations"),
    "status": enum("open", "closed"),
    "assignee": string(1, 64, description="an agent id, or `me`"),
    "unassigned": boolean(description="only conversations nobody is assigned"),
    "snoozed": boolean(description="true: only the snoozed ones; false: leave them out (absent: either)"),
    "visitor": string(1, 64, description="a visitor id"),
    "q": string(0, 200, description="words searched in messages, visitor names and emails"),
    "limit": integer(1, 200, default=50),
    "before": integer(0, 2**62, description="updated_at of the last conversation of the previous page"),
}
MESSAGES_QUERY: dict[str, Schema] = {
    "before_seq": integer(1, MAX_SAFE_INT, description="the page before this seq (newest page without it)"),
    "after_seq": integer(0, MAX_SAFE_INT, description="every message after this seq, oldest first"),
    "limit": integer(1, 200, default=50),
}
#: Reports reach the year 3000 (calendar arithmetic stops at 9999).
MAX_REPORT_MS = 32_503_680_000_000
REPORT_QUERY: dict[str, Schema] = {
    "from": integer(0, MAX_REPORT_MS, description="start, epoch ms (default: 30 days before `to`); at or "
                                                 "after `to` the report is empty; moved up to fit 400 buckets"),
    "to": integer(0, MAX_REPORT_MS, description="end, epoch ms (default: now)"),
    "bucket": enum("hour", "day", description="series step (default: hour up to two days, else day); "
                                              "at most 400 buckets per report"),
    "tz": {**TIME_ZONE, "description": "time zone of the buckets (default: the site's, else UTC)"},
    # An id's characters only: it also names the CSV file (Content-Disposition).
    "agent": {**ID, "description": "only this agent's conversations"},
}

# -- responses -----------------------------------------------------------------------------------------

_STR = string(0, 100000)
_INT = {"type": "integer"}
_NUM = {"type": "number"}
_MS = {"type": "integer", "minimum": 0, "description": "epoch milliseconds"}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _record(properties: dict[str, Schema], **extra: Any) -> Schema:
    """A response object: every property listed is always present."""
    return obj(properties, required=list(properties), **extra)


OK = _record({"ok": {"const": True}})
AUTHOR = _record({"kind": enum("agent", "visitor", "system", "bot"), "id": nullable(_STR), "name": nullable(_STR)})
AGENT_AUTHOR = _record({"kind": {"const": "agent"}, "id": _STR, "name": _STR, "avatar": nullable(_STR)})
AGENT = _record({**AGENT_AUTHOR["properties"], "email": _STR, "disabled": boolean(),
                 "account_disabled": boolean(), "status": enum("online", "away", "offline"), "capacity": _INT,
                 "role": nullable(ROLE)},
                description="in a site's team, `disabled` is the membership's state on that site and "
                            "`account_disabled` the server operator's disable of the whole account")
SITE_AGENT = _record({**AGENT["properties"], "presence": enum("online", "away", "offline"), "load": _INT})
SITE = _record({"id": _STR, "key": _STR, "name": _STR, "origins": array(_STR, 1000),
                "settings": {"type": "object"}, "created_at": _MS},
               description="`secrets` (the identity-verification secrets, current first) is shown to admins")
SITE["properties"]["secrets"] = array(_STR, 2)
SITE["properties"]["email_available"] = boolean(
    description="one site's own view and its changes: whether this server sends email (PAPOTE_SMTP_URL); without "
                "it the `email_continuation` setting has no effect (docs/channels.md)")
SITE_WITH_SECRETS = {**SITE, "required": [*SITE["required"], "secrets"]}
MY_SITE = {**SITE, "properties": {**SITE["properties"], "role": ROLE}, "required": [*SITE["required"], "role"]}
ATTACHMENT = _record({"id": _STR, "kind": enum("image", "file"), "content_type": _STR, "size": _INT,
                      "name": _STR, "width": nullable(_INT), "height": nullable(_INT), "thumbnail": boolean()},
                     description="a file: `image` ones (re-encoded, metadata gone) have their size in pixels "
                                 "and a thumbnail")
MESSAGE = obj({"conversation": _STR, "seq": _INT, "ts": _MS, "kind": _STR, "author": ref("Author"),
               "body": _STR, "client_msg_id": nullable(_STR), "event": nullable(_STR),
               "data": nullable({"type": "object"}), "attachments": array(ref("Attachment"), 10)},
              required=["conversation", "seq", "ts", "kind", "author", "body", "client_msg_id"])
VISITOR_SHORT = obj({"id": _STR, "name": _STR, "email": _STR, "verified": boolean(),
                     "channel": enum("whatsapp", "telegram", "twilio", "messenger", "instagram", description=(
                         "the messaging app this customer writes from (absent: the web widget)"))},
                    required=["id", "name", "email", "verified"])
VISITOR = _record({"id": _STR, "name": _STR, "email": _STR, "verified": boolean(), "page": {"type": "object"},
                   "pages": {"type": "array"}, "device": {"type": "object"}, "attributes": {"type": "object"},
                   "created_at": _MS, "last_seen": _MS, "user_id": nullable(_STR)})
CONVERSATION = _record({
    "id": _STR, "site": _STR, "site_id": _STR, "status": enum("open", "closed"),
    "assignee": nullable(ref("AgentAuthor")), "last_seq": _INT, "created_at": _MS, "updated_at": _MS,
    "queue": nullable(_record({"position": _INT, "wait_secs": nullable(_INT)})),
    "visitor": nullable(ref("VisitorShort")), "labels": array(_STR, 1000),
    "contact_email": _STR, "rating": nullable(_INT), "rating_comment": nullable(_STR),
    "read_seq": _INT, "peer_read_seq": _INT, "unread": _INT, "last_message": nullable(ref("Message")),
    "snoozed_until": nullable({**_MS, "description": "set aside until then, out of the open queues (null: not "
                                                     "snoozed); its visitor's next message ends it sooner"}),
})
EVENT = _record({"name": _STR, "data": any_json(), "at": _MS})
CONVERSATION_DETAIL = {**CONVERSATION,
                       "properties": {**CONVERSATION["properties"], "visitor": nullable(ref("Visitor")),
                                      "events": array(ref("Event"), 100000)},
                       "required": [*CONVERSATION["required"], "events"]}
_STAT = nullable(_NUM)
REPORT_SUMMARY = _record({"conversations": _INT, "first_response_median_s": _STAT, "first_response_p90_s": _STAT,
                          "wait_median_s": _STAT, "wait_p90_s": _STAT, "resolution_median_s": _STAT,
                          "resolution_p90_s": _STAT, "ratings": _INT, "rating_avg": _STAT, "csat_pct": _STAT,
                          "missed": _INT, "nps_responses": _INT, "nps_promoters": _INT, "nps_passives": _INT,
                          "nps_detractors": _INT, "nps_score": _STAT})
ERROR = _record({"error": _record({"code": enum(*(c.value for c in ErrorCode)), "message": _STR})},
                description="every refusal: a machine-readable code and a message for people")

#: Named shapes, published under components.schemas.
COMPONENTS: dict[str, Schema] = {
    "Error": ERROR, "Ok": OK, "Author": AUTHOR, "AgentAuthor": AGENT_AUTHOR, "Agent": AGENT,
    "SiteAgent": SITE_AGENT, "Site": SITE, "SiteWithSecrets": SITE_WITH_SECRETS, "MySite": MY_SITE,
    "Message": MESSAGE, "VisitorShort": VISITOR_SHORT, "Visitor": VISITOR, "Conversation": CONVERSATION,
    "ConversationDetail": CONVERSATION_DETAIL, "Event": EVENT, "ReportSummary": REPORT_SUMMARY,
    "Attachment": ATTACHMENT,
}

SIGNED_IN = _record({"agent": ref("Agent"),
                     "sites": array(_record({"id": _STR, "role": ROLE}), 10000)})
ME = _record({"agent": ref("Agent"), "sites": array(ref("MySite"), 10000), "operator": boolean(),
              "can_create_sites": boolean()})
AGENT_ONLY = _record({"agent": ref("Agent")})
SITES = _record({"sites": array({"anyOf": [ref("MySite"), ref("Site")]}, 10000)})
SECRETS = _record({"secrets": array(_STR, 2, 1)})
SNIPPET = _record({"snippet": _STR})
SITE_AGENTS = _record({"agents": array(ref("SiteAgent"), 100000)})
KEYS = _record({"keys": array(_record({"id": _STR, "name": _STR, "created_at": _MS}), 100000)})
NEW_KEY = _record({"id": _STR, "key": _STR}, description="the key's secret, shown this once only")
CANNED_ITEM = _record({"id": _STR, "shortcut": _STR, "body": _STR})
CANNED = _record({"canned": array(CANNED_ITEM, 100000)})
CONVERSATIONS = _record({"conversations": array(ref("Conversation"), 200)})
MESSAGES = obj({"messages": array(ref("Message"), 200), "more": boolean(), "last_seq": _INT},
               required=["messages"], description="`more` and `last_seq` come with pages (not with after_seq)")
ACK = _record({"client_msg_id": _STR, "conversation": _STR, "seq": _INT, "ts": _MS})
VISITOR_DETAIL = _record({"visitor": ref("Visitor"), "conversations": array(ref("Conversation"), 50),
                          "events": array(ref("Event"), 100000)})
#: Where a conversation happens, or a channel a contact is known on (contacts.py).
CHANNEL_KINDS = ("web", "email", "whatsapp", "telegram", "twilio", "messenger", "instagram")
CHANNEL = _record({"kind": enum(*CHANNEL_KINDS),
                   "address": nullable(_STR),
                   "account": nullable(_record({"id": _STR, "name": _STR}))},
                  description="`address`: the phone number, chat or page-scoped id on a messaging app, the email "
                              "address by mail, the site's user id on the web (null while anonymous); `account`: "
                              "the site's account on the messaging app (null on the web and by mail)")
IDENTITY = obj({**CHANNEL["properties"], "name": _STR, "verified": boolean(),
                "conversation": nullable(_STR), "last_inbound_at": nullable(_MS), "since": _MS},
               required=[*CHANNEL["required"], "name", "verified"],
               description="a channel the contact is known on; `verified`: the site identified them (web, and "
                           "the email they were identified with), or the provider vouches for the address "
                           "(messaging apps); `conversation`, `last_inbound_at` and `since` come with messaging "
                           "identities: the conversation their next message goes to, when they last wrote")
TIMELINE_CONVERSATION = {**CONVERSATION, "properties": {**CONVERSATION["properties"], "channel": CHANNEL},
                         "required": [*CONVERSATION["required"], "channel"]}
TIMELINE = _record({"visitor": ref("Visitor"), "identities": array(IDENTITY, 1000),
                    "conversations": array(TIMELINE_CONVERSATION, 100,
                                           description="most recent activity first (`updated_at`)")})
MERGED = _record({**TIMELINE["properties"], "kept": _STR, "merged": _STR},
                 description="the kept contact's timeline; `kept` and `merged` say which way the merge went "
                             "(a verified contact is always the one kept)")
CONTACT_CARD = obj({**VISITOR_SHORT["properties"], "user_id": nullable(_STR), "last_seen": _MS, "created_at": _MS,
                    "identities": array(CHANNEL, 1000)},
                   required=[*VISITOR_SHORT["required"], "user_id", "last_seen", "created_at", "identities"])
CONTACTS = _record({"contacts": array(CONTACT_CARD, 20, description="most recently seen first")})
CONTACTS_QUERY: dict[str, Schema] = {
    "q": string(0, 200, description="part of a name, an email, a user id or a channel address (a phone "
                                    "number, a chat id), or a visitor id; empty: the latest seen"),
}
MERGE = obj({"from": {**ID, "description": "the contact merged away (deleted once merged)"}},
            required=["from"], closed=True)
REPORT = _record({
    "site": _STR, "from": _MS, "to": _MS, "bucket": enum("hour", "day"), "tz": _STR, "agent": nullable(_STR),
    "summary": ref("ReportSummary"),
    "series": array({"allOf": [ref("ReportSummary"), _record({"start": {
        "type": "integer", "description": "the bucket's start, epoch ms, aligned in `tz` (may precede `from`)"}})]},
        100000),
    "agents": array({"allOf": [ref("ReportSummary"), _record({"agent": nullable(_STR), "name": _STR})]}, 100000),
    "nps_comments": array(_record({"conversation": _STR, "score": _INT, "comment": _STR, "at": _MS}), 100,
                          description="the latest NPS answers with a comment, latest first"),
    "bot": _record({"conversations": integer(0, MAX_SAFE_INT), "resolved": integer(0, MAX_SAFE_INT),
                    "handovers": integer(0, MAX_SAFE_INT), "active": integer(0, MAX_SAFE_INT),
                    "resolution_rate_pct": nullable(number()), "handover_rate_pct": nullable(number())},
                   description="the bot's sessions started in the range (docs/bot.md); rates over all of them"),
})
INVITE = _record({"id": _STR, "email": _STR, "role": ROLE, "expires_at": _MS, "token": _STR, "url": _STR,
                  "emailed": boolean(description="whether the invitation was mailed to the address")})
MY_MAIL = _record({"waiting": boolean()})
_BOT_OUTPUT = obj({"kind": enum("say", "handover", "remember", "resolved"), "text": _STR,
                   "options": array(_record({"label": _STR, "value": _STR}), MAX_OPTIONS),
                   "reason": _STR, "group": nullable(_STR), "field": _STR, "value": _STR}, required=["kind"],
                  description="say: a message and its quick replies; handover: to a person (group); remember: "
                              "a field the visitor gave; resolved: an end of the tree")
BOT_PREVIEWED = _record({"state": {"type": "object"}, "outputs": array(_BOT_OUTPUT, 100)})
INVITATION = _record({"id": _STR, "email": _STR, "role": ROLE, "invited_by": _record({"id": _STR, "name": _STR}),
                      "created_at": _MS, "expires_at": _MS, "valid": boolean()},
                     description="`valid` is false once its author lost the power to grant its role")
SITE_INVITES = _record({"invites": array(INVITATION, 100000)})
MY_INVITES = _record({"invites": array({**INVITATION, "properties": {
    **INVITATION["properties"], "site": _record({"id": _STR, "key": _STR, "name": _STR})},
    "required": [*INVITATION["required"], "site"]}, 100000)})
ACCEPTED = _record({"site": _record({"id": _STR, "key": _STR, "name": _STR, "role": ROLE})})
INVITE_INFO = _record({"email": _STR, "role": ROLE, "site": _STR, "expires_at": _MS})
TRANSFERRED = _record({"agents": array(ref("Agent"), 2, 2, description="the new owner, then me")})
PUSH_KEY = _record({"public_key": nullable(_STR)},
                   description="the VAPID public key, base64url (a browser's applicationServerKey); null: "
                               "alerts are off on this server")
DEVICE = _record({"id": _STR, "endpoint": _STR, "label": _STR, "created_at": _MS,
                  "alerts": _record({"new_conversation": boolean(), "visitor_reply": boolean(),
                                     "transfer": boolean(), "mention": boolean()})})
DEVICES = _record({"devices": array(DEVICE, 10000)})
