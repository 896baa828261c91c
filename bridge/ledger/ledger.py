"""The command ledger (JetStream KV `STORYBRIDGE_LEDGER`): record, replay, hand over, reconcile.

A provider without Idempotency-Keys (Syllaby) charges again for every repeated POST. So before a
command that changes anything is sent, the bridge records its commandId with a fingerprint of the
request (`started`); after the call, the outcome (`done`). Then:

* the same commandId again, same request: answered from the ledger (`replayed: true`), no call;
* the same commandId with another request: `invalid_command`;
* `claimed` or `started` and its owner alive (its lease renewed while the call runs): wait for
  the outcome;
* `claimed` with the lease run out: the owner stopped before its request left (in a rate wait,
  say): nothing can have reached the API, so the claim is taken over and the command sent;
* `started` (the request may have left: marked right before it does, `mark_sent`) with the lease
  run out (the owner crashed mid-call), or `ambiguous` (the call ended without an answer that
  tells): never sent again blindly: the provider's reconciler reads the resource and either
  proves the effect (`ok`, `reconciled: true`) or answers `outcome_unknown`;
* a call that provably never took effect (no connection made, a 429, the circuit, a stop before
  sending) releases its entry: the next try sends it as usual.

The ledger also remembers the fingerprint of every other command with a caller's commandId
(`remember`), so the same commandId with another body is refused before any call, whatever the
provider, and a Story API `409 idempotency_conflict` for the same body is known to be our own
earlier attempt still running.

Entries are kept `bridge.nats.streams.ledger_ttl_seconds(deadline)` (dead-letter retention + deadline + a day), so a redriven command
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
# A fingerprint check must not hold a command up for long when KV is slow: past this, the command
# goes ahead unchecked (the API's own Idempotency-Key check still refuses another body).
REMEMBER_SECONDS = 1.0
CREATE_ATTEMPTS = 3  # creates that failed and did not land before the ledger is unavailable

State = Literal["claimed", "started", "ambiguous", "done"]


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
    # Which `begin` wrote this claim: a create that timed out is read back and recognised by it.
    claimId: str = ""
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
    # The lease renewals and `mark_sent` write the same key: one at a time, each on the last.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def sent(self) -> bool:
        """Whether the request may have left (anything but `claimed`)."""
        return self.entry.state != "claimed"


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
        """Claim `command_id` before anything is sent. A `fresh` claim is `claimed` (not sent):
        `mark_sent` records the moment its request may leave."""
        key = ledger_key(provider, command, command_id)
        claim_id = uuid.uuid4().hex
        failed_creates = 0
        while True:
            now = self._clock()
            fresh = LedgerEntry(
                provider=provider,
                command=command,
                commandId=command_id,
                fingerprint=fingerprint,
                state="claimed",
                owner=self.owner,
                claimId=claim_id,
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
                # A create that timed out may still have landed: read it back before anything.
                failed_creates += 1
                log.warning("ledger claim not confirmed; reading it back", error=repr(err))
            found = await self._load(key)
            if found is None:
                if failed_creates >= CREATE_ATTEMPTS:
                    raise LedgerUnavailable("ledger not writable: the claim never landed")
                # Released meanwhile, or our create never landed: claim it afresh (after a
                # pause when the bucket refused it, so a full or absent bucket is not hammered).
                await asyncio.sleep(0.05 * failed_creates)
                continue
            entry, revision = found
            if entry.claimId == claim_id:
                return LedgerClaim("fresh", key, entry, revision)  # our own create landed
            if entry.fingerprint != fingerprint:
                return LedgerClaim("mismatch", key, entry, revision)
            if entry.state == "done":
                return LedgerClaim("done", key, entry, revision)
            if entry.state in ("claimed", "started") and entry.leaseUntil > now:
                # Its owner is sending it right now (or died less than a lease ago): wait.
                await asyncio.sleep(min(WAIT_POLL_SECONDS, max(0.01, entry.leaseUntil - now)))
                continue
            never_sent = entry.state == "claimed"
            taken = entry.model_copy(
                update={
                    "owner": self.owner,
                    "claimId": claim_id,
                    "leaseUntil": now + self.lease_seconds,
                    "attempts": entry.attempts + 1,
                    "state": "claimed" if never_sent else "started",
                    **({"startedAt": now} if never_sent else {}),
                }
            )
            try:
                revision = await self.kv.update(key, taken.encode(), last=revision)
            except KeyWrongLastSequenceError:
                continue  # someone else moved first: look again
            except Exception as err:
                raise LedgerUnavailable(f"ledger not writable: {type(err).__name__}") from None
            if never_sent:
                # Its owner stopped before the request left: nothing can have reached the API.
                log.info(
                    "ledger: an earlier attempt stopped before sending; sending it",
                    command=command,
                    commandId=command_id,
                    attempts=taken.attempts,
                )
                return LedgerClaim("fresh", key, taken, revision)
            log.warning(
                "ledger: an earlier attempt ended without an outcome; reconciling",
                command=command,
                commandId=command_id,
                was=entry.state,
                attempts=taken.attempts,
            )
            # The reconciler judges what the ORIGINAL attempt did: keep its start time.
            return LedgerClaim("reconcile", key, taken, revision)

    async def mark_sent(self, claim: LedgerClaim, target: dict[str, Any]) -> None:
        """The request is about to leave: from now on only a reconciler may settle this claim.
        Raises LedgerUnavailable (and the request stays unsent) when it cannot be recorded."""
        if claim.sent:
            return
        async with claim.lock:
            now = self._clock()
            sent = claim.entry.model_copy(
                update={
                    "state": "started",
                    "startedAt": now,
                    "leaseUntil": now + self.lease_seconds,
                    "target": dict(target),
                }
            )
            try:
                claim.revision = await self.kv.update(claim.key, sent.encode(), last=claim.revision)
            except Exception as err:
                raise LedgerUnavailable(
                    f"ledger claim not marked sent: {type(err).__name__}"
                ) from None
            claim.entry = sent

    async def mark_unsent(self, claim: LedgerClaim) -> None:
        """The attempt that was marked sent provably had no effect (a 429, no connection): the
        claim is `claimed` again, so a stop before the next attempt leaves nothing to reconcile.
        Best effort: left `started`, the claim is only reconciled instead of sent again."""
        if not claim.sent:
            return
        async with claim.lock:
            unsent = claim.entry.model_copy(update={"state": "claimed"})
            try:
                claim.revision = await self.kv.update(
                    claim.key, unsent.encode(), last=claim.revision
                )
            except Exception as err:
                log.warning("ledger claim not marked unsent", key=claim.key, error=repr(err))
                return
            claim.entry = unsent

    async def remember(
        self, provider: str, command: str, command_id: str, fingerprint: str
    ) -> Literal["new", "same", "mismatch"]:
        """Record the fingerprint of a command that needs no claim (its provider takes an
        Idempotency-Key, or it is safe to repeat): the same commandId with another body is then
        refused before any call, and a conflict for the same body is known to be ours."""
        key = "fp." + ledger_key(provider, command, command_id)
        record = json.dumps(
            {"command": command, "commandId": command_id, "fingerprint": fingerprint}
        )
        try:
            await asyncio.wait_for(self.kv.create(key, record.encode()), REMEMBER_SECONDS)
            return "new"
        except KeyWrongLastSequenceError:
            pass
        except Exception as err:
            log.warning("fingerprint not recorded; reading it back", error=repr(err))
        try:
            got = await asyncio.wait_for(self.kv.get(key), REMEMBER_SECONDS)
        except KeyNotFoundError:
            raise LedgerUnavailable("fingerprint neither recorded nor found") from None
        except Exception as err:
            raise LedgerUnavailable(f"ledger not readable: {type(err).__name__}") from None
        try:
            known = json.loads(got.value or b"{}").get("fingerprint")
        except ValueError:
            known = None
        return "same" if known == fingerprint else "mismatch"

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
            async with claim.lock:
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
        """The call provably never took effect: forget it, the next try sends it as usual (only
        our own revision: a claim taken over meanwhile is not ours to delete)."""
        async with claim.lock:  # not while a lease renewal moves the revision
            try:
                await self.kv.delete(claim.key, last=claim.revision)
            except Exception as err:
                log.warning("ledger entry not released", key=claim.key, error=repr(err))

    async def _write(self, claim: LedgerClaim, entry: LedgerEntry, what: str) -> None:
        async with claim.lock:  # not while a lease renewal moves the revision
            await self._write_locked(claim, entry, what)

    async def _write_locked(self, claim: LedgerClaim, entry: LedgerEntry, what: str) -> None:
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
