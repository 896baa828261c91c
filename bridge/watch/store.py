"""Watch records in the KV bucket `STORYBRIDGE_WATCHES`, every write a compare-and-set.

Keys: `w.<provider>.<kind>.<id>` watch records, `l.<shard>` shard leases, `m.<replica>` replica
heartbeats. A KV watcher keeps a local mirror of the bucket so the scheduler never lists keys; the
mirror may lag, which is harmless because every write names the revision it was based on and a
stale writer's CAS fails.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import structlog
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.errors import NotFoundError as JsNotFoundError
from nats.js.kv import KeyValue

from bridge.watch.model import WatchRecord

log = structlog.get_logger(__name__)

WATCH_PREFIX = "w."


class Conflict(Exception):
    """A CAS write lost: someone else wrote the key since we read it. Re-read and redo."""


@dataclass
class Entry:
    """A key's value and the KV revision it was read at."""

    key: str
    value: bytes
    revision: int


MIRROR_RELOAD_TIMEOUT = 10.0  # seconds; the lease loop's next tick tries again


class Store:
    """CAS access to the bucket plus a live local mirror of it."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self.entries: dict[str, Entry] = {}
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._decoded: dict[str, tuple[int, WatchRecord]] = {}

    async def start(self, timeout: float | None = None) -> None:
        """Mirror the bucket; returns once the initial values are loaded.

        With `timeout`, a load that has not finished by then is abandoned (TimeoutError): during a
        cluster fail-over a new watcher can wait forever for values, and the caller retries later.
        """
        self._ready = asyncio.Event()
        watcher = await self.kv.watchall()
        task = asyncio.create_task(self._mirror(watcher), name="watch-store-mirror")
        self._task = task
        loaded = asyncio.create_task(self._ready.wait())
        await asyncio.wait({loaded, task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        loaded.cancel()
        if not self._ready.is_set():
            await self.stop()
            raise TimeoutError("the watch bucket's values did not load")

    async def restart(self) -> None:
        """Re-create the watcher (it can go quiet after a NATS server restart) and reload."""
        log.warning("watch bucket mirror went stale, reloading")
        await self.stop()
        await self.start(timeout=MIRROR_RELOAD_TIMEOUT)

    def sees(self, key: str, revision: int) -> bool:
        """Has the mirror caught up with a write of `key` at `revision` (made without `_apply`)?"""
        entry = self.entries.get(key)
        return entry is not None and entry.revision >= revision

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _mirror(self, watcher: KeyValue.KeyWatcher) -> None:
        try:
            async for entry in watcher:
                if entry is None:  # end of the initial values
                    self._ready.set()
                    continue
                self._apply(entry.key, entry.value, entry.revision, entry.operation)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()

    def _apply(self, key: str, value: bytes | None, revision: int | None, op: str | None) -> None:
        known = self.entries.get(key)
        if revision is not None and known is not None and known.revision > revision:
            return  # we already saw a newer write (our own, recorded at commit time)
        if op in ("DEL", "PURGE") or value is None:
            self.entries.pop(key, None)
        else:
            self.entries[key] = Entry(key, value, revision or 0)
        self.changed.set()

    # -- raw CAS ---------------------------------------------------------------------------------

    async def get(self, key: str) -> Entry | None:
        try:
            got = await self.kv.get(key)
        except (KeyNotFoundError, JsNotFoundError):
            self.entries.pop(key, None)
            return None
        if got.value is None or got.revision is None:
            return None
        entry = Entry(key, got.value, got.revision)
        self._apply(key, got.value, got.revision, None)
        return entry

    async def create(self, key: str, value: bytes) -> int:
        """Write a key that must not exist (or was deleted). Raises Conflict otherwise."""
        try:
            rev = await self.kv.create(key, value)
        except (KeyWrongLastSequenceError, JsNotFoundError) as err:
            raise Conflict(key) from err
        self._apply(key, value, rev, None)
        return rev

    async def update(self, key: str, value: bytes, last: int) -> int:
        """Write a key only if it is still at revision `last`. Raises Conflict otherwise."""
        try:
            rev = await self.kv.update(key, value, last=last)
        except (KeyWrongLastSequenceError, JsNotFoundError) as err:
            raise Conflict(key) from err
        self._apply(key, value, rev, None)
        return rev

    async def delete(self, key: str, last: int | None = None) -> None:
        try:
            await self.kv.delete(key, last=last)
        except (KeyWrongLastSequenceError, JsNotFoundError) as err:
            raise Conflict(key) from err
        self.entries.pop(key, None)

    # -- watch records ---------------------------------------------------------------------------

    def records(self) -> list[tuple[WatchRecord, int]]:
        """Every watch record in the mirror with its revision. Read-only: decoded once per revision
        and shared; callers that change a record decode their own copy."""
        out: list[tuple[WatchRecord, int]] = []
        for entry in list(self.entries.values()):
            if not entry.key.startswith(WATCH_PREFIX):
                continue
            cached = self._decoded.get(entry.key)
            if cached is None or cached[0] != entry.revision:
                try:
                    cached = (entry.revision, WatchRecord.decode(entry.value))
                except ValueError:
                    log.warning("undecodable watch record", key=entry.key)
                    continue
                self._decoded[entry.key] = cached
            out.append((cached[1], entry.revision))
        if len(self._decoded) > 2 * len(self.entries) + 64:
            self._decoded = {k: v for k, v in self._decoded.items() if k in self.entries}
        return out

    async def load(self, key: str) -> tuple[WatchRecord, int] | None:
        entry = await self.get(key)
        return None if entry is None else (WatchRecord.decode(entry.value), entry.revision)

    async def save(self, record: WatchRecord, last: int | None) -> int:
        """CAS-write a record: create when `last` is None, else update from revision `last`."""
        if last is None:
            return await self.create(record.spec.key, record.encode())
        return await self.update(record.spec.key, record.encode(), last)
