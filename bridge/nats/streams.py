"""Every JetStream stream, consumer and KV bucket storybridge uses, declared in this one place.

Declaration is idempotent: create when missing, update when the config drifted. Replicas starting
at once race on creation; the loser's "already in use" is treated as success.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError
from nats.js.kv import KeyValue

log = structlog.get_logger(__name__)

COMMANDS_STREAM = "STORYBRIDGE_COMMANDS"
EVENTS_STREAM = "STORYBRIDGE_EVENTS"
DEAD_LETTERS_STREAM = "STORYBRIDGE_DEAD_LETTERS"
WATCHES_BUCKET = "STORYBRIDGE_WATCHES"
CIRCUITS_BUCKET = "STORYBRIDGE_CIRCUITS"
COMMANDS_CONSUMER = "storybridge"
QUEUE_GROUP = "storybridge"

# Commands are work: kept until acked. Events are a log: kept a week for late subscribers.
EVENTS_MAX_AGE_SECONDS = 7 * 24 * 3600.0
# Dead letters wait for a person: long enough to survive a holiday, bounded so they cannot pile up.
DEAD_LETTERS_MAX_AGE_SECONDS = 30 * 24 * 3600.0
MIN_DUPLICATE_WINDOW_SECONDS = 120.0


@dataclass(frozen=True)
class Subjects:
    """The contract's subject names for one prefix."""

    prefix: str = "story"

    @property
    def commands(self) -> str:
        return f"{self.prefix}.cmd.>"

    @property
    def requests(self) -> str:
        return f"{self.prefix}.req.>"

    @property
    def events(self) -> str:
        return f"{self.prefix}.evt.>"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}.dlq.>"

    def command(self, name: str) -> str:
        return f"{self.prefix}.cmd.{name}"

    def dead_letter(self, name: str) -> str:
        return f"{self.prefix}.dlq.{name}"

    def max_deliveries_advisory(self) -> str:
        return f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{COMMANDS_STREAM}.{COMMANDS_CONSUMER}"

    def request(self, name: str) -> str:
        return f"{self.prefix}.req.{name}"

    def event(self, suffix: str) -> str:
        return f"{self.prefix}.evt.{suffix}"

    def command_name(self, subject: str) -> str | None:
        """`story.cmd.plan.approve` -> `plan.approve`; None when the subject is not ours."""
        for kind in ("cmd", "req", "dlq"):
            head = f"{self.prefix}.{kind}."
            if subject.startswith(head):
                return subject[len(head) :]
        return None


def commands_stream_config(subjects: Subjects, *, max_msg_size: int) -> StreamConfig:
    return StreamConfig(
        name=COMMANDS_STREAM,
        description="storybridge commands: at-least-once intake for the Story API",
        subjects=[subjects.commands],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        max_msg_size=max_msg_size,
        duplicate_window=MIN_DUPLICATE_WINDOW_SECONDS,
    )


def events_stream_config(subjects: Subjects, *, duplicate_window: float) -> StreamConfig:
    return StreamConfig(
        name=EVENTS_STREAM,
        description="storybridge CloudEvents: Story API status changes and command outcomes",
        subjects=[subjects.events],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=EVENTS_MAX_AGE_SECONDS,
        duplicate_window=max(duplicate_window, MIN_DUPLICATE_WINDOW_SECONDS),
    )


def dead_letters_stream_config(subjects: Subjects) -> StreamConfig:
    return StreamConfig(
        name=DEAD_LETTERS_STREAM,
        description="storybridge dead letters: commands that could not be executed; redrive them",
        subjects=[subjects.dead_letters],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=DEAD_LETTERS_MAX_AGE_SECONDS,
        duplicate_window=MIN_DUPLICATE_WINDOW_SECONDS,
    )


def commands_consumer_config(
    *, ack_wait: float, max_deliver: int, max_ack_pending: int
) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=COMMANDS_CONSUMER,
        description="shared by every storybridge replica",
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_deliver=max_deliver,
        max_ack_pending=max_ack_pending,
    )


async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.add_stream(config)
        return
    except BadRequestError as err:
        # 10058: a stream with this name exists with another config -> update it in place.
        if err.err_code != 10058:
            raise
    await js.update_stream(config)


async def _ensure_consumer(js: JetStreamContext, stream: str, config: ConsumerConfig) -> None:
    # add_consumer on an existing durable with a compatible config is a no-op update in the server;
    # nats-py's pull_subscribe(durable=...) would silently keep the old config instead.
    await js.add_consumer(stream, config)


async def declare(
    js: JetStreamContext,
    subjects: Subjects,
    *,
    max_command_bytes: int,
    events_duplicate_window: float,
    ack_wait: float,
    max_deliver: int,
    max_ack_pending: int,
) -> KeyValue:
    """Create or update the commands stream and consumer, the events and dead-letter streams and
    the watch bucket."""
    await _ensure_stream(js, commands_stream_config(subjects, max_msg_size=-1))
    await _ensure_stream(
        js, events_stream_config(subjects, duplicate_window=events_duplicate_window)
    )
    await _ensure_stream(js, dead_letters_stream_config(subjects))
    await _ensure_consumer(
        js,
        COMMANDS_STREAM,
        commands_consumer_config(
            ack_wait=ack_wait, max_deliver=max_deliver, max_ack_pending=max_ack_pending
        ),
    )
    kv = await watches_bucket(js)
    log.info(
        "jetstream declared",
        streams=[COMMANDS_STREAM, EVENTS_STREAM, DEAD_LETTERS_STREAM],
        consumer=COMMANDS_CONSUMER,
        bucket=WATCHES_BUCKET,
        max_command_bytes=max_command_bytes,
    )
    return kv


# An open circuit is announced once for all replicas: the first to open it creates its key. The TTL
# frees the key of a circuit whose replicas all died while it was open.
CIRCUITS_TTL_SECONDS = 24 * 3600.0


async def circuits_bucket(js: JetStreamContext) -> KeyValue:
    try:
        return await js.key_value(CIRCUITS_BUCKET)
    except (NotFoundError, BadRequestError):
        return await js.create_key_value(
            KeyValueConfig(
                bucket=CIRCUITS_BUCKET,
                description="storybridge open circuits, one key per provider",
                history=1,
                ttl=CIRCUITS_TTL_SECONDS,
                storage=StorageType.FILE,
            )
        )


async def watches_bucket(js: JetStreamContext) -> KeyValue:
    try:
        return await js.key_value(WATCHES_BUCKET)
    except (NotFoundError, BadRequestError):
        return await js.create_key_value(
            KeyValueConfig(
                bucket=WATCHES_BUCKET,
                description="storybridge watch state and event outbox",
                history=1,
                storage=StorageType.FILE,
            )
        )
