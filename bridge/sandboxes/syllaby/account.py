"""The account's store: its credit balance, every charge and refund, and the subscription.

One account per sandbox: every token acts for it. A paid call checks the whole amount first and
charges it in one entry, so a 402 leaves nothing half-charged. A refund (a failed generation,
clip or render) is an entry of its own: tests read the history to count what a repeat cost.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bridge.sandboxes.syllaby.errors import insufficient_credits
from bridge.sandboxes.syllaby.records import SyllabyIds, stamp


@dataclass(frozen=True)
class Charge:
    id: int
    action: str  # "prompt", "context", "clips", "moodboard", "render"; "refund:<action>"
    storyboard_id: int
    amount: int  # negative for a refund
    balance: int  # after this entry
    created_at: str

    def view(self) -> dict[str, Any]:
        return asdict(self)


class Account:
    def __init__(self, ids: SyllabyIds, balance: int, subscribed: bool) -> None:
        self.ids = ids
        self.balance = balance
        self.subscribed = subscribed
        self.charges: list[Charge] = []

    def require(self, amount: int) -> None:
        """402 unless the balance covers `amount`."""
        if amount > self.balance:
            raise insufficient_credits(amount, self.balance)

    def charge(self, action: str, storyboard_id: int, amount: int, at: float) -> Charge:
        self.require(amount)
        return self._entry(action, storyboard_id, amount, at)

    def refund(self, action: str, storyboard_id: int, amount: int, at: float) -> None:
        if amount > 0:
            self._entry(f"refund:{action}", storyboard_id, -amount, at)

    def _entry(self, action: str, storyboard_id: int, amount: int, at: float) -> Charge:
        self.balance -= amount
        entry = Charge(
            self.ids.next("charges"), action, storyboard_id, amount, self.balance, stamp(at)
        )
        self.charges.append(entry)
        return entry

    def view(self) -> dict[str, Any]:
        return {
            "balance": self.balance,
            "subscribed": self.subscribed,
            "charges": [c.view() for c in self.charges],
        }
