"""Every JetStream stream, consumer and KV bucket storybridge uses, declared in this one place.

Declaration is idempotent: create when missing, update when the config drifted. Replicas starting
at once race on creation; the loser's "already in use" is treated as success.

Every stream and bucket goes through `_ensure_stream` / `watches_bucket` with the replica count
(`STORYBRIDGE_STREAM_REPLICAS`), so a stream added here later is replicated like the others, and a
changed count is applied in place (JetStream scales a stream's replicas up or down on update).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from dataclasses import replace

import nats.errors
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
from nats.js.errors import APIError, BadRequestError, NotFoundError
from nats.js.kv import KeyValue

from bridge.names import (
    CIRCUITS_BUCKET,
    COMMANDS_CONSUMER,
    COMMANDS_STREAM,
    DEAD_LETTERS_STREAM,
    EVENTS_STREAM,
    LEDGER_BUCKET,
    PARKED_CONSUMER,
    PARKED_STREAM,
    STATUS_BUCKET,
    WATCHES_BUCKET,
    Subjects,
)

log = structlog.get_logger(__name__)

# Commands are work: kept until acked. Events are a log: kept a week for late subscribers.
EVENTS_MAX_AGE_SECONDS = 7 * 24 * 3600.0
# Dead letters wait for a person: long enough to survive a holiday, bounded so they cannot pile up.
DEAD_LETTERS_MAX_AGE_SECONDS = 30 * 24 * 3600.0
MIN_DUPLICATE_WINDOW_SECONDS = 120.0
# Slack for the steps between a command's last ledger write and its burial (its last retry delay,
# ack waits, the dead-letter sweep), all far below a day.
LEDGER_MARGIN_SECONDS = 24 * 3600.0


def ledger_ttl_seconds(deadline_seconds: float) -> float:
    """How long a ledger entry is kept after its last write: a redriven command must still find it.
    Its last write can come as early as the command's arrival; the command is buried up to its
    deadline later and can be redriven for as long as dead letters are kept after that."""
    return DEAD_LETTERS_MAX_AGE_SECONDS + deadline_seconds + LEDGER_MARGIN_SECONDS


# With the default deadline (STORYBRIDGE_COMMAND_DEADLINE_SECONDS, 86400): 32 days.
LEDGER_TTL_SECONDS = ledger_ttl_seconds(86400.0)


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


def parked_stream_config(subjects: Subjects) -> StreamConfig:
    return StreamConfig(
        name=PARKED_STREAM,
        description="storybridge parked commands: waiting for their next attempt",
        subjects=[subjects.parked_all],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        duplicate_window=MIN_DUPLICATE_WINDOW_SECONDS,
    )


def parked_consumer_config(*, ack_wait: float) -> ConsumerConfig:
    """No ack-pending limit: parked commands wait here (nak'ed until due) and nothing else does,
    so their number cannot stop anyone; the intake bounds its own work in progress. No
    max_deliver either: a held command is redelivered without an attempt, and what ends a parked
    command is its deadline (the intake's)."""
    return ConsumerConfig(
        durable_name=PARKED_CONSUMER,
        description="shared by every storybridge replica: parked commands",
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_deliver=-1,
        max_ack_pending=-1,
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


PLACEMENT_TIMEOUT = 30.0  # seconds a re-scaled stream may take to elect its new leader

# JetStream's error codes for "more replicas than this deployment has servers".
_REPLICAS_UNSUPPORTED = {10074, 10005}


class ReplicasUnavailable(RuntimeError):
    """The stream replica count cannot be met by this NATS deployment."""


async def _ensure_stream(js: JetStreamContext, config: StreamConfig, *, replicas: int) -> None:
    config = replace(config, num_replicas=replicas)
    try:
        try:
            await js.add_stream(config)
            return
        except BadRequestError as err:
            # 10058: a stream with this name exists with another config -> update it in place.
            if err.err_code != 10058:
                raise
        await js.update_stream(config)
        if replicas > 1:
            await _placed(js, config.name or "", replicas)
    except APIError as err:
        if err.err_code in _REPLICAS_UNSUPPORTED or "replicas" in (err.description or ""):
            raise ReplicasUnavailable(
                f"stream {config.name}: {replicas} replicas cannot be placed "
                f"({err.description}); STORYBRIDGE_STREAM_REPLICAS needs at least that many "
                "JetStream servers in the cluster (1 for a single server)"
            ) from None
        raise


async def _placed(js: JetStreamContext, stream: str, replicas: int) -> None:
    """Wait (bounded) until an updated stream has a leader and every replica caught up.

    Re-scaling forms a new raft group: writes made before it has a leader time out, and the
    watch engine writes its leases right after declaration.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PLACEMENT_TIMEOUT
    while loop.time() < deadline:
        with contextlib.suppress(APIError, TimeoutError, nats.errors.TimeoutError):
            cluster = (await js.stream_info(stream)).cluster
            peers = (cluster.replicas or []) if cluster is not None else []
            if (
                cluster is not None
                and cluster.leader
                and len(peers) == replicas - 1
                and all(peer.current for peer in peers)
            ):
                return
        await asyncio.sleep(0.2)
    log.warning("stream replicas not settled yet", stream=stream, replicas=replicas)


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
    replicas: int = 1,
) -> KeyValue:
    """Create or update the commands stream and consumer, the events and dead-letter streams and
    the watch bucket, each with `replicas` replicas."""
    await _ensure_stream(js, commands_stream_config(subjects, max_msg_size=-1), replicas=replicas)
    await _ensure_stream(
        js,
        events_stream_config(subjects, duplicate_window=events_duplicate_window),
        replicas=replicas,
    )
    await _ensure_stream(js, dead_letters_stream_config(subjects), replicas=replicas)
    await _ensure_stream(js, parked_stream_config(subjects), replicas=replicas)
    await _ensure_consumer(js, PARKED_STREAM, parked_consumer_config(ack_wait=ack_wait))
    await _ensure_consumer(
        js,
        COMMANDS_STREAM,
        commands_consumer_config(
            ack_wait=ack_wait, max_deliver=max_deliver, max_ack_pending=max_ack_pending
        ),
    )
    kv = await watches_bucket(js, replicas=replicas)
    log.info(
        "jetstream declared",
        streams=[COMMANDS_STREAM, EVENTS_STREAM, DEAD_LETTERS_STREAM, PARKED_STREAM],
        replicas=replicas,
        consumer=COMMANDS_CONSUMER,
        bucket=WATCHES_BUCKET,
        max_command_bytes=max_command_bytes,
    )
    return kv


async def declare_standalone(
    js: JetStreamContext, subjects: Subjects, *, replicas: int = 1
) -> KeyValue:
    """`declare` on fixed modest settings, for a process that runs no bridge but needs its streams
    and watch bucket (the watch bench, test harnesses); a bridge started on them later declares
    again with its own settings."""
    return await declare(
        js,
        subjects,
        max_command_bytes=1 << 20,
        events_duplicate_window=120,
        ack_wait=30,
        max_deliver=5,
        max_ack_pending=64,
        replicas=replicas,
    )


# An open circuit is announced once for all replicas: the first to open it creates its key. The TTL
# frees the key of a circuit whose replicas all died while it was open.
CIRCUITS_TTL_SECONDS = 24 * 3600.0
# While a circuit stays open its key is rewritten this often, so it outlives any circuit.
CIRCUITS_HEARTBEAT_SECONDS = CIRCUITS_TTL_SECONDS / 4


async def watches_bucket(js: JetStreamContext, *, replicas: int = 1) -> KeyValue:
    return await _ensure_bucket(
        js,
        KeyValueConfig(
            bucket=WATCHES_BUCKET,
            description="storybridge watch state and event outbox",
            history=1,
            storage=StorageType.FILE,
        ),
        replicas=replicas,
    )


async def circuits_bucket(js: JetStreamContext, *, replicas: int = 1) -> KeyValue:
    return await _ensure_bucket(
        js,
        KeyValueConfig(
            bucket=CIRCUITS_BUCKET,
            description="storybridge open circuits, one key per provider",
            history=1,
            ttl=CIRCUITS_TTL_SECONDS,
            storage=StorageType.FILE,
        ),
        replicas=replicas,
    )


# Each replica's own summary for admin.status (bridge/nats/fleet_report.py), rewritten every few
# seconds: a replica that died leaves nothing stale behind for longer than this.
STATUS_TTL_SECONDS = 60.0


async def status_bucket(js: JetStreamContext, *, replicas: int = 1) -> KeyValue:
    return await _ensure_bucket(
        js,
        KeyValueConfig(
            bucket=STATUS_BUCKET,
            description="storybridge replica summaries for admin.status, one key per replica",
            history=1,
            ttl=STATUS_TTL_SECONDS,
            storage=StorageType.MEMORY,
        ),
        replicas=replicas,
    )


async def ledger_bucket(
    js: JetStreamContext, *, replicas: int = 1, deadline: float = 86400.0
) -> KeyValue:
    """The command ledger of providers without Idempotency-Keys (bridge/ledger), its entries kept
    `ledger_ttl_seconds(deadline)` (applied in place to a bucket declared with another)."""
    return await _ensure_bucket(
        js,
        KeyValueConfig(
            bucket=LEDGER_BUCKET,
            description="storybridge command ledger: one claim per commandId of a provider "
            "without Idempotency-Keys, and the body fingerprint of every other commandId",
            history=1,
            ttl=ledger_ttl_seconds(deadline),
            storage=StorageType.FILE,
        ),
        replicas=replicas,
    )


async def _ensure_bucket(
    js: JetStreamContext, config: KeyValueConfig, *, replicas: int
) -> KeyValue:
    """The bucket, created with `replicas`, or re-scaled in place when it exists with another count."""
    try:
        kv = await js.key_value(config.bucket)
    except (NotFoundError, BadRequestError):
        try:
            return await js.create_key_value(dataclasses.replace(config, replicas=replicas))
        except BadRequestError as err:
            if err.err_code != 10058:  # another replica created it first
                raise
            kv = await js.key_value(config.bucket)
    # A bucket is a stream underneath (KV_<bucket>): its replica count is changed the same way.
    info = await js.stream_info(f"KV_{config.bucket}")
    stream = info.config
    if config.ttl and stream.max_age != config.ttl:
        # A retention derived from settings (the ledger's) follows them on an existing bucket.
        stream = replace(stream, max_age=config.ttl)
    if stream.num_replicas != replicas or stream is not info.config:
        await _ensure_stream(js, stream, replicas=replicas)
    return kv
