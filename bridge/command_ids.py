"""Which logical operation a command is: its commandId (body, header or fallback) and the
Idempotency-Key derived from it, the same on every redelivery, replica and intake path."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from bridge.payload import parse_payload

# Fixed forever: changing it would change every Idempotency-Key and break replay of in-flight commands.
IDEMPOTENCY_NAMESPACE = uuid.UUID("5b0f1c9e-6a43-4f59-9d55-2f1b7a0e8c31")
COMMAND_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def idempotency_key(command: str, command_id: str) -> str:
    """The one Idempotency-Key of a logical operation: same on every redelivery, replica and path."""
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{command}:{command_id}"))


def resolve_command_id(payload: Any, headers: Mapping[str, str] | None, fallback: str) -> str:
    """Body `commandId`, then the `Nats-Msg-Id` header, then `fallback` (the same order on both paths)."""
    if isinstance(payload, dict):
        body_id = payload.get("commandId")
        if isinstance(body_id, str) and COMMAND_ID_RE.match(body_id):
            return body_id
    header_id = (headers or {}).get("Nats-Msg-Id")
    if header_id and COMMAND_ID_RE.match(header_id):
        return header_id
    return fallback


def best_command_id(
    data: bytes, headers: Mapping[str, str] | None, fallback: str, max_bytes: int
) -> str:
    """The commandId a crashed execution can still name, or `fallback`."""
    try:
        payload = parse_payload(data) if len(data) <= max_bytes else None
        return resolve_command_id(payload, headers, fallback)
    except Exception:
        return fallback
