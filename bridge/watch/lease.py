"""Which replica polls which watch: shard leases in the watch bucket, every write a CAS.

Watch keys carry their shard (`w.<shard>.…`, see `model.record_key`). Each replica heartbeats `m.<replica>` and holds shard leases
`l.<shard>` = {owner, expires_at}, renewing them every lease/5. It claims free or expired
shards up to its fair share (ceil(shards / live replicas)) and gives back the excess, so a dead
replica's shards are taken over within one lease period. A lease only decides who SHOULD poll;
correctness comes from the CAS on each watch record (a replica that lost its lease mid-poll fails
its write and drops the result) plus the outbox and deterministic event ids.
"""

from __future__ import annotations

import contextlib
import json
import math
import time

import structlog

from bridge.watch.model import shard_of_key
from bridge.watch.store import Conflict, Store

log = structlog.get_logger(__name__)

LEASE_PREFIX = "l."
MEMBER_PREFIX = "m."


class Leases:
    """This replica's view of the shard leases, and the CAS writes that claim and renew them."""

    def __init__(self, store: Store, replica_id: str, *, shards: int, lease_seconds: float) -> None:
        self.store = store
        self.replica_id = replica_id
        self.shards = shards
        self.lease_seconds = lease_seconds
        self._heartbeat_rev = 0
        self._unseen = 0  # ticks in a row whose previous heartbeat the mirror had not shown

    def _lease(self, shard: int) -> tuple[dict[str, object], int] | None:
        entry = self.store.entries.get(f"{LEASE_PREFIX}{shard}")
        if entry is None:
            return None
        try:
            return json.loads(entry.value), entry.revision
        except ValueError:
            return {"owner": "", "expires_at": 0.0}, entry.revision

    def owns(self, shard: int, *, now: float | None = None, margin: float = 0.0) -> bool:
        """True while our lease on `shard` is valid for at least `margin` more seconds."""
        now = time.time() if now is None else now
        lease = self._lease(shard)
        if lease is None:
            return False
        value, _ = lease
        expires = float(value.get("expires_at", 0.0))  # type: ignore[arg-type]
        return value.get("owner") == self.replica_id and expires > now + margin

    def owns_key(self, key: str, *, margin: float = 0.0) -> bool:
        shard = shard_of_key(key)
        return shard is not None and self.owns(shard, margin=margin)

    def live_replicas(self, now: float) -> int:
        live = {self.replica_id}
        for key, entry in list(self.store.control.items()):
            if not key.startswith(MEMBER_PREFIX):
                continue
            try:
                if float(json.loads(entry.value).get("expires_at", 0.0)) > now:
                    live.add(key[len(MEMBER_PREFIX) :])
            except ValueError:
                continue
        return len(live)

    def owned(self, now: float) -> list[int]:
        return [s for s in range(self.shards) if self.owns(s, now=now)]

    async def tick(self) -> None:
        """Heartbeat, renew what we hold, claim up to our share, release the excess."""
        now = time.time()
        expires = now + self.lease_seconds
        member = f"{MEMBER_PREFIX}{self.replica_id}"
        # Our previous heartbeat must be in the mirror by now; if not, the watcher went quiet.
        # Two ticks in a row, so a busy event loop (a big shard loading) is not taken for it.
        if self._heartbeat_rev and not self.store.sees(member, self._heartbeat_rev):
            self._unseen += 1
            if self._unseen >= 2:
                self._unseen = 0
                await self.store.restart()
        else:
            self._unseen = 0
        # `renewed_at` and `every` let `admin.status` tell a replica that stopped renewing (killed)
        # from a live one well before its heartbeat and leases expire.
        beat = {"expires_at": expires, "renewed_at": now, "every": self.lease_seconds / 5}
        self._heartbeat_rev = await self.store.kv.put(member, json.dumps(beat).encode())
        share = math.ceil(self.shards / self.live_replicas(now))
        mine = self.owned(now)
        value = json.dumps({"owner": self.replica_id, "expires_at": expires}).encode()
        for shard in mine[share:]:  # give back the excess so newcomers get their share
            await self._release(shard)
        for shard in mine[:share]:
            await self._write(shard, value)
        held = min(len(mine), share)
        taken: list[int] = []
        for shard in range(self.shards):
            if held >= share:
                break
            lease = self._lease(shard)
            if lease is not None:
                owner_value, _ = lease
                lease_expires = float(owner_value.get("expires_at", 0.0))  # type: ignore[arg-type]
                # Live leases (ours among them, renewed above) are skipped; an expired one is
                # claimed even when it was ours: a NATS outage longer than the lease (a cluster
                # fail-over) must not leave our own shards unowned forever.
                if lease_expires > now:
                    continue
            if await self._write(shard, value):
                held += 1
                taken.append(shard)
        if taken:  # one line per tick, not one per shard
            log.info("shard leases taken", shards=taken, replica=self.replica_id, held=held)

    async def _write(self, shard: int, value: bytes) -> bool:
        key = f"{LEASE_PREFIX}{shard}"
        lease = self._lease(shard)
        try:
            if lease is None:
                await self.store.create(key, value)
            else:
                await self.store.update(key, value, last=lease[1])
        except Conflict:
            await self.store.get(key)  # refresh the mirror; someone else moved first
            return False
        return True

    async def _release(self, shard: int) -> None:
        lease = self._lease(shard)
        if lease is None:
            return
        try:
            await self.store.delete(f"{LEASE_PREFIX}{shard}", last=lease[1])
        except Conflict:
            await self.store.get(f"{LEASE_PREFIX}{shard}")

    async def release_all(self) -> None:
        """Graceful shutdown: hand every shard back at once instead of waiting for expiry."""
        for shard in self.owned(time.time()):
            await self._release(shard)
        with contextlib.suppress(Conflict):
            await self.store.delete(f"{MEMBER_PREFIX}{self.replica_id}")
