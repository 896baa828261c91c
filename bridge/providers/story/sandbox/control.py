"""The sandbox's control API (JSON, no auth) under `/_sandbox`, for tests, demos and benchmarks.

GET    /requests[?path=glob|^regex]  the request log, oldest first: method, path (after /api/v1),
                                     query, idempotencyKey, status (0: dropped/hung), replayed,
                                     time (epoch s), sandboxTime, requestId, fault,
                                     traceparent (the W3C header the client sent, or null)
DELETE /requests                     clear the log
GET    /faults                       the fault rules in force
PUT    /faults  [FaultRule, ...]     replace them (fields: see bridge.sandboxkit.faults);
                                     also reseeds the fault RNG, so a run repeats
DELETE /faults                       no faults
GET    /clock                        {now, speed, manual}: sandbox seconds since start
POST   /clock/advance {seconds}      move sandbox time forward; due transitions apply on next read
POST   /keys {scopes?, state?, allowedIps?} -> {key}
                                     mint a key; state: active|revoked|expired|disabled;
                                     scopes default to all, allowedIps to any
PUT    /keys/state {key, state}      change a key's state (revoke it, or make it active again)
PUT    /credits {balance}            set the Studio Credit balance
PUT    /capabilities/sources/{type} {availability}   e.g. make pdf "planned" (then a pdf source
                                     is 422 source_type_unsupported)
PUT    /recording {available}        whether finalize audio finds a completed recording
DELETE /ratelimit                    restart every rate-limit window
POST   /reset                        a fresh world and idempotency store (keys, faults, log kept)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.providers.story.sandbox.state import SandboxState
from bridge.sandboxkit.faults import FaultRule

AVAILABILITY = ("available", "planned", "disabled")


class ControlError(Exception):
    pass


async def _json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return await request.json()
    except ValueError:
        raise ControlError("body: not valid JSON") from None


def _guard(view: Callable[[Request], Awaitable[Any]]) -> Callable[[Request], Awaitable[Response]]:
    async def wrapped(request: Request) -> Response:
        try:
            return JSONResponse(await view(request))
        except (ControlError, ValidationError, ValueError, KeyError, TypeError) as err:
            return JSONResponse(
                {"error": {"code": "bad_control_request", "message": str(err)}}, 422
            )

    return wrapped


def control_routes(state: SandboxState) -> list[Route]:
    async def get_requests(request: Request) -> Any:
        entries = state.log.entries(request.query_params.get("path"))
        return {"requests": [e.to_dict() for e in entries]}

    async def clear_requests(request: Request) -> Any:
        state.log.clear()
        return {"requests": []}

    async def get_faults(request: Request) -> Any:
        return {"faults": [r.model_dump() for r in state.faults.rules]}

    async def put_faults(request: Request) -> Any:
        body = await _json(request)
        if not isinstance(body, list):
            raise ControlError("body: expected a JSON list of fault rules")
        state.faults.replace([FaultRule.model_validate(r) for r in body])
        return await get_faults(request)

    async def clear_faults(request: Request) -> Any:
        state.faults.replace([])
        return {"faults": []}

    async def get_clock(request: Request) -> Any:
        clock = state.clock
        return {"now": clock.now(), "speed": clock.speed, "manual": clock.manual}

    async def advance(request: Request) -> Any:
        seconds = float((await _json(request)).get("seconds", 0))
        if seconds < 0:
            raise ControlError("seconds: time only moves forward")
        return {"now": state.clock.advance(seconds)}

    async def mint_key(request: Request) -> Any:
        spec = await _json(request)
        key = state.keys.mint(
            spec.get("scopes"), spec.get("state") or "active", spec.get("allowedIps")
        )
        return {"key": key}

    async def put_key_state(request: Request) -> Any:
        spec = await _json(request)
        state.keys.set_state(str(spec["key"]), str(spec["state"]))
        return {"state": spec["state"]}

    async def put_credits(request: Request) -> Any:
        balance = int((await _json(request))["balance"])
        state.world.account.set_balance(balance)
        return {"credits": state.world.account.credits()}

    async def put_source_availability(request: Request) -> Any:
        kind = request.path_params["type"]
        availability = (await _json(request)).get("availability")
        if availability not in AVAILABILITY:
            raise ControlError(f"availability: one of {', '.join(AVAILABILITY)}")
        state.world.account.source_types[kind] = availability
        return {"type": kind, "availability": availability}

    async def put_recording(request: Request) -> Any:
        state.config.recording_available = bool((await _json(request))["available"])
        return {"available": state.config.recording_available}

    async def put_quirks(request: Request) -> Any:
        state.config.quirks = bool((await _json(request))["enabled"])
        return {"enabled": state.config.quirks}

    async def reset_ratelimit(request: Request) -> Any:
        state.limiter.reset()
        return {"reset": True}

    async def reset(request: Request) -> Any:
        state.reset()
        return {"reset": True}

    return [
        Route("/requests", _guard(get_requests), methods=["GET"]),
        Route("/requests", _guard(clear_requests), methods=["DELETE"]),
        Route("/faults", _guard(get_faults), methods=["GET"]),
        Route("/faults", _guard(put_faults), methods=["PUT"]),
        Route("/faults", _guard(clear_faults), methods=["DELETE"]),
        Route("/clock", _guard(get_clock), methods=["GET"]),
        Route("/clock/advance", _guard(advance), methods=["POST"]),
        Route("/keys", _guard(mint_key), methods=["POST"]),
        Route("/keys/state", _guard(put_key_state), methods=["PUT"]),
        Route("/credits", _guard(put_credits), methods=["PUT"]),
        Route("/capabilities/sources/{type}", _guard(put_source_availability), methods=["PUT"]),
        Route("/recording", _guard(put_recording), methods=["PUT"]),
        Route("/quirks", _guard(put_quirks), methods=["PUT"]),
        Route("/ratelimit", _guard(reset_ratelimit), methods=["DELETE"]),
        Route("/reset", _guard(reset), methods=["POST"]),
    ]
