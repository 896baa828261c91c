"""Bearer tokens as the API checks them (Laravel Sanctum's `<id>|<secret>`), and the rate bucket.

By default any well-formed token authenticates; tokens minted through the control API (or listed
in the config) do so even when `accept_any_token` is off, and a revoked one never does. Tokens are
kept only as digests: the sandbox's state, log and errors never hold a token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading

from bridge.sandboxes.syllaby.errors import unauthenticated

TOKEN_RE = re.compile(r"^\d+\|[A-Za-z0-9]{20,}$")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:24]


def bearer(header: str | None) -> str | None:
    scheme, _, raw = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    return raw.strip()


class Tokens:
    def __init__(self, accept_any: bool, tokens: list[str]) -> None:
        self.accept_any = accept_any
        self._known = {digest(t) for t in tokens}
        self._revoked: set[str] = set()
        self._lock = threading.Lock()
        self._ids = 100

    def authenticate(self, header: str | None) -> str:
        """The token's digest (the caller's rate bucket), or 401."""
        token = bearer(header)
        if token is None or not TOKEN_RE.match(token):
            raise unauthenticated()
        key = digest(token)
        with self._lock:
            if key in self._revoked or not (self.accept_any or key in self._known):
                raise unauthenticated()
        return key

    def mint(self) -> str:
        with self._lock:
            self._ids += 1
            token = f"{self._ids}|{secrets.token_hex(20)}"
            self._known.add(digest(token))
        return token

    def revoke(self, token: str) -> None:
        with self._lock:
            self._revoked.add(digest(token))


def bucket(header: str | None, client_ip: str) -> str:
    """Per token (its digest) when the header carries one, else per client IP."""
    token = bearer(header)
    return f"token:{digest(token)}" if token else f"ip:{client_ip}"
