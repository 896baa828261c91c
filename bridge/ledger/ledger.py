"""The command ledger (JetStream KV `STORYBRIDGE_LEDGER`): record, replay, hand over, reconcile.

A provider without Idempotency-Keys (Syllaby) charges again for every repeated POST. So before a
command that changes anything is sent, the bridge records its commandId with a fingerprint of the
request (`started`); after the call, the outcome (`done`). Then:

* the same commandId again, same request: answered from the ledger (`replayed: true`), no call;
* the same commandId with another request: `invalid_command`;
* `started` and its owner alive (its lease renewed while the call runs): wait for the outcome;
* `started` with the lease run out (the owner crashed mid-call), or `ambiguous` (the call ended
  without an answer that tells): never sent again blindly: the provider's reconciler reads the
  resource and either proves the effect (`ok`, `reconciled: true`) or answers `outcome_unknown`;
* a call that provably never took effect (no connection made, a 429, the circuit) releases its
  entry: the next try sends it as usual.

Entries are kept 30 days (`bridge.nats.streams.LEDGER_TTL_SECONDS`, as long as dead letters), so a redriven command
still replays.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, Field

log = structlog.get_logger("storybridge.ledger")


DEFAULT_LEASE_SECONDS = 30.0
WAIT_POLL_SECONDS = 0.2

State = Literal["started", "ambiguous", "done"]


class LedgerUnavailable(Exception):
    """The ledger could not be read or written: nothing was sent, the command is retried."""


class LedgerEntry(BaseModel):
    """One logical command of a provider without idempotency keys."""

    provider: str
    command: str
    commandId: str
    fingerprint: str
    state: State = "started"
    owner: str
    startedAt: float
    leaseUntil: float
    attempts: int = 1
    # What the reconciler needs: path values, and the resource as it was just before the call.
    target: dict[str, Any] = Field(default_factory=dict)
    outcome: dict[str, Any] | None = None
    # Watches the handler started, re-armed when the command is replayed or reconciled.
    watches: list[dict[str, Any]] = Field(default_factory=list)
    finishedAt: float | None = None

    def encode(self) -> bytes:
        return self.model_dump_json().encode()

    def public(self) -> dict[str, Any]:
        """The entry as `error.details` shows it (no outcome body, no watches)."""
        return self.model_dump(
            mode="json",
            include={
                "provider",
                "command",
                "commandId",
                "state",
                "startedAt",
                "attempts",
                "target",
            },
        )


def fingerprint(data: Any) -> str:
    """sha256 of the canonical JSON of what makes a request this request."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def ledger_key(provider: str, command: str, command_id: str) -> str:
    """`<provider>.<hash>`: a commandId is 1..128 chars of [A-Za-z0-9._:-], more than KV allows."""
    digest = hashlib.sha256(f"{command}\x00{command_id}".encode()).hexdigest()[:40]
    return f"{provider}.{digest}"


LedgerClaimKind = Literal["fresh", "done", "mismatch", "reconcile"]


@dataclass
class LedgerClaim:
    """What `begin` found: ours to send (`fresh`), answered already (`done`), another request
    under this commandId (`mismatch`), or an earlier attempt to settle (`reconcile`, now ours)."""

    kind: LedgerClaimKind
    key: str
    entry: LedgerEntry
    revision: int | None = None
    _keepalive: asyncio.Task[None] | None = field(default=None, repr=False)


class CommandLedger:
    """The ledger over one KV bucket. `owner` names this process (a fresh id per start)."""

    def __init__(
        self,
        kv: KeyValue,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kv = kv
        self.lease_seconds = lease_seconds
        self.owner = owner or uuid.uuid4().hex
        self._clock = clock

    # --- claiming -------------------------------------------------------------------------------
    async def begin(
        self,
        provider: str,
        command: str,
        command_id: str,
        fingerprint: str,
        *,
        target: dict[str, Any] | None = None,
    ) -> LedgerClaim:
        key = ledger_key(provider, command, command_id)
        while True:
            now = self._clock()
            fresh = LedgerEntry(
                provider=provider,
                command=command,
                commandId=command_id,
                fingerprint=fingerprint,
                owner=self.owner,
                startedAt=now,
                leaseUntil=now + self.lease_seconds,
                target=dict(target or {}),
            )
            try:
                revision = await self.kv.create(key, fresh.encode())
                return LedgerClaim("fresh", key, fresh, revision)
            except KeyWrongLastSequenceError:
                pass
            except Exception as err:
                raise LedgerUnavailable(f"ledger not writable: {type(err).__name__}") from None
            found = await self._load(key)
            if found is None:
                continue  # released meanwhile: claim it afresh
            entry, revision = found
            if entry.fingerprint != fingerprint:
                return LedgerClaim("mismatch", key, entry, revision)
            if entry.state == "done":
                return LedgerClaim("done", key, entry, revision)
            if entry.state == "started" and entry.leaseUntil > now:
                # Its owner is sending it right now (or died less than a lease ago): wait.
                await asyncio.sleep(min(WAIT_POLL_SECONDS, max(0.01, entry.leaseUntil - now)))
                continue
            taken = entry.model_copy(
                update={
                    "owner": self.owner,
                    "leaseUntil": now + self.lease_seconds,
                    "attempts": entry.attempts + 1,
                    "state": "started",
                }
            )
            try:
                revision = await self.kv.update(key, taken.encode(), last=revision)
            except KeyWrongLastSequenceError:
                continue  # someone else moved first: look again
            except Exception as err:
                raise LedgerUnavailable(f"ledger not writable: {type(err).__name__}") from None
            log.warning(
                "ledger: an earlier attempt ended without an outcome; reconciling",
                command=command,
                commandId=command_id,
                was=entry.state,
                attempts=taken.attempts,
            )
            # The reconciler judges what the ORIGINAL attempt did: keep its start time.
            return LedgerClaim("reconcile", key, taken, revision)

    async def peek(self, provider: str, command: str, command_id: str) -> LedgerEntry | None:
        """The entry of a command, if any, without claiming it (a repeat skips its preparation)."""
        found = await self._load(ledger_key(provider, command, command_id))
        return found[0] if found is not None else None

    async def _load(self, key: str) -> tuple[LedgerEntry, int] | None:
        try:
            got = await self.kv.get(key)
        except KeyNotFoundError:
            return None
        except Exception as err:
            raise LedgerUnavailable(f"ledger not readable: {type(err).__name__}") from None
        if not got.value:
            return None
        return LedgerEntry.model_validate_json(got.value), int(got.revision or 0)

    # --- while the call runs --------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def keepalive(self, claim: LedgerClaim) -> AsyncIterator[None]:
        """Renew the claim's lease while the body runs, so a waiting duplicate keeps waiting; a
        crash stops the renewals and the lease runs out."""
        task = asyncio.create_task(self._renew(claim), name=f"ledger-lease-{claim.key}")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _renew(self, claim: LedgerClaim) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            renewed = claim.entry.model_copy(
                update={"leaseUntil": self._clock() + self.lease_seconds}
            )
            try:
                claim.revision = await self.kv.update(
                    claim.key, renewed.encode(), last=claim.revision
                )
                claim.entry = renewed
            except Exception as err:  # a lapse only makes a duplicate reconcile sooner
                log.warning("ledger lease not renewed", key=claim.key, error=repr(err))

    # --- settling -------------------------------------------------------------------------------
    async def finish(
        self,
        claim: LedgerClaim,
        outcome: dict[str, Any],
        watches: list[dict[str, Any]] | None = None,
    ) -> None:
        """Record the final outcome: from now on the commandId replays it."""
        done = claim.entry.model_copy(
            update={
                "state": "done",
                "outcome": outcome,
                "watches": list(watches or []),
                "finishedAt": self._clock(),
                "leaseUntil": 0.0,
            }
        )
        await self._write(claim, done, "finish")

    async def mark_ambiguous(self, claim: LedgerClaim) -> None:
        """The call ended without an answer that tells: the next try reconciles at once."""
        await self._write(
            claim,
            claim.entry.model_copy(update={"state": "ambiguous", "leaseUntil": 0.0}),
            "ambiguous",
        )

    async def release(self, claim: LedgerClaim) -> None:
        """The call provably never took effect: forget it, the next try sends it as usual."""
        try:
            await self.kv.delete(claim.key, last=claim.revision)
        except Exception as err:
            log.warning("ledger entry not released", key=claim.key, error=repr(err))

    async def _write(self, claim: LedgerClaim, entry: LedgerEntry, what: str) -> None:
        try:
            claim.revision = await self.kv.update(claim.key, entry.encode(), last=claim.revision)
            claim.entry = entry
        except KeyWrongLastSequenceError:
            # The lease lapsed and another attempt took the entry over; write ours anyway when it
            # is an outcome: it is the one answer the API actually gave.
            if what == "finish":
                claim.revision = await self.kv.put(claim.key, entry.encode())
                claim.entry = entry
            else:
                log.warning("ledger entry taken over meanwhile", key=claim.key, write=what)
        except Exception as err:
            log.error("ledger entry not written", key=claim.key, write=what, error=repr(err))
