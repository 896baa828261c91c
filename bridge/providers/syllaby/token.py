"""The Syllaby API token: a secret exactly like the Story API key.

The token has no shape the bridge could recognise in a text (unlike `sh_<hex>_<hex>`), so the
object that holds it registers its value with `redact()`: every log line, error message and
outcome passes through that, and the value is replaced by `***` wherever it appears. The token
leaves this object in one place only, `authorization`, the header handed to httpx.
"""

from __future__ import annotations

import hashlib

from pydantic import SecretStr

from bridge.redaction import register_secret

__all__ = ["SyllabyToken"]


class SyllabyToken:
    """A Syllaby token; `prefix` (a short hash) names it in logs without revealing it."""

    __slots__ = ("_prefix", "_secret")

    def __init__(self, raw: str | SecretStr) -> None:
        value = raw.get_secret_value() if isinstance(raw, SecretStr) else raw
        if not isinstance(value, str):
            raise TypeError("a Syllaby token must be a str or SecretStr")
        value = value.strip()
        if not value or any(ch.isspace() for ch in value):
            raise ValueError(
                "malformed SYLLABY_API_TOKEN: empty or containing spaces; the value was not echoed"
            )
        register_secret(value)
        # Sanctum-style `<id>|<secret>`: the part after the bar is a secret on its own too.
        if "|" in value:
            register_secret(value.split("|", 1)[1])
        self._secret = SecretStr(value)
        self._prefix = "syllaby:" + hashlib.sha256(value.encode()).hexdigest()[:10]

    @property
    def prefix(self) -> str:
        """A stable, non-reversible name of the token, safe to log."""
        return self._prefix

    @property
    def authorization(self) -> str:
        """The `Authorization` header value. The only way the secret leaves this object."""
        return f"Bearer {self._secret.get_secret_value()}"

    def __repr__(self) -> str:
        return f"SyllabyToken({self._prefix!r})"

    def __str__(self) -> str:
        return f"{self._prefix}:***"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SyllabyToken):
            return NotImplemented
        return self._secret.get_secret_value() == other._secret.get_secret_value()

    def __hash__(self) -> int:
        return hash(self._prefix)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("SyllabyToken is not picklable: the secret must not leave the process")
