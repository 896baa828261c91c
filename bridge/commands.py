"""Command execution shared by both intake paths: bytes in, one outcome out, at most one API effect.

The durable path and request/reply both call `CommandExecutor.execute`; only acking differs. Nothing a
command carries can crash the executor: every failure becomes an outcome with a stable code.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError

from bridge.http.errors import (
    ApiError,
    ApiTransportError,
    CircuitOpen,
    RequestValidationError,
    RetryableApiError,
    UpstreamError,
    UpstreamUnavailable,
)
from bridge.http.transport import ApiResponse, recording_responses
from bridge.ops.tracing import Tracing, annotate_command, current_trace
from bridge.providers.story.client import StoryClient
from handlers import HANDLERS
from handlers.base import CommandContext, CommandReply, DeadLetterOps, Watches, WatchStartFailed
from schemas.catalog import COMMAND_MODELS, COMMAND_ROUTES
from schemas.wire.commands import Command
from schemas.wire.extra_fields import (
    DEFAULT_EXTRA_FIELDS,
    ExtraFields,
    UnknownField,
    allowing_extra,
    check_unknown,
)
from schemas.wire.outcome import Outcome, OutcomeError

log = structlog.get_logger(__name__)

# Fixed forever: changing it would change every Idempotency-Key and break replay of in-flight commands.
IDEMPOTENCY_NAMESPACE = uuid.UUID("5b0f1c9e-6a43-4f59-9d55-2f1b7a0e8c31")
COMMAND_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

INVALID_COMMAND = "invalid_command"
UPSTREAM_UNAVAILABLE = "upstream_unavailable"
BRIDGE_ERROR = "bridge_error"


def idempotency_key(command: str, command_id: str) -> str:
    """The one Idempotency-Key of a logical operation: same on every redelivery, replica and path."""
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{command}:{command_id}"))


def resolve_command_id(payload: Any, headers: Mapping[str, str] | None, fallback: str) -> str:
    """Body `commandId`, then the `Nats-Msg-Id` header, then `fallback` (the same order on both paths)."""
    if isinstance(payload, dict):
        body_id = payload.get("commandId")
        if isinstance(body_id, str) and COMMAND_ID_RE.match(body_id):
            return body_id
    header_id = (headers or {}).get("Nats-Msg-Id")
    if header_id and COMMAND_ID_RE.match(header_id):
        return header_id
    return fallback


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


# Deeper than any command the API takes; far below the interpreter's recursion limit, so nothing
# later (validation, json.dumps to the API, logging) can recurse out of the stack on a payload.
MAX_DEPTH = 32
# JSON numbers past 64 bits mean nothing to the API, and a 4,000-digit one costs real CPU to convert.
MAX_INT_DIGITS = 19


class PayloadRejected(ValueError):
    """The bytes are not a command we can read: not UTF-8, not JSON, too deep, absurd numbers."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise PayloadRejected(f"integer with {len(text)} digits is out of range")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise PayloadRejected(f"number {text[:20]}... is out of range")
    return value


def _reject_constant(name: str) -> Any:
    raise PayloadRejected(f"{name} is not valid JSON")


def _too_deep(value: Any, limit: int) -> bool:
    """Whether containers nest deeper than `limit` (iterative: no recursion on hostile input)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if not isinstance(node, dict | list):
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def parse_payload(data: bytes) -> Any:
    """The command's JSON, or PayloadRejected with a reason fit for the caller."""
    try:
        value = json.loads(
            data,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_reject_constant,
        )
    except PayloadRejected:
        raise
    except RecursionError:
        # json.loads recurses per nesting level: ~1,000 levels fit in 2 KB.
        raise PayloadRejected(f"nested deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise PayloadRejected("not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise PayloadRejected(exc.msg) from None
    except ValueError as exc:  # e.g. int conversion limits
        raise PayloadRejected(str(exc)[:120]) from None
    if _too_deep(value, MAX_DEPTH):
        raise PayloadRejected(f"nested deeper than {MAX_DEPTH} levels")
    return value


def _unreadable_header(headers: Mapping[str, str] | None) -> str | None:
    """The first header whose bytes were not UTF-8 (nats-py decodes them with replacement)."""
    for name, value in (headers or {}).items():
        if "\ufffd" in name or "\ufffd" in value:
            return name.replace("\ufffd", "?")
    return None


def validate_command(model: type[Command], payload: dict[str, Any], policy: ExtraFields) -> Command:
    """The command model of `payload` under the unknown-fields policy (schemas.wire.extra_fields)."""
    passing = check_unknown(model, payload, policy, has_body=model.body_model is not None)
    return (allowing_extra(model) if passing else model).model_validate(payload)


def _field_of(err: ValidationError) -> str:
    first = err.errors()[0]
    return ".".join(str(part) for part in first["loc"]) or "payload"


def _invalid(command_id: str, command: str, message: str, field: str) -> Outcome:
    return Outcome.failure(
        command_id=command_id,
        command=command,
        error=OutcomeError(
            code=INVALID_COMMAND,
            message=message,
            requestId=None,
            status=None,
            retryable=False,
            field=field,
        ),
    )


class CommandExecutor:
    """Parses, validates and runs one command against the Story API."""

    def __init__(
        self,
        api: StoryClient,
        watches: Watches,
        *,
        max_bytes: int,
        tracing: Tracing | None = None,
        dead_letters: DeadLetterOps | None = None,
        extra_fields: ExtraFields = DEFAULT_EXTRA_FIELDS,
    ) -> None:
        self.api = api
        self.extra_fields = extra_fields
        self.watches = watches
        self.max_bytes = max_bytes
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
        with self.tracing.command(span_name, subject=subject, headers=headers) as span:
            outcome, request_id = await self._run(name, data, headers, fallback)
            error = outcome.error
            annotate_command(span, outcome.commandId, outcome.ok, error.code if error else None)
            trace = current_trace()
        route = COMMAND_ROUTES.get(name)
        duration = time.perf_counter() - started
        self._log(outcome, route, request_id, duration, subject)
        return Execution(outcome=outcome, duration=duration, route=route, trace=trace)

    async def _run(
        self, name: str, data: bytes, headers: Mapping[str, str] | None, fallback: str
    ) -> tuple[Outcome, str | None]:
        unreadable = _unreadable_header(headers)
        if unreadable is not None:
            # The body may still name the command, so the sender can match this answer.
            try:
                named: Any = parse_payload(data) if len(data) <= self.max_bytes else None
            except PayloadRejected:
                named = None
            command_id = resolve_command_id(named, None, fallback)
            message = f"header {unreadable!r} is not valid UTF-8"
            return _invalid(command_id, name, message, f"headers.{unreadable}"), None
        if len(data) > self.max_bytes:
            command_id = resolve_command_id(None, headers, fallback)
            message = f"command is {len(data)} bytes; the limit is {self.max_bytes}"
            return _invalid(command_id, name, message, "payload"), None
        try:
            payload = parse_payload(data)
        except PayloadRejected as exc:
            command_id = resolve_command_id(None, headers, fallback)
            return _invalid(command_id, name, f"payload is not JSON: {exc}", "payload"), None
        command_id = resolve_command_id(payload, headers, fallback)
        if not isinstance(payload, dict):
            message = f"payload must be a JSON object, got {type(payload).__name__}"
            return _invalid(command_id, name, message, "payload"), None
        model = COMMAND_MODELS.get(name)
        handler = HANDLERS.get(name)
        if model is None or handler is None:
            message = f"unknown command {name!r}; known: {', '.join(sorted(COMMAND_MODELS))}"
            return _invalid(command_id, name, message, "subject"), None
        try:
            cmd: Command = validate_command(model, payload, self.extra_fields)
        except UnknownField as err:
            return _invalid(command_id, name, str(err), err.field), None
        except ValidationError as err:
            field = _field_of(err)
            message = f"{field}: {err.errors()[0]['msg']}"
            return _invalid(command_id, name, message, field), None

        ctx = CommandContext(
            api=self.api,
            watches=self.watches,
            command_id=command_id,
            idempotency_key=idempotency_key(name, command_id),
            dead_letters=self.dead_letters,
        )
        with recording_responses() as answered:
            try:
                reply: CommandReply = await handler(cmd, ctx)
            except UpstreamError as err:
                failure = self._failure(command_id, name, err, _last_raw(answered))
                return failure, failure.error.requestId if failure.error else None
            except WatchStartFailed as err:
                # The API call took effect; its watch did not. Retryable: a retry replays the call
                # under the same Idempotency-Key and records the watch.
                log.warning("watch not started", command=name, commandId=command_id, error=str(err))
                return self._bridge_error(
                    command_id, name, str(err), retryable=True, result=_last_raw(answered)
                ), None
            except Exception as err:  # our own bug: answer it, never crash the consumer
                log.error("handler crashed", command=name, commandId=command_id, error=repr(err))
                message = f"storybridge failed to execute {name}: {type(err).__name__}"
                return self._bridge_error(
                    command_id, name, message, retryable=False, result=_last_raw(answered)
                ), None
        outcome = Outcome.success(
            command_id=command_id,
            command=name,
            status=reply.status,
            replayed=reply.replayed,
            result=reply.raw,
        )
        return outcome, getattr(reply, "request_id", None)

    @staticmethod
    def _bridge_error(
        command_id: str, name: str, message: str, *, retryable: bool, result: Any
    ) -> Outcome:
        error = OutcomeError(
            code=BRIDGE_ERROR, message=message, requestId=None, status=None, retryable=retryable
        )
        return Outcome.failure(command_id=command_id, command=name, error=error, result=result)

    @staticmethod
    def _failure(command_id: str, name: str, err: UpstreamError, result: Any = None) -> Outcome:
        if isinstance(err, RequestValidationError):
            return _invalid(command_id, name, str(err), err.field or "payload")
        if isinstance(err, CircuitOpen):
            error = OutcomeError(
                code=err.code,
                message=err.message,
                requestId=None,
                status=err.status,
                retryable=True,
            )
        elif isinstance(err, UpstreamUnavailable | ApiTransportError | RetryableApiError):
            last = err.last if isinstance(err, UpstreamUnavailable) else err
            error = OutcomeError(
                code=UPSTREAM_UNAVAILABLE,
                message=str(err),
                requestId=getattr(last, "request_id", None),
                status=getattr(last, "status", None),
                retryable=True,
            )
        elif isinstance(err, ApiError):
            error = OutcomeError(
                code=err.code,
                message=err.message,
                requestId=err.request_id,
                status=err.status,
                retryable=False,
                details=err.details,
            )
        else:
            error = OutcomeError(
                code=BRIDGE_ERROR,
                message=str(err),
                requestId=None,
                status=None,
                retryable=False,
            )
        return Outcome.failure(command_id=command_id, command=name, error=error, result=result)

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
            key=self.api.key.prefix,
        )
