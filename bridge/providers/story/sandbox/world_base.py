"""The sandbox world's plumbing: deterministic ids and times, pagination, credits (the lazy
scheduler is the shared kit's, `bridge.sandboxkit.scheduler`).

State machines are lazy: a transition is a scheduled callback with the sandbox time it is due. Every
world read first runs the callbacks that have come due, in due order, each exactly once; so a list
read and a get read always agree and side effects (credit settlement) happen once. A callback is
passed its due time, which it uses for timestamps, so runs repeat for a given seed and clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from bridge.providers.story.sandbox.errors import SandboxError

EPOCH = datetime(2026, 5, 29, 10, 0, 0, tzinfo=UTC)
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def iso(seconds: float) -> str:
    """Sandbox seconds as the API's ISO 8601 timestamp, e.g. 2026-05-29T10:00:04.000Z."""
    moment = EPOCH + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Ids:
    """Ids like `cmj_3f9a...`: unique per world, repeatable for a given seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._counter = itertools.count(1)

    def next(self, prefix: str) -> str:
        n = next(self._counter)
        digest = hashlib.sha256(f"{self.seed}:{prefix}:{n}".encode()).hexdigest()
        return f"{prefix}_{digest[:20]}"


class HasSeq(Protocol):
    seq: int


R = TypeVar("R", bound=HasSeq)


def parse_limit(query: Mapping[str, str]) -> int:
    raw = query.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise SandboxError(
            "validation_failed", "limit: must be an integer", details={"field": "limit"}
        ) from None
    if limit < 1 or limit > MAX_LIMIT:
        raise SandboxError(
            "validation_failed",
            f"limit: must be between 1 and {MAX_LIMIT}",
            details={"field": "limit"},
        )
    return limit


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        kind, _, value = text.partition(":")
        if kind != "seq":
            raise ValueError(kind)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise SandboxError(
            "validation_failed", "cursor: not a cursor this API issued", details={"field": "cursor"}
        ) from None


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode()


def paginate(
    records: Sequence[R], query: Mapping[str, str], keep: Callable[[R], bool] = lambda _r: True
) -> tuple[list[R], str | None]:
    """Creation order (oldest first); the cursor is the last returned record's sequence number.

    `records` must be sorted by `seq` (an index list appended at creation), so a page starts with
    a bisect instead of a scan, and records created meanwhile never shift a page.
    """
    limit = parse_limit(query)
    cursor = query.get("cursor")
    start = 0
    if cursor:
        after = _decode_cursor(cursor)
        lo, hi = 0, len(records)
        while lo < hi:
            mid = (lo + hi) // 2
            if records[mid].seq <= after:
                lo = mid + 1
            else:
                hi = mid
        start = lo
    page: list[R] = []
    index = start
    while index < len(records) and len(page) < limit:
        if keep(records[index]):
            page.append(records[index])
        index += 1
    more = any(keep(r) for r in records[index:]) if index < len(records) else False
    return page, (_encode_cursor(page[-1].seq) if page and more else None)


@dataclass
class Reservation:
    """One job's (or paid operation's) credits: quoted, then reserved, settled or released."""

    id: str
    quoted: int
    reserved: int
    settled: int = 0
    released: int = 0

    @property
    def open(self) -> int:
        return self.reserved - self.settled - self.released

    def view(self) -> dict[str, int]:
        return {
            "quoted": self.quoted,
            "reserved": self.reserved,
            "settled": self.settled,
            "released": self.released,
        }


MONTHLY_ALLOCATION = 300


class Ledger:
    """Studio Credits: reserving debits the balance (monthly bucket first), releasing refunds it."""

    def __init__(self, balance: int, ids: Ids) -> None:
        self.ids = ids
        self.monthly_remaining = 0
        self.perpetual = 0
        self.set_balance(balance)

    @property
    def balance(self) -> int:
        return self.monthly_remaining + self.perpetual

    def set_balance(self, balance: int) -> None:
        self.monthly_remaining = max(0, min(balance, MONTHLY_ALLOCATION))
        self.perpetual = max(0, balance - self.monthly_remaining)

    def reserve(self, amount: int) -> Reservation:
        """Raises 402 insufficient_credits with details.required / details.available."""
        if amount > self.balance:
            raise SandboxError(
                "insufficient_credits",
                "The account does not have enough Studio Credits to reserve this job.",
                details={"required": amount, "available": self.balance},
            )
        from_monthly = min(amount, self.monthly_remaining)
        self.monthly_remaining -= from_monthly
        self.perpetual -= amount - from_monthly
        return Reservation(self.ids.next("cmcr"), quoted=amount, reserved=amount)

    def settle(self, reservation: Reservation, amount: int) -> None:
        reservation.settled += min(amount, reservation.open)

    def release(self, reservation: Reservation, amount: int | None = None) -> None:
        """Refund reserved-but-unsettled credits: all of them (cancel, completion) or one line."""
        amount = reservation.open if amount is None else min(amount, reservation.open)
        if amount <= 0:
            return
        reservation.released += amount
        to_monthly = min(amount, MONTHLY_ALLOCATION - self.monthly_remaining)
        self.monthly_remaining += to_monthly
        self.perpetual += amount - to_monthly

    def view(self) -> dict[str, Any]:
        return {
            "balance": self.balance,
            "monthlyBucketAllocated": MONTHLY_ALLOCATION,
            "monthlyBucketUsed": MONTHLY_ALLOCATION - self.monthly_remaining,
            "monthlyBucketRemaining": self.monthly_remaining,
            "perpetualBalance": self.perpetual,
            "cycleStartedAt": "2026-05-01T00:00:00.000Z",
            "cycleExpiresAt": "2026-06-01T00:00:00.000Z",
        }
