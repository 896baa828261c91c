"""STORYBRIDGE_DEAD_LETTERS: where a durable command goes when the bridge gives up on it, and back.

A command is buried when it passes its deadline while still retryable, reaches the consumer's last
delivery, or cannot be processed at all. Burying is: publish the original payload and headers to
`{p}.dlq.<resource>.<action>` (with `Storybridge-*` headers saying why), publish
`{p}.evt.command.dead_lettered`, and only then remove the message from STORYBRIDGE_COMMANDS, so
nothing leaves the commands stream without a trace. The original `Nats-Msg-Id` travels as
`Storybridge-Original-Msg-Id`: kept as the dead letter's own id it would let the dead-letter stream's
duplicate window swallow the same command buried twice.

Deliveries the bridge never saw end (a crash loop, a replica killed on the last delivery) are
announced by the server's MAX_DELIVERIES advisory; `listen()` buries those from the stream by
sequence. `redrive()` puts dead letters back on `{p}.cmd.<resource>.<action>` with their original
commandId, so whatever already took effect at the API replays instead of running twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from bridge.command_ids import COMMAND_ID_RE, resolve_command_id
from bridge.failures import BRIDGE_ERROR
from bridge.names import (
    COMMANDS_CONSUMER,
    COMMANDS_STREAM,
    DEAD_LETTERS_STREAM,
    QUEUE_GROUP,
    Subjects,
)
from bridge.nats.outcomes import OutcomePublisher
from bridge.payload import parse_payload
from schemas.wire.outcome import Outcome, OutcomeError

log = structlog.get_logger(__name__)

REASON_HEADER = "Storybridge-Dead-Reason"
COMMAND_ID_HEADER = "Storybridge-Command-Id"
DELIVERIES_HEADER = "Storybridge-Deliveries"
SEQUENCE_HEADER = "Storybridge-Stream-Sequence"
ORIGINAL_MSG_ID_HEADER = "Storybridge-Original-Msg-Id"

DEADLINE = "deadline"
MAX_DELIVERIES = "max_deliveries"
UNPROCESSABLE = "unprocessable"

ADVISORY_ATTEMPTS = 6
SWEEP_SECONDS = 60.0
SWEEP_BATCH = 1000


def fallback_command_id(stream_seq: int, stream_created: datetime) -> str:
    """The commandId of a durable command that names none: stable across its redeliveries, unique
    across stream lifetimes (a re-created stream starts its sequence again, under a new creation
    time). Both inputs come from the server exactly (no clock arithmetic), so the intake and the
    advisory path compute the same id."""
    return f"{COMMANDS_STREAM}-{stream_created.strftime('%Y%m%dT%H%M%S%f')}-{stream_seq}"


async def stream_created(js: JetStreamContext) -> datetime:
    info = await js.stream_info(COMMANDS_STREAM)
    return info.created or datetime.fromtimestamp(0, UTC)


@dataclass(frozen=True)
class Grave:
    """One durable command being buried: the message as it sat in STORYBRIDGE_COMMANDS."""

    subject: str
    data: bytes
    headers: Mapping[str, str] | None
    stream_seq: int
    stored_at: datetime
    deliveries: int
    stream_created: datetime

    @property
    def fallback_id(self) -> str:
        return fallback_command_id(self.stream_seq, self.stream_created)


@dataclass
class RedriveReport:
    """What `redrive` did (or, with dry_run, would do)."""

    matched: int = 0
    redriven: int = 0
    dry_run: bool = False
    commands: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "redriven": self.redriven,
            "dryRun": self.dry_run,
            "commands": dict(sorted(self.commands.items())),
        }


class DeadLetters:
    """Buries commands, listens for the server's exhausted deliveries, redrives."""

    def __init__(
        self,
        nc: NatsClient,
        js: JetStreamContext,
        subjects: Subjects,
        outcomes: OutcomePublisher,
        *,
        abandoned_after: float | None = None,
    ) -> None:
        self.abandoned_after = abandoned_after
        self.nc = nc
        self.js = js
        self.subjects = subjects
        self.outcomes = outcomes
        self._sub: Subscription | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def bury(self, grave: Grave, *, reason: str, outcome: Outcome) -> None:
        """Dead-letter one command; raise if any step failed (the caller keeps the message)."""
        name = self.subjects.command_name(grave.subject) or "unknown"
        headers = {
            k: v
            for k, v in (grave.headers or {}).items()
            if k != "Nats-Msg-Id" and not k.startswith("Nats-Expected")
        }
        original_id = (grave.headers or {}).get("Nats-Msg-Id")
        if original_id:
            headers[ORIGINAL_MSG_ID_HEADER] = original_id
        occurrence = grave.fallback_id
        headers.update(
            {
                REASON_HEADER: reason,
                COMMAND_ID_HEADER: outcome.commandId,
                DELIVERIES_HEADER: str(grave.deliveries),
                SEQUENCE_HEADER: str(grave.stream_seq),
                # Buried twice (a crash or a failed ack between the steps): the copy dedups.
                "Nats-Msg-Id": f"dlq-{occurrence}",
            }
        )
        ack = await self.js.publish(
            self.subjects.dead_letter(name), grave.data, headers=headers, stream=DEAD_LETTERS_STREAM
        )
        await self.outcomes.publish(
            outcome,
            token=f"dlq-{occurrence}",
            event="dead_lettered",
            extra={"reason": reason, "deliveries": grave.deliveries, "deadLetterSequence": ack.seq},
        )
        log.warning(
            "command dead-lettered",
            command=name,
            commandId=outcome.commandId,
            reason=reason,
            deliveries=grave.deliveries,
            sequence=grave.stream_seq,
        )

    # --- the server's MAX_DELIVERIES advisories ----------------------------------------------

    async def listen(self) -> None:
        """Bury what the consumer gave up on; one replica handles each advisory (queue group)."""
        self._sub = await self.nc.subscribe(
            self.subjects.max_deliveries_advisory(), queue=QUEUE_GROUP, cb=self._on_advisory
        )
        self._sweeper = asyncio.create_task(self._sweep_loop(), name="storybridge-dlq-sweep")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _on_advisory(self, msg: Msg) -> None:
        try:
            advisory = json.loads(msg.data)
            seq = int(advisory["stream_seq"])
            deliveries = int(advisory.get("deliveries") or 0)
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable max-deliveries advisory", data=msg.data[:200])
            return
        # The advisory comes once: try for a while; the sweep catches what this misses.
        for attempt in range(ADVISORY_ATTEMPTS):
            try:
                await self.bury_exhausted(seq, deliveries)
                return
            except Exception as err:
                log.warning(
                    "exhausted command not dead-lettered yet", sequence=seq, error=repr(err)
                )
                await asyncio.sleep(min(2.0**attempt, 10.0))

    async def bury_exhausted(
        self, seq: int, deliveries: int, *, created: datetime | None = None
    ) -> bool:
        """Bury the command at `seq` that the consumer will not deliver again; False if gone.
        `created`: the commands stream's creation time, when the caller has already read it."""
        try:
            stored = await self.js.get_msg(COMMANDS_STREAM, seq)
        except NotFoundError:
            return False  # acked or buried meanwhile
        grave = Grave(
            subject=stored.subject or self.subjects.command("unknown"),
            data=stored.data or b"",
            headers=stored.headers,
            stream_seq=seq,
            stored_at=stored.time or datetime.now(UTC),
            deliveries=deliveries,
            stream_created=created or await stream_created(self.js),
        )
        await self.bury(
            grave, reason=MAX_DELIVERIES, outcome=exhausted_outcome(grave, self.subjects)
        )
        with contextlib.suppress(NotFoundError):
            await self.js.delete_msg(COMMANDS_STREAM, seq)
        return True

    async def sweep(self) -> int:
        """Bury commands the consumer gave up on whose advisory was missed (no replica listening,
        a failure while burying). A live command is settled by its deadline at the latest, so one
        still stored `abandoned_after` seconds after it arrived can only be an abandoned one; the
        stream is in arrival order, so the sweep stops at the first younger message."""
        if self.abandoned_after is None:
            return 0
        info = await self.js.stream_info(COMMANDS_STREAM)
        if not info.state.messages:
            return 0
        consumer = await self.js.consumer_info(COMMANDS_STREAM, COMMANDS_CONSUMER)
        cutoff = datetime.now(UTC) - timedelta(seconds=self.abandoned_after)
        buried = 0
        for seq in range(info.state.first_seq, info.state.first_seq + SWEEP_BATCH):
            try:
                stored = await self.js.get_msg(COMMANDS_STREAM, seq)
            except NotFoundError:
                if seq > info.state.last_seq:
                    break
                continue
            if stored.time is None or stored.time > cutoff:
                break
            deliveries = consumer.config.max_deliver or 0
            if await self.bury_exhausted(seq, deliveries, created=info.created):
                buried += 1
        if buried:
            log.warning("swept abandoned commands into dead letters", count=buried)
        return buried

    async def _sweep_loop(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as err:
                log.warning("dead-letter sweep failed", error=repr(err))
            await asyncio.sleep(SWEEP_SECONDS)

    # --- redrive -----------------------------------------------------------------------------

    async def redrive(
        self,
        *,
        command: str | None = None,
        since: datetime | None = None,
        dry_run: bool = False,
    ) -> RedriveReport:
        """Put matching dead letters back on their command subjects, oldest first."""
        report = RedriveReport(dry_run=dry_run)
        info = await self.js.stream_info(DEAD_LETTERS_STREAM)
        first, last = info.state.first_seq, info.state.last_seq
        if not info.state.messages:
            return report
        for seq in range(first, last + 1):
            try:
                stored = await self.js.get_msg(DEAD_LETTERS_STREAM, seq)
            except NotFoundError:
                continue
            name = self.subjects.command_name(stored.subject or "")
            if name is None or (command is not None and name != command):
                continue
            if since is not None and stored.time is not None and stored.time < since:
                continue
            report.matched += 1
            report.commands[name] = report.commands.get(name, 0) + 1
            if dry_run:
                continue
            data, headers = revived(stored.data or b"", stored.headers or {})
            headers["Nats-Msg-Id"] = f"redrive-{seq}"  # a redrive retried at once dedups
            await self.js.publish(self.subjects.command(name), data, headers=headers)
            with contextlib.suppress(
                NotFoundError
            ):  # a concurrent redrive took it: same id, dedups
                await self.js.delete_msg(DEAD_LETTERS_STREAM, seq)
            report.redriven += 1
        log.info("redrive", **report.to_dict())
        return report


def revived(data: bytes, headers: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
    """The command as first sent, carrying its original commandId in the body when it had to be
    resolved from a header or a fallback (the stream's dedup would hide a reused Nats-Msg-Id)."""
    command_id = headers.get(COMMAND_ID_HEADER)
    # JetStream's own publish headers (Nats-Msg-Id, Nats-Expected-Stream, ...) belong to the
    # dead-letter publish, not to the command.
    kept = {k: v for k, v in headers.items() if not k.startswith(("Storybridge-", "Nats-"))}
    if not command_id or not COMMAND_ID_RE.match(command_id):
        return data, kept
    try:
        payload = parse_payload(data)
    except ValueError:
        return data, kept
    if isinstance(payload, dict) and payload.get("commandId") != command_id:
        payload["commandId"] = command_id
        data = json.dumps(payload, separators=(",", ":")).encode()
    return data, kept


def exhausted_outcome(grave: Grave, subjects: Subjects) -> Outcome:
    """The outcome of a command whose every delivery ended without one (crashes, lost acks)."""
    try:
        payload: Any = parse_payload(grave.data)
    except ValueError:
        payload = None
    command_id = resolve_command_id(payload, grave.headers, grave.fallback_id)
    error = OutcomeError(
        code=BRIDGE_ERROR,
        message=f"no outcome after {grave.deliveries} deliveries; dead-lettered",
        retryable=False,
    )
    name = subjects.command_name(grave.subject) or "unknown"
    return Outcome.failure(command_id=command_id, command=name, error=error)
