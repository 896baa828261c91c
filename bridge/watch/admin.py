"""`admin.watches`: every shard's records as read from KV (not a replica's mirror), paged."""

from __future__ import annotations

import contextlib
from typing import Any

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import FetchTimeoutError

from bridge.watch.model import WatchRecord, key_token, shard_of_key
from bridge.watch.store import Store


async def list_watches(
    js: JetStreamContext,
    store: Store,
    *,
    provider: str | None = None,
    resource: str | None = None,
    state: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], str | None]:
    """Every shard's records, in key order, after `cursor`; the next cursor or None."""
    pattern = ".".join(
        [
            "w",
            "*",
            key_token(provider) if provider else "*",
            key_token(resource) if resource else "*",
            "*",
        ]
    )
    keys = sorted(await _keys(js, store, pattern))
    out: list[dict[str, Any]] = []
    for key in keys:
        if cursor is not None and key <= cursor:
            continue
        loaded = await store.load(key)
        if loaded is None:
            continue
        record = loaded[0]
        if state is not None and record.state != state:
            continue
        out.append(describe(record))
        if len(out) >= limit:
            return out, key if key != keys[-1] else None
    return out, None


async def _keys(js: JetStreamContext, store: Store, pattern: str) -> list[str]:
    """Live keys matching `pattern`: a pull consumer over the bucket's stream, headers only,
    last value per key, read until the server says nothing is pending (a KV watcher's
    "end of initial values" marker can come early on a wildcard)."""
    bucket = store.kv._name
    sub = await js.pull_subscribe(
        f"$KV.{bucket}.{pattern}",
        stream=f"KV_{bucket}",
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
            ack_policy=AckPolicy.NONE,
            headers_only=True,
            inactive_threshold=30.0,
        ),
    )
    keys: list[str] = []
    head = f"$KV.{bucket}."
    try:
        for _ in range(10_000):  # a bound, not a limit anyone reaches: 1000 keys a fetch
            if not (await sub.consumer_info()).num_pending:
                break
            with contextlib.suppress(FetchTimeoutError, TimeoutError):
                for msg in await sub.fetch(1000, timeout=2.0):
                    if (msg.headers or {}).get("KV-Operation") not in ("DEL", "PURGE"):
                        keys.append(msg.subject[len(head) :])
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return keys


def describe(record: WatchRecord) -> dict[str, Any]:
    """One watch as `admin.watches` lists it (camelCase, like the rest of the wire)."""
    spec = record.spec
    return {
        "provider": spec.provider,
        "resource": spec.resource,
        "id": spec.id,
        "projectId": spec.parents.get("projectId"),
        "state": record.state,
        "polled": record.polled,
        "facets": list(spec.facets) if spec.facets is not None else None,
        "origin": spec.origin,
        "statuses": {k.rsplit(":", 1)[-1]: v.status for k, v in record.states.items()},
        "failures": record.failures,
        "notFound": record.not_found,
        "stalls": record.stalls,
        "refs": [r.split(".", 2)[-1] for r in record.refs],
        "armedAt": record.armed_at,
        "expiresAt": record.expires_at,
        "doneReason": record.done_reason,
        "doneAt": record.done_at,
        "pendingEvents": len(record.outbox),
        "shard": shard_of_key(spec.key),
    }
