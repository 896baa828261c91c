"""Outcome events: one CloudEvent per command execution on `{p}.evt.command.succeeded|failed`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from nats.js.client import JetStreamContext

from bridge.nats.streams import Subjects
from schemas.events import CONTENT_TYPE, EVENT_TYPE_PREFIX, CloudEvent
from schemas.outcome import Outcome

OUTCOME_NAMESPACE = uuid.UUID("0f9d3c58-2b7e-4d1a-8c61-7e2f4b9a5d10")


class OutcomePublisher:
    """Publishes outcomes into STORYBRIDGE_EVENTS and checks the stream's ack."""

    def __init__(self, js: JetStreamContext, subjects: Subjects, *, source: str) -> None:
        self.js = js
        self.subjects = subjects
        self.source = source

    def build(
        self, outcome: Outcome, *, token: str, trace: dict[str, str] | None = None
    ) -> tuple[str, CloudEvent]:
        kind = "succeeded" if outcome.ok else "failed"
        # One id per execution: a retried publish of the same execution dedups, a redelivery does not.
        event_id = str(
            uuid.uuid5(OUTCOME_NAMESPACE, f"{outcome.command}:{outcome.commandId}:{token}")
        )
        event = CloudEvent(
            id=event_id,
            source=self.source,
            type=f"{EVENT_TYPE_PREFIX}.command.{kind}",
            subject=outcome.command,
            time=datetime.now(UTC),
            data=outcome.to_dict(),
            # The CloudEvents distributed-tracing extension; None (absent) unless tracing is on.
            traceparent=(trace or {}).get("traceparent"),
            tracestate=(trace or {}).get("tracestate"),
        )
        return self.subjects.event(f"command.{kind}"), event

    async def publish(
        self, outcome: Outcome, *, token: str, trace: dict[str, str] | None = None
    ) -> None:
        """`trace`: the command span's W3C headers, sent along so consumers continue the trace."""
        subject, event = self.build(outcome, token=token, trace=trace)
        await self.js.publish(
            subject,
            event.to_json(),
            headers={**(trace or {}), "Nats-Msg-Id": event.id, "Content-Type": CONTENT_TYPE},
        )
