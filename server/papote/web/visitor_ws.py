"""`/ws/visitor`: the widget's socket. Origin checked against the site's allowed origins."""

from __future__ import annotations

import re
from typing import Any, assert_never

from papote.authz import Principal
from papote.connections import Connection
from papote.conversations import conv_topic, public_topic, visitor_summary, visitor_topic
from papote.errors import CloseCode, ErrorCode, PapoteError, RateLimited
from papote.events import ConversationChanged, VisitorMerged
from papote.protocol import (
    Contact,
    Endpoint,
    Fired,
    Identify,
    Link,
    NpsAnswer,
    Page,
    Rate,
    Redeem,
    Set,
    Track,
    Transcript,
    VisitorCommand,
    VisitorHello,
    VisitorSend,
)
from papote.qr import qr_code
from papote.sites import localized, normalise_origin, public_settings, settings_of, topic_of
from papote.store import Site, Visitor
from papote.types import PrincipalKind
from papote.visitors import IdentifyOutcome, Proof
from papote.web.live import LiveSession, refuse

#: Conversations listed in `welcome`: the recent ones; older ones stay reachable through the REST API.
WELCOME_CONVERSATIONS = 10


class VisitorSession(LiveSession[VisitorHello, VisitorCommand]):
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

    async def on_hello(self, hello: VisitorHello) -> Connection:
        papote = self.papote
        site = await papote.site_by_key(hello.site)
        if site is None:
            raise refuse(CloseCode.SITE_NOT_FOUND, "no such site")
        if not self._origin_allowed(site):
            raise refuse(CloseCode.ORIGIN_NOT_ALLOWED, "this page's origin is not allowed for the site")
        self.site = site
        client = self.ws.client
        try:
            arrival = await papote.visitors.arrive(site, token=hello.token, link_code=hello.link_code,
                                                   address=client.host if client else None)
        except RateLimited as exc:
            raise refuse(CloseCode.RATE_LIMITED, exc.message) from None
        self.token = arrival.token
        fresh_token = arrival.token if arrival.minted else None
        visitor = await papote.visitors.seen(arrival.visitor, page=dict(hello.page) if hello.page else None,
                                             device=dict(hello.device) if hello.device else None,
                                             locale=hello.locale,
                                             user_agent=self.ws.headers.get("user-agent", ""))
        self.visitor = visitor
        conn = Connection(self._principal(), Endpoint.VISITOR, papote.config.send_queue_frames,
                          self.request_close)
        conn.on_conversation = self._follow
        papote.hub.add(conn)
        papote.hub.subscribe(conn, public_topic(site.id))
        self.conn = conn
        welcome = await self._welcome(fresh_token)
        self.send(welcome)
        if arrival.link_refused is not None:
            # The page carried a code that opened nothing: the widget says so (it arrived as before).
            self.send({"t": "error", "code": arrival.link_refused.value, "frame": "hello",
                       "message": "this code is wrong or has expired" if arrival.link_refused.value == "not_found"
                       else "too many codes tried; try again later"})
        if hello.page:
            await papote.publish_visitor(visitor)
        return conn

    def _principal(self) -> Principal:
        assert self.visitor is not None and self.site is not None
        return Principal(PrincipalKind.VISITOR, self.visitor.id, self.visitor.name, site_id=self.site.id)

    async def _welcome(self, token: str | None) -> dict[str, Any]:
        papote = self.papote
        assert self.visitor is not None and self.site is not None and self.conn is not None
        convs = await papote.visitors.conversations(self.visitor, WELCOME_CONVERSATIONS)
        principal = self.conn.principal
        summaries = await papote.chat.summaries(convs, principal)
        # Held until the client's `resume` (its first frame after welcome) has its history queued.
        self.conn.hold_until_resume([conv.id for conv in convs])
        for conv in convs:
            papote.hub.subscribe(self.conn, conv_topic(conv.id))
        frame: dict[str, Any] = {
            "t": "welcome",
            "v": 1,
            "epoch": papote.epoch,
            "visitor": visitor_summary(self.visitor),
            "site": public_settings(self.site, await papote.agents_online(self.site.id),
                                    email=papote.config.email_enabled),
            "conversations": summaries,
            "fired": await papote.visitors.fired_rules(self.visitor),
            "heartbeat": papote.config.heartbeat_secs,
            "max_body": papote.config.max_body_chars,
        }
        if token is not None:
            frame["token"] = token
        return frame

    def _follow(self, conn: Connection, event: ConversationChanged) -> None:
        """Another tab started or changed a conversation: follow it live on this connection too."""
        self.papote.hub.subscribe(conn, conv_topic(event.conversation.id))

    async def on_command(self, command: VisitorCommand) -> None:
        papote = self.papote
        chat = papote.chat
        conn = self.conn
        assert conn is not None and self.visitor is not None and self.site is not None
        principal = conn.principal
        match command:
            case VisitorSend():
                data = answered(self.site, command.answers, languages(self.visitor))
                topic = topic_of(settings_of(self.site), command.topic) if command.conversation is None else None
                if topic is not None:
                    data = {**(data or {}), "topic": {"id": topic["id"], "label": topic["label"]}}
                if command.quick_reply is not None:
                    stored = await chat.submit_tap(principal, command.conversation, command.client_msg_id,
                                                   command.text, command.quick_reply["seq"],
                                                   command.quick_reply["option"], data=data,
                                                   attachments=command.attachments)
                else:
                    stored = await chat.submit(principal, command.conversation, command.client_msg_id,
                                               command.text, data=data, attachments=command.attachments)
                await self.pipeline(
                    command, stored,
                    # Following a conversation this send may just have started: before its ack goes out.
                    on_ack=lambda ack: papote.hub.subscribe(conn, conv_topic(ack["conversation"])),
                )
            case Page():
                page = {"url": command.url, "title": command.title or "", "referrer": command.referrer or ""}
                self.visitor = await papote.visitors.visit_page(self.visitor, page)
                await papote.publish_visitor(self.visitor)
            case Identify():
                await self._identify(command)
            case Set():
                changed = await papote.visitors.set_details(self.visitor, attributes=command.attributes,
                                                            name=command.name, email=command.email)
                if changed is not None:
                    self.visitor = changed
                    principal.name = changed.name
                    await papote.publish_visitor(changed)
                self._ok(command)
            case Track():
                event = await papote.visitors.track(self.visitor, command.event, command.data or {})
                await papote.publish_visitor(self.visitor, event={"name": event.name, "data": event.data,
                                                                  "at": event.at})
                self._ok(command)
            case Contact():
                # A verified visitor's email comes from the site's signature; the one left here only goes
                # on the conversation, as where to send the reply.
                await chat.contact(principal, command.email, command.conversation,
                                   update_visitor=not self.visitor.verified)
                self.visitor = await papote.visitors.refresh(self.visitor)
                self._ok(command)
            case Rate():
                await chat.rate(principal, command.conversation, command.rating, command.comment or "")
                self._ok(command)
            case NpsAnswer():
                await papote.nps.answer(principal, command.conversation, command.survey, command.score,
                                        command.comment or "")
                self._ok(command)
            case Link():
                self.send(await self._link(command))
            case Redeem():
                client = self.ws.client
                arrival = await papote.visitors.redeem(self.site, command.code, client.host if client else None)
                await self._become(arrival.visitor, arrival.token, "linked", command.ref, switched=True)
            case Fired():
                await papote.visitors.rule_fired(self.site, self.visitor, command.rule)
                self._ok(command)
            case Transcript():
                # Queued (in the outbox) before the answer; the answer says no more than "on its way".
                await papote.email.transcripts.request(principal, command.conversation)
                self._ok(command)
            case _:
                assert_never(command)

    async def _link(self, command: Link) -> dict[str, Any]:
        """A link code; with the page's `url` (on one of the site's origins), the link and its QR code."""
        assert self.visitor is not None and self.site is not None
        page = None
        if command.url is not None:
            page = command.url.split("#", 1)[0]
            match = re.match(r"[A-Za-z]+://[^/?#]+", page)
            try:
                allowed = match is not None and normalise_origin(match.group(0)) in self.site.origins
            except PapoteError:
                allowed = False
            if not allowed:
                raise PapoteError("field 'url' must be a page on one of the site's origins", ErrorCode.BAD_FIELD)
        code, expires = await self.papote.visitors.link_code(self.visitor)
        frame: dict[str, Any] = {"t": "link", "code": code, "expires_at": expires, "ref": command.ref}
        if page is not None:
            frame["url"] = f"{page}#papote={code}"
            frame["qr"] = qr_code(frame["url"]).as_frame()
        return frame

    def _ok(self, command: VisitorCommand) -> None:
        self.send({"t": "ok", "ref": command.ref})

    async def _identify(self, command: Identify) -> None:
        papote = self.papote
        assert self.visitor is not None and self.site is not None and self.conn is not None
        site = await papote.site_by_id(self.site.id) or self.site
        proof = Proof(command.user_id, command.hash, command.jwt, command.name, command.email)
        held = self.token
        done = await papote.visitors.identify(site, self.visitor, held, proof)
        if done.outcome is IdentifyOutcome.MERGED:
            papote.chat.forget_visitor(done.previous.id)
            papote.moderation.blocks_changed(site.id)  # a block moved with the merge (contacts.py says why)
        self._reconnect_others(done.previous.id if done.outcome is IdentifyOutcome.MERGED else None, held)
        await self._become(done.visitor, done.token, "identified", command.ref,
                           switched=done.outcome is IdentifyOutcome.SWITCHED)
        if done.outcome is IdentifyOutcome.MERGED:
            # The merged-away visitor's sockets on the other nodes reconnect too (this node's were asked
            # above; this socket speaks for the person now and no longer follows the old visitor's topic).
            papote.bus.publish(visitor_topic(done.previous.id),
                               VisitorMerged(done.previous.id, done.visitor.id, site.id))

    async def _become(self, target: Visitor, token: str, answer: str, ref: Any, *, switched: bool) -> None:
        """This socket speaks for `target` now (identified, or continued with a link code): new principal,
        new topics, and the client gets the visitor, their token, conversations and fired rules."""
        papote = self.papote
        assert self.site is not None and self.conn is not None
        if answer == "linked":
            # This browser's other tabs share its storage, which is about to hold the new token.
            self._reconnect_others(None, self.token)
        self.token = token
        self.visitor = target
        hub = papote.hub
        conn = self.conn
        # New principal, new topics: the previous person's conversations stop flowing to this socket.
        hub.rebind(conn, self._principal())
        hub.subscribe(conn, public_topic(self.site.id))
        convs = await papote.visitors.conversations(target, WELCOME_CONVERSATIONS)
        for conv in convs:
            hub.subscribe(conn, conv_topic(conv.id))
        self.send({
            "t": answer,
            "ref": ref,
            "visitor": visitor_summary(target),
            "token": token,
            "switched": switched,
            "conversations": await papote.chat.summaries(convs, conn.principal),
            "fired": await papote.visitors.fired_rules(target),
        })
        await papote.publish_visitor(target)

    def _reconnect_others(self, merged_away: str | None, token: str | None) -> None:
        """Other sockets that speak for what this identify replaced reconnect (1001) and come back as
        whoever their token now opens: every socket of a visitor merged away (its tokens moved), and
        the other tabs of this browser (they share its storage, which now holds the new token)."""
        for session in list(self.papote.live_sessions):
            if session is self or not isinstance(session, VisitorSession):
                continue
            same_browser = token is not None and session.token == token
            merged = merged_away is not None and session.visitor is not None and session.visitor.id == merged_away
            if same_browser or merged:
                session.request_close(CloseCode.GOING_AWAY, "this browser's visitor changed; reconnect")

    def on_closed(self) -> None:
        if self.visitor is not None:
            self.papote.spawn(self.papote.visitor_left(self.visitor.id))


def answered(site: Site, rule_id: str | None, languages: list[str | None]) -> dict[str, Any] | None:
    """What a visitor's message answers: the site's proactive rule of that id, its text taken from the
    settings (never from the client) in the visitor's language, as their widget showed it. A rule
    removed meanwhile leaves the message as it is."""
    if rule_id is None:
        return None
    message = localized(settings_of(site), languages)["rules"].get(rule_id)
    if message is None:
        return None
    return {"proactive": {"rule": rule_id, "message": message}}


def languages(visitor: Visitor) -> list[str | None]:
    """The visitor's languages as their widget said at hello: its own (`locale`), then the browser's."""
    device = visitor.device
    return [str(device["locale"]) if device.get("locale") else None,
            str(device["lang"]) if device.get("lang") else None]

