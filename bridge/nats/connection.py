"""How the bridge (and its CLI tools) reach NATS: credentials, TLS, and a clear failure when refused.

A shared cluster always asks for credentials. nats-py retries a refused connection forever when
reconnecting is allowed, which hides a wrong token behind an endless loop; `check_credentials` makes
one attempt first and turns a refusal into `NatsRefused`, so `storybridge run` stops with one line
that names the setting to fix. An unreachable server is not a refusal: the bridge keeps trying, and
stays alive and not ready, as before.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import nats
import structlog
from faststream.nats.security import (
    NatsCredentials,
    NatsNKey,
    NatsSecurity,
    NatsToken,
    NatsUserPassword,
    parse_security,
)
from nats import errors as nats_errors

from bridge.config import BridgeSettings

log = structlog.get_logger(__name__)

PREFLIGHT_TIMEOUT = 5.0

# What the server says when it refuses who we are (nats-server's auth errors, any auth mechanism).
_REFUSALS = ("authorization violation", "authentication")


class NatsRefused(RuntimeError):
    """NATS refused our credentials or our TLS identity: retrying will not help, fixing a setting will."""


def tls_context(settings: BridgeSettings) -> ssl.SSLContext | None:
    """A client TLS context from the CA / certificate settings; None when none is set."""
    if settings.nats_tls_ca is None and settings.nats_tls_cert is None:
        return None
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH,
        cafile=str(settings.nats_tls_ca) if settings.nats_tls_ca else None,
    )
    if settings.nats_tls_cert is not None and settings.nats_tls_key is not None:
        context.load_cert_chain(str(settings.nats_tls_cert), str(settings.nats_tls_key))
    return context


def broker_security(settings: BridgeSettings) -> NatsSecurity | None:
    """faststream's security object for the one auth mechanism set, with TLS; None: neither."""
    context = tls_context(settings)
    if settings.nats_creds is not None:
        return NatsCredentials.from_file(settings.nats_creds, ssl_context=context)
    if settings.nats_nkey_seed is not None:
        return NatsNKey.from_seed(settings.nats_nkey_seed.get_secret_value(), ssl_context=context)
    if settings.nats_token is not None:
        return NatsToken(settings.nats_token.get_secret_value(), ssl_context=context)
    if settings.nats_user is not None:
        password = settings.nats_password.get_secret_value() if settings.nats_password else ""
        return NatsUserPassword(settings.nats_user, password, ssl_context=context)
    return NatsSecurity(ssl_context=context) if context is not None else None


def connect_options(settings: BridgeSettings) -> dict[str, Any]:
    """The same, as nats-py `connect()` keyword arguments (for the CLI tools and the preflight)."""
    options = parse_security(broker_security(settings))
    return {k: v for k, v in options.items() if v not in (None, False)}


def auth_method(settings: BridgeSettings) -> str:
    """Which mechanism the settings select, for log lines (never the secret itself)."""
    if settings.nats_creds is not None:
        return "creds"
    if settings.nats_nkey_seed is not None:
        return "nkey"
    if settings.nats_token is not None:
        return "token"
    if settings.nats_user is not None:
        return "user/password"
    return "none"


def _refusal(err: BaseException) -> str | None:
    """Why `err` means "refused" (not "unreachable"), or None."""
    if isinstance(
        err, ssl.SSLError
    ):  # SSLCertVerificationError included: the TLS identity is wrong
        return f"TLS handshake failed: {getattr(err, 'reason', None) or err}"
    if isinstance(err, nats_errors.AuthorizationError):
        return "authorization violation"
    text = str(err).lower()
    if isinstance(err, nats_errors.Error) and any(word in text for word in _REFUSALS):
        return str(err).removeprefix("nats: ").strip("'\" ")
    return None


async def check_credentials(servers: list[str], settings: BridgeSettings) -> None:
    """One connection attempt without reconnecting; raise `NatsRefused` when the server refuses us."""
    try:
        # Bounded as a whole: nats-py can keep selecting servers for a while when none answers.
        nc = await asyncio.wait_for(
            nats.connect(
                servers=servers,
                allow_reconnect=False,
                max_reconnect_attempts=0,
                connect_timeout=PREFLIGHT_TIMEOUT,
                error_cb=_quiet,
                **connect_options(settings),
            ),
            timeout=2 * PREFLIGHT_TIMEOUT,
        )
    except Exception as err:
        reason = _refusal(err)
        if reason is None:
            return  # unreachable for now: the broker's own connect keeps trying
        raise NatsRefused(
            f"NATS refused the connection ({reason}) with auth={auth_method(settings)}: check "
            "STORYBRIDGE_NATS_CREDS / _NKEY_SEED / _TOKEN / _USER / _PASSWORD and _TLS_CA / "
            "_TLS_CERT / _TLS_KEY"
        ) from None
    await nc.close()


async def _quiet(err: Exception) -> None:
    # nats-py reports every failed attempt through error_cb; the preflight reports once, itself.
    return None
