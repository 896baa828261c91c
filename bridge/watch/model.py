"""The watch engine's data: what is watched, what was last seen, what still has to be published.

Pure data, no I/O. A `WatchRecord` is stored as JSON in the KV bucket `STORYBRIDGE_WATCHES`; every
field needed to resume after a crash (facet states, the outbox) lives in it, never only in memory.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Origin = Literal["command", "watch.add", "discovery"]

_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_=-]")


class WatchSpec(BaseModel):
    """What to watch: a resource of a provider, its parent ids, and the facets to follow.

    `facets=None` means "the provider's default facets for this kind".
    """

    model_config = ConfigDict(frozen=True)

    provider: str
    kind: str
    id: str
    parents: dict[str, str] = Field(default_factory=dict)
    facets: tuple[str, ...] | None = None
    origin: Origin = "command"
    # W3C trace headers of the command that started the watch (tracing on only), so the events it
    # publishes later continue that trace. Not part of the key: a re-arm keeps the first trace.
    trace: dict[str, str] | None = None

    @property
    def key(self) -> str:
        """The KV key `w.<provider>.<kind>.<id>`, each token reduced to the KV key charset."""
        return f"w.{key_token(self.provider)}.{key_token(self.kind)}.{key_token(self.id)}"


def key_token(value: str) -> str:
    """One KV key token: unsafe characters become `_`, plus a short hash so ids stay distinct."""
    safe = _KEY_UNSAFE.sub("_", value)
    if safe == value and value:
        return value
    return f"{safe}_{hashlib.sha256(value.encode()).hexdigest()[:8]}"


class FacetState(BaseModel):
    """The last PUBLISHED state of one facet of one resource (the chain for previousStatus)."""

    status: str
    token: str  # what change detection compares (the status, or e.g. a version for "revised")
    revision: int = 1
    seq: int = 0  # events published for this facet so far
    observed_at: float = 0.0
    occurrences: dict[str, int] = Field(
        default_factory=dict
    )  # "status@revision" -> times published


class PendingEvent(BaseModel):
    """An event staged in the outbox: saved in KV before it is published, cleared after the ack."""

    id: str
    subject: str
    payload: dict[str, Any]
    staged_at: float = Field(default_factory=time.time)
    trace: dict[str, str] | None = None  # W3C headers sent along with the event (tracing on only)


class WatchRecord(BaseModel):
    """The stored state of one watch. Written only with compare-and-set on the KV revision."""

    spec: WatchSpec
    states: dict[str, FacetState] = Field(default_factory=dict)  # "<resource>:<id>:<facet>"
    outbox: list[PendingEvent] = Field(default_factory=list)
    failures: int = 0
    stalled: bool = False
    stalls: int = 0  # stall episodes so far (part of the stalled event's id)
    interval: float = 0.0
    next_poll_at: float = 0.0
    done: bool = False
    done_reason: str | None = None
    done_at: float | None = None  # finished records are kept (the previousStatus chain) this long

    def encode(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def decode(cls, raw: bytes) -> WatchRecord:
        return cls.model_validate_json(raw)


@dataclass(frozen=True)
class Observation:
    """One facet state a provider read from one snapshot.

    `silent` observations are not events (e.g. digest NOT_STARTED, video not_rendered): they
    neither publish nor break the previousStatus chain. `token` defaults to `status`; a provider
    sets it when the change to detect is not a status change (a new version for "revised").
    """

    resource: str
    id: str
    facet: str | None
    status: str
    revision: int = 1
    project_id: str | None = None
    subject_path: str = ""
    snapshot: Any = None
    silent: bool = False
    token: str | None = None
    # One of several things a facet follows on the same resource (a voice-modification range, a
    # sound-effect cue, a character's avatar): each has its own state chain and event ids.
    part: str | None = None

    @property
    def state_key(self) -> str:
        key = f"{self.resource}:{self.id}:{self.facet or 'status'}"
        return f"{key}:{self.part}" if self.part is not None else key

    @property
    def change_token(self) -> str:
        return self.token if self.token is not None else self.status


@dataclass(frozen=True)
class ReadError:
    """A read that failed. `gone` means the resource no longer exists (404): the watch ends."""

    message: str
    gone: bool = False
    retry_after: float | None = None
    # The provider's circuit is open: not this resource's failure; nothing counts toward a stall.
    paused: bool = False


@dataclass(frozen=True)
class Snapshot:
    """What a provider read for one spec: the raw object(s) `observe` splits into facet states."""

    data: Any
    extra: dict[str, Any] = field(default_factory=dict)
