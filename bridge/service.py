"""The long-running process: a `Bridge` plus its HTTP endpoints, stopped cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import structlog

from bridge.config import Settings
from bridge.health import HttpServer, create_http_app
from bridge.metrics import Metrics
from bridge.runtime import Bridge

log = structlog.get_logger("storybridge.service")


async def serve(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
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
        await bridge.start()
        await stop.wait()
        log.info("shutting down", grace_seconds=settings.shutdown_grace_seconds)
    finally:
        await bridge.stop()
        await http.stop()
