"""Where the bytes of attachments live, behind one small interface: put, get, delete.

* `FolderStorage`: files in a folder, for one node (the default beside a SQLite database:
  `papote.db` keeps its files in `papote.db.attachments/`). Several nodes may share it only on a
  shared file system.
* `DatabaseStorage`: rows of the store's `attachment_blobs` table, for several nodes (the default
  with PostgreSQL): every node reads what any node wrote, and a backup of the database has them.

`PAPOTE_ATTACHMENTS` chooses: `database`, a folder's path, or empty for the default. Keys are minted
by the server (`ids.new_id`), never taken from a client, so they are safe as file names.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import os
import re
from pathlib import Path

from papote.config import Config
from papote.store import Store

_KEY = re.compile(r"[A-Za-z0-9_-]{8,80}")


class AttachmentStorage(abc.ABC):
    @abc.abstractmethod
    async def put(self, key: str, data: bytes) -> None:
        """Keep `data` under `key` (written through when this returns)."""

    @abc.abstractmethod
    async def get(self, key: str) -> bytes | None:
        """The bytes under `key`, or None when there are none."""

    @abc.abstractmethod
    async def delete(self, keys: list[str]) -> None:
        """Forget these keys (missing ones are not an error): the cleanup, and erasure later."""


def _checked(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class FolderStorage(AttachmentStorage):
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        # Two levels of 256 folders at most: no folder ever holds millions of files.
        key = _checked(key)
        return self.folder / key[-2:] / key

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        with open(partial, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)  # never half a file under the key

    def _read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def _remove(self, keys: list[str]) -> None:
        for key in keys:
            with contextlib.suppress(FileNotFoundError):
                self._path(key).unlink()

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, key, data)

    async def get(self, key: str) -> bytes | None:
        return await asyncio.to_thread(self._read, key)

    async def delete(self, keys: list[str]) -> None:
        await asyncio.to_thread(self._remove, keys)


class DatabaseStorage(AttachmentStorage):
    def __init__(self, store: Store) -> None:
        self.store = store

    async def put(self, key: str, data: bytes) -> None:
        await self.store.put_blob(_checked(key), data)

    async def get(self, key: str) -> bytes | None:
        return await self.store.get_blob(_checked(key))

    async def delete(self, keys: list[str]) -> None:
        await self.store.delete_blobs([_checked(k) for k in keys])


def storage_for(config: Config, store: Store) -> AttachmentStorage:
    """The storage `PAPOTE_ATTACHMENTS` names (see the module's docstring)."""
    choice = config.attachments.strip()
    if choice == "database" or (not choice and config.database_backend == "postgres"):
        return DatabaseStorage(store)
    if not choice:
        return FolderStorage(Path(config.database_path).resolve().parent / (Path(config.database_path).name
                                                                            + ".attachments"))
    return FolderStorage(choice)
