"""Run the sandbox: in a background thread for tests and the bridge, or in the foreground for the CLI.

    with SandboxServer(SandboxConfig(speed=50)) as sb:     # a free port on 127.0.0.1
        sb.base_url   # "http://127.0.0.1:PORT/api/v1"
        sb.control    # httpx.Client on "/_sandbox" (see bridge.sandboxes.story.control)
        sb.state      # the live SandboxState: world, clock, keys, request log

The listening socket is bound in the constructor, so `port` is known (and reserved) before start.
"""

from __future__ import annotations

from bridge.sandboxes.kit.server import ThreadedServer, serve_app
from bridge.sandboxes.story.app import create_app
from bridge.sandboxes.story.config import SandboxConfig
from bridge.sandboxes.story.state import SandboxState


class SandboxServer(ThreadedServer):
    """uvicorn on loopback in its own thread with its own event loop (bridge.sandboxes.kit)."""

    thread_name = "story-sandbox"

    def __init__(
        self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or SandboxConfig()
        super().__init__(create_app(self.config), host, port)

    @property
    def state(self) -> SandboxState:
        """The live sandbox (world, clock, keys, log) for in-process inspection."""
        state: SandboxState = self.app.state.sandbox  # type: ignore[attr-defined]
        return state

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/v1"


def serve(config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve in the foreground until Ctrl-C / SIGTERM, for `storybridge sandbox`."""
    serve_app(create_app(config), host, port)
