"""Command execution shared by both intake paths: bytes in, one outcome out, at most one API effect.

The durable path and request/reply both call `CommandExecutor.execute`; only acking differs. Nothing a
command carries can crash the executor: every failure becomes an outcome with a stable code.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import structlog
from pydantic import ValidationError

from bridge import plugins
from bridge.command_ids import (
    best_command_id,
    idempotency_key,
    resolve_command_id,
)
from bridge.failures import (
    bridge_error,
    failure_of,
    invalid,
    mismatch,
    our_conflict,
    still_processing,
)
from bridge.http.errors import UpstreamError
from bridge.http.transport import ApiResponse, before_sending, recording_responses
from bridge.ledger import (
    CommandLedger,
    LedgerClaim,
    LedgerEntry,
    LedgerUnavailable,
    Reconciler,
    fingerprint,
)
from bridge.ops.tracing import Tracing, annotate_command, current_trace
from bridge.payload import PayloadRejected, parse_payload, unreadable_header
from bridge.watch_starts import RecordingWatches
from handlers import HANDLERS
from handlers.base import (
    CommandContext,
    CommandReply,
    DeadLetterOps,
    Watches,
    WatchStartFailed,
    idempotency,
)
from schemas.catalog import COMMAND_MODELS, COMMAND_ROUTES
from schemas.wire.commands import Command, WatchCommand
from schemas.wire.extra_fields import (
    DEFAULT_EXTRA_FIELDS,
    ExtraFields,
    UnknownField,
    allowing_extra,
    check_unknown,
)
from schemas.wire.outcome import Outcome

log = structlog.get_logger(__name__)

DEFAULT_MAX_OUTCOME_BYTES = 256 * 1024


def _last_raw(answered: list[ApiResponse[Any]]) -> Any:
    """What the API last said yes with, for an outcome that failed after it."""
    return answered[-1].raw if answered else None


@dataclass(frozen=True)
class Execution:
    """One execution of one command: its outcome, and what the log line and metrics need."""

    outcome: Outcome
    duration: float
    route: str | None = None
    # W3C headers of the command's span (tracing on only): the outcome event carries them.
    trace: dict[str, str] | None = None


def validate_command(model: type[Command], payload: dict[str, Any], policy: ExtraFields) -> Command:
    """The command model of `payload` under the unknown-fields policy (schemas.wire.extra_fields)."""
    passing = check_unknown(model, payload, policy, has_body=model.body_model is not None)
    return (allowing_extra(model) if passing else model).model_validate(payload)


def _field_of(err: ValidationError) -> str:
    """The field's path, without pydantic's union-member tags (`id.constrained-str` -> `id`)."""
    parts = [str(part) for part in err.errors()[0]["loc"]]
    return ".".join(p for p in parts if p not in _TAGS and "[" not in p) or "payload"


_TAGS = frozenset({"str", "int", "float", "bool", "none", "constrained-str", "constrained-int"})


@dataclass(frozen=True)
class _Run:
    """One handler call: its outcome, and what the ledger needs to settle it."""

    outcome: Outcome
    request_id: str | None
    error: BaseException | None
    answered: list[ApiResponse[Any]]


def _fingerprint_data(cmd: Command) -> Any:
    describe = getattr(cmd, "fingerprint_data", None)
    if callable(describe):
        return describe()
    # exclude_unset, as the body is sent: an explicit null is another request than no field.
    fields = cmd.model_dump(mode="json", exclude={"commandId"}, exclude_unset=True)
    return {"command": cmd.command, **fields}


def provider_of(name: str, cmd: Command) -> str | None:
    """The provider a command is for: the one whose command table holds it, or the one a watch
    command names; None for the core's admin commands."""
    owner = plugins.owner(name)
    if owner is None and isinstance(cmd, WatchCommand):
        return cmd.provider
    return owner


def _off(provider: str) -> str:
    found = plugins.provider(provider)
    return f"the {provider} provider is off: {found.enable_hint if found else 'configure it'}"


class CommandExecutor:
    """Parses, validates and runs one command against its provider's API."""

    def __init__(
        self,
        clients: Mapping[str, Any],
        watches: Watches,
        *,
        max_bytes: int,
        max_outcome_bytes: int = DEFAULT_MAX_OUTCOME_BYTES,
        tracing: Tracing | None = None,
        dead_letters: DeadLetterOps | None = None,
        extra_fields: ExtraFields = DEFAULT_EXTRA_FIELDS,
        ledger: CommandLedger | None = None,
        reconcilers: Mapping[str, Reconciler] | None = None,
        status: Any = None,
    ) -> None:
        self.status = (
            status  # handlers.base.FleetOps for admin.status (bridge/nats/fleet_report.py)
        )
        # The running providers' clients by name (bridge/plugins.py); one that is off has none.
        self.clients = dict(clients)
        self.ledger = ledger
        self.reconcilers = dict(reconcilers or {})
        self.extra_fields = extra_fields
        self.watches = watches
        self.max_bytes = max_bytes
        self.max_outcome_bytes = max_outcome_bytes
        self.tracing = tracing or Tracing()
        self.dead_letters = dead_letters

    async def execute(
        self,
        command: str | None,
        data: bytes,
        headers: Mapping[str, str] | None,
        *,
        fallback_id: str | None = None,
        subject: str | None = None,
    ) -> Execution:
        started = time.perf_counter()
        name = command or ""
        fallback = fallback_id or str(uuid.uuid4())
        # Span names stay bounded: a subject nobody handles is "unknown", whatever it was.
        span_name = name if name in COMMAND_MODELS else "unknown"
        trace: dict[str, str] | None = None
        try:
            with self.tracing.command(span_name, subject=subject, headers=headers) as span:
                outcome, request_id = await self._run(name, data, headers, fallback)
                error = outcome.error
                annotate_command(span, outcome.commandId, outcome.ok, error.code if error else None)
                trace = current_trace()
            outcome = outcome.bounded(self.max_outcome_bytes)
        except Exception as err:
            # Any input gets exactly one outcome: a bug of ours is answered, never raised into
            # the intake (a reply never sent, a message redelivered for hours).
            log.error("command execution crashed", command=name[:200], error=repr(err)[:500])
            command_id = best_command_id(data, headers, fallback, self.max_bytes)
            message = f"storybridge failed to execute {name[:200]}: {type(err).__name__}"
            outcome = bridge_error(command_id, name, message, retryable=False, result=None)
            request_id = None
        route = COMMAND_ROUTES.get(name)
        duration = time.perf_counter() - started
        self._log(outcome, route, request_id, duration, subject)
        return Execution(outcome=outcome, duration=duration, route=route, trace=trace)

    async def _run(
        self, name: str, data: bytes, headers: Mapping[str, str] | None, fallback: str
    ) -> tuple[Outcome, str | None]:
        unreadable = unreadable_header(headers)
        if unreadable is not None:
            # The body may still name the command, so the sender can match this answer.
            try:
                named: Any = parse_payload(data) if len(data) <= self.max_bytes else None
            except PayloadRejected:
                named = None
            command_id = resolve_command_id(named, None, fallback)
            message = f"header {unreadable!r} is not valid UTF-8"
            return invalid(command_id, name, message, f"headers.{unreadable}"), None
        if len(data) > self.max_bytes:
            command_id = resolve_command_id(None, headers, fallback)
            message = f"command is {len(data)} bytes; the limit is {self.max_bytes}"
            return invalid(command_id, name, message, "payload"), None
        try:
            payload = parse_payload(data)
        except PayloadRejected as exc:
            command_id = resolve_command_id(None, headers, fallback)
            return invalid(command_id, name, f"payload is not JSON: {exc}", "payload"), None
        command_id = resolve_command_id(payload, headers, fallback)
        if not isinstance(payload, dict):
            message = f"payload must be a JSON object, got {type(payload).__name__}"
            return invalid(command_id, name, message, "payload"), None
        model = COMMAND_MODELS.get(name)
        handler = HANDLERS.get(name)
        if model is None or handler is None:
            message = f"unknown command {name!r}; known: {', '.join(sorted(COMMAND_MODELS))}"
            return invalid(command_id, name, message, "subject"), None
        try:
            cmd: Command = validate_command(model, payload, self.extra_fields)
        except UnknownField as err:
            return invalid(command_id, name, str(err), err.field), None
        except ValidationError as err:
            field = _field_of(err)
            message = f"{field}: {err.errors()[0]['msg']}"
            return invalid(command_id, name, message, field), None

        provider = provider_of(name, cmd)
        ctx = CommandContext(
            clients=self.clients,
            watches=self.watches,
            command_id=command_id,
            idempotency_key=idempotency_key(name, command_id),
            provider=provider,
            dead_letters=self.dead_letters,
            status=self.status,
        )
        if provider is not None and self.clients.get(provider) is None:
            return invalid(command_id, name, _off(provider), "subject"), None
        # The command's row declares whether its API call needs the ledger (no Idempotency-Key).
        if idempotency(handler) == "ledger" and provider is not None:
            return await self._ledgered(provider, name, cmd, handler, ctx)
        # The same commandId is the same operation: a caller's commandId is fingerprinted (an
        # anonymous durable command's fallback id names one stream message, one body, already).
        same_body = command_id == fallback
        if command_id != fallback and not name.startswith("admin."):
            verdict = await self._remember(provider or "core", name, command_id, cmd)
            if verdict == "mismatch":
                return mismatch(command_id, name), None
            same_body = verdict == "same"
        run = await self._invoke(name, cmd, handler, ctx)
        if same_body and our_conflict(run.error):
            return still_processing(command_id, name, run.error), run.request_id
        return run.outcome, run.request_id

    async def _remember(
        self, provider: str, name: str, command_id: str, cmd: Command
    ) -> str | None:
        """`new`, `same` or `mismatch` for this commandId's body; None when the ledger cannot
        tell (the API's own Idempotency-Key check still refuses another body then)."""
        if self.ledger is None:
            return None
        try:
            return await self.ledger.remember(
                provider, name, command_id, fingerprint(_fingerprint_data(cmd))
            )
        except LedgerUnavailable as err:
            log.warning("commandId fingerprint unchecked", command=name, error=str(err))
            return None

    async def _invoke(self, name: str, cmd: Command, handler: Any, ctx: CommandContext) -> _Run:
        """One handler call, every failure turned into an outcome (and kept, for the ledger)."""
        command_id = ctx.command_id
        with recording_responses() as answered:
            try:
                reply: CommandReply = await handler(cmd, ctx)
            except UpstreamError as err:
                failure = failure_of(command_id, name, err, _last_raw(answered))
                rid = failure.error.requestId if failure.error else None
                return _Run(failure, rid, err, answered)
            except WatchStartFailed as err:
                # The API call took effect; its watch did not. Retryable: a retry replays the call
                # under the same Idempotency-Key (or from the ledger) and records the watch.
                log.warning("watch not started", command=name, commandId=command_id, error=str(err))
                outcome = bridge_error(
                    command_id, name, str(err), retryable=True, result=_last_raw(answered)
                )
                return _Run(outcome, None, err, answered)
            except Exception as err:  # our own bug: answer it, never crash the consumer
                log.error("handler crashed", command=name, commandId=command_id, error=repr(err))
                message = f"storybridge failed to execute {name}: {type(err).__name__}"
                outcome = bridge_error(
                    command_id, name, message, retryable=False, result=_last_raw(answered)
                )
                return _Run(outcome, None, err, answered)
        outcome = Outcome.success(
            command_id=command_id,
            command=name,
            status=reply.status,
            replayed=reply.replayed,
            result=reply.raw,
        )
        return _Run(outcome, getattr(reply, "request_id", None), None, answered)

    async def _ledgered(
        self, provider: str, name: str, cmd: Command, handler: Any, ctx: CommandContext
    ) -> tuple[Outcome, str | None]:
        """At most one effect without an Idempotency-Key (bridge/ledger): claim, prepare, mark
        sent, call, settle. The ledger decides first: nothing is read or sent for a commandId
        that names another request or is answered already."""
        command_id = ctx.command_id
        reconciler = self.reconcilers.get(provider)
        if self.ledger is None or reconciler is None:
            message = f"{name} needs the command ledger, which is not running"
            return bridge_error(command_id, name, message, retryable=True, result=None), None
        ledger = self.ledger
        fingerprint_ = fingerprint(_fingerprint_data(cmd))
        try:
            claim = await ledger.begin(provider, name, command_id, fingerprint_)
        except LedgerUnavailable as err:
            return bridge_error(command_id, name, str(err), retryable=True, result=None), None
        if claim.kind == "mismatch":
            return mismatch(command_id, name), None
        if claim.kind == "done":
            return await self._replay(name, claim.entry, ctx), None
        if claim.kind == "reconcile":
            return await self._reconcile(name, claim, cmd, ctx, reconciler), None
        try:
            async with ledger.keepalive(claim):
                return await self._send_claimed(name, cmd, handler, ctx, claim, reconciler)
        except BaseException:
            # Cancelled (a stop) or crashed before the request left: nothing reached the API.
            if not claim.sent:
                await asyncio.shield(ledger.release(claim))
            raise

    async def _send_claimed(
        self,
        name: str,
        cmd: Command,
        handler: Any,
        ctx: CommandContext,
        claim: LedgerClaim,
        reconciler: Reconciler,
    ) -> tuple[Outcome, str | None]:
        assert self.ledger is not None
        ledger = self.ledger
        command_id = ctx.command_id
        try:
            prepared = await reconciler.prepare(cmd, ctx)
        except UpstreamError as err:  # the read before the call failed: nothing was sent
            await ledger.release(claim)
            failure = failure_of(command_id, name, err)
            return failure, failure.error.requestId if failure.error else None

        async def mark_sent() -> None:
            await ledger.mark_sent(claim, prepared)

        async def mark_unsent() -> None:
            await ledger.mark_unsent(claim)

        recorder = RecordingWatches(ctx.watches)
        with before_sending(mark_sent, unsent=mark_unsent):
            run = await self._invoke(name, cmd, handler, replace(ctx, watches=recorder))
        outcome, error = run.outcome, run.error
        if isinstance(error, LedgerUnavailable):
            # The claim could not be marked sent, so the request was not sent: try again later.
            outcome = bridge_error(command_id, name, str(error), retryable=True, result=None)
        if not claim.sent:
            # Nothing reached the API: no outcome is recorded for a request that never left
            # (only our own revision is released; a claim taken over meanwhile is not ours).
            await ledger.release(claim)
        elif isinstance(error, WatchStartFailed) and run.answered:
            # The API said yes: that is the outcome to keep. The retry replays it from the ledger
            # and re-arms the watches recorded with it.
            last = run.answered[-1]
            kept = Outcome.success(
                command_id=command_id,
                command=name,
                status=last.status,
                replayed=False,
                result=last.raw,
            )
            await self._settle(claim, kept, recorder.calls)
        elif not outcome.retryable:
            await self._settle(claim, outcome, recorder.calls)
        elif getattr(error, "unapplied", False):
            await ledger.release(claim)  # provably never took effect: send it again later
        else:
            await ledger.mark_ambiguous(claim)
        return outcome, run.request_id

    async def _settle(
        self, claim: LedgerClaim, outcome: Outcome, watches: list[dict[str, Any]]
    ) -> None:
        assert self.ledger is not None
        try:
            # Bounded as the caller sees it: an outcome larger than a KV value is never stored,
            # and a repeat would reconcile instead of replaying.
            kept = outcome.bounded(self.max_outcome_bytes)
            await self.ledger.finish(claim, kept.to_dict(), watches)
        except Exception as err:  # the caller still gets its outcome; a repeat reconciles
            log.error("ledger outcome not recorded", command=claim.entry.command, error=repr(err))

    async def _replay(self, name: str, entry: LedgerEntry, ctx: CommandContext) -> Outcome:
        """The recorded outcome again, `replayed: true`, with its watches re-armed."""
        stored = dict(entry.outcome or {})
        stored.update(commandId=ctx.command_id, command=name, replayed=True)
        outcome = Outcome.model_validate(stored)
        try:
            for call in entry.watches:
                await ctx.watches.watch(**call)
        except WatchStartFailed as err:
            return bridge_error(
                ctx.command_id, name, str(err), retryable=True, result=outcome.result
            )
        return outcome

    async def _reconcile(
        self,
        name: str,
        claim: LedgerClaim,
        cmd: Command,
        ctx: CommandContext,
        reconciler: Reconciler,
    ) -> Outcome:
        assert self.ledger is not None
        try:
            outcome = await reconciler.reconcile(claim.entry, cmd, ctx)
        except UpstreamError as err:  # the read failed: settle it on a later try
            await self.ledger.mark_ambiguous(claim)
            failure = failure_of(ctx.command_id, name, err)
            if failure.error is not None and not failure.error.retryable:
                failure.error.retryable = True  # nothing is final until the read tells
            return failure
        except WatchStartFailed as err:
            await self.ledger.mark_ambiguous(claim)
            return bridge_error(ctx.command_id, name, str(err), retryable=True, result=None)
        if outcome.retryable:
            await self.ledger.mark_ambiguous(claim)
        else:
            await self._settle(claim, outcome, [])
        return outcome

    def _log(
        self,
        outcome: Outcome,
        route: str | None,
        request_id: str | None,
        duration: float,
        subject: str | None,
    ) -> None:
        error = outcome.error
        log.info(
            "command",
            commandId=outcome.commandId,
            command=outcome.command,
            subject=subject,
            ok=outcome.ok,
            route=route,
            status=outcome.status if outcome.ok else (error.status if error else None),
            code=error.code if error else None,
            requestId=request_id,
            replayed=outcome.replayed,
            duration_ms=round(duration * 1000, 1),
            key=self._key_of(outcome.command),
        )

    def _key_of(self, command: str) -> str | None:
        """The key prefix a command's calls went out with (None: the core's own, no call)."""
        client = self.clients.get(plugins.owner(command) or "")
        return client.key.prefix if client is not None else None
