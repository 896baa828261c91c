"""The redaction every log line and error message passes through: API keys, bare secrets, and
every secret a provider registered.

On the ground floor, importing nothing of the project: logging (bridge/ops) and the HTTP transport
(bridge/http) both need it, and the transport itself logs and traces through bridge/ops.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["MIN_REGISTERED_SECRET", "redact", "register_secret"]

# Full keys anywhere in a text (keep the prefix), then any leftover bare 64-hex run (a secret
# printed on its own). Word boundaries are hex-aware so a longer hex blob is redacted whole.
_EMBEDDED_KEY_RE: Final = re.compile(r"(sh_[0-9a-fA-F]{18})_[0-9a-fA-F]{64}(?![0-9a-fA-F])")
_BARE_SECRET_RE: Final = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64,}(?![0-9a-fA-F])")


# Secrets of other providers (a Syllaby token has no recognisable shape): every registered value is
# replaced wherever it appears. Registered once per process, by the credential object that holds it.
_REGISTERED: set[str] = set()
_ordered: tuple[str, ...] = ()  # longest first: a whole token is replaced before its parts
_shortest_registered = 64
# Shorter values could match ordinary text; a token this short is not a secret worth the name.
MIN_REGISTERED_SECRET = 8


def register_secret(value: str) -> None:
    """Make `redact()` replace `value` with ``***`` in every text from now on."""
    global _shortest_registered, _ordered
    if len(value) < MIN_REGISTERED_SECRET:
        return
    _REGISTERED.add(value)
    _ordered = tuple(sorted(_REGISTERED, key=len, reverse=True))
    _shortest_registered = min(_shortest_registered, len(value))


def redact(text: str) -> str:
    """Replace every API key with ``<prefix>_***``, every bare 64-hex run and every registered
    secret with ``***``.

    Cheap enough to run on every log value: two regex passes, and a fast path for text that cannot
    hold a secret.
    """
    if len(text) < _shortest_registered:
        return text
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, "***")
    if len(text) < 64:
        return text
    text = _EMBEDDED_KEY_RE.sub(r"\1_***", text)
    return _BARE_SECRET_RE.sub("***", text)
