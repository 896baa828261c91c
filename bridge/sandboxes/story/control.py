"""The Story sandbox's control API (JSON, no auth) under `/_sandbox`, for tests, demos, benchmarks.

The generic routes (see `bridge.sandboxes.kit.control`): GET/DELETE /requests (`?path=` a glob or a
`^regex` after /api/v1, `?method=`; entries carry idempotencyKey and replayed too), GET/PUT/DELETE
/faults (rules: `bridge.sandboxes.kit.faults`), GET /clock, POST /clock/advance, DELETE /ratelimit,
POST /reset (a fresh world and idempotency store; keys, faults and the log kept). And:

POST   /keys {scopes?, state?, allowedIps?} -> {key}
                                     mint a key; state: active|revoked|expired|disabled;
                                     scopes default to all, allowedIps to any
PUT    /keys/state {key, state}      change a key's state (revoke it, or make it active again)
PUT    /credits {balance}            set the Studio Credit balance
PUT    /capabilities/sources/{type} {availability}   e.g. make pdf "planned" (then a pdf source
                                     is 422 source_type_unsupported)
PUT    /recording {available}        whether finalize audio finds a completed recording
PUT    /quirks {enabled}             production quirks on or off (see `quirks`)
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from bridge.sandboxes.kit.control import ControlError, common_routes, guard, read_object
from bridge.sandboxes.story.state import StorySandboxState

AVAILABILITY = ("available", "planned", "disabled")


def control_routes(state: StorySandboxState) -> list[Route]:
    async def mint_key(request: Request) -> Any:
        spec = await read_object(request)
        key = state.keys.mint(
            spec.get("scopes"), spec.get("state") or "active", spec.get("allowedIps")
        )
        return {"key": key}

    async def put_key_state(request: Request) -> Any:
        spec = await read_object(request)
        state.keys.set_state(str(spec["key"]), str(spec["state"]))
        return {"state": spec["state"]}

    async def put_credits(request: Request) -> Any:
        balance = int((await read_object(request))["balance"])
        state.world.account.set_balance(balance)
        return {"credits": state.world.account.credits()}

    async def put_source_availability(request: Request) -> Any:
        kind = request.path_params["type"]
        availability = (await read_object(request)).get("availability")
        if availability not in AVAILABILITY:
            raise ControlError(f"availability: one of {', '.join(AVAILABILITY)}")
        state.world.account.source_types[kind] = availability
        return {"type": kind, "availability": availability}

    async def put_recording(request: Request) -> Any:
        state.config.recording_available = bool((await read_object(request))["available"])
        return {"available": state.config.recording_available}

    async def put_quirks(request: Request) -> Any:
        state.config.quirks = bool((await read_object(request))["enabled"])
        return {"enabled": state.config.quirks}

    return [
        *common_routes(state),
        Route("/keys", guard(mint_key), methods=["POST"]),
        Route("/keys/state", guard(put_key_state), methods=["PUT"]),
        Route("/credits", guard(put_credits), methods=["PUT"]),
        Route("/capabilities/sources/{type}", guard(put_source_availability), methods=["PUT"]),
        Route("/recording", guard(put_recording), methods=["PUT"]),
        Route("/quirks", guard(put_quirks), methods=["PUT"]),
    ]
