"""Studio Credits: one balance (a monthly bucket first, then perpetual) and its reservations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.sandboxes.story.errors import StorySandboxError
from bridge.sandboxes.story.world.kernel import StoryIds

MONTHLY_ALLOCATION = 300


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


class Ledger:
    """Reserving debits the balance (monthly bucket first), releasing refunds it."""

    def __init__(self, balance: int, ids: StoryIds) -> None:
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
            raise StorySandboxError(
                "insufficient_credits",
                "The account does not have enough Studio Credits to reserve this job.",
                details={"required": amount, "available": self.balance},
            )
        from_monthly = min(amount, self.monthly_remaining)
        self.monthly_remaining -= from_monthly
        self.perpetual -= amount - from_monthly
        return Reservation(self.ids.next("cmcr"), quoted=amount, reserved=amount)

    def charge(self, amount: int) -> Reservation:
        """A paid operation settled at once (finalize audio, render video)."""
        reservation = self.reserve(amount)
        self.settle(reservation, amount)
        return reservation

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
