"""`/ws/agent`: the console's socket. Authenticated by the session cookie; Origin must be our own."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, assert_never

from papote import quick_replies
from papote.authz import Action
from papote.connections import SUBSCRIBE_WAIT_SECS, Connection
from papote.conversations import agent_author, agent_topic, conv_topic, site_topic
from papote.errors import CloseCode, NotFound
from papote.events import ConversationChanged
from papote.ids import digest
from papote.protocol import (
    AgentCommand,
    AgentHello,
    AgentSend,
    Assign,
    Claim,
    Close,
    Endpoint,
    Label,
    Reopen,
    Snooze,
    Status,
    Subscribe,
    Transfer,
    Unsnooze,
    Unsubscribe,
)
from papote.store import Agent, AgentChanges, ConversationQuery
from papote.types import AgentStatus, ConversationStatus
from papote.web.live import LiveSession

#: Open conversations listed in `welcome`; the inbox pages through the REST API beyond that.
WELCOME_CONVERSATIONS = 200


class AgentSession(LiveSession[AgentHello, AgentCommand]):
    endpoint = Endpoint.AGENT

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.agent: Agent | None = None
        self.session_digest: str | None = None

    async def pre_accept(self) -> CloseCode | None:
        papote = self.papote
        if self.ws.headers.get("origin", "").rstrip("/") != papote.config.origin:
            return CloseCode.ORIGIN_NOT_ALLOWED
        token = self.ws.cookies.get(papote.accounts.cookie_name)
        self.agent = await papote.accounts.agent_for_session(token)
        if self.agent is None:
            return CloseCode.UNAUTHORIZED
        self.session_digest = digest(token or "")
        return None

    async def on_hello(self, hello: AgentHello) -> Connection:
        papote = self.papote
        agent = self.agent
        assert agent is not None
        principal = await papote.accounts.principal(agent)
        roles = principal.roles
        conn = Connection(principal, Endpoint.AGENT, papote.config.send_queue_frames, self.request_close)
        conn.on_conversation = self._follow
        conn.session = self.session_digest
        papote.hub.add(conn)
        self.conn = conn
        # The agent's own topic (sessions revoked, mentions) is live on the broker before `welcome`:
        # what is published to them once their console has its welcome reaches it. A broker that is down
        # does not hold the welcome longer than a resume would wait for it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.ensure_future(papote.hub.subscribe(conn, agent_topic(agent.id))),
                                   SUBSCRIBE_WAIT_SECS)
        status = agent.status if agent.status in ("online", "away") else AgentStatus.ONLINE.value
        papote.presence.connected(agent.id, status, agent.capacity)
        convs = await papote.chat.find(
            ConversationQuery(site_ids=list(roles), status=ConversationStatus.OPEN, limit=WELCOME_CONVERSATIONS)
        )
        for site_id in roles:
            papote.hub.subscribe(conn, site_topic(site_id))
        following = [conv.id for conv in convs if conv.assignee_id in (None, agent.id)]
        conn.hold_until_resume(following)  # as for visitors
        for cid in following:
            papote.hub.subscribe(conn, conv_topic(cid))
        sites = [await papote.site_by_id(s) for s in roles]
        summaries = await papote.chat.summaries(convs, principal)
        self.send({
            "t": "welcome",
            "v": 1,
            "epoch": papote.epoch,
            "agent": {**agent_author(agent), "email": agent.email, "status": status,
                      "capacity": agent.capacity},
            "sites": [{"id": s.id, "key": s.key, "name": s.name, "role": roles[s.id].value}
                      for s in sites if s is not None],
            "conversations": summaries,
            "agents": await papote.presence_list(list(roles)),
            "heartbeat": papote.config.heartbeat_secs,
            "max_body": papote.config.max_body_chars,
        })
        await papote.announce_presence(agent.id)
        for site_id in roles:
            papote.spawn(papote.chat.route(site_id))
        return conn

    def _follow(self, conn: Connection, event: ConversationChanged) -> None:
        """Follow live the conversations this agent handles or could pick up; drop the others."""
        conv = event.conversation
        cid = conv.id
        mine_or_queue = conv.status == "open" and conv.assignee_id in (None, conn.principal.id)
        if mine_or_queue or cid in conn.explicit:
            self.papote.hub.subscribe(conn, conv_topic(cid))
        else:
            self.papote.hub.unsubscribe(conn, conv_topic(cid))

    def resumed(self, conversation_id: str) -> None:
        """A conversation named in `resume` stays followed whoever it is assigned to, as if subscribed."""
        assert self.conn is not None
        self.conn.explicit.add(conversation_id)

    async def on_command(self, command: AgentCommand) -> None:
        papote = self.papote
        chat = papote.chat
        conn = self.conn
        assert conn is not None and self.agent is not None
        principal = conn.principal
        match command:
            case AgentSend():
                note = bool(command.note)
                data = quick_replies.options_data(command.quick_replies, note=note)
                stored = await chat.submit(principal, command.conversation, command.client_msg_id, command.text,
                                           note=note, data=data, attachments=command.attachments,
                                           mentions=command.mentions)
                await self.pipeline(command, stored, note=note)
                return  # answered by its ack
            case Subscribe():
                for one in command.conversations:
                    try:
                        await chat.conversation_for(principal, one, Action.READ)
                    except NotFound:
                        continue
                    conn.explicit.add(one)
                    papote.hub.subscribe(conn, conv_topic(one))
            case Unsubscribe():
                for one in command.conversations:
                    conn.explicit.discard(one)
                    papote.hub.unsubscribe(conn, conv_topic(one))
            case Claim():
                await chat.assign(principal, command.conversation, principal.id, claim=True)
            case Assign():
                await chat.assign(principal, command.conversation, command.agent)
            case Transfer():
                await chat.assign(principal, command.conversation, command.agent, note=command.note)
            case Close():
                await chat.close(principal, command.conversation)
            case Reopen():
                await chat.reopen(principal, command.conversation)
            case Snooze():
                await chat.snooze(principal, command.conversation, command.until)
            case Unsnooze():
                await chat.unsnooze(principal, command.conversation)
            case Label():
                await chat.label(principal, command.conversation, command.add or [], command.remove or [])
            case Status():
                changes = AgentChanges(status=AgentStatus(command.status))
                if command.capacity is not None:
                    changes.capacity = command.capacity
                self.agent = await papote.accounts.update_agent(self.agent.id, changes)
                chat.agent_changed(self.agent)
                papote.presence.set(self.agent.id, command.status, command.capacity)
                await papote.announce_presence(self.agent.id)
                for site_id in principal.roles:
                    papote.spawn(chat.route(site_id))
            case _:
                assert_never(command)
        self.send({"t": "ok", "ref": command.ref})

    def on_closed(self) -> None:
        if self.agent is not None and self.papote.presence.disconnected(self.agent.id):
            self.papote.spawn(self.papote.announce_presence(self.agent.id))

