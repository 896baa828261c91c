"""The Syllaby sandbox ASGI app: the API's cross-cutting rules around every endpoint.

Per request, in order (the network faults are the kit's pipeline, `bridge.sandboxes.kit.pipeline`):
injected network faults (latency, hang, drop: no effect), the caller's rate window (per token,
else per IP: 429 with `Retry-After` and an epoch `X-RateLimit-Reset`), the token (401), an
injected error or 429 storm, the subscription gate (403 `SUBSCRIPTION-REQUIRED`, before any
lookup, validation or charge), `hold_ms`, then the endpoint. After its effect: `drop_after`,
`hang_after` (the effect stands, the answer never comes) or `respond_latency_ms`. There is no
Idempotency-Key: every request acts. Every request, hung ones included, is in the request log
(`status` 0 for a drop or a hang), so tests can count POSTs.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from bridge.sandboxes.kit.answer import Answer
from bridge.sandboxes.kit.exchange import Exchange
from bridge.sandboxes.kit.faults import FaultRule, is_error
from bridge.sandboxes.kit.network import quiet_injected_drops
from bridge.sandboxes.kit.pipeline import Pipeline
from bridge.sandboxes.syllaby import forms, routes
from bridge.sandboxes.syllaby.auth import bucket
from bridge.sandboxes.syllaby.config import SyllabySandboxConfig
from bridge.sandboxes.syllaby.control import control_routes
from bridge.sandboxes.syllaby.core import SyllabyCall, SyllabyEndpoint
from bridge.sandboxes.syllaby.errors import (
    SyllabySandboxError,
    server_error,
    subscription_required,
)
from bridge.sandboxes.syllaby.faults import fault_error
from bridge.sandboxes.syllaby.state import SyllabySandboxState

BASE_PATH = "/v2"
METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]


@dataclass
class SyllabyExchange(Exchange):
    base_path: ClassVar[str] = BASE_PATH

    @property
    def bucket(self) -> str:
        return bucket(self.request.headers.get("authorization"), self.client_ip)


async def _body(request: Request) -> Any:
    """JSON, or a multipart form; anything unreadable is an empty body (Laravel's input)."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return forms.parse(content_type, raw)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


class SyllabyPipeline(Pipeline[SyllabySandboxState, SyllabyExchange, SyllabyEndpoint]):
    def exchange(self, request: Request, endpoint: SyllabyEndpoint) -> SyllabyExchange:
        return SyllabyExchange(request)

    async def answer(
        self, ex: SyllabyExchange, endpoint: SyllabyEndpoint, rule: FaultRule | None
    ) -> None:
        try:
            await self.handle(ex, endpoint, rule)
        except SyllabySandboxError as err:
            ex.status, ex.body = err.status, err.body()
            ex.headers.update(err.headers)
        except Exception as exc:  # a sandbox bug must still look like the API's 500
            bug = server_error()
            bug.extra["exception"] = type(exc).__name__
            ex.status, ex.body = bug.status, bug.body()

    def padded(self, body: Any, size: int) -> Any:
        data = body.get("data")
        if isinstance(data, dict):
            data = {**data, "padding": "x" * size}
        return {**body, "data": data}

    async def handle(
        self, ex: SyllabyExchange, endpoint: SyllabyEndpoint, rule: FaultRule | None
    ) -> None:
        state = self.state
        ex.headers.update(state.limiter.take(ex.bucket))
        state.tokens.authenticate(ex.request.headers.get("authorization"))
        if rule is not None and is_error(rule):
            ex.fault = "storm_429" if rule.storm_429 else "error"
            if rule.storm_429 or rule.status == 429:
                raise state.limiter.storm(ex.bucket, rule.retry_after)
            raise fault_error(rule)
        if not state.world.account.subscribed:
            raise subscription_required()
        payload = await _body(ex.request)
        if rule is not None and rule.hold_ms:
            await asyncio.sleep(rule.hold_ms / 1000)
        call = SyllabyCall(world=state.world, params=dict(ex.request.path_params), body=payload)
        reply: Answer = await endpoint.handler(call)
        ex.status, ex.body = reply.status, reply.body
        ex.headers.update(reply.headers)

    async def unknown(self, request: Request) -> Response:
        """No such route: Laravel's 404, logged like any request."""
        ex = SyllabyExchange(request)
        self.log(ex, 404)
        message = f"The route {request.url.path.lstrip('/')} could not be found."
        return JSONResponse({"message": message, "status": 404}, status_code=404)


def create_app(config: SyllabySandboxConfig | None = None) -> Starlette:
    state = SyllabySandboxState(config or SyllabySandboxConfig())
    pipeline = SyllabyPipeline(state)
    api = [Route(ep.path, pipeline.view(ep), methods=[ep.method]) for ep in routes.ENDPOINTS]
    api.append(Route("/{rest:path}", pipeline.unknown, methods=METHODS))
    app = Starlette(
        routes=[
            Mount(BASE_PATH, routes=api),
            Mount("/_sandbox", routes=control_routes(state)),
        ]
    )
    app.state.sandbox = state
    quiet_injected_drops()
    return app
