"""Syllaby Text-to-Scene: the client, its error mapping, the token, the watch provider, the ledger
hooks (reconciliation) and the sandbox."""
