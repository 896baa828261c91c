"""What an injected network fault looks like from the client's side of the socket.

`dropped` is an ASGI app that starts an answer promising a body and dies (httpx raises
RemoteProtocolError); `hang` never returns until the server shuts down. uvicorn would log each
drop as an unexpected exception with a traceback: `quiet_injected_drops` filters exactly those.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.types import Receive, Scope, Send

HANG_SECONDS = 3600.0


class DroppedConnectionError(ConnectionAbortedError):
    """Raised mid-response on purpose: uvicorn closes the socket, the client sees the drop."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, DroppedConnectionError):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


async def dropped(scope: Scope, receive: Receive, send: Send) -> None:
    """Start a response promising a body, then die."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    raise DroppedConnectionError("sandbox fault: connection dropped")


async def hang() -> None:
    """Never answer. At server shutdown the task is cancelled: the caller should then drop the
    connection (answer with `dropped`) instead of letting Starlette answer a 500."""
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(HANG_SECONDS)


def quiet_injected_drops() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in logger.filters):
        logger.addFilter(_QuietDrops())
