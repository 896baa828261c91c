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

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from bridge.commands import BRIDGE_ERROR, COMMAND_ID_RE, parse_payload, resolve_command_id
from bridge.nats.outcomes import OutcomePublisher
from bridge.nats.streams import COMMANDS_STREAM, DEAD_LETTERS_STREAM, QUEUE_GROUP, Subjects
from schemas.outcome import Outcome, OutcomeError

log = structlog.get_logger(__name__)

REASON_HEADER = "Storybridge-Dead-Reason"
COMMAND_ID_HEADER = "Storybridge-Command-Id"
DELIVERIES_HEADER = "Storybridge-Deliveries"
SEQUENCE_HEADER = "Storybridge-Stream-Sequence"
ORIGINAL_MSG_ID_HEADER = "Storybridge-Original-Msg-Id"

DEADLINE = "deadline"
MAX_DELIVERIES = "max_deliveries"
UNPROCESSABLE = "unprocessable"


def fallback_command_id(stream_seq: int, stored_at: datetime) -> str:
    """The commandId of a durable command that names none: stable across its redeliveries, unique
    across stream lifetimes (a recreated stream starts its sequence again; its clock does not)."""
    return f"{COMMANDS_STREAM}-{int(stored_at.timestamp())}-{stream_seq}"


@dataclass(frozen=True)
class Grave:
    """One durable command being buried: the message as it sat in STORYBRIDGE_COMMANDS."""

    subject: str
    data: bytes
    headers: Mapping[str, str] | None
    stream_seq: int
    stored_at: datetime
    deliveries: int


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
    ) -> None:
        self.nc = nc
        self.js = js
        self.subjects = subjects
        self.outcomes = outcomes
        self._sub: Subscription | None = None

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
        occurrence = f"{int(grave.stored_at.timestamp())}-{grave.stream_seq}"
        headers.update(
            {
                REASON_HEADER: reason,
                COMMAND_ID_HEADER: outcome.commandId,
                DELIVERIES_HEADER: str(grave.deliveries),
                SEQUENCE_HEADER: str(grave.stream_seq),
                # Buried twice (a crash between the steps below): the second copy dedups.
                "Nats-Msg-Id": f"dlq-{occurrence}-{grave.deliveries}",
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

    async def stop(self) -> None:
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
        try:
            stored = await self.js.get_msg(COMMANDS_STREAM, seq)
        except NotFoundError:
            return  # acked or buried meanwhile
        except Exception as err:
            log.warning("max-deliveries advisory: message not read", sequence=seq, error=repr(err))
            return
        stored_at = stored.time or datetime.now(UTC)
        grave = Grave(
            subject=stored.subject or self.subjects.command("unknown"),
            data=stored.data or b"",
            headers=stored.headers,
            stream_seq=seq,
            stored_at=stored_at,
            deliveries=deliveries,
        )
        outcome = exhausted_outcome(grave, self.subjects)
        try:
            await self.bury(grave, reason=MAX_DELIVERIES, outcome=outcome)
            await self.js.delete_msg(COMMANDS_STREAM, seq)
        except Exception as err:
            log.error("exhausted command not dead-lettered", sequence=seq, error=repr(err))

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
    fallback = fallback_command_id(grave.stream_seq, grave.stored_at)
    command_id = resolve_command_id(payload, grave.headers, fallback)
    error = OutcomeError(
        code=BRIDGE_ERROR,
        message=f"no outcome after {grave.deliveries} deliveries; dead-lettered",
        retryable=False,
    )
    name = subjects.command_name(grave.subject) or "unknown"
    return Outcome.failure(command_id=command_id, command=name, error=error)
