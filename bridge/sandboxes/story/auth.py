"""Bearer keys as the API checks them: format, the key's state and IP allowlist, then the scope.

By default (`accept_any_key`) every well-formed key authenticates with the scopes in
`any_key_scopes` (all of them unless narrowed). Keys minted through the control API carry their own
scopes, state and allowlist, which is how tests reach api_key_revoked, ip_not_allowed and the rest.
The account a request acts for is the key's public prefix: the secret is never stored in a log.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from bridge.sandboxes.story.errors import StorySandboxError

KEY_RE = re.compile(r"^sh_([0-9a-f]{18})_([0-9a-f]{64})$")
# In the order the docs list them (the capability manifest shows this list).
SCOPES: tuple[str, ...] = (
    "story:read",
    "story:write",
    "source:read",
    "source:write",
    "artifact:read",
    "artifact:publish",
    "credits:read",
    "webhook:write",
)
ALL_SCOPES: frozenset[str] = frozenset(SCOPES)
KEY_STATES = {
    "revoked": ("api_key_revoked", "The API key has been revoked."),
    "expired": ("api_key_expired", "The API key has passed its expiration timestamp."),
    "disabled": ("account_disabled", "The account that owns this API key has been disabled."),
}
STATES = ("active", *KEY_STATES)


@dataclass(frozen=True)
class MintedKey:
    scopes: frozenset[str]
    state: str = "active"
    allowed_ips: tuple[str, ...] | None = None


class Keys:
    """`authenticate(header, ip) -> (account, scopes)`, `require(scopes, scope)`, `mint(...)`."""

    def __init__(self, accept_any: bool, any_key_scopes: frozenset[str] = ALL_SCOPES) -> None:
        self.accept_any = accept_any
        self.any_key_scopes = any_key_scopes
        self._minted: dict[str, MintedKey] = {}
        self._rng = random.Random()  # minted secrets need not repeat across runs

    def mint(
        self,
        scopes: list[str] | None = None,
        state: str = "active",
        allowed_ips: list[str] | None = None,
    ) -> str:
        if state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
        key = f"sh_{self._rng.randbytes(9).hex()}_{self._rng.randbytes(32).hex()}"
        chosen = frozenset(scopes) if scopes is not None else ALL_SCOPES
        ips = tuple(allowed_ips) if allowed_ips is not None else None
        self._minted[key] = MintedKey(chosen, state, ips)
        return key

    def set_state(self, key: str, state: str) -> None:
        """Revoke, expire, disable or reactivate a key (a key never minted keeps its any-key
        scopes), as an account owner would in the dashboard."""
        if state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
        if KEY_RE.match(key) is None:
            raise ValueError("key: expected sh_<18 hex>_<64 hex>")
        known = self._minted.get(key)
        scopes = known.scopes if known is not None else self.any_key_scopes
        ips = known.allowed_ips if known is not None else None
        self._minted[key] = MintedKey(scopes, state, ips)

    def register(self, key: str, scopes: list[str] | None = None) -> None:
        """Accept `key` (well-formed, chosen by the operator) with `scopes` (None: every scope)."""
        if KEY_RE.match(key) is None:
            raise ValueError("a sandbox key must look like sh_<18 hex>_<64 hex>")
        unknown = set(scopes or ()) - ALL_SCOPES
        if unknown:
            raise ValueError(
                f"unknown scope(s) {', '.join(sorted(unknown))}; known: {', '.join(SCOPES)}"
            )
        chosen = frozenset(scopes) if scopes is not None else ALL_SCOPES
        self._minted[key] = MintedKey(chosen)

    def authenticate(self, header: str | None, client_ip: str) -> tuple[str, frozenset[str]]:
        """The account (key prefix) and its scopes, or the documented 401/403."""
        scheme, _, raw = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise StorySandboxError(
                "authentication_required",
                "No bearer API key was supplied in the Authorization header.",
            )
        raw = raw.strip()
        match = KEY_RE.match(raw)
        if match is None:
            raise StorySandboxError(
                "invalid_api_key", "The API key is malformed: expected sh_<18 hex>_<64 hex>."
            )
        account = f"sh_{match.group(1)}"
        minted = self._minted.get(raw)
        if minted is None:
            if not self.accept_any:
                raise StorySandboxError("invalid_api_key", "The API key is unknown.")
            return account, self.any_key_scopes
        if minted.state in KEY_STATES:
            code, message = KEY_STATES[minted.state]
            raise StorySandboxError(code, message)
        if minted.allowed_ips is not None and client_ip not in minted.allowed_ips:
            raise StorySandboxError(
                "ip_not_allowed", f"Requests from {client_ip} are not in this key's allowlist."
            )
        return account, minted.scopes

    @staticmethod
    def require(scopes: frozenset[str], scope: str) -> None:
        """403 insufficient_scope; the message names the scope, as the API's does."""
        if scope not in scopes:
            raise StorySandboxError(
                "insufficient_scope",
                f"The API key does not have the required scope for this endpoint: {scope}.",
                details={"requiredScope": scope},
            )
