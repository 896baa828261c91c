"""Shared by every provider: the HTTP transport, rate budget, retry policy, circuit, error base, secrets."""
