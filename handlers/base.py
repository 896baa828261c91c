"""The contract every handler follows: command model in, one client call, maybe a watch, a reply out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bridge.providers.story.client import StoryClient
from schemas.wire.commands import Command


class CommandReply(Protocol):
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


class WatchStartFailed(Exception):
    """A watch could not be recorded (the watch store is unreachable). The API call before it
    succeeded, so the command is retried (its call replays) rather than leaving work unwatched."""


class Watches(Protocol):
    """Where handlers start and stop watches; provider-specific wiring lives in the runtime.

    `watch` raises WatchStartFailed when the watch could not be recorded."""

    async def watch(
        self,
        resource: str,
        id: str,
        *,
        project_id: str | None = None,
        facets: tuple[str, ...] | None = None,
        parents: dict[str, str] | None = None,
    ) -> None: ...

    async def unwatch(self, resource: str, id: str) -> bool: ...

    async def list(
        self,
        *,
        provider: str | None = None,
        resource: str | None = None,
        state: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Watches of every replica, in a stable order, `limit` at a time after `cursor`."""
        ...


class DeadLetterOps(Protocol):
    """What admin handlers may do with dead letters (`bridge.nats.deadletters.DeadLetters`)."""

    async def redrive(
        self, *, command: str | None, since: datetime | None, dry_run: bool
    ) -> RedriveResult: ...


class RedriveResult(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class CommandContext:
    """Everything a handler may use. `idempotency_key` is derived from the commandId, never random."""

    api: StoryClient
    watches: Watches
    command_id: str
    idempotency_key: str
    dead_letters: DeadLetterOps | None = None
    extra: dict[str, Any] = field(default_factory=dict)


CommandHandler = Callable[[Any, CommandContext], Awaitable[CommandReply]]
"""A handler takes its own command model (a `Command` subclass) and the context."""

__all__ = [
    "Command",
    "CommandContext",
    "CommandHandler",
    "CommandReply",
    "LocalReply",
    "WatchStartFailed",
    "Watches",
]
