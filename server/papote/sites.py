"""A site's settings: their defaults, their validation, and opening hours in the site's time zone.

Settings are one JSON map per site so that adding one needs no migration; `validate_settings` is the
gate every write passes (CLI, REST API), and `public_settings` is what a visitor's widget may see.
`Sites` is the service the REST API calls to create and change sites, their secrets, API keys and
canned responses.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from papote import moderation_rules
from papote.bot import tree as bot_tree
from papote.errors import Conflict, ErrorCode, PapoteError
from papote.store import ApiKey, CannedResponse, Site, Store, rules
from papote.types import Role

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Opening spans per day: a morning, an afternoon and an evening fit many times over; the API schema
#: says the same.
MAX_SPANS = 10

DEFAULTS: dict[str, Any] = {
    "color": "#4f46e5",
    "position": "right",
    "greeting": "",
    #: What the widget says when nobody answers now; "" is the widget's own words, in the visitor's language.
    "away": "",
    #: The greeting, the away text and the proactive messages in other languages:
    #: {"fr": {"greeting": "…", "away": "…", "rules": {rule_id: "…"}}}. A visitor whose language has
    #: none (or an empty one) reads the texts above. See `localized`.
    "translations": {},
    #: Expected reply time in seconds, shown as "typically replies in …".
    "reply_time": 300,
    "locale": "auto",
    #: None means always open. Otherwise {"tz": "Europe/Paris", "days": {"mon": [["09:00", "18:00"]]}}.
    "hours": None,
    "launcher_icon": None,
    "custom_css": "",
    "rules": [],
    #: "consent": nothing is written to the visitor's storage before they interact. "always": at load.
    "storage": "consent",
    #: "auto": the router assigns; "manual": agents pick from the queue.
    "routing": "auto",
    #: Outside opening hours: "away" — nobody is assigned and the widget says the team is away;
    #: "online" — agents who are online pick up anyway, and the widget says someone is there.
    "after_hours": "away",
    #: The widget's colour scheme: "auto" follows the visitor's system (prefers-color-scheme);
    #: "light" or "dark" holds it, for a site whose pages are always one or the other.
    "theme": "auto",
    #: Files visitors and agents may attach: categories of papote/attachments/sniff.py (an empty list
    #: turns attachments off), and the size of one file.
    "attachments_types": ["image", "pdf", "text", "office"],
    #: 10 MB: a phone's photo or a scanned invoice fits; the server's cap is ATTACHMENTS_MAX_MB.
    "attachments_max_mb": 10,
    #: Email continuation (docs/channels.md): an agent's reply the visitor has not read after
    #: `email_delay` seconds goes to them by email, when the server has a relay (PAPOTE_SMTP_URL).
    "email_continuation": True,
    "email_delay": 120,
    #: A reply by email from another address than the visitor's: "flag" stores it marked as such,
    #: "refuse" turns it away at the SMTP level.
    "email_foreign_sender": "flag",
    #: Moderation (the spam filter's rules) and the NPS survey: papote/moderation_rules.py.
    **moderation_rules.DEFAULTS,
    #: Consent mode (docs/privacy.md): the widget stores nothing and opens no socket before the visitor
    #: consents (its own prompt, or the page's `Papote('consent')`). It wins over `storage: "always"`,
    #: which the widget is then told is "consent" (`widget_storage`).
    "consent_required": False,
    #: Retention in days (None: kept until erased). Messages older than this go (a conversation left
    #: empty goes with them); visitors not seen for this long are erased whole; attachments older than
    #: this are deleted, their messages stay. privacy.py runs it hourly, on one node.
    "retention_messages_days": None,
    "retention_visitors_days": None,
    "retention_attachments_days": None,
    #: Email as a channel of its own (docs/channels.md): mail to this address (received by the built-in
    #: listener or a provider's inbound webhook) starts or continues a conversation; "" is off.
    "email_support_address": "",
    #: Mail the visitor the conversation's transcript when it closes (to a confirmed address only).
    "email_transcript_on_close": False,
    #: The site's bot (docs/bot.md): a decision tree with an FAQ, off until the site turns it on.
    "bot": dict(bot_tree.DEFAULTS),
    #: Groups of agents a bot's handover may name: [{"id": "sales", "name": "Sales", "agents": [agent id, …]}].
    #: A conversation handed to a group goes to its agents only (routing.py).
    "groups": [],
    #: The pre-chat form (docs/bot.md#pre-chat-form): asked before a conversation starts, and as the
    #: away form outside opening hours. `name`/`email`: "off", "optional" or "required"; `topics`:
    #: [{"id", "label", "group"?}], a topic may route to a group of agents.
    "prechat": {"enabled": False, "name": "optional", "email": "optional", "topics": []},
}
#: The settings of retention, and their range: ten years is longer than any law asks to keep a chat.
RETENTION_SETTINGS = ("retention_messages_days", "retention_visitors_days", "retention_attachments_days")
RETENTION_MAX_DAYS = 3650
#: Topics a pre-chat form offers: a short list the visitor reads at a glance.
MAX_TOPICS = 10
_ASK = ("off", "optional", "required")
#: Groups per site, and agents per group: a support team's desks, not an org chart.
MAX_GROUPS = 20
MAX_GROUP_AGENTS = 500
#: The categories `attachments_types` may name (papote/attachments/sniff.py: CATEGORIES).
ATTACHMENT_CATEGORIES = ("image", "pdf", "text", "office")
ATTACHMENTS_MAX_MB = 25

_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_RULE_TRIGGERS = {"url", "time_on_page", "event"}
#: A canned response's shortcut, typed after `/` in the console.
_SHORTCUT = re.compile(r"[A-Za-z0-9_-]+")
_OPS = {">", ">=", "<", "<=", "=="}
#: A support address: a local part and a domain with a dot, nothing that needs quoting.
#: (`\x24` is `$`, written so that the JSON Schema pattern has `$` only at its end.)
SUPPORT_ADDRESS = r"[A-Za-z0-9.!#\x24%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+([.][A-Za-z0-9-]+)+"
_SUPPORT_ADDRESS = re.compile(SUPPORT_ADDRESS)
#: A translation is keyed by an ISO 639-1 language code: what the widget compares with the visitor's
#: language (its own words ship in en and fr, but a site may greet in any language).
_LANGUAGE = re.compile(r"[a-z]{2}")
_RULE_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
#: Languages a site may translate its texts into: more than a shop keeps up to date, and few enough
#: that every variant travels in the widget's `welcome` (the widget picks among them as it draws).
MAX_TRANSLATIONS = 20
#: The texts a translation may hold.
TRANSLATED = ("greeting", "away", "rules")


def _bad(message: str) -> PapoteError:
    return PapoteError(message, ErrorCode.BAD_FIELD)


def validate_settings(changes: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """Merge `changes` into `current` (or the defaults) after checking each field."""
    merged = {**DEFAULTS, **(current or {})}
    for key, value in changes.items():
        if key not in DEFAULTS:
            raise _bad(f"unknown setting '{key}'")
        merged[key] = _check(key, value)
    # A translation of a rule the site no longer has would never be read: it goes with the rule.
    ids = {rule["id"] for rule in merged["rules"]}
    translations: dict[str, dict[str, Any]] = {}
    for lang, texts in merged["translations"].items():
        kept = {k: v for k, v in texts.items() if k != "rules"}
        messages = {rid: m for rid, m in texts.get("rules", {}).items() if rid in ids}
        if messages:
            kept["rules"] = messages
        if kept:
            translations[lang] = kept
    merged["translations"] = translations
    return merged


def _check(key: str, value: Any) -> Any:
    if key == "color":
        if not isinstance(value, str) or not _COLOR.fullmatch(value):
            raise _bad("color must look like #4f46e5")
    elif key == "position":
        if value not in ("left", "right"):
            raise _bad("position must be left or right")
    elif key in ("greeting", "away"):
        if not isinstance(value, str) or len(value) > 500:
            raise _bad(f"{key} must be text of at most 500 characters")
    elif key == "custom_css":
        if not isinstance(value, str) or len(value) > 20000 or "</" in value:
            raise _bad("custom_css must be CSS text of at most 20000 characters")
    elif key == "reply_time":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 7 * 86400:
            raise _bad("reply_time must be a number of seconds up to a week")
    elif key == "locale":
        if value not in ("auto", "en", "fr"):
            raise _bad("locale must be auto, en or fr")
    elif key == "launcher_icon":
        if value is not None and (not isinstance(value, str) or not value.startswith("https://")
                                  or len(value) > 500):
            raise _bad("launcher_icon must be an https URL")
    elif key == "storage":
        if value not in ("consent", "always"):
            raise _bad("storage must be consent or always")
    elif key == "routing":
        if value not in ("auto", "manual"):
            raise _bad("routing must be auto or manual")
    elif key == "theme":
        if value not in ("auto", "light", "dark"):
            raise _bad("theme must be auto, light or dark")
    elif key == "after_hours":
        if value not in ("away", "online"):
            raise _bad("after_hours must be away or online")
    elif key == "attachments_types":
        if not isinstance(value, list) or not all(v in ATTACHMENT_CATEGORIES for v in value):
            raise _bad("attachments_types must list some of " + ", ".join(ATTACHMENT_CATEGORIES))
        value = [c for c in ATTACHMENT_CATEGORIES if c in value]
    elif key == "attachments_max_mb":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ATTACHMENTS_MAX_MB:
            raise _bad(f"attachments_max_mb must be a whole number of MB from 1 to {ATTACHMENTS_MAX_MB}")
    elif key == "email_continuation":
        if not isinstance(value, bool):
            raise _bad("email_continuation must be true or false")
    elif key == "email_delay":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 7 * 86400:
            raise _bad("email_delay must be a number of seconds up to a week")
    elif key == "email_foreign_sender":
        if value not in ("flag", "refuse"):
            raise _bad("email_foreign_sender must be flag or refuse")
    elif key in moderation_rules.DEFAULTS:
        value = moderation_rules.check_setting(key, value)
    elif key == "consent_required":
        if not isinstance(value, bool):
            raise _bad("consent_required must be true or false")
    elif key in RETENTION_SETTINGS:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 1 <= value <= RETENTION_MAX_DAYS):
            raise _bad(f"{key} must be null (keep) or a number of days from 1 to {RETENTION_MAX_DAYS}")
    elif key == "email_support_address":
        if not isinstance(value, str) or (value and not _SUPPORT_ADDRESS.fullmatch(value)):
            raise _bad("email_support_address must be an email address, or empty")
        value = value.casefold()
    elif key == "email_transcript_on_close":
        if not isinstance(value, bool):
            raise _bad("email_transcript_on_close must be true or false")
    elif key == "bot":
        value = bot_tree.check_bot(value)
    elif key == "groups":
        value = _check_groups(value)
    elif key == "prechat":
        value = _check_prechat(value)
    elif key == "hours":
        value = _check_hours(value)
    elif key == "rules":
        value = _check_rules(value)
    elif key == "translations":
        value = _check_translations(value)
    return value


def _check_groups(value: Any) -> list[dict[str, Any]]:
    """[{id, name, agents}]: a group whose id repeats an earlier one is left out (the first one wins); an
    agent id that is no member of the site is kept and simply never chosen."""
    if not isinstance(value, list) or len(value) > MAX_GROUPS:
        raise _bad(f"groups must be a list of at most {MAX_GROUPS} groups")
    out: list[dict[str, Any]] = []
    for group in value:
        if (not isinstance(group, dict) or not isinstance(group.get("id"), str)
                or not _RULE_ID.fullmatch(group["id"])):
            raise _bad("each group needs an id of letters, digits, _ or -")
        name = group.get("name", group["id"])
        if not isinstance(name, str) or not 0 < len(name.strip()) <= 80:
            raise _bad("a group's name is text of 1 to 80 characters")
        agents = group.get("agents", [])
        if (not isinstance(agents, list) or len(agents) > MAX_GROUP_AGENTS
                or not all(isinstance(a, str) and 0 < len(a) <= 64 for a in agents)):
            raise _bad(f"a group's agents are at most {MAX_GROUP_AGENTS} agent ids")
        if any(g["id"] == group["id"] for g in out):
            continue
        out.append({"id": group["id"], "name": name.strip(), "agents": list(dict.fromkeys(agents))})
    return out


def _check_prechat(value: Any) -> dict[str, Any]:
    """{enabled, name, email, topics}: a topic whose id or label repeats an earlier one is left out."""
    if not isinstance(value, dict) or not set(value) <= {"enabled", "name", "email", "topics"}:
        raise _bad("prechat must be {enabled, name, email, topics}")
    merged = {**DEFAULTS["prechat"], **value}
    if not isinstance(merged["enabled"], bool):
        raise _bad("prechat.enabled must be true or false")
    for key in ("name", "email"):
        if merged[key] not in _ASK:
            raise _bad(f"prechat.{key} must be off, optional or required")
    topics = merged["topics"]
    if not isinstance(topics, list) or len(topics) > MAX_TOPICS:
        raise _bad(f"prechat.topics must be a list of at most {MAX_TOPICS} topics")
    out: list[dict[str, Any]] = []
    for topic in topics:
        if not isinstance(topic, dict) or not isinstance(topic.get("id"), str) or not _RULE_ID.fullmatch(topic["id"]):
            raise _bad("each topic needs an id of letters, digits, _ or -")
        label = topic.get("label")
        if not isinstance(label, str) or not 0 < len(label.strip()) <= 60:
            raise _bad("a topic's label is text of 1 to 60 characters")
        group = topic.get("group")
        if group is not None and (not isinstance(group, str) or not _RULE_ID.fullmatch(group)):
            raise _bad("a topic's group is a group id")
        if any(t["id"] == topic["id"] or t["label"].casefold() == label.strip().casefold() for t in out):
            continue
        out.append({"id": topic["id"], "label": label.strip(), **({"group": group} if group else {})})
    return {"enabled": merged["enabled"], "name": merged["name"], "email": merged["email"], "topics": out}


def topic_of(settings: dict[str, Any], topic_id: str | None) -> dict[str, Any] | None:
    """The site's pre-chat topic of that id (None: no such topic, or no form)."""
    prechat = settings.get("prechat") or {}
    return next((t for t in prechat.get("topics", []) if t["id"] == topic_id), None) if topic_id else None


def group_members(settings: dict[str, Any]) -> dict[str, frozenset[str]]:
    """{group id: its agents} of a site's settings."""
    return {g["id"]: frozenset(g["agents"]) for g in settings.get("groups") or []}


def _check_translations(value: Any) -> dict[str, dict[str, Any]]:
    """{language: {greeting?, away?, rules?: {rule id: message}}}; an empty text means "the default",
    so it is not stored."""
    if not isinstance(value, dict) or len(value) > MAX_TRANSLATIONS:
        raise _bad(f"translations must map at most {MAX_TRANSLATIONS} language codes to texts")
    clean: dict[str, dict[str, Any]] = {}
    for lang, texts in value.items():
        if not _LANGUAGE.fullmatch(lang):
            raise _bad(f"translations: {lang[:20]!r} is not a two-letter language code such as fr")
        if not isinstance(texts, dict) or not set(texts) <= set(TRANSLATED):
            raise _bad(f"translations.{lang} holds greeting, away and rules only")
        out: dict[str, Any] = {}
        for key in ("greeting", "away"):
            text = texts.get(key, "")
            if not isinstance(text, str) or len(text) > 500:
                raise _bad(f"translations.{lang}.{key} must be text of at most 500 characters")
            if text:
                out[key] = text
        messages = texts.get("rules", {})
        if not isinstance(messages, dict) or len(messages) > 50:
            raise _bad(f"translations.{lang}.rules must map rule ids to messages")
        rules_out = {}
        for rid, message in messages.items():
            if not _RULE_ID.fullmatch(rid):
                raise _bad(f"translations.{lang}.rules: {rid[:40]!r} is not a rule id")
            if not isinstance(message, str) or len(message) > 1000:
                raise _bad(f"translations.{lang}.rules.{rid} must be text of at most 1000 characters")
            if message:
                rules_out[rid] = message
        if rules_out:
            out["rules"] = rules_out
        if out:
            clean[lang] = out
    return clean


def pick_language(available: Any, preferences: list[str | None]) -> str | None:
    """The first of the visitor's languages (tags such as fr-CA, in their order of preference) that the
    site has texts in, by its two-letter base; None when there is none. The widget's `pickTexts` is the
    same rule."""
    for tag in preferences:
        if not tag:
            continue
        base = tag.lower().replace("_", "-").split("-")[0]
        if base in available:
            return base
    return None


def localized(settings: dict[str, Any], preferences: list[str | None]) -> dict[str, Any]:
    """The greeting, away text and rule messages a visitor with these languages reads: their
    language's translation where it has one, the default texts elsewhere."""
    translations = settings.get("translations") or {}
    texts = translations.get(pick_language(translations, preferences) or "", {})
    messages = texts.get("rules", {})
    return {
        "greeting": texts.get("greeting") or settings["greeting"],
        "away": texts.get("away") or settings["away"],
        "rules": {rule["id"]: messages.get(rule["id"]) or rule["message"] for rule in settings["rules"]},
    }


def _check_hours(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("tz"), str):
        raise _bad("hours must be {tz, days}")
    try:
        ZoneInfo(value["tz"])
    except (ZoneInfoNotFoundError, ValueError):
        raise _bad(f"unknown time zone {value['tz']!r}") from None
    days = value.get("days") or {}
    if not isinstance(days, dict):
        raise _bad("hours.days must map mon..sun to [[open, close], …]")
    clean: dict[str, list[list[str]]] = {}
    for day, spans in days.items():
        if day not in DAYS or not isinstance(spans, list):
            raise _bad("hours.days must map mon..sun to [[open, close], …]")
        if len(spans) > MAX_SPANS:
            raise _bad(f"hours.days.{day} has more than {MAX_SPANS} spans")
        clean[day] = []
        for span in spans:
            if (not isinstance(span, list) or len(span) != 2
                    or not all(isinstance(t, str) and _TIME.fullmatch(t) for t in span)):
                raise _bad("each opening span is [\"HH:MM\", \"HH:MM\"]")
            clean[day].append([span[0], span[1]])
        clean[day] = _merged(clean[day])
    return {"tz": value["tz"], "days": clean}


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


def _merged(spans: list[list[str]]) -> list[list[str]]:
    """A day's spans in order, those that overlap or touch made one: 09:00–13:00 with 12:00–18:00 is
    09:00–18:00 (a pair with a meaning rather than a refusal, as the API's rules go). A close not
    after its open is on the next day, as `opening` reads it; a span of 24 hours or more is written
    [start, start]."""
    day = 24 * 60
    ranges = []
    for start, end in spans:
        a, b = _minutes(start), _minutes(end)
        ranges.append([a, b if b > a else b + day])
    ranges.sort()
    out: list[list[int]] = []
    for a, b in ranges:
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [[_hhmm(a), _hhmm(a if b - a >= day else b)] for a, b in out]


def _check_rules(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > 50:
        raise _bad("rules must be a list of at most 50 rules")
    clean = []
    for rule in value:
        if not isinstance(rule, dict) or rule.get("trigger") not in _RULE_TRIGGERS:
            raise _bad("each rule needs a trigger: url, time_on_page or event")
        rid, message = rule.get("id"), rule.get("message")
        if not isinstance(rid, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", rid):
            raise _bad("each rule needs an id of letters, digits, _ or -")
        if not isinstance(message, str) or not 0 < len(message) <= 1000:
            raise _bad("each rule needs a message of at most 1000 characters")
        out: dict[str, Any] = {"id": rid, "trigger": rule["trigger"], "message": message}
        if rule["trigger"] == "url":
            if not isinstance(rule.get("url"), str) or len(rule["url"]) > 500:
                raise _bad("a url rule needs a url pattern (* is a wildcard)")
            out["url"] = rule["url"]
        if rule.get("seconds") is not None or rule["trigger"] == "time_on_page":
            seconds = rule.get("seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= 3600:
                raise _bad("seconds must be 0 to 3600")
            out["seconds"] = seconds
        if rule["trigger"] == "event":
            if not isinstance(rule.get("event"), str) or not 0 < len(rule["event"]) <= 64:
                raise _bad("an event rule needs the event name")
            out["event"] = rule["event"]
            cond = rule.get("condition")
            if cond is not None:
                if (not isinstance(cond, dict) or not isinstance(cond.get("field"), str)
                        or cond.get("op") not in _OPS
                        or not isinstance(cond.get("value"), int | float | str)):
                    raise _bad("a condition is {field, op, value} with op one of > >= < <= ==")
                out["condition"] = {"field": cond["field"], "op": cond["op"], "value": cond["value"]}
        clean.append(out)
    return clean


def settings_of(site: Site) -> dict[str, Any]:
    return {**DEFAULTS, **site.settings}


def widget_storage(settings: dict[str, Any]) -> str:
    """The storage mode the widget is told: consent mode wins over "always" (a widget that must ask
    first cannot store at load)."""
    return "consent" if settings["consent_required"] else str(settings["storage"])


def opening(settings: dict[str, Any], now: datetime | None = None) -> tuple[bool, int | None]:
    """(open now?, next opening as epoch ms or None). No hours configured means always open.

    A span whose close is not after its open ends on the next day: ["22:00", "02:00"] is overnight,
    ["00:00", "00:00"] the whole day. So yesterday's spans are looked at too."""
    hours = settings.get("hours")
    if not hours:
        return True, None
    tz = ZoneInfo(hours["tz"])
    local = (now or datetime.now(tz)).astimezone(tz)
    days = hours.get("days") or {}
    next_open: datetime | None = None
    for offset in range(-1, 8):
        day = local.date() + timedelta(days=offset)
        for start, end in sorted(days.get(DAYS[day.weekday()], [])):
            h1, m1 = map(int, start.split(":"))
            h2, m2 = map(int, end.split(":"))
            opens = datetime(day.year, day.month, day.day, h1, m1, tzinfo=tz)
            closes = datetime(day.year, day.month, day.day, h2, m2, tzinfo=tz)
            if closes <= opens:
                closes += timedelta(days=1)
            if opens <= local < closes:
                return True, None
            if opens > local and (next_open is None or opens < next_open):
                next_open = opens
    return False, int(next_open.timestamp() * 1000) if next_open else None


def answering(settings: dict[str, Any], now: datetime | None = None) -> bool:
    """Whether the site takes conversations now: within its opening hours, or at any hour when its
    agents pick up whenever they are online (`after_hours: "online"`). Routing assigns only then, and
    the widget's `open_now` is this very answer, so the two never contradict each other."""
    return settings.get("after_hours") == "online" or opening(settings, now)[0]


def public_settings(site: Site, agents_online: int, now: datetime | None = None, *,
                    email: bool = False) -> dict[str, Any]:
    """What the widget is told about the site in `welcome` (never secrets or origins). `email`: whether
    this server can send mail at all (PAPOTE_SMTP_URL)."""
    s = settings_of(site)
    open_now, next_open = opening(s, now)
    open_now = open_now or s["after_hours"] == "online"
    return {
        "name": site.name,
        "color": s["color"],
        "position": s["position"],
        "greeting": s["greeting"],
        "away": s["away"],
        "translations": s["translations"],
        "reply_time": s["reply_time"],
        "locale": s["locale"],
        "hours": s["hours"],
        "open_now": open_now,
        "next_open": next_open,
        "agents_online": agents_online,
        "launcher_icon": s["launcher_icon"],
        "custom_css": s["custom_css"],
        "rules": s["rules"],
        "storage": widget_storage(s),
        "consent_required": s["consent_required"],
        "theme": s["theme"],
        "attachments": _attachment_limits(s),
        "email_continuation": email and bool(s["email_continuation"]),
        "email_transcripts": email,
        #: Whether a bot answers first (the tree itself stays on the server: the widget only draws its
        #: messages, which arrive like anyone's).
        "bot": bool(s["bot"]["enabled"]) and bool(s["bot"]["nodes"]),
        #: The pre-chat form, without which group a topic routes to.
        "prechat": {**s["prechat"], "topics": [{"id": t["id"], "label": t["label"]} for t in s["prechat"]["topics"]]},
    }


def _attachment_limits(settings: dict[str, Any]) -> dict[str, Any]:
    """What the widget checks before uploading (the server checks again): bytes per file, and the
    content types the site's categories allow (an empty list: no attachments)."""
    from papote.attachments.sniff import CATEGORIES  # papote.attachments builds on this module

    types = sorted(t for c in settings["attachments_types"] for t in CATEGORIES.get(c, {}))
    return {"max_bytes": settings["attachments_max_mb"] * 1024 * 1024, "types": types}


def normalise_origin(origin: str) -> str:
    """`https://Shop.example:443/` → `https://shop.example`: how browsers send the Origin header."""
    origin = origin.strip().rstrip("/")
    m = re.fullmatch(r"(https?)://([^/:]+)(?::(\d+))?", origin, re.IGNORECASE)
    if not m:
        raise _bad(f"{origin!r} is not an origin like https://shop.example")
    scheme, host, port = m.group(1).lower(), m.group(2).lower(), m.group(3)
    if port and not ((scheme == "https" and port == "443") or (scheme == "http" and port == "80")):
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


class Sites:
    """The service the REST API calls to create and change sites and what belongs to one: its secrets,
    API keys and canned responses. (The node keeps the cache of sites by key, read on every hello.)"""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def of_agent(self, agent_id: str) -> list[Site]:
        return await self.store.list_sites(agent_id)

    async def create(self, name: str, origins: list[str], settings: dict[str, Any], owner_id: str) -> Site:
        """A new site, and its creator as its owner."""
        site = await self.store.create_site(name, origins, settings)
        await self.store.set_membership(site.id, owner_id, Role.OWNER)
        return site

    async def update(self, site_id: str, *, name: str | None = None, origins: list[str] | None = None,
                     settings: dict[str, Any] | None = None) -> Site:
        return await self.store.update_site(site_id, name=name, origins=origins, settings=settings)

    async def check_support_address(self, site_id: str | None, settings: dict[str, Any]) -> None:
        """An address receives for one site only: another site's is `conflict`."""
        address = settings.get("email_support_address")
        if not address:
            return
        for other in await self.store.list_sites():
            if other.id != site_id and settings_of(other)["email_support_address"] == address:
                raise Conflict("this support address is another site's")

    async def rotate_secret(self, site: Site) -> Site:
        """A new secret becomes current; the previous one stays valid until the next rotation."""
        return await self.store.update_site(site.id, secrets=[rules.new_site_secret(), *site.secrets[:1]])

    async def api_keys(self, site_id: str) -> list[ApiKey]:
        return await self.store.list_api_keys(site_id)

    async def revoke_api_key(self, site_id: str, key_id: str) -> bool:
        """False when the site has no such key."""
        return await self.store.delete_api_key(site_id, key_id)

    async def canned(self, site_id: str) -> list[CannedResponse]:
        return await self.store.list_canned(site_id)

    async def save_canned(self, site_id: str, shortcut: str, body: str) -> CannedResponse:
        """Create or replace the canned response of `shortcut` (letters, digits, _ or -)."""
        if not _SHORTCUT.fullmatch(shortcut):
            raise _bad("a shortcut is letters, digits, _ or -")
        return await self.store.save_canned(site_id, shortcut, body)

    async def delete_canned(self, site_id: str, canned_id: str) -> bool:
        return await self.store.delete_canned(site_id, canned_id)
