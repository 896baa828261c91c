"""The command ledger: at most one effect on a provider that takes no Idempotency-Key.

See `ledger.py` for the rules and `reconcile.py` for the per-provider hooks.
"""

from bridge.ledger.ledger import (
    CommandLedger,
    LedgerClaim,
    LedgerEntry,
    LedgerUnavailable,
    fingerprint,
    ledger_key,
)
from bridge.ledger.reconcile import Reconciler

__all__ = [
    "CommandLedger",
    "LedgerClaim",
    "LedgerEntry",
    "LedgerUnavailable",
    "Reconciler",
    "fingerprint",
    "ledger_key",
]
