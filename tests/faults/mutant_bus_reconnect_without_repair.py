"""A deliberately broken Papote for the bus outage test's self-check: its bus reconnects, and
re-subscribes, but never re-checks the conversations it follows against the store.

A message committed on another node while the broker was down is then never delivered to this
node's clients (no later message reveals the gap). tests/integration/test_bus.py must see the loss;
if it does not, the test cannot catch the bug it exists for.

Run as `python -m tests.faults.mutant_bus_reconnect_without_repair serve` from the repository root.
"""

from __future__ import annotations

from collections.abc import Iterable

from papote import cli
from papote.bus.repair import GapRepair


async def _no_check(self: GapRepair, conversation_ids: Iterable[str] | None = None) -> None:
    return  # the bug: positions are never compared with the store


GapRepair.check = _no_check  # type: ignore[method-assign]

if __name__ == "__main__":
    cli.main()
