"""``StoryClient``: the one facade over every Story API endpoint.

Endpoints live in small per-resource mixins (``projects``, ``plans_jobs``, ``artifacts``); this
module only owns the lifecycle (one pooled ``httpx.AsyncClient``, one shared :class:`RateBudget`)
and the docs endpoints; publishing and the live read are in ``publishing``. Every method is ``async``, takes
``priority`` (poll reads pass ``Priority.POLL``), mutating ones take ``idempotency_key``, and all
return :class:`ApiResponse` (``status``, ``data``, ``raw``, ``request_id``, ``replayed``,
``headers``). ``list_*`` return ``ApiResponse[Page[Model]]``; ``iter_*`` iterate every item.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx
from pydantic import SecretStr

from bridge.http.circuit import Circuit
from bridge.http.keys import ApiKey
from bridge.http.ratelimit import Priority, RateBudget
from bridge.http.transport import ApiResponse, RequestHook, RetryPolicy, Transport
from bridge.providers.story import errors as story_errors
from bridge.providers.story.endpoints.artifacts import ArtifactsMixin
from bridge.providers.story.endpoints.plans_jobs import PlansJobsMixin
from bridge.providers.story.endpoints.projects import ProjectsMixin
from bridge.providers.story.endpoints.publishing import PublishingMixin

__all__ = ["StoryClient"]

COMMAND = Priority.COMMAND


class StoryClient(ProjectsMixin, PlansJobsMixin, ArtifactsMixin, PublishingMixin):
    """Typed Story API client. Use as ``async with StoryClient(...) as api:``.

    Share one :class:`RateBudget` between every client that uses the same key (the bridge
    creates one per key); ``transport`` is a seam for tests that need an
    ``httpx.AsyncBaseTransport`` (prefer the real sandbox). ``on_request`` is called after
    every HTTP attempt (retries included) with method, path, status (``None``: no answer) and
    seconds, e.g. ``Metrics.observe_api_request``.
    """

    def __init__(
        self,
        base_url: str,
        key: ApiKey | str | SecretStr,
        *,
        budget: RateBudget | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | httpx.Timeout = 30.0,
        limits: httpx.Limits | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        on_request: RequestHook | None = None,
        circuit: Circuit | None = None,
    ) -> None:
        self.key = key if isinstance(key, ApiKey) else ApiKey.parse(key)
        self._transport = Transport(
            base_url,
            self.key,
            budget=budget,
            retry=retry,
            timeout=timeout,
            limits=limits,
            transport=transport,
            on_request=on_request,
            circuit=circuit,
            errors=story_errors.from_response,
        )

    def __repr__(self) -> str:
        return f"StoryClient({self.base_url!r}, key={self.key!r})"

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def budget(self) -> RateBudget:
        return self._transport.budget

    @property
    def retry(self) -> RetryPolicy:
        return self._transport.retry

    @property
    def circuit(self) -> Circuit | None:
        return self._transport.circuit

    async def probe(self) -> None:
        """The circuit's probe: one cheap authenticated read (the capability manifest)."""
        await self.get_capabilities()

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> StoryClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- docs (no auth needed upstream; sent with it anyway) -----------------------------------

    async def get_openapi(self, *, priority: Priority = COMMAND) -> ApiResponse[Any]:
        """The OpenAPI 3.1 document, raw."""
        return await self.request("GET", "openapi.json", priority=priority)

    async def get_examples(self, *, priority: Priority = COMMAND) -> ApiResponse[Any]:
        """The machine-readable recipe catalog, raw."""
        return await self.request("GET", "examples", priority=priority)

    async def get_agent_guidance(self, *, priority: Priority = COMMAND) -> ApiResponse[Any]:
        """Admin-managed workflow guidance, raw."""
        return await self.request("GET", "agent-guidance", priority=priority)
