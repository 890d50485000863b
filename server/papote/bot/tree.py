"""The bot a site owner edits: a tree of nodes, FAQ entries and a few texts (the site setting `bot`).

    {"enabled": true, "name": "Papote", "start": "hello",
     "nodes": [{"id": "hello", "kind": "buttons", "text": "Hi! What is it about?",
                "options": [{"label": "My order", "next": "order"}, {"label": "Returns", "next": "faq"}]},
               {"id": "order", "kind": "question", "field": "order", "text": "Your order number?", "next": "who"},
               {"id": "who", "kind": "handover", "text": "Thanks, a colleague takes it from here."}, …],
     "faq": [{"id": "ship", "question": "How long does shipping take?", "keywords": ["delivery"],
              "answer": "2 to 4 working days."}],
     "handover_words": ["vendeur"], "texts": {"handover": "…"}}

Node kinds (docs/bot.md): `message` (says its text, goes on to `next` or waits), `buttons` (options, each
going to a node), `question` (asks for an email, a name or an order number, validated, then `next`),
`faq` (answers free questions from the FAQ entries), `branch` (on opening hours, agents online, the page
URL or the visitor's language: `yes` or `no`), `handover` (to a person, optionally to a group of agents)
and `end` (the bot resolved it). `check_bot` is the gate every write passes (sites.validate_settings): a
tree that names a node it does not have, or loops without ever waiting for the visitor, is refused, so
the stepper only meets trees that make sense (it still guards against loops, being pure and cheap).
"""

from __future__ import annotations

import re
from typing import Any

from papote.errors import ErrorCode, PapoteError
from papote.quick_replies import BLANKS, MAX_LABEL, MAX_OPTIONS

KINDS = ("message", "buttons", "question", "faq", "branch", "handover", "end")
#: What a question may ask for; each has a validation in stepper.py.
FIELDS = ("email", "name", "order")
#: What a branch may look at.
BRANCH_ON = ("open", "agents_online", "page", "language")
#: Nodes a tree may hold: a large shop's menu fits, and the console can still draw it.
MAX_NODES = 100
#: FAQ entries: matching is a scan of all of them for each free-text question.
MAX_FAQ = 200
MAX_TEXT = 1000
MAX_ANSWER = 2000
MAX_WORDS = 50
#: Options of a buttons node: the visitor's "talk to a person" takes the last of a message's slots.
MAX_NODE_OPTIONS = MAX_OPTIONS - 1
_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_LANGUAGE = re.compile(r"[a-z]{2}")

#: The bot's own words, in the languages the widget ships in; `texts` in the setting overrides them.
DEFAULT_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "person": "Talk to a person",
        "handover": "I'm getting you a person: someone will answer here shortly.",
        "not_understood": "Sorry, I didn't understand that.",
        "away": "Our team is away right now: someone will answer here when they are back.",
        "away_email": "Our team is away right now. Leave your email and we'll answer you there.",
        "away_known": "Our team is away right now: we'll answer you by email at {email}.",
        "email_thanks": "Thanks! We'll answer you at {email}.",
        "bad_email": "That doesn't look like an email address.",
        "bad_name": "Could you tell me your name?",
        "bad_order": "An order number is letters and digits, like A1234.",
    },
    "fr": {
        "person": "Parler à une personne",
        "handover": "Je vous passe une personne : quelqu'un va vous répondre ici.",
        "not_understood": "Désolé, je n'ai pas compris.",
        "away": "Notre équipe est absente : quelqu'un vous répondra ici à son retour.",
        "away_email": "Notre équipe est absente. Laissez votre e-mail et nous vous répondrons.",
        "away_known": "Notre équipe est absente : nous vous répondrons par e-mail à {email}.",
        "email_thanks": "Merci ! Nous vous répondrons à {email}.",
        "bad_email": "Cela ne ressemble pas à une adresse e-mail.",
        "bad_name": "Pouvez-vous me dire votre nom ?",
        "bad_order": "Un numéro de commande est fait de lettres et de chiffres, comme A1234.",
    },
}
#: Words that hand over at once wherever the bot is, in any case and with or without accents, on top
#: of the site's own `handover_words`.
HANDOVER_WORDS = ("human", "humain", "agent", "person", "personne", "conseiller", "conseillere",
                  "operator", "operateur", "someone", "quelqu'un")

DEFAULTS: dict[str, Any] = {
    "enabled": False, "name": "Bot", "start": "", "nodes": [], "faq": [], "handover_words": [], "texts": {},
}


def _bad(message: str) -> PapoteError:
    return PapoteError(f"bot: {message}", ErrorCode.BAD_FIELD)


def _text(value: Any, where: str, limit: int = MAX_TEXT, *, blank: bool = False) -> str:
    if not isinstance(value, str) or len(value) > limit or (not blank and not value.strip(BLANKS)):
        raise _bad(f"{where} must be text of 1 to {limit} characters, not blank" if not blank
                   else f"{where} must be text of at most {limit} characters")
    return value


def check_bot(value: Any) -> dict[str, Any]:
    """The bot setting as stored, or `bad_field` naming what is wrong with its shape.

    What the shape allows but the nodes make of each other gets a meaning rather than a refusal, as
    everywhere two fields meet (web/api_schemas.py): a node whose id repeats an earlier one is left out;
    a `next`, option, `yes`/`no` or `start` naming no node means "no node" (a message waits there, an
    option is left out, a branch side and a question's sequel hand over to a person); an edge that would
    close a loop of messages and branches (the bot talking forever without waiting) is cut the same way.
    The console's editor shows each of these before saving."""
    if not isinstance(value, dict) or not set(value) <= set(DEFAULTS):
        raise _bad("must be {enabled, name, start, nodes, faq, handover_words, texts}")
    bot = {**DEFAULTS, **value}
    if not isinstance(bot["enabled"], bool):
        raise _bad("enabled must be true or false")
    name = _text(bot["name"], "name", 60)
    nodes = bot["nodes"]
    if not isinstance(nodes, list) or len(nodes) > MAX_NODES:
        raise _bad(f"nodes must be a list of at most {MAX_NODES} nodes")
    unique: dict[str, dict[str, Any]] = {}
    for node in nodes:
        if not isinstance(node, dict) or not isinstance(node.get("id"), str) or not _ID.fullmatch(node["id"]):
            raise _bad("each node needs an id of 1 to 40 letters, digits, _ or -")
        unique.setdefault(node["id"], node)
    ids = set(unique)
    clean_nodes = [_check_node(node, ids) for node in unique.values()]
    start = bot["start"] if isinstance(bot["start"], str) and bot["start"] in ids else (
        clean_nodes[0]["id"] if clean_nodes else "")
    if not isinstance(bot["start"], str):
        raise _bad("start must be a node id")
    _cut_loops(clean_nodes)
    return {"enabled": bot["enabled"], "name": name, "start": start, "nodes": clean_nodes,
            "faq": _check_faq(bot["faq"]), "handover_words": _check_words(bot["handover_words"]),
            "texts": _check_texts(bot["texts"])}


def _ref(value: Any, ids: set[str], where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise _bad(f"{where} must be a node id")
    return value if value in ids else None


def _check_node(node: dict[str, Any], ids: set[str]) -> dict[str, Any]:
    nid, kind = node["id"], node.get("kind")
    where = f"node {nid!r}"
    if kind not in KINDS:
        raise _bad(f"{where}: kind must be one of {', '.join(KINDS)}")
    out: dict[str, Any] = {"id": nid, "kind": kind}
    if kind in ("message", "buttons", "question", "faq", "end"):
        out["text"] = _text(node.get("text"), f"{where}.text")
    if kind == "handover":
        out["text"] = _text(node.get("text", ""), f"{where}.text", blank=True)
        group = node.get("group")
        if group is not None:
            if not isinstance(group, str) or not _ID.fullmatch(group):
                raise _bad(f"{where}.group must be a group id")
            out["group"] = group
    if kind in ("message", "question", "faq"):
        out["next"] = _ref(node.get("next"), ids, f"{where}.next")
    if kind == "question":
        if node.get("field") not in FIELDS:
            raise _bad(f"{where}.field must be one of {', '.join(FIELDS)}")
        out["field"] = node["field"]
    if kind == "buttons":
        options = node.get("options")
        if not isinstance(options, list) or len(options) > MAX_NODE_OPTIONS:
            raise _bad(f"{where}.options must have at most {MAX_NODE_OPTIONS} options")
        seen: set[str] = set()
        out["options"] = []
        for option in options:
            if not isinstance(option, dict):
                raise _bad(f"{where}.options holds {{label, next}}")
            label = _text(option.get("label"), f"{where}.options.label", MAX_LABEL).strip(BLANKS)
            target = _ref(option.get("next"), ids, f"{where}.options.next")
            if label.casefold() in seen or target is None:
                continue  # the visitor could not tell two apart; an option to nowhere is no option
            seen.add(label.casefold())
            out["options"].append({"label": label, "next": target})
    if kind == "branch":
        on = node.get("on")
        if on not in BRANCH_ON:
            raise _bad(f"{where}.on must be one of {', '.join(BRANCH_ON)}")
        out["on"] = on
        if on in ("page", "language"):
            # No pattern matches no page, no code no language: the branch goes `no`.
            value = _text(node.get("value", ""), f"{where}.value (a URL pattern or a language code)", 500,
                          blank=True)
            out["value"] = value.strip().lower()[:2] if on == "language" else value
        out["yes"] = _ref(node.get("yes"), ids, f"{where}.yes")
        out["no"] = _ref(node.get("no"), ids, f"{where}.no")
    return out


def _cut_loops(nodes: list[dict[str, Any]]) -> None:
    """Cut each edge that closes a cycle of messages and branches: the bot would talk forever without
    waiting. A message's cut `next` makes it wait; a branch's cut side hands over."""
    by_id = {n["id"]: n for n in nodes}
    edges = {"message": ("next",), "branch": ("yes", "no")}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(nid: str) -> None:
        state[nid] = 1
        node = by_id[nid]
        for key in edges.get(node["kind"], ()):
            nxt = node.get(key)
            if nxt is None:
                continue
            if state.get(nxt) == 1:
                node[key] = None
            elif nxt not in state:
                visit(nxt)
        state[nid] = 2

    for nid in by_id:
        if nid not in state:
            visit(nid)


def _check_faq(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > MAX_FAQ:
        raise _bad(f"faq must be a list of at most {MAX_FAQ} entries")
    out = []
    for n, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise _bad("each faq entry is {id, question, keywords, answer}")
        eid = entry.get("id") or f"q{n + 1}"
        if not isinstance(eid, str) or not _ID.fullmatch(eid):
            raise _bad("a faq entry's id is letters, digits, _ or -")
        out.append({"id": eid, "question": _text(entry.get("question"), f"faq {eid!r}.question", 300),
                    "keywords": _check_words(entry.get("keywords", []), f"faq {eid!r}.keywords"),
                    "answer": _text(entry.get("answer"), f"faq {eid!r}.answer", MAX_ANSWER)})
    return out


def _check_words(value: Any, where: str = "handover_words") -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_WORDS:
        raise _bad(f"{where} must be a list of at most {MAX_WORDS} words")
    return [_text(w, where, 40).strip() for w in value]


def _check_texts(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not set(value) <= set(DEFAULT_TEXTS["en"]):
        raise _bad("texts may override " + ", ".join(DEFAULT_TEXTS["en"]))
    # An empty or blank text means the default one, as with the site's other texts.
    return {k: _text(v, f"texts.{k}", 500, blank=True) for k, v in value.items() if v and v.strip(BLANKS)}


def texts_for(bot: dict[str, Any], language: str | None) -> dict[str, str]:
    """The bot's own words for a visitor: the site's overrides, else the visitor's language, else English."""
    base = DEFAULT_TEXTS.get((language or "en")[:2].lower(), DEFAULT_TEXTS["en"])
    return {**base, **bot.get("texts", {})}
