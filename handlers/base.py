"""The contract every handler follows: command model in, one client call, maybe a watch, a reply out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bridge.api.client import StoryClient
from schemas.commands import Command


class Reply(Protocol):
    """What a handler returns: `bridge.api.ApiResponse` satisfies it, so does `LocalReply`."""

    @property
    def status(self) -> int: ...
    @property
    def replayed(self) -> bool: ...
    @property
    def raw(self) -> Any: ...


@dataclass(frozen=True)
class LocalReply:
    """A reply the bridge produced itself (watch.add/watch.remove touch no API)."""

    raw: Any
    status: int = 200
    replayed: bool = False


class Watches(Protocol):
    """Where handlers start and stop watches; provider-specific wiring lives in the runtime."""

    async def watch(
        self,
        kind: str,
        id: str,
        *,
        project_id: str | None = None,
        facets: tuple[str, ...] | None = None,
        parents: dict[str, str] | None = None,
    ) -> None: ...

    async def unwatch(self, kind: str, id: str) -> bool: ...


@dataclass(frozen=True)
class CommandContext:
    """Everything a handler may use. `idempotency_key` is derived from the commandId, never random."""

    api: StoryClient
    watches: Watches
    command_id: str
    idempotency_key: str
    extra: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Any, CommandContext], Awaitable[Reply]]
"""A handler takes its own command model (a `Command` subclass) and the context."""

__all__ = ["Command", "CommandContext", "Handler", "LocalReply", "Reply", "Watches"]
