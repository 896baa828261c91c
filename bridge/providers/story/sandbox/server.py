"""Run the sandbox: in a background thread for tests and the bridge, or in the foreground for the CLI.

    with SandboxServer(SandboxConfig(speed=50)) as sb:     # a free port on 127.0.0.1
        sb.base_url   # "http://127.0.0.1:PORT/api/v1"
        sb.control    # httpx.Client on "/_sandbox" (see bridge.providers.story.sandbox.control)
        sb.state      # the live SandboxState: world, clock, keys, request log

The listening socket is bound in the constructor, so `port` is known (and reserved) before start.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import httpx
import uvicorn

from bridge.providers.story.sandbox.app import create_app
from bridge.providers.story.sandbox.config import SandboxConfig
from bridge.providers.story.sandbox.state import SandboxState


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Without it each answer waits ~40 ms for the client's delayed ACK (Nagle): uvicorn writes
    # headers and body separately. Accepted sockets inherit the option on Linux.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


class SandboxServer:
    """uvicorn on loopback in its own thread with its own event loop."""

    def __init__(
        self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or SandboxConfig()
        self.app = create_app(self.config)
        self.host = host
        self._sock = _listen(host, port)
        self.port = int(self._sock.getsockname()[1])
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        )
        self._thread: threading.Thread | None = None
        self._control: httpx.Client | None = None

    @property
    def state(self) -> SandboxState:
        """The live sandbox (world, clock, keys, log) for in-process inspection."""
        state: SandboxState = self.app.state.sandbox
        return state

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/v1"

    @property
    def control(self) -> httpx.Client:
        if self._control is None:
            self._control = httpx.Client(base_url=f"{self.url}/_sandbox", timeout=10)
        return self._control

    def start(self, timeout: float = 10.0) -> SandboxServer:
        if self._thread is not None:
            raise RuntimeError("a SandboxServer starts once; make a new one")
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True, name="sandbox"
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

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve in the foreground until Ctrl-C / SIGTERM, for `storybridge sandbox`."""
    sock = _listen(host, port)
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), log_level="info", lifespan="off", access_log=False)
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
