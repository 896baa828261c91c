"""Unknown command fields: passed to the API or refused, and misspelt known fields always caught.

The API grows additively ("additive changes ... are reflected immediately"); a bridge that refuses
every field it does not know blocks its users from a field the API shipped yesterday. Strictness
still matters for typos: the API ignores fields it does not know, so `promt` would silently do
nothing. The policy (`STORYBRIDGE_COMMAND_EXTRA_FIELDS`):

- `pass` (default): a top-level field the command's model does not know reaches the API in the
  request body, as it was sent.
- `forbid`: such a field is refused (`invalid_command` naming it).

Under both, a field within a small edit of a known one (difflib ratio >= `TYPO_RATIO`) is refused,
naming the known field. Only top-level fields pass: nested objects keep their strict models
(`target.tone`, `artifactRequests[].notes`), so a nested unknown field is refused naming its path.
A command that sends no body (`plan.resume`, `job.cancel`, ...) has nowhere to pass a field to, so
an unknown field there is refused under both policies.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

ExtraFields = Literal["pass", "forbid"]
DEFAULT_EXTRA_FIELDS: ExtraFields = "pass"
TYPO_RATIO = 0.8
M = TypeVar("M", bound=BaseModel)


class UnknownField(ValueError):
    """A command field that is refused; `field` names it, the message names the fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def known_fields(model: type[BaseModel]) -> set[str]:
    names = set(model.model_fields)
    names.update(f.alias for f in model.model_fields.values() if f.alias)
    return names


def close_match(name: str, known: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(name, sorted(known), n=1, cutoff=TYPO_RATIO)
    return found[0] if found else None


def check_unknown(
    model: type[BaseModel], payload: Mapping[str, Any], policy: ExtraFields, *, has_body: bool
) -> list[str]:
    """The unknown top-level fields of `payload` that may pass; raises `UnknownField` for one that
    is a likely typo, or for any under `forbid` or on a command without a body."""
    known = known_fields(model)
    unknown = [name for name in payload if name not in known]
    for name in unknown:
        near = close_match(name, known)
        if near is not None:
            raise UnknownField(name, f"{name}: unknown field; did you mean {near!r}?")
    for name in unknown:
        if policy == "forbid":
            raise UnknownField(
                name,
                f"{name}: unknown field (STORYBRIDGE_COMMAND_EXTRA_FIELDS=forbid; "
                "set it to pass to send fields the bridge does not know yet)",
            )
        if not has_body:
            raise UnknownField(name, f"{name}: unknown field; this command sends no request body")
    return unknown


@cache
def allowing_extra(model: type[M]) -> type[M]:
    """`model` with unknown top-level fields kept (and dumped), still an instance of `model`."""
    config = ConfigDict(extra="allow")
    return type(model.__name__, (model,), {"model_config": config, "__doc__": model.__doc__})
