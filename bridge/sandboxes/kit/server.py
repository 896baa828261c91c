"""Serve a sandbox app: in a background thread for tests and the bridge, or in the foreground.

The listening socket is bound in the constructor, so `port` is known (and reserved) before start;
a provider's server class adds its own `base_url`, `state` and `control` on top.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Generic, Self, TypeVar

import httpx
import uvicorn
from starlette.types import ASGIApp

S = TypeVar("S")


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Without it each answer waits ~40 ms for the client's delayed ACK (Nagle): uvicorn writes
    # headers and body separately. Accepted sockets inherit the option on Linux.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


class ThreadedServer(Generic[S]):
    """uvicorn on `host:port` (0: a free port) in its own thread with its own event loop.

    `S` is the sandbox's state, which its app keeps at `app.state.sandbox`; `base_path` is where
    the API's paths start (the control API is always at `/_sandbox`).
    """

    thread_name = "sandbox"
    base_path = ""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self._sock = listen(host, port)
        self.port = int(self._sock.getsockname()[1])
        self._server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        )
        self._thread: threading.Thread | None = None
        self._control: httpx.Client | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}{self.base_path}"

    @property
    def state(self) -> S:
        """The live sandbox (world, clock, keys or tokens, request log) for in-process inspection."""
        state: S = self.app.state.sandbox  # type: ignore[attr-defined]
        return state

    @property
    def control(self) -> httpx.Client:
        """An httpx client on the control API (`/_sandbox`)."""
        if self._control is None:
            self._control = httpx.Client(base_url=f"{self.url}/_sandbox", timeout=10)
        return self._control

    def start(self, timeout: float = 10.0) -> Self:
        if self._thread is not None:
            raise RuntimeError(f"a {type(self).__name__} starts once; make a new one")
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            daemon=True,
            name=self.thread_name,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the sandbox did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving; hanging requests (an injected fault) do not hold the shutdown."""
        if self._control is not None:
            self._control.close()
            self._control = None
        self._server.should_exit = True
        self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_app(app: ASGIApp, host: str, port: int) -> None:
    """Serve in the foreground until Ctrl-C / SIGTERM (the `storybridge sandbox` command)."""
    sock = listen(host, port)
    server = uvicorn.Server(uvicorn.Config(app, log_level="info", lifespan="off", access_log=False))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
