"""The Echo client over the core's shared transport (budget, retry policy, circuit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.http import errors as e
from bridge.http.ratelimit import Priority
from bridge.http.transport import ApiResponse, Transport, TransportClient


class EchoToken:
    """Any string: the Echo API checks nothing, the transport only needs a header and a label."""

    def __init__(self, raw: str) -> None:
        self._raw = raw

    @property
    def authorization(self) -> str:
        return f"Bearer {self._raw}"

    @property
    def prefix(self) -> str:
        return "echo"


def from_response(status: int, body: Any, headers: Mapping[str, str]) -> e.ApiError:
    cls: type[e.ApiError]
    if status == 401:  # the token, not the request: the circuit opens and holds its commands
        return e.AuthenticationError(
            "echo refused the token", code="unauthenticated", status=401, account_level=True
        )
    if status == 404:
        cls, code = e.NotFound, "not_found"
    elif status >= 500 or status in e.AMBIGUOUS_STATUSES:
        cls, code = e.ServerError, "upstream_unavailable"
    else:
        cls, code = e.TerminalApiError, f"http_{status}"
    return cls(f"echo answered {status}", code=code, status=status, details={"body": body})


class EchoClient(TransportClient):
    def __init__(self, base_url: str, **transport: Any) -> None:
        self.key = EchoToken("sandbox")
        super().__init__(Transport(base_url, self.key, errors=from_response, **transport))

    async def create_thing(self, name: str, *, idempotency_key: str) -> ApiResponse[Any]:
        return await self._transport.send(
            "POST",
            "things",
            json={"name": name},
            idempotency_key=idempotency_key,
            template="things",
        )

    async def get_thing(
        self, thing_id: str, *, priority: Priority = Priority.COMMAND
    ) -> ApiResponse[Any]:
        return await self._transport.send(
            "GET", f"things/{thing_id}", priority=priority, template="things/{id}"
        )

    async def probe(self) -> ApiResponse[Any] | None:
        """The circuit's probe: any answer but a 5xx says the API is back (a 404 is fine)."""
        return await self._transport.send("GET", "things/probe")
