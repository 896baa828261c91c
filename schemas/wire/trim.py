"""Cutting a JSON value down to a byte budget: long arrays and long strings shortened, step by step.

An outcome's `result` is whatever the API answered, and a reply or an event must fit NATS'
`max_payload`. Rather than fail every publish (and re-run the command against the API until it is
dead-lettered), the bridge sends a shorter `result` and says so (`resultTruncated: true`); the
whole resource stays readable with the read commands. Pure data: no I/O.
"""

from __future__ import annotations

import json
from typing import Any

# Each step keeps at most this many items per array and characters per string; the last step keeps
# the top level's scalars only, as event snapshots do (bridge.watch.events.bound_event).
STEPS: tuple[tuple[int, int], ...] = ((1000, 4096), (100, 1024), (10, 256), (3, 64), (0, 0))


def size_of(value: Any) -> int:
    """Bytes of `value`'s JSON as the bridge sends it (ASCII-escaped: an API answer may carry an
    escaped lone surrogate, which no UTF-8 encoder takes)."""
    return len(json.dumps(value, separators=(",", ":")))


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, marked when it was."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def _cut(value: Any, max_items: int, max_chars: int) -> Any:
    """`value` with every array cut to `max_items` and every string to `max_chars` (iterative)."""
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        node, parent, slot = stack.pop()
        if isinstance(node, str):
            parent[slot] = node[:max_chars] + ("…" if len(node) > max_chars else "")
        elif isinstance(node, dict):
            copy: dict[str, Any] = {}
            parent[slot] = copy
            for key, child in node.items():
                copy[key] = None
                stack.append((child, copy, key))
        elif isinstance(node, list):
            kept: list[Any] = [None] * min(len(node), max_items)
            parent[slot] = kept
            for index, child in enumerate(node[:max_items]):
                stack.append((child, kept, index))
        else:
            parent[slot] = node
    return root[0]


def _scalars(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: v
            for k, v in value.items()
            if isinstance(v, int | float | bool) or (isinstance(v, str) and len(v) <= 256)
        }
    return None


def shrink(value: Any, limit: int) -> tuple[Any, bool]:
    """`value` cut until its JSON is at most `limit` bytes, and whether anything was cut."""
    if size_of(value) <= limit:
        return value, False
    for max_items, max_chars in STEPS:
        cut = _cut(value, max_items, max_chars)
        if size_of(cut) <= limit:
            return cut, True
    scalars = _scalars(value)
    if size_of(scalars) <= limit:
        return scalars, True
    return None, True
