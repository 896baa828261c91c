"""The bridge's HTTP side: `/healthz`, `/readyz`, `/metrics`, `/asyncapi`, via uvicorn in-loop.

Liveness and readiness answer different questions. `/healthz` says the process and its event loop
are alive (an answer at all proves the loop runs), so Kubernetes restarts only a wedged process.
`/readyz` asks the bridge (`ready()`: a NATS round trip, intake bound, watches loaded) and answers
503 with the failing checks, so Kubernetes stops routing to (and a rollout waits for) a replica
that cannot work, without killing it.

`HttpServer` runs uvicorn inside the caller's event loop rather than a thread, because the bridge
is one asyncio program; it binds the socket itself so a busy port fails `start()` with an
`OSError` instead of uvicorn's `sys.exit`, and it never installs signal handlers (the service owns
SIGTERM, to drain commands first).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.ops.metrics import CONTENT_TYPE, Metrics

log = structlog.get_logger(__name__)

ReadyCheck = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]
AsyncApiSource = Callable[[], dict[str, Any]]


def create_http_app(
    *,
    ready: ReadyCheck,
    metrics: Metrics,
    asyncapi: AsyncApiSource | None = None,
) -> Starlette:
    """The Starlette app of one bridge. `ready` must be cheap and bounded (probes call it often)."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            ok, checks = await ready()
        except Exception as exc:  # a failing check means "not ready", never a 500
            log.warning("readiness check raised", error=type(exc).__name__)
            ok, checks = False, {"error": type(exc).__name__}
        body = {"status": "ready" if ok else "not_ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def asyncapi_endpoint(request: Request) -> Response:
        if asyncapi is None:
            return JSONResponse({"error": "no AsyncAPI document configured"}, status_code=404)
        return JSONResponse(asyncapi())

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/asyncapi", asyncapi_endpoint, methods=["GET"]),
    ]
    return Starlette(routes=routes)


class _InLoopServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its owner."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class HttpServer:
    """Serve an ASGI app with uvicorn inside the running event loop.

    `port=0` binds a free port; `port` holds the bound one after `start()`. The default host is
    every interface, because Kubernetes probes and Prometheus reach the pod IP.
    """

    def __init__(self, app: Any, *, host: str = "0.0.0.0", port: int = 8080) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: _InLoopServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and start serving; returns once the server accepts connections."""
        if self._task is not None:
            raise RuntimeError("HttpServer already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,  # logs go through the bridge's structlog setup
            access_log=False,  # probes every few seconds would drown the log
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
        self._server = _InLoopServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="http-server")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # surfaces the startup error
                raise RuntimeError("HTTP server exited during startup")
            await asyncio.sleep(0.01)
        log.info("http endpoints listening", host=self.host, port=self.port)

    async def stop(self) -> None:
        """Stop accepting, finish in-flight responses, and return when the socket is closed."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            await self._task
        finally:
            self._server = None
            self._task = None
