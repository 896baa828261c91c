"""Command events: one CloudEvent per execution on `{p}.evt.command.<what>`, and the bridge's own.

`<what>` is `succeeded` or `failed` for a final outcome, `retrying` for a durable try that will be
tried again, `dead_lettered` for one moved to STORYBRIDGE_DEAD_LETTERS. `bridge.degraded` and
`bridge.recovered` announce a provider's circuit (CONTRACT.md, additions of 2026-12-01).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from nats.js.client import JetStreamContext

from bridge.names import Subjects
from schemas.wire.events import CONTENT_TYPE, EVENT_TYPE_PREFIX, BridgeCircuitData, CloudEvent
from schemas.wire.outcome import Outcome

OUTCOME_NAMESPACE = uuid.UUID("0f9d3c58-2b7e-4d1a-8c61-7e2f4b9a5d10")
# How long a request/reply outcome whose first publish failed (a stream leader election on a
# cluster takes seconds) is retried in the background; the same event id dedups a doubled publish.
RETRY_SECONDS = 120.0

log = structlog.get_logger(__name__)

CommandEvent = Literal["succeeded", "failed", "retrying", "dead_lettered"]


class OutcomePublisher:
    """Publishes command and bridge events into STORYBRIDGE_EVENTS and checks the stream's ack."""

    def __init__(self, js: JetStreamContext, subjects: Subjects, *, source: str) -> None:
        self.js = js
        self.subjects = subjects
        self.source = source
        self._retrying: set[asyncio.Task[None]] = set()

    def build(
        self,
        outcome: Outcome,
        *,
        token: str,
        trace: dict[str, str] | None = None,
        event: CommandEvent | None = None,
        extra: dict[str, Any] | None = None,
    ) -> tuple[str, CloudEvent]:
        what: CommandEvent = event or ("succeeded" if outcome.ok else "failed")
        # One id per execution: a retried publish of the same execution dedups, a redelivery does not.
        key = f"{outcome.command}:{outcome.commandId}:{token}"
        if what in ("retrying", "dead_lettered"):
            key = f"{what}:{key}"
        cloud_event = CloudEvent(
            id=str(uuid.uuid5(OUTCOME_NAMESPACE, key)),
            source=self.source,
            type=f"{EVENT_TYPE_PREFIX}.command.{what}",
            subject=outcome.command,
            time=datetime.now(UTC),
            data={**outcome.to_dict(), **(extra or {})},
            # The CloudEvents distributed-tracing extension; None (absent) unless tracing is on.
            traceparent=(trace or {}).get("traceparent"),
            tracestate=(trace or {}).get("tracestate"),
        )
        return self.subjects.event(f"command.{what}"), cloud_event

    async def publish(
        self,
        outcome: Outcome,
        *,
        token: str,
        trace: dict[str, str] | None = None,
        event: CommandEvent | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """`trace`: the command span's W3C headers, sent along so consumers continue the trace."""
        subject, cloud_event = self.build(
            outcome, token=token, trace=trace, event=event, extra=extra
        )
        await self._send(subject, cloud_event, trace)

    async def publish_bridge(self, what: str, data: dict[str, Any], *, key: str) -> None:
        """`{p}.evt.bridge.<what>` (degraded, recovered); `key` names the occurrence for its id."""
        cloud_event = CloudEvent(
            id=str(uuid.uuid5(OUTCOME_NAMESPACE, f"bridge.{what}:{key}")),
            source=self.source,
            type=f"{EVENT_TYPE_PREFIX}.bridge.{what}",
            subject=str(data.get("provider") or "bridge"),
            time=datetime.now(UTC),
            data=BridgeCircuitData.model_validate(data).to_dict(),
        )
        await self._send(self.subjects.event(f"bridge.{what}"), cloud_event, None)

    async def _send(
        self, subject: str, cloud_event: CloudEvent, trace: dict[str, str] | None
    ) -> None:
        await self.js.publish(
            subject,
            cloud_event.to_json(),
            headers={**(trace or {}), "Nats-Msg-Id": cloud_event.id, "Content-Type": CONTENT_TYPE},
        )

    def publish_later(
        self, outcome: Outcome, *, token: str, trace: dict[str, str] | None = None
    ) -> None:
        """Keep trying `publish` in the background, for callers that must not wait (request/reply)."""
        task = asyncio.create_task(self._retry(outcome, token=token, trace=trace))
        self._retrying.add(task)
        task.add_done_callback(self._retrying.discard)

    async def _retry(self, outcome: Outcome, *, token: str, trace: dict[str, str] | None) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RETRY_SECONDS
        pause = 0.5
        while True:
            await asyncio.sleep(pause)
            try:
                await self.publish(outcome, token=token, trace=trace)
                return
            except Exception as err:
                if loop.time() + pause > deadline:
                    log.error("outcome event lost", commandId=outcome.commandId, error=repr(err))
                    return
            pause = min(pause * 2, 5.0)
