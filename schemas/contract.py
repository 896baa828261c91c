"""The typed contract: which `data` each event subject carries, and what each command answers.

Pure data. `event_model(suffix)` maps a `{p}.evt.` suffix to its CloudEvent model, whose `data` is
typed (resource events carry the resource's own snapshot model); `REPLY_MODEL` is the outcome
document every command answers. The AsyncAPI document and `storybridge schemas DIR` are built
from these.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from schemas.story.resources import Artifact, Job, Plan, Source
from schemas.wire.events import BridgeCircuitData, CloudEvent, ResourceEventData, WatchLifecycleData
from schemas.wire.outcome import Outcome

REPLY_MODEL = Outcome


class SourceEventData(ResourceEventData):
    snapshot: Source


class PlanEventData(ResourceEventData):
    snapshot: Plan


class JobEventData(ResourceEventData):
    snapshot: Job


class ArtifactEventData(ResourceEventData):
    snapshot: Artifact


class SyllabyEventData(ResourceEventData):
    """A Syllaby storyboard, video or scene change: `snapshot` as the API returned it."""

    provider: Literal["syllaby"] = "syllaby"
    storyboardId: str | None = None  # a scene's storyboard


class CommandEventData(Outcome):
    """The outcome document; `retrying` adds `attempt` and `nextAttemptAt`."""

    model_config = ConfigDict(extra="allow")


class CommandRetryingData(CommandEventData):
    """`command.retrying`: the outcome of the failed attempt, which attempt it was, and when the
    next one is due."""

    attempt: int
    nextAttemptAt: str


class CommandDeadLetteredData(CommandEventData):
    """`command.dead_lettered`: the last outcome, why the command was buried, after how many
    deliveries, and where it lies in the dead-letter stream."""

    reason: str
    deliveries: int
    deadLetterSequence: int


class CreditsLowData(BaseModel):
    balance: float
    threshold: float


class OpenData(BaseModel):
    """Events whose `data` the contract leaves open (none of the contract's subjects today)."""

    model_config = ConfigDict(extra="allow")


def _typed(name: str, data: type[BaseModel]) -> type[CloudEvent]:
    model: type[CloudEvent] = type(
        name, (CloudEvent,), {"__annotations__": {"data": data}, "__module__": __name__}
    )
    return model


SourceEvent = _typed("SourceEvent", SourceEventData)
PlanEvent = _typed("PlanEvent", PlanEventData)
JobEvent = _typed("JobEvent", JobEventData)
ArtifactEvent = _typed("ArtifactEvent", ArtifactEventData)
CommandEvent = _typed("CommandEvent", CommandEventData)
SyllabyEvent = _typed("SyllabyEvent", SyllabyEventData)
CommandRetryingEvent = _typed("CommandRetryingEvent", CommandRetryingData)
CommandDeadLetteredEvent = _typed("CommandDeadLetteredEvent", CommandDeadLetteredData)
CreditsLowEvent = _typed("CreditsLowEvent", CreditsLowData)
WatchLifecycleEvent = _typed("WatchLifecycleEvent", WatchLifecycleData)
BridgeCircuitEvent = _typed("BridgeCircuitEvent", BridgeCircuitData)
OpenEvent = _typed("OpenEvent", OpenData)

_BY_RESOURCE: dict[str, type[CloudEvent]] = {
    "source": SourceEvent,
    "plan": PlanEvent,
    "job": JobEvent,
    "artifact": ArtifactEvent,
    "command": CommandEvent,
    "credits": CreditsLowEvent,
    "syllaby": SyllabyEvent,
    "watch": WatchLifecycleEvent,
    "bridge": BridgeCircuitEvent,
}


_BY_SUFFIX: dict[str, type[CloudEvent]] = {
    "command.retrying": CommandRetryingEvent,
    "command.dead_lettered": CommandDeadLetteredEvent,
}


def event_model(suffix: str) -> type[CloudEvent]:
    """The CloudEvent model of `{p}.evt.<suffix>` (`artifact.revised` is an artifact event)."""
    found = _BY_SUFFIX.get(suffix)
    return found if found is not None else _BY_RESOURCE.get(suffix.split(".", 1)[0], OpenEvent)


def json_schemas(event_suffixes: list[str], commands: dict[str, type[BaseModel]]) -> dict[str, Any]:
    """`{relative file name: JSON Schema}` for every event subject and command, plus the reply."""
    out: dict[str, Any] = {"reply.outcome.json": REPLY_MODEL.model_json_schema()}
    for suffix in event_suffixes:
        out[f"event.{suffix}.json"] = event_model(suffix).model_json_schema()
    for name, model in commands.items():
        out[f"command.{name}.json"] = model.model_json_schema()
    return out
