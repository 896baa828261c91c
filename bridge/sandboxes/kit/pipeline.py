"""The fault phases every sandbox request goes through, around its provider's own handling.

One view per endpoint: the rule that fires for the request (`bridge.sandboxes.kit.faults`), then

- before handling: `latency_ms`, then `hang` or `drop` (the request has no effect);
- the provider's `answer`: its rate window, auth, injected error, endpoint, in its own order; it
  leaves the status, body and headers on the exchange, an error included (it never raises);
- after handling: `drop_after` or `hang_after` (the effect stands, the answer is lost), else the
  log entry, the rule's `headers` over the provider's, `respond_latency_ms`, and the answer: empty
  for a `bare` error, padded by `pad_bytes` where the provider's envelope carries its object.

Every request is logged once: status 0 for a drop or a hang (`log_hangs`: a hung request is in
the log while it hangs), its status otherwise.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Generic, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge.sandboxes.kit.control import ControlledState
from bridge.sandboxes.kit.exchange import Exchange
from bridge.sandboxes.kit.faults import FaultRule
from bridge.sandboxes.kit.network import dropped, hang

S = TypeVar("S", bound=ControlledState)
X = TypeVar("X", bound=Exchange)
E = TypeVar("E")


class Pipeline(ABC, Generic[S, X, E]):
    """A provider's pipeline: its state `S`, its exchange `X` and its endpoint declaration `E`."""

    log_hangs: ClassVar[bool] = True

    def __init__(self, state: S) -> None:
        self.state = state

    @abstractmethod
    def exchange(self, request: Request, endpoint: E) -> X:
        """The provider's exchange for this request."""

    @abstractmethod
    async def answer(self, ex: X, endpoint: E, rule: FaultRule | None) -> None:
        """Handle the request into `ex`: status, body and headers, an error rendered, not raised."""

    @abstractmethod
    def padded(self, body: Any, size: int) -> Any:
        """`body` with a `padding` field of `size` bytes in the object the envelope carries."""

    def body(self, ex: X) -> Any:
        """What a handled answer carries: `ex.body`, unless the provider reshapes it."""
        return ex.body

    def log(self, ex: X, status: int) -> None:
        self.state.log.add(ex.entry(status, self.state.clock.now()))

    def view(self, endpoint: E) -> Callable[[Request], Awaitable[Any]]:
        async def view(request: Request) -> Any:
            ex = self.exchange(request, endpoint)
            rule = self.state.faults.fire(ex.method, ex.path)
            if rule is not None:
                ex.fault = "latency"
                if rule.latency_ms:
                    await asyncio.sleep(rule.latency_ms / 1000)
                if rule.hang or rule.drop:
                    ex.fault = "hang" if rule.hang else "drop"
                    if rule.drop or self.log_hangs:
                        self.log(ex, 0)
                    if rule.hang:
                        await hang()
                    # Read the whole request first: closing with the body unread (or still on its
                    # way) makes the kernel answer with a reset instead of the promised-body drop.
                    await request.body()
                    return dropped
            await self.answer(ex, endpoint, rule)
            if rule is not None and (rule.drop_after or rule.hang_after):
                ex.fault = "drop_after" if rule.drop_after else "hang_after"
                self.log(ex, 0)
                if rule.hang_after:
                    await hang()
                return dropped
            self.log(ex, ex.status)
            if rule is not None and rule.headers:
                ex.headers = {**ex.headers, **rule.headers}
            if rule is not None and rule.respond_latency_ms:
                await asyncio.sleep(rule.respond_latency_ms / 1000)
            if rule is not None and rule.bare and ex.status >= 400:
                return Response(b"", status_code=ex.status, headers=ex.headers)
            body = self.body(ex)
            if rule is not None and rule.pad_bytes and ex.status < 400:
                body = self.padded(body, rule.pad_bytes)
            return JSONResponse(body, status_code=ex.status, headers=ex.headers)

        return view
