"""The sandbox ASGI app: the API's cross-cutting rules around every endpoint.

Per request, in order: injected faults as the network would show them (latency, hang, drop), the
rate-limit window of the caller's bucket (its key prefix, else its IP), bearer auth, an injected
error, the endpoint's scope, the Idempotency-Key rules, the endpoint itself. Every response carries
`X-Request-Id` (equal to `error.requestId` on errors) and `RateLimit-Limit/Remaining/Reset`; every
error is the documented envelope `{error: {code, message, requestId, details?}}`. Every request is
recorded in the request log. The control API (`/_sandbox`) is documented in `bridge.providers.story.sandbox.control`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from bridge.providers.story.sandbox import (
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
from bridge.providers.story.sandbox.auth import KEY_RE
from bridge.providers.story.sandbox.config import SandboxConfig
from bridge.providers.story.sandbox.control import control_routes
from bridge.providers.story.sandbox.core import Answer, Call, Endpoint
from bridge.providers.story.sandbox.errors import SandboxError
from bridge.providers.story.sandbox.faults import fault_error
from bridge.providers.story.sandbox.idempotency import IdempotencyStore, Stored
from bridge.providers.story.sandbox.state import SandboxState
from bridge.sandboxkit.faults import FaultRule, is_error
from bridge.sandboxkit.requestlog import LoggedRequest

API_PREFIX = "/api/v1"
ENDPOINT_MODULES = (
    routes_projects,
    routes_sources,
    routes_plans,
    routes_jobs,
    routes_artifacts,
    routes_misc,
    routes_publishing,
)
HANG_SECONDS = 3600.0


async def _no_handler(call: Call) -> Any:
    raise AssertionError("never called")


UNKNOWN = Endpoint("GET", "/{rest:path}", _no_handler, None)


class DroppedConnectionError(ConnectionAbortedError):
    """Raised mid-response on purpose: uvicorn closes the socket, the client sees the drop."""


class _QuietDrops(logging.Filter):
    """uvicorn logs an unexpected ASGI exception with a traceback; an injected drop is expected."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, DroppedConnectionError):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


async def _dropped(scope: Scope, receive: Receive, send: Send) -> None:
    """Start a response promising a body, then die: httpx raises RemoteProtocolError."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    raise DroppedConnectionError("sandbox fault: connection dropped")


async def _hang() -> None:
    """Never answer. Not logged: it never ends. At server shutdown the task is cancelled: the
    caller then drops the connection instead of letting Starlette answer a 500."""
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(HANG_SECONDS)


@dataclass
class Exchange:
    """One request on its way through the pipeline, and what will be logged about it."""

    request: Request
    endpoint: Endpoint
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    body: Any = None
    replayed: bool = False
    fault: str | None = None

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def path(self) -> str:
        return self.request.url.path[len(API_PREFIX) :]

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
        return "ip:" + (self.request.client.host if self.request.client else "")


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise SandboxError("validation_failed", "body: not valid JSON") from None


class Pipeline:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def log(self, ex: Exchange, status: int) -> None:
        self.state.log.add(
            LoggedRequest(
                method=ex.method,
                path=ex.path,
                query=ex.request.url.query,
                idempotencyKey=ex.idempotency_key,
                status=status,
                replayed=ex.replayed,
                time=time.time(),
                requestId=ex.request_id,
                sandboxTime=self.state.clock.now(),
                fault=ex.fault,
                traceparent=ex.request.headers.get("traceparent"),
            )
        )

    def view(self, endpoint: Endpoint) -> Callable[[Request], Any]:
        async def view(request: Request) -> Any:
            ex = Exchange(request, endpoint)
            rule = self.state.faults.fire(ex.method, ex.path)
            if rule is not None:
                ex.fault = "latency"
                if rule.latency_ms:
                    await asyncio.sleep(rule.latency_ms / 1000)
                if rule.hang:
                    await _hang()
                    return _dropped
                if rule.drop:
                    ex.fault = "drop"
                    self.log(ex, 0)
                    return _dropped
            try:
                await self.handle(ex, rule)
            except SandboxError as err:
                ex.status, ex.body = err.status, err.body(ex.request_id)
                ex.headers.update(err.headers)
            except Exception as exc:  # a sandbox bug must still look like the API's 500
                bug = SandboxError("internal_error", f"sandbox failure: {type(exc).__name__}")
                ex.status, ex.body = bug.status, bug.body(ex.request_id)
            if not any(h.lower() == "ratelimit-limit" for h in ex.headers):
                ex.headers.update(self.state.limiter.peek(ex.bucket))
            ex.headers["X-Request-Id"] = ex.request_id
            if ex.replayed:
                ex.headers["Idempotency-Replayed"] = "true"
            if rule is not None and (rule.drop_after or rule.hang_after):
                ex.fault = "drop_after" if rule.drop_after else "hang_after"
                self.log(ex, 0)
                if rule.hang_after:
                    await _hang()
                return _dropped
            self.log(ex, ex.status)
            if rule is not None and rule.respond_latency_ms:
                await asyncio.sleep(rule.respond_latency_ms / 1000)
            body = quirks.apply(ex.body) if self.state.config.quirks else ex.body
            if rule is not None and rule.bare and ex.status >= 400:
                return Response(b"", status_code=ex.status, headers=ex.headers)
            if rule is not None and rule.pad_bytes and ex.status < 400:
                body = _padded(body, rule.pad_bytes)
            return JSONResponse(body, status_code=ex.status, headers=ex.headers)

        return view

    async def unknown(self, request: Request) -> Response:
        """No such route: a 404 in the envelope (code not_found), logged like any request."""
        ex = Exchange(request, UNKNOWN)
        err = SandboxError("not_found", f"No route {ex.method} {request.url.path}.", status=404)
        headers = {**self.state.limiter.peek(ex.bucket), "X-Request-Id": ex.request_id}
        self.log(ex, 404)
        return JSONResponse(err.body(ex.request_id), status_code=404, headers=headers)

    async def handle(self, ex: Exchange, rule: FaultRule | None) -> None:
        state, endpoint = self.state, ex.endpoint
        ex.headers.update(state.limiter.take(ex.bucket))
        account = ex.bucket
        scopes: frozenset[str] = frozenset()
        if endpoint.scope is not None:
            client_ip = ex.request.client.host if ex.request.client else ""
            account, scopes = state.keys.authenticate(
                ex.request.headers.get("authorization"), client_ip
            )
        if rule is not None and is_error(rule):
            ex.fault = "storm_429" if rule.storm_429 else "error"
            raise fault_error(rule)
        if endpoint.scope is not None:
            state.keys.require(scopes, endpoint.scope)
        payload = await _json_body(ex.request)
        key = ex.idempotency_key
        if endpoint.idempotency == "required" and not key:
            raise SandboxError(
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
        self, ex: Exchange, rule: FaultRule | None, account: str, payload: Any, fingerprint: str
    ) -> None:
        """Run the endpoint and, for a keyed request, store its answer before anyone can ask again."""
        state, endpoint = self.state, ex.endpoint
        if rule is not None and rule.hold_ms:
            # The API is working on it: a same-key request meanwhile sees "already processing".
            await asyncio.sleep(rule.hold_ms / 1000)
        key = ex.idempotency_key
        remember = endpoint.idempotency != "none" and bool(key)
        call = Call(
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


def _padded(body: Any, size: int) -> Any:
    """`body` with a `padding` field of `size` bytes in the object its envelope carries."""
    if not isinstance(body, dict):
        return body
    inner = next((k for k, v in body.items() if isinstance(v, dict)), None)
    if inner is None:
        return {**body, "padding": "x" * size}
    return {**body, inner: {**body[inner], "padding": "x" * size}}


def _quiet_injected_drops() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in logger.filters):
        logger.addFilter(_QuietDrops())


def create_app(config: SandboxConfig | None = None) -> Starlette:
    state = SandboxState(config or SandboxConfig())
    pipeline = Pipeline(state)
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
            Mount(API_PREFIX, routes=api_routes),
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
    _quiet_injected_drops()
    return app
