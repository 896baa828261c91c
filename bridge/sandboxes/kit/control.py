"""The control API's shared parts: JSON in, JSON out, and the routes every sandbox has.

GET    /requests[?path=glob|^regex&method=POST]   the request log, oldest first (see requestlog)
DELETE /requests                     clear the log
GET    /faults                       the fault rules in force
PUT    /faults  [FaultRule, ...]     replace them (fields: see bridge.sandboxes.kit.faults); also
                                     reseeds the fault RNG, so a run repeats
DELETE /faults                       no faults
GET    /clock                        {now, speed, manual}: sandbox seconds since start
POST   /clock/advance {seconds}      move sandbox time forward; due transitions apply on next read
DELETE /ratelimit                    restart every rate window
POST   /reset                        a fresh world (what else a sandbox keeps, it says)

A malformed control request answers 422 `{error: {code: bad_control_request, message}}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.sandboxes.kit.clock import SandboxClock
from bridge.sandboxes.kit.faults import FaultRule, Faults
from bridge.sandboxes.kit.requestlog import RequestLog

View = Callable[[Request], Awaitable[Any]]


class _Windows(Protocol):
    def reset(self) -> None: ...


class ControlledState(Protocol):
    """What the kit (the generic routes, the pipeline) needs of a sandbox's state."""

    @property
    def log(self) -> RequestLog: ...

    @property
    def faults(self) -> Faults: ...

    @property
    def clock(self) -> SandboxClock: ...

    @property
    def limiter(self) -> _Windows: ...

    def reset(self) -> None:
        """A fresh world; what else is kept is the sandbox's to say."""


class ControlError(Exception):
    pass


async def read_json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return await request.json()
    except ValueError:
        raise ControlError("body: not valid JSON") from None


async def read_object(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ControlError("body: expected a JSON object")
    return body


def guard(view: View) -> Callable[[Request], Awaitable[Response]]:
    """The view's value as JSON; a bad control request as 422 instead of a 500."""

    async def wrapped(request: Request) -> Response:
        try:
            return JSONResponse(await view(request))
        except (ControlError, ValidationError, ValueError, KeyError, TypeError) as err:
            return JSONResponse(
                {"error": {"code": "bad_control_request", "message": str(err)}}, 422
            )

    return wrapped


def common_routes(state: ControlledState) -> list[Route]:
    """Each route reads `state` per request: a sandbox may replace its parts on reset."""

    async def get_requests(request: Request) -> Any:
        entries = state.log.entries(
            request.query_params.get("path"), request.query_params.get("method")
        )
        return {"requests": [e.to_dict() for e in entries]}

    async def clear_requests(request: Request) -> Any:
        state.log.clear()
        return {"requests": []}

    async def get_faults(request: Request) -> Any:
        return {"faults": [r.model_dump() for r in state.faults.rules]}

    async def put_faults(request: Request) -> Any:
        body = await read_json(request)
        if not isinstance(body, list):
            raise ControlError("body: expected a JSON list of fault rules")
        state.faults.replace([FaultRule.model_validate(r) for r in body])
        return await get_faults(request)

    async def clear_faults(request: Request) -> Any:
        state.faults.replace([])
        return {"faults": []}

    async def get_clock(request: Request) -> Any:
        c = state.clock
        return {"now": c.now(), "speed": c.speed, "manual": c.manual}

    async def advance(request: Request) -> Any:
        seconds = float((await read_object(request)).get("seconds", 0))
        if seconds < 0:
            raise ControlError("seconds: time only moves forward")
        return {"now": state.clock.advance(seconds)}

    async def delete_windows(request: Request) -> Any:
        state.limiter.reset()
        return {"reset": True}

    async def reset_world(request: Request) -> Any:
        state.reset()
        return {"reset": True}

    return [
        Route("/requests", guard(get_requests), methods=["GET"]),
        Route("/requests", guard(clear_requests), methods=["DELETE"]),
        Route("/faults", guard(get_faults), methods=["GET"]),
        Route("/faults", guard(put_faults), methods=["PUT"]),
        Route("/faults", guard(clear_faults), methods=["DELETE"]),
        Route("/clock", guard(get_clock), methods=["GET"]),
        Route("/clock/advance", guard(advance), methods=["POST"]),
        Route("/ratelimit", guard(delete_windows), methods=["DELETE"]),
        Route("/reset", guard(reset_world), methods=["POST"]),
    ]
