"""The Story sandbox ASGI app: the API's cross-cutting rules around every endpoint.

The kit's pipeline (`bridge.sandboxes.kit.pipeline`) runs the injected network faults around each
request (latency, hang, drop before it; drop_after, hang_after, respond_latency after it); in
between, in order: the rate-limit window of the caller's bucket (its key prefix, else its IP),
bearer auth, an injected error, the endpoint's scope, the Idempotency-Key rules, the endpoint
itself. Every response carries `X-Request-Id` (equal to `error.requestId` on errors) and
`RateLimit-Limit/Remaining/Reset`; every error is the documented envelope `{error: {code,
message, requestId, details?}}`. Every request is in the request log, but for a hung one. The
control API (`/_sandbox`) is documented in `bridge.sandboxes.story.control`.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
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
from bridge.sandboxes.kit.requestlog import LoggedRequest
from bridge.sandboxes.story import (
    quirks,
    routes_artifacts,
    routes_jobs,
    routes_misc,
    routes_plans,
    routes_projects,
    routes_publishing,
    routes_share,
    routes_sources,
)
from bridge.sandboxes.story.auth import KEY_RE
from bridge.sandboxes.story.config import StorySandboxConfig
from bridge.sandboxes.story.control import control_routes
from bridge.sandboxes.story.core import StoryCall, StoryEndpoint
from bridge.sandboxes.story.errors import StorySandboxError
from bridge.sandboxes.story.faults import fault_error
from bridge.sandboxes.story.idempotency import IdempotencyStore, Stored
from bridge.sandboxes.story.state import StorySandboxState

BASE_PATH = "/api/v1"
ENDPOINT_MODULES = (
    routes_projects,
    routes_sources,
    routes_plans,
    routes_jobs,
    routes_artifacts,
    routes_misc,
    routes_publishing,
)


async def _no_handler(call: StoryCall) -> Any:
    raise AssertionError("never called")


UNKNOWN = StoryEndpoint("GET", "/{rest:path}", _no_handler, None)


@dataclass
class StoryExchange(Exchange):
    """The kit's exchange plus the endpoint, the Idempotency-Key and whether it was replayed."""

    base_path: ClassVar[str] = BASE_PATH

    endpoint: StoryEndpoint = field(kw_only=True)
    replayed: bool = False

    @property
    def idempotency_key(self) -> str | None:
        return self.request.headers.get("idempotency-key")

    @property
    def bucket(self) -> str:
        """Rate-limit bucket: the key's public prefix when well formed, else the client IP."""
        _, _, raw = (self.request.headers.get("authorization") or "").partition(" ")
        match = KEY_RE.match(raw.strip())
        if match is not None:
            return f"sh_{match.group(1)}"
        return "ip:" + self.client_ip

    def entry(self, status: int, sandbox_time: float, **extra: Any) -> LoggedRequest:
        return super().entry(
            status,
            sandbox_time,
            idempotencyKey=self.idempotency_key,
            replayed=self.replayed,
            **extra,
        )


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise StorySandboxError("validation_failed", "body: not valid JSON") from None


class StoryPipeline(Pipeline[StorySandboxState, StoryExchange, StoryEndpoint]):
    # A hung request is not logged: it has no answer to log, and never will.
    log_hangs: ClassVar[bool] = False

    def exchange(self, request: Request, endpoint: StoryEndpoint) -> StoryExchange:
        return StoryExchange(request, endpoint=endpoint)

    async def answer(
        self, ex: StoryExchange, endpoint: StoryEndpoint, rule: FaultRule | None
    ) -> None:
        try:
            await self.handle(ex, rule)
        except StorySandboxError as err:
            ex.status, ex.body = err.status, err.body(ex.request_id)
            ex.headers.update(err.headers)
        except Exception as exc:  # a sandbox bug must still look like the API's 500
            bug = StorySandboxError("internal_error", f"sandbox failure: {type(exc).__name__}")
            ex.status, ex.body = bug.status, bug.body(ex.request_id)
        if not any(h.lower() == "ratelimit-limit" for h in ex.headers):
            ex.headers.update(self.state.limiter.peek(ex.bucket))
        ex.headers["X-Request-Id"] = ex.request_id
        if ex.replayed:
            ex.headers["Idempotency-Replayed"] = "true"

    def body(self, ex: StoryExchange) -> Any:
        return quirks.apply(ex.body) if self.state.config.quirks else ex.body

    def padded(self, body: Any, size: int) -> Any:
        if not isinstance(body, dict):
            return body
        inner = next((k for k, v in body.items() if isinstance(v, dict)), None)
        if inner is None:
            return {**body, "padding": "x" * size}
        return {**body, inner: {**body[inner], "padding": "x" * size}}

    async def unknown(self, request: Request) -> Response:
        """No such route: a 404 in the envelope (code not_found), logged like any request."""
        ex = StoryExchange(request, endpoint=UNKNOWN)
        err = StorySandboxError(
            "not_found", f"No route {ex.method} {request.url.path}.", status=404
        )
        headers = {**self.state.limiter.peek(ex.bucket), "X-Request-Id": ex.request_id}
        self.log(ex, 404)
        return JSONResponse(err.body(ex.request_id), status_code=404, headers=headers)

    async def handle(self, ex: StoryExchange, rule: FaultRule | None) -> None:
        state, endpoint = self.state, ex.endpoint
        ex.headers.update(state.limiter.take(ex.bucket))
        account = ex.bucket
        scopes: frozenset[str] = frozenset()
        if endpoint.scope is not None:
            account, scopes = state.keys.authenticate(
                ex.request.headers.get("authorization"), ex.client_ip
            )
        if rule is not None and is_error(rule):
            ex.fault = "storm_429" if rule.storm_429 else "error"
            raise fault_error(rule)
        if endpoint.scope is not None:
            state.keys.require(scopes, endpoint.scope)
        payload = await _json_body(ex.request)
        key = ex.idempotency_key
        if endpoint.idempotency == "required" and not key:
            raise StorySandboxError(
                "idempotency_key_required",
                f"{ex.method} {ex.path} requires an Idempotency-Key header for safe retries.",
            )
        remember = endpoint.idempotency != "none" and bool(key)
        fingerprint = IdempotencyStore.fingerprint(ex.method, ex.path, payload) if remember else ""
        if remember:
            stored = state.idempotency.lookup(account, str(key), fingerprint)
            if stored is not None:
                ex.status, ex.body, ex.replayed = stored.status, stored.body, True
                return
            state.idempotency.begin(account, str(key), fingerprint)
            try:
                await self._apply(ex, rule, account, payload, fingerprint)
            finally:
                state.idempotency.end(account, str(key))
            return
        await self._apply(ex, rule, account, payload, fingerprint)

    async def _apply(
        self,
        ex: StoryExchange,
        rule: FaultRule | None,
        account: str,
        payload: Any,
        fingerprint: str,
    ) -> None:
        """Run the endpoint and, for a keyed request, store its answer before anyone can ask again."""
        state, endpoint = self.state, ex.endpoint
        if rule is not None and rule.hold_ms:
            # The API is working on it: a same-key request meanwhile sees "already processing".
            await asyncio.sleep(rule.hold_ms / 1000)
        key = ex.idempotency_key
        remember = endpoint.idempotency != "none" and bool(key)
        call = StoryCall(
            world=state.world,
            params=dict(ex.request.path_params),
            query=dict(ex.request.query_params),
            body=payload,
            key=account,
        )
        result = await endpoint.handler(call)
        if isinstance(result, Answer):
            ex.status, ex.body = result.status, result.body
            ex.headers.update(result.headers)
        else:
            ex.body = result
        if remember:
            state.idempotency.remember(account, str(key), Stored(fingerprint, ex.status, ex.body))


def create_app(config: StorySandboxConfig | None = None) -> Starlette:
    state = StorySandboxState(config or StorySandboxConfig())
    pipeline = StoryPipeline(state)
    api_routes = [
        Route(ep.path, pipeline.view(ep), methods=[ep.method])
        for module in ENDPOINT_MODULES
        for ep in module.ENDPOINTS
    ]
    api_routes.append(
        Route("/{rest:path}", pipeline.unknown, methods=["GET", "POST", "PATCH", "DELETE", "PUT"])
    )
    app = Starlette(
        routes=[
            Mount(BASE_PATH, routes=api_routes),
            Mount(
                routes_share.SHARE_PREFIX,
                routes=[
                    Route(ep.path, pipeline.view(ep), methods=[ep.method])
                    for ep in routes_share.ENDPOINTS
                ],
            ),
            Mount("/_sandbox", routes=control_routes(state)),
        ]
    )
    app.state.sandbox = state
    quiet_injected_drops()
    return app
