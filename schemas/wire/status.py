"""`admin.status`: the fleet as NATS shows it, the answer `storybridge status --json` prints.

The shape is part of the contract (docs/CONTRACT.md, "admin.status"): fields are only ever added.
Times are ISO 8601 UTC strings, ages are seconds, every count is an integer.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.wire.commands import Command

STATUS_VERSION = 1


class AdminStatusCommand(Command):
    """The fleet: replicas and shards, watches, circuits, commands, dead letters, credits, poll
    budgets, recent event delay. Read from NATS only (no API call)."""

    command: ClassVar[str] = "admin.status"
    # How many dead letters at most are read for the per-reason counts (count, age and per
    # command are exact). One read each, in sequence: kept small, and cut short by the deadline.
    deadLetterSample: int = Field(default=100, ge=0, le=1000)


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReplicaStatus(_Doc):
    id: str
    alive: bool
    heartbeatAgeSeconds: float | None
    shards: list[int]
    reported: bool  # whether its own summary (watches, budgets, delay) is in STORYBRIDGE_STATUS


class ShardStatus(_Doc):
    total: int
    owned: int
    unowned: list[int]  # no lease, an expired lease, or a lease of a replica no longer alive


class WatchCount(_Doc):
    provider: str
    resource: str
    state: str  # active, stalled, done
    count: int


class CircuitStatus(_Doc):
    provider: str
    open: bool
    code: str | None = None
    since: str | None = None


class CommandsStatus(_Doc):
    pending: int  # not delivered yet
    ackPending: int  # delivered, not settled: running or parked
    parked: int  # unsettled and not running on any live replica: waiting for a retry
    oldestAgeSeconds: float | None  # the oldest command not settled (the stream is a work queue)
    oldestAt: str | None
    # The oldest delivered and not settled (parked, or running): an undelivered backlog is not
    # in it (that is `pending`). What StorybridgeCommandsParkedTooLong reads.
    oldestDeliveredAgeSeconds: float | None = None


class DeadLetterStatus(_Doc):
    count: int
    oldestAgeSeconds: float | None
    oldestAt: str | None
    byReason: dict[str, int]
    byCommand: dict[str, int]
    sampled: int  # dead letters read for byReason/byCommand (the oldest first)


class CreditStatus(_Doc):
    provider: str
    balance: float | None
    lowThreshold: float | None


class PollBudgetStatus(_Doc):
    provider: str
    usedPerMinute: int  # poll calls in the last minute, summed over replicas
    limitPerMinute: float  # what the poll budget allows now, summed over replicas


class EventDelayStatus(_Doc):
    windowSeconds: float
    count: int
    p50: float | None
    p95: float | None
    max: float | None
    # The replica that answered computes exact quantiles of its own window; the fleet's are merged
    # from every replica's bucket counts (interpolated like histogram_quantile).
    fleetP50: float | None
    fleetP95: float | None
    fleetCount: int


class FleetStatus(_Doc):
    version: int = STATUS_VERSION
    generatedAt: str
    answeredBy: str
    prefix: str
    replicas: list[ReplicaStatus]
    shards: ShardStatus
    watches: list[WatchCount]
    # null when its source could not be read in time (the reason is in `errors`): a failed read
    # never shows as "no circuit open" or "nothing parked".
    circuits: list[CircuitStatus] | None
    commands: CommandsStatus | None
    deadLetters: DeadLetterStatus | None
    credits: list[CreditStatus]
    pollBudget: list[PollBudgetStatus]
    eventDelay: EventDelayStatus
    # Section -> what failed (summary, replicas, commands, deadLetters, circuits); empty when the
    # whole document was read. `replicas` failing leaves watches, credits and budgets empty.
    errors: dict[str, str] = Field(default_factory=dict)
