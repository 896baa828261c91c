"""The watch engine's data: what is watched, what was last seen, what still has to be published.

Pure data, no I/O. A `WatchRecord` is stored as JSON in the KV bucket `STORYBRIDGE_WATCHES` under
`w.<shard>.<provider>.<resource>.<id>`; every field needed to resume after a crash (facet states,
the outbox, the 404 and age clocks) lives in it, never only in memory.

One record per resource: the record of a resource owns the previousStatus chain and the occurrence
counts of every facet of THAT resource, whichever watches observe it. A watch that also sees other
resources (a job embeds its artifacts) forwards those observations to their own records and only
refers to them (`refs`), so one transition has one id and one publisher.
"""

from __future__ import annotations

import functools
import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Origin = Literal["command", "watch.add", "discovery", "reference"]

_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_=-]")
# Part of the key layout: a replica owning shard `s` watches `w.<s>.>` only, so changing this
# number orphans stored records. Leases are taken per shard.
SHARDS = 32
WATCH_PREFIX = "w."


class WatchSpec(BaseModel):
    """What to watch: a resource of a provider, its parent ids, and the facets to follow.

    `facets=None` means "the provider's default facets for this resource".
    """

    model_config = ConfigDict(frozen=True)

    provider: str
    resource: str
    id: str
    parents: dict[str, str] = Field(default_factory=dict)
    facets: tuple[str, ...] | None = None
    origin: Origin = "command"
    # W3C trace headers of the command that started the watch (tracing on only), so the events it
    # publishes later continue that trace. Not part of the key: a re-arm keeps the first trace.
    trace: dict[str, str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _old_field_name(cls, data: Any) -> Any:
        # Records written before the rename (and branches in flight) say `kind`.
        if isinstance(data, dict) and "kind" in data and "resource" not in data:
            data = {**data, "resource": data["kind"]}
            del data["kind"]
        return data

    @property
    def key(self) -> str:
        """The KV key `w.<shard>.<provider>.<resource>.<id>` (tokens reduced to the KV charset)."""
        return record_key(self.provider, self.resource, self.id)


@functools.lru_cache(maxsize=4096)
def record_key(provider: str, resource: str, id: str) -> str:
    tail = f"{key_token(provider)}.{key_token(resource)}.{key_token(id)}"
    shard = int.from_bytes(hashlib.sha256(tail.encode()).digest()[:4], "big") % SHARDS
    return f"{WATCH_PREFIX}{shard}.{tail}"


def shard_of_key(key: str) -> int | None:
    """The shard a record key lives in (None for keys that are not watch records)."""
    if not key.startswith(WATCH_PREFIX):
        return None
    token = key[len(WATCH_PREFIX) :].split(".", 1)[0]
    return int(token) if token.isdigit() else None


def key_parts(key: str) -> tuple[str, str] | None:
    """(provider, resource) tokens of a record key `w.<shard>.<provider>.<resource>.<id>` (None
    for other keys): the key layout is read here, beside `record_key` that writes it."""
    parts = key.split(".", 4)
    if len(parts) < 5 or shard_of_key(key) is None:
        return None
    return parts[2], parts[3]


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
    as_of: str | None = None  # the API's updatedAt of what was seen: older reads are ignored
    occurrences: dict[str, int] = Field(
        default_factory=dict
    )  # "status@revision" -> times published


class PendingEvent(BaseModel):
    """An event staged in the outbox: saved in KV before it is published, cleared after the ack.

    `after_seq` is a stream sequence acknowledged before the event was staged: if the event ever
    reached the stream, it is at a later sequence. That makes "was it published?" an exact lookup
    (no clock involved) when the duplicate window can no longer answer it.
    """

    id: str
    subject: str
    payload: dict[str, Any]
    staged_at: float = Field(default_factory=time.time)
    after_seq: int = 0
    trace: dict[str, str] | None = None  # W3C headers sent along with the event (tracing on only)
    # A resource change (not a watch lifecycle event): its provider, and the API's updatedAt of
    # the change when it gave one. Only for `storybridge_event_delay_seconds` (bridge.watch.delay).
    provider: str | None = None
    changed_at: str | None = None
    # Staged by the first read of a resource this bridge ever made (watch.add or discovery of
    # work already in flight): its change happened before the bridge could see it, so it is not
    # a delay of the bridge (delay basis `initial`, left out of the SLO).
    initial: bool = False


class WatchRecord(BaseModel):
    """The stored state of one watch. Written only with compare-and-set on the KV revision."""

    spec: WatchSpec
    states: dict[str, FacetState] = Field(default_factory=dict)  # "<resource>:<id>:<facet>"
    outbox: list[PendingEvent] = Field(default_factory=list)
    # False: nobody asked to poll this resource; it exists because another watch observes it
    # (an artifact embedded in a watched job) and it owns that resource's chain.
    polled: bool = True
    refs: list[str] = Field(default_factory=list)  # keys of the records this watch forwards to
    failures: int = 0
    stalled: bool = False
    stalls: int = 0  # stall episodes so far (part of the stalled/recovered events' ids)
    not_found: int = 0  # consecutive 404 reads
    first_not_found_at: float | None = None
    armed_at: float = Field(default_factory=time.time)
    expires_at: float | None = None  # armed_at + max age, moved on by time spent paused
    last_seq: int = 0  # stream sequence of the last event acknowledged for this record
    interval: float = 0.0
    next_poll_at: float = 0.0
    done: bool = False
    done_reason: str | None = None
    done_at: float | None = None  # finished records are kept (the previousStatus chain) this long

    def encode(self) -> bytes:
        # Defaults left out: a replica keeps every record of its shards in memory, and a job
        # watch is half defaults (618 bytes in full, 322 without). This makes the defaults of
        # these models part of the stored format: changing one changes the meaning of records
        # already written.
        return self.model_dump_json(exclude_defaults=True).encode()

    @classmethod
    def decode(cls, raw: bytes) -> WatchRecord:
        return cls.model_validate_json(raw)

    @property
    def state(self) -> str:
        """For admin listings: active, stalled or done."""
        if self.done:
            return "done"
        return "stalled" if self.stalled else "active"


@dataclass(frozen=True)
class Observation:
    """One facet state a provider found in one `Reading`.

    `silent` observations are not events (e.g. digest NOT_STARTED, video not_rendered): they
    neither publish nor break the previousStatus chain. `token` defaults to `status`; a provider
    sets it when the change to detect is not a status change (a new version for "revised").
    `as_of` is the API's own modification time of the object, when it has one: a read older than
    the state already recorded (two watches reading one resource) is not a change.
    """

    resource: str
    id: str
    facet: str | None
    status: str
    revision: int = 1
    project_id: str | None = None
    subject_path: str = ""
    snapshot: Any = None  # the resource object as the API returned it: the event's data.snapshot
    silent: bool = False
    token: str | None = None
    # One of several things a facet follows on the same resource (a voice-modification range, a
    # sound-effect cue, a character's avatar): each has its own state chain and event ids.
    part: str | None = None
    as_of: str | None = None
    # Provider-specific fields of the event's `data` beside the common ones (Syllaby's
    # `provider`, a scene's `storyboardId`); they never change the event's identity.
    data: Mapping[str, Any] | None = None

    @property
    def state_key(self) -> str:
        key = f"{self.resource}:{self.id}:{self.facet or 'status'}"
        return f"{key}:{self.part}" if self.part is not None else key

    @property
    def change_token(self) -> str:
        return self.token if self.token is not None else self.status


@dataclass(frozen=True)
class ReadError:
    """A read that failed. `not_found`: the API answered 404 (counted; the watch ends only after
    several, spread over time). `paused`: the provider cannot be read at all right now (an
    open circuit): not a failure of this watch."""

    message: str
    not_found: bool = False
    retry_after: float | None = None
    # The provider's circuit is open: not this resource's failure; nothing counts toward a stall.
    paused: bool = False


@dataclass(frozen=True)
class Reading:
    """What a provider read for one spec: the raw object(s) `observe` splits into facet states."""

    data: Any
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sighting:
    """A resource a discovery listing showed. `reading` is the listed item as a read of it: a
    watch of that resource is served by it as by a poll; `wanted` says whether discovery starts a
    watch of it (work in flight) when none exists."""

    spec: WatchSpec
    reading: Reading
    wanted: bool


@dataclass(frozen=True)
class Listing:
    """One listing page discovery read, item by item: a page is applied as one read of every
    watch it holds (and of those it starts), so no poll of them runs while it is applied."""

    sightings: tuple[Sighting, ...]


def merge_specs(
    old: WatchSpec,
    new: WatchSpec,
    defaults: Callable[[WatchSpec], tuple[str, ...]] | None = None,
) -> WatchSpec:
    """Union of facets and parents; the original origin is kept. `None` means the provider's
    defaults: merged with an explicit list it is spelt out through `defaults(spec)` (the provider's
    optional `default_facets`), so a facet outside the defaults (a recast's `cast`, an `sfx` cue)
    is not lost to an earlier `watch.add`; without `defaults`, `None` absorbs the list."""
    facets: tuple[str, ...] | None
    parents = {**old.parents, **new.parents}
    if old.facets is None and new.facets is None:
        facets = None
    elif old.facets is None or new.facets is None:
        if defaults is None:
            facets = None
        else:
            spelt = [
                s.facets
                if s.facets is not None
                else tuple(defaults(s.model_copy(update={"parents": parents})))
                for s in (old, new)
            ]
            facets = tuple(dict.fromkeys((*spelt[0], *spelt[1])))
    else:
        facets = tuple(dict.fromkeys((*old.facets, *new.facets)))
    origin = old.origin if old.origin != "reference" else new.origin
    return old.model_copy(update={"facets": facets, "parents": parents, "origin": origin})
