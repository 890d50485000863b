"""The demo merchant set up by `make run`: a site, an owner agent, canned responses, a proactive rule."""

from __future__ import annotations

import logging
from typing import Any

from papote.sites import validate_settings
from papote.types import Role

log = logging.getLogger("papote.demo")

#: The name of the shop the demo page shows (static/demo/shop.html): the console and the widget's
#: header say the same name as the page the visitor is on.
DEMO_SITE = "Atelier Lumière"
#: What the demo site was called before; a database made then is renamed, not given a second site.
OLD_DEMO_SITES = ("Demo shop",)


async def ensure_demo(papote: Any) -> None:
    """Create the demo site and agent once; later starts reuse them (the database keeps them)."""
    store = papote.store
    config = papote.config
    sites = [s for s in await store.list_sites() if s.name == DEMO_SITE or s.name in OLD_DEMO_SITES]
    if sites:
        site = sites[0]
        if site.name != DEMO_SITE:
            site = await store.update_site(site.id, name=DEMO_SITE)
    else:
        settings = validate_settings({
            "greeting": "Hi! Questions about an order or a product? We're here.",
            "reply_time": 120,
            "rules": [{"id": "big-cart", "trigger": "event", "event": "add_to_cart",
                       "condition": {"field": "value", "op": ">", "value": 40},
                       "message": "Nice pick! Any question before you check out?"}],
        })
        site = await store.create_site(DEMO_SITE, [config.origin], settings)
        await store.save_canned(site.id, "hello", "Hello {name}, thanks for writing! How can I help?")
        await store.save_canned(site.id, "shipping", "We ship within 2 working days, tracked.")
    if config.origin not in site.origins:
        site = await store.update_site(site.id, origins=[*site.origins, config.origin])
    agent = await store.get_agent_by_email(config.demo_email)
    if agent is None:
        agent = await papote.accounts.create_agent(config.demo_email, config.demo_password, "Léa")
    await store.set_membership(site.id, agent.id, Role.OWNER)
    papote.demo_site_key = site.key
    papote.site_changed(site)
    log.info("demo site %s ready", site.key)
