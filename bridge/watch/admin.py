"""`admin.watches`: every shard's records as read from KV (not a replica's mirror), paged."""

from __future__ import annotations

import json
from typing import Any

from nats.js.client import JetStreamContext

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
    """Keys matching `pattern` that hold or held a value: the subjects of the bucket's stream,
    as the server counts them (STREAM.INFO with a subjects filter, paged by `offset`). Exact
    under any load: a consumer read instead (no acks) lost the keys of a fetch that timed out
    on a busy machine, and `admin.watches` then missed a watch that was there. Deleted keys
    are among them; loading one finds nothing and it is skipped."""
    bucket = store.kv._name
    head = f"$KV.{bucket}."
    nc = js._nc  # the JetStream API request itself: nats-py's stream_info cannot page subjects
    api = f"{js._prefix}.STREAM.INFO.KV_{bucket}"
    keys: list[str] = []
    while True:
        request = {"subjects_filter": f"{head}{pattern}", "offset": len(keys)}
        reply = json.loads((await nc.request(api, json.dumps(request).encode(), 10.0)).data)
        if "error" in reply:
            raise RuntimeError(f"listing watch keys failed: {reply['error']}")
        subjects = (reply.get("state") or {}).get("subjects") or {}
        keys.extend(subject[len(head) :] for subject in subjects)
        if not subjects or len(keys) >= int(reply.get("total") or 0):
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
