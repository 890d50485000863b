"""The Starlette application of one node: its routes, and a lifespan that starts and stops the node.

`create_app(config)` builds the node (`papote.node.Papote`) unless one is given, mounts the two
WebSocket endpoints, the REST API and the static files, and keeps the node on `app.state.papote`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from papote.config import Config
from papote.node import Papote
from papote.web import api, channel_hooks, email_pages, file_links, static
from papote.web.agent_ws import AgentSession
from papote.web.turn_writes import FLUSHER, SERVER_SEND, Flusher
from papote.web.visitor_ws import VisitorSession

__all__ = ["Papote", "PapoteApp", "create_app"]


class PapoteApp(Starlette):
    """Starlette, which also hands each WebSocket the server's own `send` and the node's `Flusher`
    (web/turn_writes.py): a turn's frames to one socket leave in one write."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.turn_writes = Flusher()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[SERVER_SEND] = send
            scope[FLUSHER] = self.turn_writes
        await super().__call__(scope, receive, send)


def create_app(config: Config | None = None, papote: Papote | None = None) -> PapoteApp:
    config = config or Config.from_env()
    papote = papote or Papote(config)

    async def visitor_socket(ws: WebSocket) -> None:
        await VisitorSession(ws, papote).run()

    async def agent_socket(ws: WebSocket) -> None:
        await AgentSession(ws, papote).run()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await papote.start()
        if config.demo:
            from papote.demo import ensure_demo

            await ensure_demo(papote)
        try:
            yield
        finally:
            await papote.stop()

    routes = [
        WebSocketRoute("/ws/visitor", visitor_socket),
        WebSocketRoute("/ws/agent", agent_socket),
        Route("/healthz", static.healthz),
        *api.routes(config),
        *email_pages.routes(),
        *channel_hooks.routes(),
        *file_links.routes(),
        *static.routes(),
    ]
    app = PapoteApp(routes=routes, lifespan=lifespan)
    app.state.papote = papote
    papote.store.on_settled = app.turn_writes.arm
    return app
