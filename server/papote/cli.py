"""`papote` on the command line: serve, and set up sites and agents without prompts (or with them).

    papote serve
    papote init --email E --password P --site-name N --origin URL
    papote site create --name N --origin URL [--owner EMAIL]   (prints the key, then the secret)
    papote site list
    papote agent create --site KEY --email E --password P --role R [--name NAME]
    papote agent list [--site KEY]
    papote agent disable --email E      (server-wide: every site, every session; only the CLI undoes it)
    papote agent enable --email E
    papote operator grant --email E     (operators may create sites through the API)
    papote operator revoke --email E
    papote operator list

Every setting comes from PAPOTE_* environment variables (see the README); `--database` overrides
PAPOTE_DATABASE for the set-up commands.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from papote.bus.broker import BrokerBus
from papote.bus.topics import CLUSTER, agent_topic
from papote.config import Config
from papote.errors import CloseCode, PapoteError
from papote.events import CacheInvalidated, Revoked
from papote.logs import install_redaction
from papote.members import Seat, check_operator_role_change
from papote.sites import normalise_origin, validate_settings
from papote.snippet import render_snippet
from papote.store import AgentChanges
from papote.types import Role


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="papote", description="Papote live chat server")
    parser.add_argument("--database", help="SQLite file (default: $PAPOTE_DATABASE or ./papote.db)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve_cmd = sub.add_parser("serve", help="run the server")
    serve_cmd.add_argument("--host")
    serve_cmd.add_argument("--port", type=int)
    serve_cmd.add_argument("--demo", action="store_true", help="create the demo shop site and agent")

    init = sub.add_parser("init", help="create the first owner and site; prints the snippet")
    init.add_argument("--email")
    init.add_argument("--password")
    init.add_argument("--site-name")
    init.add_argument("--origin", action="append", help="allowed origin of the site (repeatable)")

    site = sub.add_parser("site", help="sites").add_subparsers(dest="action", required=True)
    site_create = site.add_parser("create")
    site_create.add_argument("--name")
    site_create.add_argument("--origin", action="append")
    site_create.add_argument("--owner", help="email of an existing agent who becomes owner")
    site.add_parser("list")

    agent = sub.add_parser("agent", help="agents").add_subparsers(dest="action", required=True)
    agent_create = agent.add_parser("create")
    agent_create.add_argument("--site", help="site key")
    agent_create.add_argument("--email")
    agent_create.add_argument("--password")
    agent_create.add_argument("--name", default="")
    agent_create.add_argument("--role", choices=["owner", "admin", "agent"])
    agent_list = agent.add_parser("list")
    agent_list.add_argument("--site", help="site key")
    for action in ("disable", "enable"):
        agent.add_parser(action, help=f"{action} an account on the whole server").add_argument("--email")

    operator = sub.add_parser("operator", help="server operators").add_subparsers(dest="action", required=True)
    for action in ("grant", "revoke"):
        operator.add_parser(action).add_argument("--email")
    operator.add_parser("list")

    args = parser.parse_args(argv)
    try:
        config = Config.from_env(database=args.database)
    except ValueError as exc:
        print(f"papote: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
        if args.demo:
            overrides["demo"] = True
        config = Config.from_env(database=args.database, **overrides)
        return serve(config)
    handlers: dict[tuple[str, str | None], Callable[[Any, Config], Awaitable[int]]] = {
        ("init", None): _init,
        ("site", "create"): _site_create,
        ("site", "list"): _site_list,
        ("agent", "create"): _agent_create,
        ("agent", "list"): _agent_list,
        ("agent", "disable"): _agent_disable,
        ("agent", "enable"): _agent_enable,
        ("operator", "grant"): _operator_grant,
        ("operator", "revoke"): _operator_revoke,
        ("operator", "list"): _operator_list,
    }
    handler = handlers[(args.command, getattr(args, "action", None))]
    try:
        return asyncio.run(_with_store(config, args, handler))
    except PapoteError as exc:
        print(f"papote: {exc.message}", file=sys.stderr)
        return 1


def _ask(value: str | None, prompt: str, secret: bool = False) -> str:
    if value:
        return value
    if not sys.stdin.isatty():
        raise PapoteError(f"missing --{prompt.lower().replace(' ', '-')} (no terminal to ask on)")
    answer = getpass.getpass(f"{prompt}: ") if secret else input(f"{prompt}: ")
    if not answer.strip():
        raise PapoteError(f"{prompt} is required")
    return answer.strip()


async def _with_store(config: Config, args: Any, handler: Callable[[Any, Config], Awaitable[int]]) -> int:
    from papote.node import Papote

    papote = Papote(config)
    await papote.store.open()
    try:
        return await handler((args, papote), config)
    finally:
        await papote.store.close()


async def _init(ctx: Any, config: Config) -> int:
    args, papote = ctx
    email = _ask(args.email, "Email")
    password = _ask(args.password, "Password", secret=True)
    name = _ask(args.site_name, "Site name")
    origins = args.origin or [_ask(None, "Origin")]
    store = papote.store
    agent = await store.get_agent_by_email(email.lower())
    if agent is None:
        agent = await papote.accounts.create_agent(email, password)
    site = await papote.sites.create(name, [normalise_origin(o) for o in origins], validate_settings({}), agent.id)
    # Whoever runs `init` installed the server: they operate it (and may create sites from the console).
    await store.set_operator(agent.id, True)
    print(f"Owner: {agent.email} (server operator)")
    print(f"Site:  {site.name} (key {site.key})")
    print(f"Identity-verification secret: {site.secrets[0]}")
    print("\nPaste this snippet before </body> on every page of the site:\n")
    print(render_snippet(site.key, config.base_url))
    return 0


async def _site_create(ctx: Any, config: Config) -> int:
    args, papote = ctx
    name = _ask(args.name, "Site name")
    origins = args.origin or [_ask(None, "Origin")]
    site = await papote.store.create_site(name, [normalise_origin(o) for o in origins],
                                          validate_settings({}))
    if args.owner:
        agent = await papote.store.get_agent_by_email(args.owner.lower())
        if agent is None:
            raise PapoteError(f"no agent with email {args.owner}")
        await papote.store.set_membership(site.id, agent.id, Role.OWNER)
    # The key alone on the first line (scripts read it with `head -1`), then the secret the site's
    # backend signs identities with: shown here and, later, to the site's owners and admins only.
    print(site.key)
    print(f"Identity-verification secret: {site.secrets[0]}")
    return 0


async def _site_list(ctx: Any, config: Config) -> int:
    _, papote = ctx
    for site in await papote.store.list_sites():
        print(f"{site.key}\t{site.name}\t{' '.join(site.origins)}")
    return 0


async def _agent_create(ctx: Any, config: Config) -> int:
    args, papote = ctx
    key = _ask(args.site, "Site key")
    site = await papote.store.get_site_by_key(key)
    if site is None:
        raise PapoteError(f"no site with key {key}")
    email = _ask(args.email, "Email")
    role = args.role or _ask(None, "Role (owner, admin, agent)")
    if role not in ("owner", "admin", "agent"):
        raise PapoteError("role must be owner, admin or agent")
    agent = await papote.store.get_agent_by_email(email.lower())
    if agent is None:
        password = _ask(args.password, "Password", secret=True)
        agent = await papote.accounts.create_agent(email, password, args.name)
    seats = {a.id: Seat(a.id, Role(m.role)) for a, m in await papote.store.team(site.id)}
    if agent.id in seats:
        check_operator_role_change(seats[agent.id], Role(role), list(seats.values()))
    await papote.store.set_membership(site.id, agent.id, Role(role))
    print(agent.id)
    return 0


async def _agent_list(ctx: Any, config: Config) -> int:
    args, papote = ctx
    site_id = None
    if args.site:
        site = await papote.store.get_site_by_key(args.site)
        if site is None:
            raise PapoteError(f"no site with key {args.site}")
        site_id = site.id
    operators = {a.id for a in await papote.store.operators()}
    if site_id is None:
        rows = [(a, None, False) for a, _ in await papote.store.list_agents()]
    else:
        rows = [(a, m.role, m.disabled) for a, m in await papote.store.team(site_id)]
    for agent, role, member_disabled in rows:
        state = "disabled" if agent.disabled else "disabled-on-site" if member_disabled else "active"
        extra = "\toperator" if agent.id in operators else ""
        print(f"{agent.id}\t{agent.email}\t{agent.name}\t{role or '-'}\t{state}{extra}")
    return 0


async def _account(papote: Any, email: str | None) -> Any:
    address = _ask(email, "Email").strip().lower()
    agent = await papote.store.get_agent_by_email(address)
    if agent is None:
        raise PapoteError(f"no agent with email {address}")
    return agent


async def _agent_disable(ctx: Any, config: Config) -> int:
    """The operator's server-wide disable: no sign-in, no session, on any site. Live sockets close
    within PAPOTE_SESSION_CHECK_SECS (the server checks their sessions)."""
    args, papote = ctx
    agent = await _account(papote, args.email)
    await papote.store.update_agent(agent.id, AgentChanges(disabled=True))
    await papote.store.delete_sessions(agent_id=agent.id)
    print(f"disabled {agent.id} {agent.email}: signed out everywhere, cannot sign in")
    await _tell_nodes(papote, [(agent_topic(agent.id), Revoked()), (CLUSTER, CacheInvalidated("agent", agent.id))])
    return 0


async def _agent_enable(ctx: Any, config: Config) -> int:
    args, papote = ctx
    agent = await _account(papote, args.email)
    await papote.store.update_agent(agent.id, AgentChanges(disabled=False))
    print(f"enabled {agent.id} {agent.email}: may sign in again (disabled site memberships stay so)")
    await _tell_nodes(papote, [(CLUSTER, CacheInvalidated("agent", agent.id))])
    return 0


#: How long the CLI waits for the broker to take its word to the nodes. Past it the change still holds
#: (it is in the store); the nodes see it at their next session check or cache expiry.
TELL_NODES_SECS = 5.0


async def _tell_nodes(papote: Any, events: list[tuple[str, Any]]) -> None:
    """Publish what the CLI changed, as a node would, so every node acts at once: its sockets of an
    ended session close, its cached copy is dropped. Nothing to do on the one-process `local` bus
    (the server re-reads the store on its own)."""
    bus = papote.bus
    if not isinstance(bus, BrokerBus):
        return
    await bus.start()
    try:
        async with asyncio.timeout(TELL_NODES_SECS):
            await _until(lambda: bus.connected)
            before = bus.sent
            for topic, event in events:
                bus.publish(topic, event)
            await _until(lambda: bus.sent >= before + len(events))
    except TimeoutError:
        print(f"papote: the broker ({bus.shown_url}) did not answer: live sockets close within "
              "PAPOTE_SESSION_CHECK_SECS", file=sys.stderr)
    finally:
        await bus.stop()


async def _until(condition: Callable[[], bool]) -> None:
    # The bus keeps counters, not events: look every 20 ms (the CLI runs for a moment, once).
    while True:
        if condition():
            return
        await asyncio.sleep(0.02)


async def _operator_grant(ctx: Any, config: Config) -> int:
    args, papote = ctx
    agent = await _account(papote, args.email)
    await papote.store.set_operator(agent.id, True)
    print(f"{agent.email} is a server operator")
    return 0


async def _operator_revoke(ctx: Any, config: Config) -> int:
    args, papote = ctx
    agent = await _account(papote, args.email)
    await papote.store.set_operator(agent.id, False)
    print(f"{agent.email} is no longer a server operator")
    return 0


async def _operator_list(ctx: Any, config: Config) -> int:
    _, papote = ctx
    for agent in await papote.store.operators():
        print(f"{agent.id}\t{agent.email}\t{agent.name}")
    return 0


def serve(config: Config) -> int:
    import uvicorn

    from papote.app import create_app
    from papote.node import Papote

    install_redaction()  # before any record: credentials never reach a log, at any level
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request's URL at INFO: a push endpoint is a browser's secret address (push.py logs
    # what matters, without it).
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    papote = Papote(config)
    app = create_app(config, papote)
    uv_config = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        ws="websockets-sansio",
        ws_max_size=config.max_frame_bytes,
        ws_per_message_deflate=False,  # +25-60 % CPU and ×3 memory per socket for chat-sized frames
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        lifespan="on",
        log_level=config.log_level,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    server = _GracefulServer(uv_config, papote)
    if config.demo:
        print(f"Papote on {config.base_url}\n  demo shop:  {config.base_url}/demo\n"
              f"  console:    {config.base_url}/console\n"
              f"  agent:      {config.demo_email} / {config.demo_password}", flush=True)
    _tune_gc()
    server.run()
    return 0


#: Net new container objects between two young-generation collections (CPython's default is 700). A
#: busy server holds thousands of frames, futures and closures in flight; at 700 the collector walked
#: them hundreds of times a second, 10-15 % of the CPU at saturation (docs/performance.md). Cyclic
#: garbage still goes, a little later.
GC_YOUNG_THRESHOLD = 20_000


def _tune_gc() -> None:
    """Everything alive once the server is built (modules, app, routes) lives as long as the process:
    `gc.freeze` takes it out of every later collection, then young collections run less often."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


class _GracefulServer:
    """uvicorn's Server, with our goodbye first: on SIGTERM/SIGINT every socket gets 1001 (not uvicorn's
    1012) and the store flushes, then uvicorn stops."""

    def __init__(self, config: Any, papote: Any) -> None:
        import uvicorn

        papote_ref = papote

        class Server(uvicorn.Server):
            def handle_exit(self, sig: int, frame: Any) -> None:
                if self.should_exit:
                    return super().handle_exit(sig, frame)
                loop = asyncio.get_event_loop()

                async def goodbye() -> None:
                    papote_ref.close_all_sockets(CloseCode.GOING_AWAY, "server restarting; reconnect and resume")
                    for _ in range(50):
                        if not papote_ref.live_sessions:
                            break
                        await asyncio.sleep(0.02)
                    uvicorn.Server.handle_exit(self, sig, frame)

                self.goodbye = loop.create_task(goodbye())  # kept: a bare task may be collected

        self.server = Server(config)

    def run(self) -> None:
        self.server.run()
