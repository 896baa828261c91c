"""The Echo sandbox: `POST /things` and `GET /things/{id}` over real HTTP, on the shared kit
(clock, fault rules, request log, `/_sandbox` control routes, threaded server)."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount, Route

from bridge.plugins import SandboxAlone, SandboxOptions
from bridge.sandboxes.kit.clock import SandboxClock
from bridge.sandboxes.kit.control import common_routes
from bridge.sandboxes.kit.exchange import Exchange
from bridge.sandboxes.kit.faults import FaultRule, Faults, is_error
from bridge.sandboxes.kit.pipeline import Pipeline
from bridge.sandboxes.kit.ratewindow import FixedWindows
from bridge.sandboxes.kit.requestlog import RequestLog
from bridge.sandboxes.kit.server import ThreadedServer, serve_app

BASE_PATH = "/echo/v1"
RUNNING_AFTER = 1.0  # sandbox seconds from create to `running`
READY_AFTER = 3.0  # ... and to `ready`


class EchoState:
    def __init__(
        self,
        speed: float,
        faults: list[FaultRule] | None = None,
        seed: int = 0,
        per_minute: int = 100_000,
    ) -> None:
        self.clock = SandboxClock(speed)
        self.faults = Faults(faults or [], seed=seed)
        self.log = RequestLog()
        self.limiter = FixedWindows(per_minute)
        self.things: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, str] = {}  # Idempotency-Key -> thing id

    def reset(self) -> None:
        self.things.clear()
        self.by_key.clear()

    def view(self, thing_id: str) -> dict[str, Any] | None:
        thing = self.things.get(thing_id)
        if thing is None:
            return None
        age = self.clock.now() - thing["created"]
        status = "ready" if age >= READY_AFTER else "running" if age >= RUNNING_AFTER else "pending"
        return {"id": thing_id, "name": thing["name"], "status": status}


@dataclass
class EchoExchange(Exchange):
    base_path: ClassVar[str] = BASE_PATH


class EchoPipeline(Pipeline[EchoState, EchoExchange, str]):
    def exchange(self, request: Request, endpoint: str) -> EchoExchange:
        return EchoExchange(request)

    def padded(self, body: Any, size: int) -> Any:
        return {**body, "padding": "x" * size}

    async def answer(self, ex: EchoExchange, endpoint: str, rule: FaultRule | None) -> None:
        if rule is not None and is_error(rule):
            ex.fault = "error"
            ex.status, ex.body = rule.status or 500, {"error": "injected"}
            return
        state = self.state
        if endpoint == "create":
            key = ex.request.headers.get("idempotency-key")
            if key is not None and key in state.by_key:  # the same operation: its first answer
                ex.status, ex.body = 200, state.view(state.by_key[key])
                # Said as the Story API says it, so an outcome can tell a replay from a first effect.
                ex.headers["Idempotency-Replayed"] = "true"
                return
            body = await ex.request.json()
            thing_id = f"th_{uuid.uuid4().hex[:12]}"
            state.things[thing_id] = {
                "name": str(body.get("name", "")),
                "created": state.clock.now(),
            }
            if key is not None:
                state.by_key[key] = thing_id
            ex.status, ex.body = 201, state.view(thing_id)
            return
        found = state.view(ex.request.path_params["id"])
        ex.status, ex.body = (200, found) if found is not None else (404, {"error": "not_found"})


def echo_app(state: EchoState) -> Starlette:
    pipeline = EchoPipeline(state)
    api = [
        Route("/things", pipeline.view("create"), methods=["POST"]),
        Route("/things/{id}", pipeline.view("get"), methods=["GET"]),
    ]
    app = Starlette(
        routes=[
            Mount(BASE_PATH, routes=api),
            Mount("/_sandbox", routes=common_routes(state)),
        ]
    )
    app.state.sandbox = state
    return app


class EchoSandbox(ThreadedServer[EchoState]):
    thread_name = "echo-sandbox"
    base_path = BASE_PATH

    def __init__(self, speed: float = 20.0) -> None:
        super().__init__(echo_app(EchoState(speed)))


def sandbox_alone(options: SandboxOptions) -> SandboxAlone:
    """`storybridge sandbox --provider echo`: the same sandbox in the foreground. It has no keys
    and no credits, so options about them are refused rather than ignored."""
    refused = {
        "--key": bool(options.keys),
        "--scopes": options.scopes is not None,
        "--accept-any-key/--only-listed-keys": options.accept_any_key is not None,
        "--credits": options.credits is not None,
    }
    if any(refused.values()):
        given = ", ".join(name for name, said in refused.items() if said)
        raise ValueError(f"the Echo sandbox takes no keys and no credits; drop {given}")
    state = EchoState(
        options.speed,
        faults=[FaultRule.model_validate(rule) for rule in options.faults],
        seed=options.seed or 0,
        per_minute=options.rate_limit or 100_000,
    )
    return SandboxAlone(
        f"Echo sandbox on http://{options.host}:{options.port}{BASE_PATH} (control on /_sandbox)",
        functools.partial(serve_app, echo_app(state), options.host, options.port),
    )
