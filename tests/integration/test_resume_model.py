"""A model of the delivery contract, checked against a real server by hypothesis.

The visitor sends, drops the connection before or after the ack, reconnects, resumes and retries, in
whatever order hypothesis likes. The invariants: every message is stored once; a retry gets the seq
of the first ack; what the client holds after `resume` equals a fresh fetch of the store.

A first message (no conversation yet) whose ack is lost may still be committing when the visitor
reconnects; if the visitor then writes again before it commits, that second first message starts a
conversation of its own, and the retry of the first is acknowledged in the first one. So the model
keeps what the client holds per conversation, as the widget does.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from websockets.sync.client import ClientConnection, connect

from tests.harness import PapoteServer

pytestmark = pytest.mark.both_backends

#: Any character a body may hold: U+0000 is refused on every backend (test_delivery pins that), and a
#: client cannot encode a lone surrogate in UTF-8.
BODY_CHARS = st.characters(codec="utf-8", exclude_characters="\x00")

SERVER: PapoteServer | None = None
COOKIE = ""


class VisitorModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        assert SERVER is not None
        self.server = SERVER
        self.ws: ClientConnection | None = None
        self.token: str | None = None
        self.epoch = ""
        self.conversation: str | None = None
        self.sent: dict[str, str] = {}  # client_msg_id → body: everything the visitor ever sent
        self.sent_to: dict[str, str | None] = {}  # client_msg_id → the conversation named when first sent
        self.acked: dict[str, tuple[str, int]] = {}  # client_msg_id → (conversation, seq) of its first ack
        self.pending: set[str] = set()  # sent, ack never seen
        # What the client believes is stored, per conversation: seq → body.
        self.views: dict[str, dict[int, str]] = {}
        self.ref = 0
        self.connect()

    # -- the client ----------------------------------------------------------------------------------
    def frame(self, frame: dict[str, Any]) -> None:
        assert self.ws is not None
        self.ws.send(msgpack.packb(frame, use_bin_type=True))

    def until(self, kind: str, **match: Any) -> dict[str, Any]:
        assert self.ws is not None
        while True:
            frame = msgpack.unpackb(self.ws.recv(timeout=10), raw=False)
            assert frame["t"] != "error", frame
            if frame["t"] == "message" and frame.get("kind") == "text":
                self.see(frame)
            if frame["t"] == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame  # type: ignore[no-any-return]

    def see(self, message: dict[str, Any]) -> None:
        self.views.setdefault(message["conversation"], {})[message["seq"]] = message["body"]

    def last_seq(self, conversation: str) -> int:
        return max(self.views.get(conversation, {}), default=0)

    def connect(self) -> None:
        # Entered by hand: the socket lives across rules, not within one block.
        self.ws = connect(self.server.ws_url + "/ws/visitor", origin=self.server.base_url).__enter__()  # type: ignore[arg-type]
        hello: dict[str, Any] = {"t": "hello", "v": 1, "site": self.server.site_key}
        if self.token:
            hello["token"] = self.token
        self.frame(hello)
        welcome = self.until("welcome")
        self.token = welcome.get("token", self.token)
        self.epoch = welcome["epoch"]
        if self.conversation is None and welcome["conversations"]:
            # A first message whose ack was lost did start a conversation: carry on in it, as the widget does.
            self.conversation = welcome["conversations"][0]["id"]
            self.views.setdefault(self.conversation, {})  # known, nothing held yet: resume it from 0

    def acknowledge(self, cmid: str, ack: dict[str, Any]) -> None:
        where = (ack["conversation"], ack["seq"])
        if cmid in self.acked:
            assert where == self.acked[cmid], "a retry got another seq than the first ack"
        self.acked[cmid] = where
        self.pending.discard(cmid)
        self.conversation = ack["conversation"]
        self.views.setdefault(ack["conversation"], {})[ack["seq"]] = self.sent[cmid]

    # -- rules ---------------------------------------------------------------------------------------
    @precondition(lambda self: self.ws is not None)
    @rule(body=st.text(BODY_CHARS, min_size=1, max_size=30).filter(str.strip), wait=st.booleans())
    def send(self, body: str, wait: bool) -> None:
        cmid = "m-" + uuid.uuid4().hex
        self.sent[cmid] = body
        self.sent_to[cmid] = self.conversation
        self.pending.add(cmid)
        self.ref += 1
        self.frame({"t": "send", "ref": self.ref, "conversation": self.conversation, "client_msg_id": cmid,
                    "body": body})
        if wait:
            self.acknowledge(cmid, self.until("ack", client_msg_id=cmid))
        else:
            self.drop()  # the train enters the tunnel before the ack comes back

    @precondition(lambda self: self.ws is not None)
    @rule()
    def drop(self) -> None:
        assert self.ws is not None
        self.ws.close()
        self.ws = None

    @precondition(lambda self: self.ws is None)
    @rule()
    def reconnect_and_resume(self) -> None:
        self.connect()
        if self.views:
            # A live frame read meanwhile may reveal a conversation that an in-flight first message
            # started: it joins `views` but was not asked for here.
            asked = list(self.views)
            self.frame({"t": "resume", "epoch": self.epoch,
                        "conversations": {cid: self.last_seq(cid) for cid in asked}})
            for cid in asked:
                history = self.until("history", conversation=cid)
                assert history["recovered"] is True
                for message in history["messages"]:
                    if message["kind"] == "text":
                        self.see({**message, "conversation": cid})
            for cid, view in list(self.views.items()):
                stored = self.fresh_fetch(cid)
                # A send dropped before its ack may commit after this history was read: the client
                # gets it live a moment later (or as the ack of its retry). Only such a message may
                # be stored and not yet held; everything held must be stored exactly as held.
                unheld = {seq: text for seq, text in stored.items() if seq not in view}
                in_flight = sorted(self.sent[cmid] for cmid in self.pending)
                assert {seq: stored.get(seq) for seq in view} == view, "state after resume differs from a fresh fetch"
                assert all(text in in_flight for text in unheld.values()), (
                    "resume missed a message the client had no reason to lack", unheld)

    @precondition(lambda self: self.ws is not None and self.pending)
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        cmid = data.draw(st.sampled_from(sorted(self.pending)))
        self.ref += 1
        # A retry repeats the original frame: same id, same body, same conversation (even nil).
        self.frame({"t": "send", "ref": self.ref, "conversation": self.sent_to[cmid], "client_msg_id": cmid,
                    "body": self.sent[cmid]})
        self.acknowledge(cmid, self.until("ack", client_msg_id=cmid))

    # -- invariants ----------------------------------------------------------------------------------
    def fresh_fetch(self, conversation: str) -> dict[int, str]:
        status, body, _ = self.server.http("GET", f"/api/conversations/{conversation}/messages?after_seq=0"
                                                  "&limit=200", cookie=COOKIE)
        assert status == 200, body
        return {m["seq"]: m["body"] for m in body["messages"] if m["kind"] == "text"}

    def stored(self) -> dict[tuple[str, int], str]:
        """Every text message of every conversation the client was acknowledged in."""
        return {(cid, seq): text for cid in {*self.views} for seq, text in self.fresh_fetch(cid).items()}

    @invariant()
    def acked_messages_are_stored_once(self) -> None:
        if not self.acked:
            return
        stored = self.stored()
        for cmid, where in self.acked.items():
            assert stored.get(where) == self.sent[cmid], "an acknowledged message is missing or changed"
        assert len(stored) <= len(self.sent), "a message is stored twice"

    def teardown(self) -> None:
        # Whatever was left pending is retried once more: everything the visitor wrote ends up stored,
        # each exactly once.
        if self.ws is None and self.token is not None:
            self.connect()
        for cmid in sorted(self.pending):
            self.frame({"t": "send", "ref": 0, "conversation": self.sent_to[cmid], "client_msg_id": cmid,
                        "body": self.sent[cmid]})
            self.acknowledge(cmid, self.until("ack", client_msg_id=cmid))
        stored = self.stored()
        assert sorted(stored.values()) == sorted(self.sent.values())
        assert sorted(stored) == sorted(self.acked.values())
        if self.ws is not None:
            self.ws.close()


def test_send_drop_retry_resume_model(papote_server: PapoteServer) -> None:
    global SERVER, COOKIE
    SERVER, COOKIE = papote_server, papote_server.login()
    try:
        run_state_machine_as_test(VisitorModel, settings=settings(
            max_examples=25, stateful_step_count=12, deadline=None,
            suppress_health_check=[HealthCheck.too_slow]))
    finally:
        SERVER = None

