"""The per-provider hooks of the ledger: what to remember before a call, how to settle after a crash.

The ledger itself knows no provider. A provider whose commands go through it registers a
`Reconciler`: `prepare` reads what the reconciler will later compare against (stored in the
ledger entry before the call is sent), and `reconcile` judges an entry whose earlier attempt
ended without an outcome, by reading the resource: an `Outcome` that is ok (`reconciled: true`)
when the effect is visible, else `outcome_unknown`.

The `ctx` both hooks get is the handlers' `CommandContext`; it is typed `Any` here because the
ledger sits below handlers/ (importing handlers.base from here was a loop through the providers),
and an implementation may annotate it precisely.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bridge.ledger.ledger import LedgerEntry
    from schemas.wire.outcome import Outcome

OUTCOME_UNKNOWN = "outcome_unknown"


class Reconciler(Protocol):
    async def prepare(self, cmd: Any, ctx: Any) -> dict[str, Any]:
        """What the resource looks like right before the call (kept in the ledger entry)."""
        ...

    async def reconcile(self, entry: LedgerEntry, cmd: Any, ctx: Any) -> Outcome:
        """The outcome of `entry`'s earlier attempt, as far as the provider's state can tell."""
        ...
