"""Watch records in the KV bucket `STORYBRIDGE_WATCHES`, every write a compare-and-set.

Keys: `w.<shard>.<provider>.<resource>.<id>` watch records, `l.<shard>` shard leases,
`m.<replica>` replica heartbeats. A replica mirrors the leases and heartbeats (a few dozen keys)
and, per shard it holds, that shard's records through a KV watcher filtered on `w.<shard>.>`: it
never decodes, or even receives, another replica's records. The mirror may lag, which is harmless
because every write names the revision it was based on and a stale writer's CAS fails.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.errors import NotFoundError as JsNotFoundError
from nats.js.kv import KeyValue

from bridge.watch.model import WATCH_PREFIX, WatchRecord, shard_of_key

log = structlog.get_logger(__name__)

CONTROL_PREFIXES = ("l.", "m.")  # leases and heartbeats: mirrored by every replica


class Conflict(Exception):
    """A CAS write lost: someone else wrote the key since we read it. Re-read and redo."""


class Entry:
    """A key's value and the KV revision it was read at (slots: one per record in memory)."""

    __slots__ = ("key", "revision", "value")

    def __init__(self, key: str, value: bytes, revision: int) -> None:
        self.key = key
        self.value = value
        self.revision = revision


OnChange = Callable[[str, Entry | None], None]


class Store:
    """CAS access to the bucket plus a live mirror of the control keys and the shards held."""

    def __init__(self, kv: KeyValue, on_change: OnChange | None = None) -> None:
        self.kv = kv
        self.entries: dict[str, Entry] = {}
        # The control keys again, apart: a lease tick reads every heartbeat, and must not walk
        # 100,000 records to find a dozen.
        self.control: dict[str, Entry] = {}
        self.on_change = on_change
        self._control: list[asyncio.Task[None]] = []
        self._shards: dict[int, asyncio.Task[None]] = {}
        self._held: set[int] = set()  # shards mirrored or being loaded

    # -- mirrors ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Mirror leases and heartbeats; returns once their initial values are loaded."""
        for prefix in CONTROL_PREFIXES:
            self._control.append(await self._watch(f"{prefix}>", f"watch-store-{prefix}"))

    @property
    def shards(self) -> set[int]:
        return set(self._shards)

    async def watch_shard(self, shard: int) -> None:
        """Start mirroring the records of `shard`; returns once they are loaded."""
        if shard in self._shards or shard in self._held:
            return
        self._held.add(shard)  # before the watcher: its initial values must be taken in
        try:
            self._shards[shard] = await self._watch(f"{WATCH_PREFIX}{shard}.>", f"shard-{shard}")
        except BaseException:
            self._held.discard(shard)
            raise

    async def unwatch_shard(self, shard: int) -> None:
        """Stop mirroring `shard` and forget its records (another replica holds it now)."""
        task = self._shards.pop(shard, None)
        self._held.discard(shard)
        if task is not None:
            await _cancel(task)
        head = f"{WATCH_PREFIX}{shard}."
        for key in [k for k in self.entries if k.startswith(head)]:
            del self.entries[key]
            self._notify(key, None)

    async def restart(self) -> None:
        """Re-create the control watchers (they can go quiet after a NATS server restart) and
        drop the shard mirrors; the engine reloads those in the background from its lease loop,
        so a reload never holds up renewing the leases."""
        log.warning("watch bucket mirror went stale, reloading")
        for task in self._control:
            await _cancel(task)
        self._control = []
        await self.start()
        for shard in sorted(self._held):
            await self.unwatch_shard(shard)

    async def stop(self) -> None:
        for task in [*self._control, *self._shards.values()]:
            await _cancel(task)
        self._control, self._shards, self._held = [], {}, set()

    def sees(self, key: str, revision: int) -> bool:
        """Has the mirror caught up with a write of `key` at `revision` (made without `_apply`)?"""
        entry = self.entries.get(key)
        return entry is not None and entry.revision >= revision

    async def _watch(self, pattern: str, name: str) -> asyncio.Task[None]:
        ready = asyncio.Event()
        watcher = await self.kv.watch(pattern)
        task = asyncio.create_task(self._mirror(watcher, ready), name=name)
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if task.done():
            task.result()  # the watcher died while loading: raise why
        return task

    async def _mirror(self, watcher: KeyValue.KeyWatcher, ready: asyncio.Event) -> None:
        try:
            async for entry in watcher:
                if entry is None:  # end of the initial values
                    ready.set()
                    continue
                self._apply(entry.key, entry.value, entry.revision, entry.operation)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()

    def _mirrored(self, key: str) -> bool:
        shard = shard_of_key(key)
        return shard in self._held if shard is not None else key.startswith(CONTROL_PREFIXES)

    def _apply(self, key: str, value: bytes | None, revision: int | None, op: str | None) -> None:
        if not self._mirrored(key):
            return  # another replica's record, written by us in passing (a forwarded change)
        known = self.entries.get(key)
        if revision is not None and known is not None and known.revision > revision:
            return  # we already saw a newer write (our own, recorded at commit time)
        if op in ("DEL", "PURGE") or value is None:
            self.control.pop(key, None)
            if self.entries.pop(key, None) is not None:
                self._notify(key, None)
            return
        if known is not None and known.revision == revision:
            return  # the watcher echoing a write we recorded at commit time
        entry = Entry(key, value, revision or 0)
        self.entries[key] = entry
        if key.startswith(CONTROL_PREFIXES):
            self.control[key] = entry
        self._notify(key, entry)

    def _notify(self, key: str, entry: Entry | None) -> None:
        if self.on_change is not None and key.startswith(WATCH_PREFIX):
            try:
                self.on_change(key, entry)
            except Exception:  # a bad record must not kill the mirror
                log.exception("watch record change not applied", key=key)

    # -- raw CAS ---------------------------------------------------------------------------------

    async def get(self, key: str) -> Entry | None:
        try:
            got = await self.kv.get(key)
        except (KeyNotFoundError, JsNotFoundError):
            self._apply(key, None, None, "DEL")
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
        return int(rev)

    async def update(self, key: str, value: bytes, last: int) -> int:
        """Write a key only if it is still at revision `last`. Raises Conflict otherwise."""
        try:
            rev = await self.kv.update(key, value, last=last)
        except (KeyWrongLastSequenceError, JsNotFoundError) as err:
            raise Conflict(key) from err
        self._apply(key, value, rev, None)
        return int(rev)

    async def delete(self, key: str, last: int | None = None) -> None:
        try:
            await self.kv.delete(key, last=last)
        except (KeyWrongLastSequenceError, JsNotFoundError) as err:
            raise Conflict(key) from err
        self._apply(key, None, None, "DEL")

    # -- watch records ---------------------------------------------------------------------------

    async def load(self, key: str) -> tuple[WatchRecord, int] | None:
        """A record read from KV (not the mirror): any shard, ours or not."""
        entry = await self.get(key)
        return None if entry is None else (WatchRecord.decode(entry.value), entry.revision)

    def cached(self, key: str) -> tuple[WatchRecord, int] | None:
        """A record of a shard we hold, decoded from the mirror (a fresh copy the caller owns)."""
        entry = self.entries.get(key)
        return None if entry is None else (WatchRecord.decode(entry.value), entry.revision)

    async def save(self, record: WatchRecord, last: int | None) -> int:
        """CAS-write a record: create when `last` is None, else update from revision `last`."""
        if last is None:
            return await self.create(record.spec.key, record.encode())
        return await self.update(record.spec.key, record.encode(), last)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
