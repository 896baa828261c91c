"""Production quirks from FIELD-NOTES.md, off by default (`StorySandboxConfig.quirks`), for client tests.

With quirks on, every resource object in a 200 answer carries a field no model knows
(`sandboxUnknownField`: clients must accept and keep it), and a READY source is sent without its
`status` (clients must read a missing status as READY). Applied to a copy of the answer, so the
stored idempotent answer stays the plain one.
"""

from __future__ import annotations

import copy
from typing import Any

SINGLE = ("project", "source", "plan", "job", "storyJob", "artifact", "document")
LISTS = ("projects", "sources", "plans", "jobs", "artifacts")
UNKNOWN = {"sandboxUnknownField": {"note": "not in any published schema"}}


def _resource(name: str, item: Any) -> None:
    if not isinstance(item, dict):
        return
    item.update(copy.deepcopy(UNKNOWN))
    if name in ("source", "sources") and item.get("status") == "READY":
        del item["status"]


def apply(body: Any) -> Any:
    if not isinstance(body, dict) or "error" in body:
        return body
    body = copy.deepcopy(body)
    for name in SINGLE:
        _resource(name, body.get(name))
    for name in LISTS:
        for item in body.get(name) or []:
            _resource(name, item)
    return body
