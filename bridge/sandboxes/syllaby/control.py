"""The Syllaby sandbox's control API (JSON, no auth) under `/_sandbox`.

The generic routes (see `bridge.sandboxes.kit.control`): GET/DELETE /requests (`?method=POST` too,
to count the POSTs per path), GET/PUT/DELETE /faults, GET /clock, POST /clock/advance, DELETE
/ratelimit, POST /reset (a fresh world: storyboards, credits, subscription, ids; tokens, faults
and the log kept). And:

GET    /state                        account (balance, subscribed, every charge and refund) and
                                     every storyboard as GET answers it plus `renders`,
                                     `generations`, `contexts`, `moodboard`, `scene_details`
                                     (frames, chaining, clip url, `clip_runs`)
PUT    /subscription {active}        the subscription on or off (off: 403 SUBSCRIPTION-REQUIRED)
PUT    /credits {balance}            set the credit balance
PUT    /failures {generate?, clips?, render?}   the next generations / clips / renders fail
PUT    /storyboards/{id} {status?, video_status?, video_url?}   set them as given, e.g. a
                                     status the reference does not list; pending transitions
                                     still apply when due
PUT    /scenes/{id} {status?, error?}  the same for a scene
POST   /tokens -> {token}            a token that authenticates even with accept_any_token off
DELETE /tokens {token}               revoke a token: 401 from now on
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from bridge.sandboxes.kit.control import ControlError, common_routes, guard, read_object
from bridge.sandboxes.syllaby.config import Failures
from bridge.sandboxes.syllaby.errors import SyllabySandboxError
from bridge.sandboxes.syllaby.state import SyllabySandboxState


def control_routes(state: SyllabySandboxState) -> list[Route]:
    async def get_state(request: Request) -> Any:
        return state.world.state_view()

    async def put_subscription(request: Request) -> Any:
        active = (await read_object(request))["active"]
        if not isinstance(active, bool):
            raise TypeError("active: true or false")
        with state.world.lock:
            state.world.account.subscribed = active
        return {"active": active}

    async def put_credits(request: Request) -> Any:
        balance = int((await read_object(request))["balance"])
        with state.world.lock:
            state.world.account.balance = balance
        return {"balance": balance}

    async def put_failures(request: Request) -> Any:
        merged = {**state.config.failures.model_dump(), **(await read_object(request))}
        state.config.failures = Failures.model_validate(merged)
        return state.config.failures.model_dump()

    async def put_storyboard(request: Request) -> Any:
        storyboard_id = int(request.path_params["id"])
        fields = await read_object(request)
        try:
            return state.world.override_storyboard(storyboard_id, fields)
        except SyllabySandboxError as err:
            raise ControlError(f"storyboard {storyboard_id}: {err.message}") from None

    async def put_scene(request: Request) -> Any:
        scene_id = int(request.path_params["id"])
        fields = await read_object(request)
        try:
            return state.world.override_scene(scene_id, fields)
        except SyllabySandboxError as err:
            raise ControlError(f"scene {scene_id}: {err.message}") from None

    async def mint_token(request: Request) -> Any:
        return {"token": state.tokens.mint()}

    async def revoke_token(request: Request) -> Any:
        state.tokens.revoke(str((await read_object(request))["token"]))
        return {"revoked": True}

    return [
        *common_routes(state),
        Route("/state", guard(get_state), methods=["GET"]),
        Route("/subscription", guard(put_subscription), methods=["PUT"]),
        Route("/credits", guard(put_credits), methods=["PUT"]),
        Route("/failures", guard(put_failures), methods=["PUT"]),
        Route("/storyboards/{id}", guard(put_storyboard), methods=["PUT"]),
        Route("/scenes/{id}", guard(put_scene), methods=["PUT"]),
        Route("/tokens", guard(mint_token), methods=["POST"]),
        Route("/tokens", guard(revoke_token), methods=["DELETE"]),
    ]
