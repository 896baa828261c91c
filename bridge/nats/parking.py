"""STORYBRIDGE_PARKED: durable commands waiting for their next attempt, outside the commands
consumer's ack-pending window.

A message nak'ed with a delay still counts against `max_ack_pending`, one number for the whole
consumer (every replica): enough retrying or held commands stop every delivery. So a command that
has to wait is *parked*: its bytes and headers are re-published to `{p}.parked.<resource>.<action>`
(a work-queue stream with its own consumer, `storybridge-parked`, whose ack-pending has no limit
because nothing else waits on it), and only after the PubAck is the original acked. At-least-once:
a crash between the two steps redelivers the original, which parks again under the same
`Nats-Msg-Id` (deduplicated within the window; beyond it the copy replays under its
Idempotency-Key or ledger entry).

What the command's life needs is carried in `Storybridge-*` headers, so the parked copy keeps the
original's identity: its arrival time (the deadline counts from it), stream sequence and stream
creation time (the fallback commandId), the original `Nats-Msg-Id` (a commandId may come from it),
the attempts made so far, when it is due, and why it waits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.aio.msg import Msg
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from bridge import plugins
from bridge.names import PARKED_STREAM, Subjects
from bridge.nats.deadletters import ORIGINAL_MSG_ID_HEADER, SEQUENCE_HEADER, Grave

STORED_AT_HEADER = "Storybridge-Stored-At"
STREAM_CREATED_HEADER = "Storybridge-Stream-Created"
ATTEMPTS_HEADER = "Storybridge-Attempts"
NOT_BEFORE_HEADER = "Storybridge-Not-Before"
REASON_HEADER = "Storybridge-Parked-Reason"

# Why a command waits (the `reason` label of the parked metrics).
RETRYING = "retrying"  # its last attempt failed retryably; due on the retry schedule
CIRCUIT_OPEN = "circuit_open"  # its provider's circuit is open; due just after the next probe


@dataclass(frozen=True)
class Parked:
    """A delivered command, fresh or parked, as the intake handles it."""

    grave: Grave  # the command as it first sat in STORYBRIDGE_COMMANDS
    attempts: int  # API attempts made before this delivery
    not_before: float  # epoch seconds; 0 for a fresh command
    reason: str | None  # why it was parked (None: fresh)

    @property
    def headers(self) -> Mapping[str, str] | None:
        return self.grave.headers


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def fresh(msg: Msg, stream_created: datetime) -> Parked:
    meta = msg.metadata
    grave = Grave(
        subject=msg.subject,
        data=msg.data,
        headers=msg.headers,
        stream_seq=meta.sequence.stream,
        stored_at=meta.timestamp,
        deliveries=meta.num_delivered,
        stream_created=stream_created,
    )
    return Parked(grave=grave, attempts=0, not_before=0.0, reason=None)


def unparked(msg: Msg, subjects: Subjects) -> Parked:
    """The command a parked message carries, with its original subject and headers restored."""
    carried = dict(msg.headers or {})
    name = subjects.command_name(msg.subject.replace(".parked.", ".cmd.", 1)) or "unknown"
    original_id = carried.pop(ORIGINAL_MSG_ID_HEADER, None)
    headers = {k: v for k, v in carried.items() if not k.startswith(("Storybridge-", "Nats-"))}
    if original_id:
        headers["Nats-Msg-Id"] = original_id
    attempts = int(carried.get(ATTEMPTS_HEADER) or 0)
    not_before = float(carried.get(NOT_BEFORE_HEADER) or 0.0)
    stored_at = datetime.fromisoformat(carried[STORED_AT_HEADER])
    created = datetime.fromisoformat(carried[STREAM_CREATED_HEADER])
    if not math.isfinite(not_before) or stored_at.tzinfo is None or created.tzinfo is None:
        # Not what a bridge writes: it could never be compared or delayed, only loop.
        raise ValueError("parked headers out of shape")
    grave = Grave(
        subject=subjects.command(name),
        data=msg.data,
        headers=headers or None,
        stream_seq=int(carried.get(SEQUENCE_HEADER) or 0),
        stored_at=stored_at,
        deliveries=attempts,
        stream_created=created,
    )
    return Parked(
        grave=grave,
        attempts=attempts,
        not_before=not_before,
        reason=carried.get(REASON_HEADER),
    )


def source_of(msg: Msg, subjects: Subjects) -> str:
    """Which message a parked copy is made from: the original (`c`) or a parked copy (`p<seq>`).
    The copy's Nats-Msg-Id names it, so parking the same message again (a crash or a stop between
    the PubAck and the ack, a redelivery) dedups instead of starting a second lineage."""
    if msg.subject.startswith(f"{subjects.prefix}.parked."):
        return f"p{msg.metadata.sequence.stream}"
    return "c"


async def park(
    js: JetStreamContext,
    subjects: Subjects,
    command: Parked,
    *,
    attempts: int,
    not_before: float,
    reason: str,
    source: str,
) -> None:
    """Publish the parked copy and wait for its PubAck (the caller acks the original after)."""
    grave = command.grave
    name = subjects.command_name(grave.subject) or "unknown"
    headers = {
        k: v
        for k, v in (grave.headers or {}).items()
        if k != "Nats-Msg-Id" and not k.startswith("Nats-Expected")
    }
    original_id = (grave.headers or {}).get("Nats-Msg-Id")
    if original_id:
        headers[ORIGINAL_MSG_ID_HEADER] = original_id
    headers.update(
        {
            STORED_AT_HEADER: _iso(grave.stored_at),
            STREAM_CREATED_HEADER: _iso(grave.stream_created),
            SEQUENCE_HEADER: str(grave.stream_seq),
            ATTEMPTS_HEADER: str(attempts),
            NOT_BEFORE_HEADER: f"{not_before:.3f}",
            REASON_HEADER: reason,
            # One copy per message parked (see `source_of`): a re-park after a lost ack dedups.
            "Nats-Msg-Id": f"park-{grave.fallback_id}-{source}",
        }
    )
    await js.publish(subjects.parked(name), grave.data, headers=headers, stream=PARKED_STREAM)


# The oldest parked command is looked for among the first this many (a re-parked command moves
# to the tail, so the head is not always the oldest arrival; a bounded look keeps it cheap).
OLDEST_SCAN = 100


async def parked_counts(
    js: JetStreamContext, subjects: Subjects, provider_of: Callable[[str | None], str]
) -> tuple[dict[str, int], float]:
    """Parked commands by provider (every installed one, 0 when none waits: the gauge reads 0,
    not absent), and the age of the oldest (since its arrival) near the head."""
    info = await js.stream_info(PARKED_STREAM, subjects_filter=subjects.parked_all)
    counts: dict[str, int] = dict.fromkeys(plugins.providers(), 0)
    for subject, n in (info.state.subjects or {}).items():
        name = subjects.command_name(subject.replace(".parked.", ".cmd.", 1))
        provider = provider_of(name)
        counts[provider] = counts.get(provider, 0) + n
    oldest = 0.0
    seq = info.state.first_seq
    now = datetime.now(UTC)
    for _ in range(min(OLDEST_SCAN, info.state.messages)):
        try:
            stored = await js.get_msg(
                PARKED_STREAM, seq=seq, subject=subjects.parked_all, next=True
            )
        except NotFoundError:
            break
        stored_at = (stored.headers or {}).get(STORED_AT_HEADER)
        if stored_at:
            oldest = max(oldest, (now - datetime.fromisoformat(stored_at)).total_seconds())
        seq = (stored.seq or seq) + 1
    return counts, oldest
