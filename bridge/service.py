"""The long-running process: a `Bridge` plus its HTTP endpoints, stopped cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import structlog

from bridge.config import BridgeSettings
from bridge.ops.health import HttpServer, create_http_app
from bridge.ops.metrics import Metrics
from bridge.runtime import Bridge

log = structlog.get_logger(__name__)


async def serve(settings: BridgeSettings, *, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set or a termination signal arrives."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    metrics = Metrics()
    bridge = Bridge(settings, metrics=metrics)
    http = HttpServer(
        create_http_app(ready=bridge.ready, metrics=metrics, asyncapi=bridge.asyncapi),
        port=settings.http_port,
    )
    # Liveness and a (not yet ready) readiness answer from the first second, as Kubernetes expects.
    await http.start()
    try:
        if await _start_unless_stopped(bridge, stop):
            await stop.wait()
        log.info("shutting down", grace_seconds=settings.shutdown_grace_seconds)
    finally:
        await bridge.stop()
        await http.stop()


async def _start_unless_stopped(bridge: Bridge, stop: asyncio.Event) -> bool:
    """`bridge.start()`, abandoned if `stop` is set first; True when the bridge started.

    Connecting retries forever while NATS is unreachable (the pod stays alive and not ready), so a
    SIGTERM in that phase must cancel the start instead of waiting for NATS.
    """
    starting = asyncio.create_task(bridge.start(), name="bridge-start")
    stopping = asyncio.create_task(stop.wait(), name="bridge-stop-wait")
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
    if starting.cancelled():
        return False
    starting.result()  # a startup error propagates
    return True
