"""`SyllabyClient`: Syllaby Text-to-Scene over the shared transport.

Its own rate budget (30 requests/min per token by default, commands before polls; `X-RateLimit-*`
headers, the reset an epoch timestamp), its own retry policy and circuit, Syllaby's error mapping.
Syllaby takes no Idempotency-Key: the transport retries a request only when repeating it is safe
(a GET, a PUT/PATCH that sets values: `retry_safe`) or when it provably never took effect (no
connection made, a 429, the subscription gate). Everything else that changes state is protected
by the command ledger (bridge/ledger), not here.

Every method returns an `ApiResponse` whose `raw` is the API's whole JSON body (the `{message,
status, data, meta}` envelope) and whose `data` is the parsed `data`.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from bridge.http.circuit import Circuit
from bridge.http.ratelimit import Priority, RateBudget
from bridge.http.routes import Endpoint
from bridge.http.transport import (
    ApiResponse,
    RequestHook,
    RetryPolicy,
    Transport,
    TransportClient,
)
from bridge.providers.syllaby.errors import from_response
from bridge.providers.syllaby.token import SyllabyToken
from schemas.syllaby import resources as r
from schemas.syllaby.commands import SyllabyCommand

__all__ = ["DEFAULT_RATE_LIMIT", "SyllabyClient", "syllaby_budget"]

DEFAULT_RATE_LIMIT = 30
COMMAND = Priority.COMMAND
# No storyboard has id 0: a probe answered 404 (or anything judged) says the account is accepted.
PROBE_PATH = "text-to-scene/0"


def syllaby_budget(per_minute: int = DEFAULT_RATE_LIMIT, **kw: Any) -> RateBudget:
    """A RateBudget of its own (never the Story API's) reading Syllaby's `X-RateLimit-*` headers;
    a 429 blocks it for the later of Retry-After and the epoch X-RateLimit-Reset."""
    return RateBudget(
        per_minute,
        remaining_header="X-RateLimit-Remaining",
        reset_header="X-RateLimit-Reset",
        **kw,
    )


class SyllabyClient(TransportClient):
    """Typed Syllaby Text-to-Scene client. Use as `async with SyllabyClient(...) as api:`."""

    provider = "syllaby"

    def __init__(
        self,
        base_url: str,
        token: SyllabyToken | str | SecretStr,
        *,
        budget: RateBudget | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | httpx.Timeout = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        on_request: RequestHook | None = None,
        circuit: Circuit | None = None,
    ) -> None:
        self.key = token if isinstance(token, SyllabyToken) else SyllabyToken(token)
        super().__init__(
            Transport(
                base_url,
                self.key,
                budget=budget or syllaby_budget(),
                retry=retry,
                timeout=timeout,
                transport=transport,
                on_request=on_request,
                circuit=circuit,
                errors=from_response,
            )
        )

    def __repr__(self) -> str:
        return f"SyllabyClient({self.base_url!r}, token={self.key!r})"

    @property
    def circuit(self) -> Circuit | None:
        return self._transport.circuit

    # --- generic ------------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        priority: Priority = COMMAND,
        retry_safe: bool = False,
        template: str | None = None,
    ) -> ApiResponse[Any]:
        """One call; `data` is the envelope's `data` as returned."""
        resp = await self._transport.send(
            method, path, json=json, priority=priority, retry_safe=retry_safe, template=template
        )
        data = resp.raw.get("data") if isinstance(resp.raw, dict) else None
        return resp.with_data(data)

    async def send(
        self, cmd: SyllabyCommand, endpoint: Endpoint, *, priority: Priority = COMMAND
    ) -> ApiResponse[Any]:
        """`cmd` sent as its handler row declares (`endpoint`). A call that needs no ledger is safe
        to repeat, so the transport may retry it like a read."""
        return await self.request(
            endpoint.method,
            endpoint.path.format(**cmd.path_values()),
            json=cmd.request_json(),
            priority=priority,
            retry_safe=endpoint.idempotency != "ledger",
            template=endpoint.path,
        )

    async def probe(self) -> ApiResponse[Any] | None:
        """The circuit's probe: one GET whose answer judges the account (a 404 is fine)."""
        return await self._transport.send("GET", PROBE_PATH)

    # --- typed reads (watches, reconciliation, the demo) ---------------------------------------
    async def get_storyboard(
        self, storyboard_id: int | str, *, priority: Priority = COMMAND
    ) -> ApiResponse[r.Storyboard]:
        resp = await self.request("GET", f"text-to-scene/{int(storyboard_id)}", priority=priority)
        return resp.with_data(r.Storyboard.model_validate(resp.data))

    async def get_scene_status(
        self, storyboard_id: int | str, scene_id: int | str, *, priority: Priority = COMMAND
    ) -> ApiResponse[r.SceneStatus]:
        path = f"text-to-scene/{int(storyboard_id)}/scenes/{int(scene_id)}/status"
        resp = await self.request("GET", path, priority=priority)
        return resp.with_data(r.SceneStatus.model_validate(resp.data))

    async def estimate(self, storyboard_id: int | str) -> ApiResponse[r.Estimate]:
        resp = await self.request("GET", f"text-to-scene/{int(storyboard_id)}/estimate")
        return resp.with_data(r.Estimate.model_validate(resp.data))
