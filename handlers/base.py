"""The contract every handler follows: command model in, one client call, maybe a watch, a reply out.

A handler row is a command's one declaration: its model, the API call it makes (an `Endpoint`:
method, route, and how it takes effect at most once) and the watches it starts. The route table,
`schemas.catalog.COMMAND_ROUTES`, the AsyncAPI document, the executor's choice of the ledger and the
README checks read the rows; nothing else says which route a command calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypedDict, TypeVar, Unpack

from bridge.http.errors import RequestValidationError
from bridge.http.routes import ClientRoute, Endpoint, Idempotency, RouteClient
from bridge.http.transport import ApiResponse
from schemas.wire.commands import Command

C = TypeVar("C", bound=Command)
T = TypeVar("T")


class CommandReply(Protocol):
    """What a handler returns: `bridge.http.transport.ApiResponse` satisfies it, so does `LocalReply`."""

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


class WatchOptions(TypedDict, total=False):
    """What a watch may carry beyond its resource and id (every key may be left out)."""

    project_id: str | None
    facets: tuple[str, ...] | None
    parents: dict[str, str] | None
    provider: str | None  # None: the Story API's


class WatchFilter(TypedDict, total=False):
    """Which watches a listing returns, and where a page of them starts (`limit` default 100)."""

    provider: str | None
    resource: str | None
    state: str | None
    cursor: str | None
    limit: int


class Watches(Protocol):
    """Where handlers start and stop watches; provider-specific wiring lives in the runtime.

    `watch` raises WatchStartFailed when the watch could not be recorded."""

    async def watch(self, resource: str, id: str, **options: Unpack[WatchOptions]) -> None: ...

    async def unwatch(self, resource: str, id: str, *, provider: str | None = None) -> bool: ...

    async def list(self, **filters: Unpack[WatchFilter]) -> tuple[list[dict[str, Any]], str | None]:
        """Watches of every replica, in a stable order, `limit` at a time after `cursor`."""
        ...


class DeadLetterOps(Protocol):
    """What admin handlers may do with dead letters (`bridge.nats.deadletters.DeadLetters`)."""

    async def redrive(
        self, *, command: str | None, since: datetime | None, dry_run: bool
    ) -> RedriveResult: ...


class RedriveResult(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


class FleetOps(Protocol):
    """What `admin.status` reads the fleet through (`bridge.nats.fleet_report.FleetReporter`)."""

    async def fleet_status(self, *, dead_letter_sample: int = 100) -> dict[str, Any]: ...


@dataclass(frozen=True)
class CommandContext:
    """Everything a handler may use. `idempotency_key` is derived from the commandId, never random."""

    # The running providers' clients by provider name (bridge/plugins.py): a provider that is off
    # has none.
    clients: Mapping[str, Any]
    watches: Watches
    command_id: str
    idempotency_key: str
    # The provider the command is for: the one whose command table holds it, or the one a
    # watch.add/watch.remove names; None for the core's admin commands.
    provider: str | None = None
    dead_letters: DeadLetterOps | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    status: FleetOps | None = None  # the fleet view (admin.status); None: not wired

    def client(self, kind: type[T], provider: str | None = None) -> T:
        """The client of `provider` (default: the command's), typed as the handler expects it."""
        name = provider or self.provider
        found = self.clients.get(name) if name is not None else None
        if not isinstance(found, kind):
            # The executor refuses a command of a provider that is off before its handler runs.
            raise RequestValidationError(f"the {name} provider is off", field="provider")
        return found


class CommandHandler(Protocol):
    """What the registry holds for a command name: the command model it takes, the API call it
    makes (None: it touches no API, e.g. watch.* and admin.*), and the call."""

    @property
    def model(self) -> type[Command]: ...

    @property
    def endpoint(self) -> Endpoint | None: ...

    async def __call__(self, cmd: Command, ctx: CommandContext) -> CommandReply: ...


def typed(model: type[C], cmd: Command) -> C:
    if not isinstance(cmd, model):  # the executor validated it as this command's model
        raise TypeError(f"{model.command} handler got a {type(cmd).__name__}")
    return cmd


@dataclass(frozen=True)
class Handles(Generic[C]):
    """A handler written out as a function of its own command model; `endpoint` is the API call
    it makes, declared here even though `run` makes it (None: it calls no API)."""

    model: type[C]
    run: Callable[[C, CommandContext], Awaitable[CommandReply]]
    endpoint: Endpoint | None = None

    async def __call__(self, cmd: Command, ctx: CommandContext) -> CommandReply:
        return await self.run(typed(self.model, cmd), ctx)


After = Callable[[C, ApiResponse[Any], CommandContext], Awaitable[None]]
"""What follows a successful call: usually a watch on what the call started."""


@dataclass(frozen=True)
class Calls(Generic[C]):
    """A command that is one API call: the command's path ids in path order, its body (when the
    model has one), the command's Idempotency-Key; then `after` (e.g. start a watch)."""

    model: type[C]
    route: ClientRoute[Any]
    after: After[C] | None = None

    @property
    def endpoint(self) -> Endpoint:
        return self.route.route.endpoint.named(self.model.path_fields)

    async def __call__(self, cmd: Command, ctx: CommandContext) -> CommandReply:
        command = typed(self.model, cmd)
        body = (command.body(),) if self.model.body_model is not None else ()
        reply = await ctx.client(RouteClient).serve(
            self.route.route,
            *command.path().values(),
            *body,
            idempotency_key=ctx.idempotency_key,
        )
        if self.after is not None:
            await self.after(command, reply, ctx)
        return reply


def handles(
    model: type[C],
    run: Callable[[C, CommandContext], Awaitable[CommandReply]],
    route: ClientRoute[Any] | Endpoint | None = None,
) -> CommandHandler:
    """The registry entry of a handler written out as a function of its command model, with the
    route it calls (a client's route, or an `Endpoint` for a call no route attribute describes)."""
    endpoint = (
        route.route.endpoint.named(model.path_fields) if isinstance(route, ClientRoute) else route
    )
    return Handles(model, run, endpoint)


def calls(model: type[C], route: ClientRoute[Any], after: After[C] | None = None) -> CommandHandler:
    """The registry entry of a command that is one API call (see `Calls`)."""
    return Calls(model, route, after)


def idempotency(handler: CommandHandler) -> Idempotency:
    """How `handler`'s call takes effect at most once ("none" for a handler that calls no API)."""
    endpoint = handler.endpoint
    return endpoint.idempotency if endpoint is not None else "none"


def handler_table(*handlers: CommandHandler) -> dict[str, CommandHandler]:
    """The registry entries of `handlers`, by their command's contract name."""
    return {handler.model.command: handler for handler in handlers}


__all__ = [
    "After",
    "Calls",
    "Command",
    "CommandContext",
    "CommandHandler",
    "CommandReply",
    "Endpoint",
    "Handles",
    "LocalReply",
    "WatchFilter",
    "WatchOptions",
    "WatchStartFailed",
    "Watches",
    "calls",
    "handler_table",
    "handles",
    "idempotency",
    "typed",
]
