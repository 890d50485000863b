"""`/ws/visitor`: the widget's socket. Origin checked against the site's allowed origins."""

from __future__ import annotations

from typing import Any

from papote.authz import Principal
from papote.connections import Connection
from papote.conversations import conv_topic, public_topic, visitor_summary
from papote.errors import AuthError, CloseCode, Conflict, ErrorCode
from papote.events import ConversationChanged
from papote.identity import (
    LINK_CODE_TTL_MS,
    VerifiedIdentity,
    mint_link_code,
    mint_visitor_token,
    verify_hash,
    verify_jwt,
)
from papote.ids import digest, now_ms
from papote.protocol import Command, Endpoint
from papote.sites import normalise_origin, public_settings
from papote.store import ConversationQuery, Site, Visitor, VisitorChanges, VisitorEvent
from papote.types import PrincipalKind
from papote.web.live import LiveSession, refuse

#: How fresh `last_seen` is kept. A hello that changes nothing else (a socket back after a network blip,
#: a server restart) writes nothing if the visitor was seen this recently: a storm of such reconnects
#: would otherwise be a storm of commits. Agents read it as "seen N minutes ago".
LAST_SEEN_RESOLUTION_MS = 60_000
#: Conversations listed in `welcome`: the recent ones; older ones stay reachable through the REST API.
WELCOME_CONVERSATIONS = 10


class VisitorSession(LiveSession):
    endpoint = Endpoint.VISITOR

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.site: Site | None = None
        self.visitor: Visitor | None = None
        self.token: str | None = None

    @property
    def site_id(self) -> str | None:
        return self.site.id if self.site else None

    async def pre_accept(self) -> CloseCode | None:
        if not self.ws.headers.get("origin"):
            return CloseCode.ORIGIN_NOT_ALLOWED
        return None

    def _origin_allowed(self, site: Site) -> bool:
        try:
            origin = normalise_origin(self.ws.headers.get("origin", ""))
        except Exception:
            return False
        return origin in site.origins

    async def on_hello(self, hello: Command) -> Connection:
        papote = self.papote
        store = papote.store
        site = await papote.site_by_key(hello["site"])
        if site is None:
            raise refuse(CloseCode.SITE_NOT_FOUND, "no such site")
        if not self._origin_allowed(site):
            raise refuse(CloseCode.ORIGIN_NOT_ALLOWED, "this page's origin is not allowed for the site")
        self.site = site
        visitor: Visitor | None = None
        fresh_token: str | None = None
        if hello.get("link_code"):
            visitor_id = await store.take_link_code(digest(hello["link_code"]), now_ms())
            linked = await store.get_visitor(visitor_id) if visitor_id else None
            if linked is not None and linked.site_id == site.id:
                visitor = linked
                fresh_token = mint_visitor_token()
                await store.add_visitor_token(visitor.id, digest(fresh_token))
        if visitor is None and hello.get("token"):
            visitor = await store.get_visitor_by_token(site.id, digest(hello["token"]))
            if visitor is not None:
                self.token = hello["token"]
        if visitor is None:
            # Unknown or absent token: a new anonymous visitor. A client-chosen token is never adopted.
            fresh_token = mint_visitor_token()
            visitor = await store.create_visitor(site.id, digest(fresh_token))
        if fresh_token is not None:
            self.token = fresh_token
        now = now_ms()
        changes = VisitorChanges(last_seen=now)
        touched = False
        if hello.get("page") and hello["page"] != visitor.page:
            changes.page = hello["page"]
            touched = True
        # The browser's own User-Agent (not a field the page can forge more than the header) lets agents
        # see browser and OS; capped, since it is shown, not parsed, here.
        device = {**visitor.device, **(hello.get("device") or {}),
                  "locale": hello.get("locale") or visitor.device.get("locale"),
                  "ua": self.ws.headers.get("user-agent", "")[:300]}
        if device != visitor.device:
            changes.device = device
            touched = True
        if touched or now - visitor.last_seen >= LAST_SEEN_RESOLUTION_MS:
            visitor = await store.update_visitor(visitor.id, changes)
        self.visitor = visitor
        conn = Connection(self._principal(), Endpoint.VISITOR, papote.config.send_queue_frames,
                          self.request_close)
        conn.on_conversation = self._follow
        papote.hub.add(conn)
        papote.hub.subscribe(conn, public_topic(site.id))
        self.conn = conn
        welcome = await self._welcome(fresh_token)
        self.send(welcome)
        if hello.get("page"):
            await papote.publish_visitor(visitor)
        return conn

    def _principal(self) -> Principal:
        assert self.visitor is not None and self.site is not None
        return Principal(PrincipalKind.VISITOR, self.visitor.id, self.visitor.name, site_id=self.site.id)

    async def _welcome(self, token: str | None) -> dict[str, Any]:
        papote = self.papote
        assert self.visitor is not None and self.site is not None and self.conn is not None
        convs = await papote.chat.store.list_conversations(
            _query(self.site.id, self.visitor.id)
        )
        principal = self.conn.principal
        summaries = await papote.chat.summaries(convs, principal)
        # Held until the client's `resume` (its first frame after welcome) has its history queued.
        self.conn.hold_until_resume([conv.id for conv in convs])
        for conv in convs:
            papote.hub.subscribe(self.conn, conv_topic(conv.id))
        frame: dict[str, Any] = {
            "t": "welcome",
            "v": 1,
            "epoch": papote.store.epoch,
            "visitor": visitor_summary(self.visitor),
            "site": public_settings(self.site, await papote.agents_online(self.site.id)),
            "conversations": summaries,
            "heartbeat": papote.config.heartbeat_secs,
            "max_body": papote.config.max_body_chars,
        }
        if token is not None:
            frame["token"] = token
        return frame

    def _follow(self, conn: Connection, event: ConversationChanged) -> None:
        """Another tab started or changed a conversation: follow it live on this connection too."""
        self.papote.hub.subscribe(conn, conv_topic(event.conversation.id))

    async def on_command(self, command: Command) -> None:
        papote = self.papote
        chat = papote.chat
        conn = self.conn
        assert conn is not None and self.visitor is not None and self.site is not None
        principal = conn.principal
        kind = command.type
        if kind == "send":
            stored = await chat.submit(principal, command.get("conversation"), command["client_msg_id"],
                                       command["body"])
            await self.pipeline(
                command, stored,
                # Following a conversation this send may just have started: before its ack goes out.
                on_ack=lambda ack: papote.hub.subscribe(conn, conv_topic(ack["conversation"])),
            )
        elif kind == "resume":
            await papote.hub.resume(conn, chat, command["epoch"], command["conversations"])
        elif kind == "fetch":
            frame = await chat.page(principal, command["conversation"], command.get("before_seq"),
                                    command.get("limit", 50))
            self.send(frame)
        elif kind == "typing":
            await chat.typing(principal, command["conversation"], command["on"], conn.id)
        elif kind == "read":
            await chat.mark_read(principal, command["conversation"], command["seq"], conn.id)
        elif kind == "ping":
            self.send({"t": "pong", "n": command.get("n")})
        elif kind == "page":
            page = {"url": command["url"], "title": command.get("title", ""),
                    "referrer": command.get("referrer", "")}
            self.visitor = await papote.store.update_visitor(
                self.visitor.id, VisitorChanges(page=page, last_seen=now_ms())
            )
            await papote.publish_visitor(self.visitor)
        elif kind == "identify":
            await self._identify(command)
        elif kind == "set":
            changes = VisitorChanges()
            if command.get("attributes") is not None:
                merged = {**self.visitor.attributes, **command["attributes"]}
                if len(merged) > 100:
                    raise Conflict("a visitor has at most 100 custom attributes")
                changes.attributes = {k: v for k, v in merged.items() if v is not None}
            if command.get("name") is not None and not self.visitor.verified:
                changes.name = command["name"]
            if command.get("email") is not None and not self.visitor.verified:
                changes.email = command["email"]
            if changes != VisitorChanges():
                self.visitor = await papote.store.update_visitor(self.visitor.id, changes)
                principal.name = self.visitor.name
                await papote.publish_visitor(self.visitor)
            self._ok(command)
        elif kind == "track":
            await papote.store.add_visitor_event(
                self.visitor.id, VisitorEvent(command["event"], command.get("data") or {}, now_ms())
            )
            await papote.publish_visitor(self.visitor, event={"name": command["event"],
                                                              "data": command.get("data") or {},
                                                              "at": now_ms()})
            self._ok(command)
        elif kind == "contact":
            # A verified visitor's email comes from the site's signature; the one left here only goes
            # on the conversation, as where to send the reply.
            await chat.contact(principal, command["email"], command.get("conversation"),
                               update_visitor=not self.visitor.verified)
            self.visitor = await papote.store.get_visitor(self.visitor.id) or self.visitor
            self._ok(command)
        elif kind == "rate":
            await chat.rate(principal, command["conversation"], command["rating"],
                            command.get("comment", ""))
            self._ok(command)
        elif kind == "link":
            code = mint_link_code()
            expires = now_ms() + LINK_CODE_TTL_MS
            await papote.store.create_link_code(digest(code), self.visitor.id, expires)
            self.send({"t": "link", "code": code, "expires_at": expires, "ref": command.ref})

    def _ok(self, command: Command) -> None:
        self.send({"t": "ok", "ref": command.ref})

    async def _identify(self, command: Command) -> None:
        papote = self.papote
        store = papote.store
        assert self.visitor is not None and self.site is not None and self.conn is not None
        site = await papote.site_by_id(self.site.id) or self.site
        identity: VerifiedIdentity
        if command.get("jwt"):
            identity = verify_jwt(site.secrets, command["jwt"])
            if identity.user_id != command["user_id"]:
                raise AuthError("identity rejected: the JWT is for another user",
                                ErrorCode.IDENTITY_REJECTED)
        elif command.get("hash"):
            identity = verify_hash(site.secrets, command["user_id"], command["hash"])
        else:
            raise AuthError("identity rejected: send a hash or a jwt", ErrorCode.IDENTITY_REJECTED)
        current = self.visitor
        known = await store.get_visitor_by_user(site.id, identity.user_id)
        if known is not None and known.id != current.id:
            # The person already has a history: this browser's anonymous conversations join it.
            await store.merge_visitor(current.id, known.id)
            papote.chat.forget_visitor(current.id)
            target = known
        else:
            target = current
        changes = VisitorChanges(user_id=identity.user_id, verified=True)
        name = identity.name or command.get("name")
        email = identity.email or command.get("email")
        if name:
            changes.name = name
        if email:
            changes.email = email
        target = await store.update_visitor(target.id, changes)
        # New identity, new token: a token seen before identification cannot ride on it (fixation).
        if self.token is not None:
            await store.delete_visitor_token(digest(self.token))
        token = mint_visitor_token()
        await store.add_visitor_token(target.id, digest(token))
        self.token = token
        self.visitor = target
        hub = papote.hub
        conn = self.conn
        hub.rebind(conn, self._principal())
        hub.subscribe(conn, public_topic(site.id))
        convs = await store.list_conversations(_query(site.id, target.id))
        for conv in convs:
            hub.subscribe(conn, conv_topic(conv.id))
        self.send({
            "t": "identified",
            "ref": command.ref,
            "visitor": visitor_summary(target),
            "token": token,
            "conversations": await papote.chat.summaries(convs, conn.principal),
        })
        await papote.publish_visitor(target)

    def on_closed(self) -> None:
        if self.visitor is not None:
            self.papote.spawn(self.papote.visitor_left(self.visitor.id))


def _query(site_id: str, visitor_id: str) -> ConversationQuery:
    return ConversationQuery(site_ids=[site_id], visitor_id=visitor_id, limit=WELCOME_CONVERSATIONS)
