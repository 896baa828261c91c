"""OpenTelemetry tracing, off unless configured: one trace from a command to the events it causes.

The path: the command's NATS headers (W3C `traceparent`/`tracestate`) -> the span
`storybridge.command <name>` -> one client span per Story API attempt, whose context is the request's
`traceparent` -> the outcome event's NATS headers -> the watches the command started (kept in their
records) -> every event those watches publish (NATS headers, and the CloudEvents distributed-tracing
extension attributes `traceparent`/`tracestate`).

Why not faststream's `NatsTelemetryMiddleware`: it sees only the request/reply subscriber. The durable
intake is hand-written on nats-py and every event is published with nats-py's JetStream client, so
the middleware would trace one path of two and no publish. One span in the executor covers both paths
alike.

Why an explicit provider, never the global one: OpenTelemetry lets a process set its global
TracerProvider once, and several bridges in one process (tests, replica scenarios) must each keep
their own. The tracer travels in the OTel context of the running command (`TRACER_KEY`), so the HTTP
transport and the watches find it without new constructor arguments, and work outside a traced
command (watch polls) makes no spans.

Off: no provider, no span, no header anywhere; the cost is one context lookup per API attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from bridge.ops.metrics import route_template

__all__ = [
    "TRACE_HEADERS",
    "ClientSpan",
    "Tracing",
    "annotate_command",
    "client_span",
    "configure_tracing",
    "current_trace",
    "extract",
    "tracing_requested",
]

log = structlog.get_logger(__name__)

TRACE_HEADERS = ("traceparent", "tracestate")
TRACER_KEY = otel_context.create_key("storybridge-tracer")
SHUTDOWN_TIMEOUT = 5.0

# Only W3C trace context, not the global propagator: what goes on the wire must not depend on what
# some other library in the process configured.
_PROPAGATOR = TraceContextTextMapPropagator()


class _HeaderGetter(Getter[Mapping[str, str]]):
    """NATS headers are case-sensitive; a publisher may well send `Traceparent`."""

    def get(self, carrier: Mapping[str, str], key: str) -> list[str] | None:
        for name, value in carrier.items():
            if name.lower() == key:
                return [value]
        return None

    def keys(self, carrier: Mapping[str, str]) -> list[str]:
        return list(carrier)


_GETTER = _HeaderGetter()


def extract(headers: Mapping[str, str] | None) -> Context:
    """The context a message's headers carry (an empty one when they carry none)."""
    return _PROPAGATOR.extract(headers or {}, getter=_GETTER)


def current_trace() -> dict[str, str] | None:
    """The traced command running now as W3C headers; None when tracing is off or outside one."""
    if otel_context.get_value(TRACER_KEY) is None:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier or None


def tracing_requested(setting: bool, environ: Mapping[str, str]) -> bool:
    """`STORYBRIDGE_TRACING`, or the standard OTel exporter variables; `OTEL_SDK_DISABLED` wins."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if setting:
        return True
    if environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        return True
    return _exporter_names(environ) not in ([], ["none"])


def _exporter_names(environ: Mapping[str, str]) -> list[str]:
    raw = environ.get("OTEL_TRACES_EXPORTER", "")
    return [name.strip().lower() for name in raw.split(",") if name.strip()]


class Tracing:
    """The bridge's tracer: `Tracing()` is off, `Tracing(provider)` traces into `provider`.

    `owned` providers (made by `configure_tracing`) are flushed and shut down by `aclose()`; an
    injected one (tests) is left to its owner.
    """

    def __init__(self, provider: TracerProvider | None = None, *, owned: bool = False) -> None:
        self.provider = provider
        self.owned = owned
        self.tracer: Tracer | None = (
            provider.get_tracer("storybridge") if provider is not None else None
        )

    @property
    def enabled(self) -> bool:
        return self.tracer is not None

    @contextlib.contextmanager
    def command(
        self, name: str, *, subject: str | None, headers: Mapping[str, str] | None
    ) -> Iterator[Span | None]:
        """The CONSUMER span of one command, current (with our tracer) while the body runs."""
        if self.tracer is None:
            yield None
            return
        parent = otel_context.set_value(TRACER_KEY, self.tracer, extract(headers))
        attributes: dict[str, Any] = {
            "messaging.system": "nats",
            "messaging.operation.type": "process",
        }
        if subject:
            attributes["messaging.destination.name"] = subject
        span = self.tracer.start_span(
            f"storybridge.command {name}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        )
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            yield span
        except BaseException as exc:  # cancellation at shutdown; the executor itself never raises
            span.set_attribute("error.type", type(exc).__name__)
            span.set_status(StatusCode.ERROR)
            raise
        finally:
            otel_context.detach(token)
            span.end()

    async def aclose(self) -> None:
        """Flush and shut down an owned provider, off the event loop and bounded in time."""
        shutdown = getattr(self.provider, "shutdown", None)
        if not self.owned or shutdown is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.to_thread(shutdown), SHUTDOWN_TIMEOUT)


def annotate_command(span: Span | None, command_id: str, ok: bool, code: str | None) -> None:
    """What the command span says about its outcome."""
    if span is None:
        return
    span.set_attribute("storybridge.command_id", command_id)
    span.set_attribute("storybridge.ok", ok)
    if not ok:
        span.set_attribute("error.type", code or "error")
        span.set_status(StatusCode.ERROR, code)


@dataclass
class ClientSpan:
    """One Story API attempt: the headers to send (with `traceparent` when traced)."""

    headers: dict[str, str]
    span: Span | None = None

    def finish(self, status: int | None, error: BaseException | None) -> None:
        if self.span is None:
            return
        if status is not None:
            self.span.set_attribute("http.response.status_code", status)
        error_type = type(error).__name__ if error is not None else None
        if error_type is None and status is not None and status >= 400:
            error_type = str(status)
        if error_type is not None:
            self.span.set_attribute("error.type", error_type)
            self.span.set_status(StatusCode.ERROR)


@contextlib.contextmanager
def client_span(
    method: str, path: str, headers: dict[str, str], *, attempt: int = 1
) -> Iterator[ClientSpan]:
    """A CLIENT span for one attempt, child of the traced command; a pass-through outside one."""
    tracer = otel_context.get_value(TRACER_KEY)
    if not isinstance(tracer, Tracer):
        yield ClientSpan(headers)
        return
    route = route_template(path)
    attributes: dict[str, Any] = {"http.request.method": method, "http.route": route}
    if attempt > 1:
        attributes["http.request.resend_count"] = attempt - 1
    span = tracer.start_span(f"HTTP {method} {route}", kind=SpanKind.CLIENT, attributes=attributes)
    traced = dict(headers)  # a copy: each attempt sends its own span's traceparent
    _PROPAGATOR.inject(traced, context=trace.set_span_in_context(span))
    try:
        yield ClientSpan(traced, span)
    except BaseException as exc:
        span.set_attribute("error.type", type(exc).__name__)
        span.set_status(StatusCode.ERROR)
        raise
    finally:
        span.end()


def configure_tracing(
    tracing: bool = False,
    *,
    provider: TracerProvider | None = None,
    environ: Mapping[str, str] | None = None,
) -> Tracing:
    """The bridge's `Tracing`: `provider` when given (tests), an SDK provider exporting as the
    OTEL_* variables say when tracing is requested, else off."""
    if provider is not None:
        return Tracing(provider)
    env = os.environ if environ is None else environ
    if not tracing_requested(tracing, env):
        return Tracing()
    sdk_provider, exporters = _sdk_provider(env)
    log.info("tracing on", exporters=exporters)
    return Tracing(sdk_provider, owned=True)


_MISSING_SDK = (
    "tracing is on (STORYBRIDGE_TRACING or OTEL_* variables) but the OpenTelemetry SDK is not "
    "installed: pip install 'storybridge[otel]', or unset them"
)


def _sdk_provider(environ: Mapping[str, str]) -> tuple[TracerProvider, list[str]]:
    try:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError:
        raise SystemExit(_MISSING_SDK) from None
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "storybridge"}))
    # The SDK reads OTEL_TRACES_SAMPLER (default: parent-based, always on) itself.
    provider = SdkTracerProvider(resource=resource)
    names = _exporter_names(environ) or ["otlp"]
    used: list[str] = []
    for name in names:
        if name == "otlp":
            provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(environ)))
        elif name == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif name != "none":
            log.warning("unknown OTEL_TRACES_EXPORTER ignored", exporter=name, known="otlp,console")
            continue
        used.append(name)
    return provider, used


def _otlp_exporter(environ: Mapping[str, str]) -> Any:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise SystemExit(_MISSING_SDK) from None
    protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL"
    )
    if protocol and protocol != "http/protobuf":
        log.warning("only OTLP over http/protobuf is bundled; using it", protocol=protocol)
    # Endpoint, headers, timeout and compression come from the OTEL_EXPORTER_OTLP_* variables.
    return OTLPSpanExporter()
