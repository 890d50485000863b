"""Topic names: what a listener follows. One place, so every bus and every node spells them alike.

``conv:<id>`` carries one conversation's messages (in seq order), read marks and typing; ``site:<id>``
inbox changes and presence for a site's agents; ``public:<id>`` availability for a site's visitors;
``visitor:<id>`` and ``agent:<id>`` one principal's own sockets (other tabs and devices, revocations);
``cluster`` the nodes' own housekeeping (presence snapshots, cache invalidations), which no connection
follows.
"""

from __future__ import annotations

CONVERSATION_PREFIX = "conv:"
CLUSTER = "cluster"


def conv_topic(conversation_id: str) -> str:
    return f"{CONVERSATION_PREFIX}{conversation_id}"


def conversation_of(topic: str) -> str | None:
    """The conversation a `conv:` topic follows, else None."""
    return topic[len(CONVERSATION_PREFIX):] if topic.startswith(CONVERSATION_PREFIX) else None


def site_topic(site_id: str) -> str:
    return f"site:{site_id}"


def public_topic(site_id: str) -> str:
    """Every visitor connection of a site: availability changes."""
    return f"public:{site_id}"


def visitor_topic(visitor_id: str) -> str:
    return f"visitor:{visitor_id}"


def agent_topic(agent_id: str) -> str:
    return f"agent:{agent_id}"
