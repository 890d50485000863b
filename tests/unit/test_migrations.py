"""Each backend's migrations are numbered 1, 2, 3… with no number twice and none missing.

A database remembers only the number it reached: a second script with a number already reached would
never run there, and a gap would hide one that was lost in a merge. Both mistakes are silent in a test
that starts from an empty database, so the numbers themselves are checked here.
"""

from __future__ import annotations

from importlib import resources

import pytest


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_migrations_are_numbered_once_each_without_gaps(engine: str) -> None:
    folder = resources.files(f"papote.store.{engine}") / "migrations"
    numbers = sorted(int(p.name.split("_", 1)[0]) for p in folder.iterdir() if p.name.endswith(".sql"))
    assert numbers == list(range(1, len(numbers) + 1)), f"{engine} migrations: {numbers}"
