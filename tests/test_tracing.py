"""Tracing: one W3C trace from a command's NATS headers to its API call, its outcome, and its watch's
events; nothing of it when tracing is off (the default)."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from bridge.nats.embedded import EmbeddedNats
from bridge.ops.tracing import Tracing, configure_tracing, extract, tracing_requested
from bridge.runtime import Bridge
from tests.fixtures.bridge import SUBJECTS, Recorder, StartBridge, bridge_settings
from tests.fixtures.client import request_log
from tests.fixtures.sandbox import SandboxApi


def new_traceparent() -> tuple[str, str, str]:
    """(traceparent, trace id, span id) of a sampled caller span."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def ids_of(traceparent: str) -> tuple[str, str]:
    """(trace id, parent span id) of a traceparent header."""
    _, trace_id, span_id, _ = traceparent.split("-")
    return trace_id, span_id


@pytest.fixture
async def events(nc: NatsClient) -> Recorder:
    recorder = Recorder()
    await nc.subscribe(SUBJECTS.event(">"), cb=recorder.on_msg)
    await nc.flush()
    return recorder


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def traced_bridge(
    nats_server: EmbeddedNats,
    sandbox: Any,
    sandbox_key: str,
    tmp_path: Path,
    nc: NatsClient,
    spans: InMemorySpanExporter,
) -> AsyncIterator[Bridge]:
    """A bridge tracing into its own in-memory provider (the process-global one stays untouched)."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    settings = bridge_settings(nats_server.url, sandbox.base_url, sandbox_key, tmp_path / "b")
    bridge = Bridge(settings, tracing=configure_tracing(provider=provider))
    await bridge.start()
    await nc.flush()
    yield bridge
    await bridge.stop()


def named(finished: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in finished if s.name == name]


async def job_create(
    nc: NatsClient, sandbox_api: SandboxApi, headers: dict[str, str]
) -> tuple[str, str]:
    """Publish a durable job.create for an approved plan; (command id, plan id)."""
    _, plan_id = sandbox_api.approved_plan()
    command_id = f"trace-{uuid.uuid4()}"
    body = json.dumps({"storyPlanId": plan_id, "commandId": command_id}).encode()
    await nc.jetstream().publish(
        SUBJECTS.command("job.create"), body, headers={"Nats-Msg-Id": command_id, **headers}
    )
    return command_id, plan_id


def job_ready(events: Recorder) -> Callable[[], bool]:
    return lambda: any(m.subject == SUBJECTS.event("job.ready") for m in events.on("job."))


class TestTracingOn:
    async def test_request_reply_command_continues_the_callers_trace(
        self,
        traced_bridge: Bridge,
        nc: NatsClient,
        events: Recorder,
        spans: InMemorySpanExporter,
        sandbox: Any,
    ) -> None:
        """Command span (child of the sender), HTTP span (its child), the API request and the
        outcome event all carry the caller's trace id."""
        traceparent, trace_id, caller_span = new_traceparent()
        command_id = f"trace-{uuid.uuid4()}"
        reply = await nc.request(
            SUBJECTS.request("project.create"),
            json.dumps({"name": "traced", "commandId": command_id}).encode(),
            timeout=30,
            headers={"traceparent": traceparent},
        )
        assert json.loads(reply.data)["ok"] is True

        (command,) = named(spans.get_finished_spans(), "storybridge.command project.create")
        assert command.kind is SpanKind.CONSUMER
        assert f"{command.context.trace_id:032x}" == trace_id
        assert command.parent is not None and f"{command.parent.span_id:016x}" == caller_span
        assert command.attributes is not None
        assert command.attributes["messaging.system"] == "nats"
        assert command.attributes["messaging.destination.name"] == "story.req.project.create"
        assert command.attributes["storybridge.command_id"] == command_id

        (http,) = named(spans.get_finished_spans(), "HTTP POST /story-projects")
        assert http.kind is SpanKind.CLIENT
        assert http.parent is not None and http.parent.span_id == command.context.span_id
        assert http.attributes is not None and http.attributes["http.response.status_code"] == 200

        (logged,) = [e for e in request_log(sandbox, "/story-projects") if e["method"] == "POST"]
        assert ids_of(logged["traceparent"]) == (trace_id, f"{http.context.span_id:016x}")

        assert await events.wait_for(lambda: bool(events.on("command.succeeded")))
        (outcome,) = events.on("command.succeeded")
        assert outcome.headers is not None
        sent = outcome.headers["traceparent"]
        assert ids_of(sent) == (trace_id, f"{command.context.span_id:016x}")
        assert json.loads(outcome.data)["traceparent"] == sent  # the CloudEvents extension
        assert outcome.headers["Nats-Msg-Id"] == json.loads(outcome.data)["id"]

    async def test_job_events_carry_the_trace_of_the_command_that_started_the_watch(
        self,
        traced_bridge: Bridge,
        nc: NatsClient,
        events: Recorder,
        spans: InMemorySpanExporter,
        sandbox_api: SandboxApi,
    ) -> None:
        """A durable job.create: every later job event has the command's trace in its NATS
        headers and as the CloudEvent `traceparent`; ids and dedup headers are as before."""
        traceparent, trace_id, _ = new_traceparent()
        await job_create(nc, sandbox_api, {"traceparent": traceparent})
        assert await events.wait_for(job_ready(events))

        (command,) = named(spans.get_finished_spans(), "storybridge.command job.create")
        assert f"{command.context.trace_id:032x}" == trace_id
        assert command.attributes is not None
        assert command.attributes["messaging.destination.name"] == "story.cmd.job.create"
        job_events = events.on("job.")
        assert len(job_events) >= 2
        for msg in job_events:
            doc = json.loads(msg.data)
            assert msg.headers is not None
            assert ids_of(msg.headers["traceparent"]) == (
                trace_id,
                f"{command.context.span_id:016x}",
            )
            assert doc["traceparent"] == msg.headers["traceparent"]
            assert msg.headers["Nats-Msg-Id"] == doc["id"]
            assert doc["specversion"] == "1.0" and doc["data"]["resource"] == "job"


class TestTracingOff:
    async def test_no_trace_header_reaches_the_api_or_any_event(
        self,
        start_bridge: StartBridge,
        nc: NatsClient,
        events: Recorder,
        sandbox: Any,
        sandbox_api: SandboxApi,
    ) -> None:
        """Off by default: an incoming traceparent goes no further than the bridge."""
        bridge = await start_bridge()
        assert bridge.tracing is not None and not bridge.tracing.enabled
        traceparent, _, _ = new_traceparent()
        reply = await nc.request(
            SUBJECTS.request("project.create"),
            json.dumps({"name": "untraced"}).encode(),
            timeout=30,
            headers={"traceparent": traceparent},
        )
        assert json.loads(reply.data)["ok"] is True
        await job_create(nc, sandbox_api, {"traceparent": traceparent})
        assert await events.wait_for(job_ready(events))
        assert await events.wait_for(lambda: len(events.on("command.")) >= 2)

        bridge_requests = [e for e in request_log(sandbox) if e["idempotencyKey"] is not None]
        assert bridge_requests and all(e["traceparent"] is None for e in request_log(sandbox))
        for msg in events.messages:
            assert "traceparent" not in (msg.headers or {})
            assert "traceparent" not in json.loads(msg.data)


class TestSetup:
    def test_off_unless_asked(self) -> None:
        """Off by default; on by the setting or the standard OTEL_* exporter variables."""
        assert not tracing_requested(False, {})
        assert not tracing_requested(False, {"OTEL_TRACES_EXPORTER": "none"})
        assert tracing_requested(True, {})
        assert tracing_requested(False, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"})
        assert tracing_requested(False, {"OTEL_TRACES_EXPORTER": "console"})
        assert not tracing_requested(True, {"OTEL_SDK_DISABLED": "true"})

    async def test_configured_provider_is_the_bridges_own(self) -> None:
        """The setting builds an owned SDK provider; the default builds none."""
        assert not configure_tracing(environ={}).enabled
        tracing = configure_tracing(True, environ={"OTEL_TRACES_EXPORTER": "none"})
        assert tracing.enabled and tracing.owned
        await tracing.aclose()
        assert not Tracing().enabled

    def test_headers_are_read_whatever_their_case(self) -> None:
        """NATS headers are case-sensitive; `Traceparent` is still the W3C header."""
        traceparent, trace_id, _ = new_traceparent()
        context = trace.get_current_span(extract({"Traceparent": traceparent})).get_span_context()
        assert f"{context.trace_id:032x}" == trace_id
