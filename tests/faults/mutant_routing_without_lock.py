"""A deliberately broken Papote for the routing race's self-check: routing without the cross-node lock.

Routing reads the line and the agents' loads, picks, then asks the store to assign — and the store's
conditions are what make that safe across nodes: the conversation only if still unassigned, the agent
only below capacity, in one transaction (`Store.assign(only_if_unassigned=True, within_capacity=…)`).
This build drops both conditions for routing's assignments (a claim keeps its own), so each node
trusts what it read: two nodes routing one site at once both take the head of the line, and one
conversation is assigned twice. tests/integration/test_nodes.py must see that; if it does not, the
race cannot catch the bug it exists for.

Run as `python -m tests.faults.mutant_routing_without_lock serve` from the repository root.
"""

from __future__ import annotations

from typing import Any

from papote import cli
from papote.store import Conversation
from papote.store.factory import store_for


def _without_lock(cls: Any) -> None:
    real = cls.assign

    async def assign(self: Any, conversation_id: str, agent_id: str, at: int, *, only_if_unassigned: bool,
                     within_capacity: int | None = None) -> Conversation | None:
        if within_capacity is not None:  # routing's call: the bug is to drop its conditions
            return await real(self, conversation_id, agent_id, at, only_if_unassigned=False)  # type: ignore[no-any-return]
        return await real(self, conversation_id, agent_id, at, only_if_unassigned=only_if_unassigned)  # type: ignore[no-any-return]

    cls.assign = assign


def _patched_store_for(config: Any) -> Any:
    store = _real_store_for(config)
    if not getattr(type(store), "_mutant", False):
        _without_lock(type(store))
        type(store)._mutant = True
    return store


_real_store_for = store_for
import papote.store.factory as _factory  # noqa: E402

_factory.store_for = _patched_store_for  # type: ignore[assignment]
import papote.node as _node  # noqa: E402

_node.store_for = _patched_store_for  # type: ignore[attr-defined]

if __name__ == "__main__":
    cli.main()
