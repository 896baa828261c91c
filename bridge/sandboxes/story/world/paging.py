"""Cursor pagination as the API does it: creation order, opaque cursors, `limit` 1..100."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar

from bridge.sandboxes.story.errors import StorySandboxError

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class HasSeq(Protocol):
    seq: int


R = TypeVar("R", bound=HasSeq)


def parse_limit(query: Mapping[str, str]) -> int:
    raw = query.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise StorySandboxError(
            "validation_failed", "limit: must be an integer", details={"field": "limit"}
        ) from None
    if limit < 1 or limit > MAX_LIMIT:
        raise StorySandboxError(
            "validation_failed",
            f"limit: must be between 1 and {MAX_LIMIT}",
            details={"field": "limit"},
        )
    return limit


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        kind, _, value = text.partition(":")
        if kind != "seq":
            raise ValueError(kind)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise StorySandboxError(
            "validation_failed", "cursor: not a cursor this API issued", details={"field": "cursor"}
        ) from None


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode()


def paginate(
    records: Sequence[R], query: Mapping[str, str], keep: Callable[[R], bool] = lambda _r: True
) -> tuple[list[R], str | None]:
    """Creation order (oldest first); the cursor is the last returned record's sequence number.

    `records` must be sorted by `seq` (an index list appended at creation), so a page starts with
    a bisect instead of a scan, and records created meanwhile never shift a page.
    """
    limit = parse_limit(query)
    cursor = query.get("cursor")
    start = 0
    if cursor:
        after = _decode_cursor(cursor)
        lo, hi = 0, len(records)
        while lo < hi:
            mid = (lo + hi) // 2
            if records[mid].seq <= after:
                lo = mid + 1
            else:
                hi = mid
        start = lo
    page: list[R] = []
    index = start
    while index < len(records) and len(page) < limit:
        if keep(records[index]):
            page.append(records[index])
        index += 1
    more = any(keep(r) for r in records[index:]) if index < len(records) else False
    return page, (_encode_cursor(page[-1].seq) if page and more else None)
