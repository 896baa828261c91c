"""The Story API key (the redaction every log line and error message passes through is in
bridge/redaction.py).

A key is ``sh_<18 hex>_<64 hex>``. The prefix (``sh_<18 hex>``) identifies the key and is safe to
log; the trailing 64 hex characters are the secret. The secret lives only inside a ``SecretStr``
on :class:`ApiKey` and leaves it in exactly one place: :attr:`ApiKey.authorization`, the header
value handed to httpx. Everything else (repr, str, errors) shows the prefix only.
"""

from __future__ import annotations

import re
from typing import Final, Protocol

from pydantic import SecretStr

__all__ = ["KEY_FORMAT", "ApiKey", "Credential"]

KEY_FORMAT: Final = "sh_<18 hex>_<64 hex>"
_KEY_RE: Final = re.compile(r"^sh_([0-9a-f]{18})_([0-9a-f]{64})$")


class Credential(Protocol):
    """What a transport needs of a provider's secret: the header value, and a safe name for logs."""

    @property
    def authorization(self) -> str: ...

    @property
    def prefix(self) -> str: ...


class ApiKey:
    """A validated Story API key whose secret never shows up in reprs, logs or exceptions."""

    __slots__ = ("_prefix", "_secret")

    def __init__(self, prefix: str, secret: SecretStr) -> None:
        self._prefix = prefix
        self._secret = secret

    @classmethod
    def parse(cls, raw: str | SecretStr) -> ApiKey:
        """Validate ``raw`` against ``sh_<18 hex>_<64 hex>``.

        The error names the expected format and, when the prefix part is well formed, the prefix;
        it never echoes the input (a near-miss key is still mostly secret).
        """
        value = raw.get_secret_value() if isinstance(raw, SecretStr) else raw
        if not isinstance(value, str):
            raise TypeError("an API key must be a str or SecretStr")
        match = _KEY_RE.match(value.strip())
        if match is None:
            raise ValueError(
                f"malformed Story API key: expected the format {KEY_FORMAT} "
                "(lower-case hex; the prefix is sh_ plus 18 hex characters, the secret 64 hex "
                "characters); the value was not echoed"
            ) from None
        return cls(f"sh_{match.group(1)}", SecretStr(match.group(2)))

    @property
    def prefix(self) -> str:
        """``sh_<18 hex>``: identifies the key, safe to store and log."""
        return self._prefix

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value. The only way the secret leaves this object."""
        return f"Bearer {self._prefix}_{self._secret.get_secret_value()}"

    def __repr__(self) -> str:
        return f"ApiKey({self._prefix!r})"

    def __str__(self) -> str:
        return f"{self._prefix}_***"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ApiKey):
            return NotImplemented
        return self.authorization == other.authorization

    def __hash__(self) -> int:
        return hash(self._prefix)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("ApiKey is not picklable: the secret must not leave the process")
