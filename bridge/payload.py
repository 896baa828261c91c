"""Reading a command's bytes safely: hostile JSON is rejected before anything recurses over it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Deeper than any command the API takes; far below the interpreter's recursion limit, so nothing
# later (validation, json.dumps to the API, logging) can recurse out of the stack on a payload.
MAX_DEPTH = 32
# JSON numbers past 64 bits mean nothing to the API, and a 4,000-digit one costs real CPU to convert.
MAX_INT_DIGITS = 19


class PayloadRejected(ValueError):
    """The bytes are not a command we can read: not UTF-8, not JSON, too deep, absurd numbers."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise PayloadRejected(f"integer with {len(text)} digits is out of range")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise PayloadRejected(f"number {text[:20]}... is out of range")
    return value


def _reject_constant(name: str) -> Any:
    raise PayloadRejected(f"{name} is not valid JSON")


def _has_surrogate(text: str) -> bool:
    return not text.isascii() and any("\ud800" <= ch <= "\udfff" for ch in text)


def _problem(value: Any, limit: int) -> str | None:
    """Why `value` is not a command we can carry: containers nested deeper than `limit`, or a lone
    surrogate (`"\\ud800"` is legal JSON but no UTF-8 text: it cannot be sent, logged or
    fingerprinted). Iterative: no recursion on hostile input."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if _has_surrogate(node):
                return "a string holds a lone surrogate (\\ud800-\\udfff), which is not text"
            continue
        if not isinstance(node, dict | list):
            continue
        if depth > limit:
            return f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(node, dict):
            stack.extend((key, depth) for key in node)
            children: Any = node.values()
        else:
            children = node
        stack.extend(
            (child, depth + 1) for child in children if isinstance(child, dict | list | str)
        )
    return None


def parse_payload(data: bytes) -> Any:
    """The command's JSON, or PayloadRejected with a reason fit for the caller."""
    try:
        value = json.loads(
            data,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_reject_constant,
        )
    except PayloadRejected:
        raise
    except RecursionError:
        # json.loads recurses per nesting level: ~1,000 levels fit in 2 KB.
        raise PayloadRejected(f"nested deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise PayloadRejected("not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise PayloadRejected(exc.msg) from None
    except ValueError as exc:  # e.g. int conversion limits
        raise PayloadRejected(str(exc)[:120]) from None
    problem = _problem(value, MAX_DEPTH)
    if problem is not None:
        raise PayloadRejected(problem)
    return value


def unreadable_header(headers: Mapping[str, str] | None) -> str | None:
    """The first header whose bytes were not UTF-8 (nats-py decodes them with replacement)."""
    for name, value in (headers or {}).items():
        if "\ufffd" in name or "\ufffd" in value:
            return name.replace("\ufffd", "?")
    return None
