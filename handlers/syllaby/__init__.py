"""Syllaby Text-to-Scene handlers: one row per command, its one declaration.

A row names the command model, its call (method and route, relative to SYLLABY_BASE_URL), whether
that call needs the command ledger (Syllaby takes no Idempotency-Key: "ledger" for every call that
would act again when repeated, "none" for reads and calls that set a value) and the watches it
starts, per the contract ("followed after"). The ledger (bridge/ledger) runs around the rows that
need it; a handler never knows whether it is replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bridge.http.errors import RequestValidationError
from bridge.http.routes import Endpoint, Idempotency, Method
from bridge.providers.syllaby.client import SyllabyClient
from handlers.base import CommandContext, CommandHandler, CommandReply, handler_table, typed
from handlers.syllaby import starts as w
from schemas.syllaby import commands as c
from schemas.syllaby.commands import SyllabyCommand
from schemas.wire.commands import Command

S = TypeVar("S", bound=SyllabyCommand)
Starts = Callable[[S, Any], list[w.WatchCall]]
"""The watches a command starts, from the command and the API's answer (its whole JSON body)."""


def client_of(ctx: CommandContext) -> SyllabyClient:
    client = ctx.clients.get("syllaby")
    if not isinstance(client, SyllabyClient):  # answered invalid_command, naming the fix
        raise RequestValidationError(
            "the syllaby provider is off: set SYLLABY_API_TOKEN and SYLLABY_BASE_URL, or run "
            "with --sandbox",
            field="provider",
        )
    return client


@dataclass(frozen=True)
class Sends(Generic[S]):
    """A Syllaby command: its model, its call, and what it starts watching."""

    model: type[S]
    endpoint: Endpoint
    starts: Starts[S] | None = None

    async def __call__(self, cmd: Command, ctx: CommandContext) -> CommandReply:
        command = typed(self.model, cmd)
        reply = await client_of(ctx).send(command, self.endpoint)
        await self.arm(command, reply.raw, ctx)
        return reply

    async def arm(self, cmd: S, raw: Any, ctx: CommandContext) -> None:
        """Start the watches `cmd` calls for, given the API's answer `raw` (raises WatchStartFailed
        when one is not recorded)."""
        for call in self.starts(cmd, raw) if self.starts is not None else []:
            await ctx.watches.watch(**call)


def sends(
    model: type[S],
    method: Method,
    path: str,
    idempotency: Idempotency,
    starts: Starts[S] | None = None,
) -> Sends[S]:
    return Sends(model, Endpoint(method, path, idempotency), starts)


_BOARD = "text-to-scene/{storyboard_id}"
_SCENE = f"{_BOARD}/scenes/{{scene_id}}"

ROWS: tuple[Sends[Any], ...] = (
    sends(c.StoryboardCreateCommand, "POST", "text-to-scene", "ledger", w.created_storyboard),
    sends(c.StoryboardGetCommand, "GET", _BOARD, "none"),
    sends(c.StoryboardUpdateCommand, "PATCH", _BOARD, "none"),
    sends(c.StoryboardEstimateCommand, "GET", f"{_BOARD}/estimate", "none"),
    sends(c.StoryboardGenerateCommand, "POST", f"{_BOARD}/prompt", "ledger", w.same_storyboard),
    sends(c.StoryboardContextCommand, "POST", f"{_BOARD}/context", "ledger", w.same_storyboard),
    sends(c.StoryboardRenderCommand, "POST", f"{_BOARD}/render", "ledger", w.video),
    sends(c.StoryboardGenerateClipsCommand, "POST", f"{_BOARD}/clips", "ledger", w.clips),
    sends(c.SceneCreateCommand, "POST", f"{_BOARD}/scenes", "ledger", w.created_scene),
    sends(c.SceneUpdateCommand, "PATCH", _SCENE, "none"),
    sends(c.SceneDeleteCommand, "DELETE", _SCENE, "ledger"),
    sends(c.SceneStatusCommand, "GET", f"{_SCENE}/status", "none"),
    sends(c.SceneSortCommand, "PUT", f"{_BOARD}/scenes/sort", "none"),
    sends(c.SceneFramesCommand, "PUT", f"{_SCENE}/frames", "none"),
    sends(c.SceneChainCommand, "PUT", f"{_SCENE}/chain", "none"),
    sends(c.SceneUnchainCommand, "DELETE", f"{_SCENE}/chain", "ledger"),
    sends(c.MoodboardUploadCommand, "POST", f"{_BOARD}/moodboard/upload", "ledger"),
    sends(c.MoodboardGenerateCommand, "POST", f"{_BOARD}/moodboard/generate", "ledger"),
)

_BY_NAME: dict[str, Sends[Any]] = {row.model.command: row for row in ROWS}
HANDLERS: dict[str, CommandHandler] = handler_table(*ROWS)


async def arm(cmd: SyllabyCommand, raw: Any, ctx: CommandContext) -> None:
    """The watches `cmd`'s row starts, from an answer read later (the ledger's reconciliation)."""
    await _BY_NAME[cmd.command].arm(cmd, raw, ctx)


__all__ = ["HANDLERS", "ROWS", "Sends", "arm", "client_of", "sends"]
