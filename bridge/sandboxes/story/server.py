"""Run the sandbox: in a background thread for tests and the bridge, or in the foreground for the CLI.

    with StorySandboxServer(StorySandboxConfig(speed=50)) as sb:     # a free port on 127.0.0.1
        sb.base_url   # "http://127.0.0.1:PORT/api/v1"
        sb.control    # httpx.Client on "/_sandbox" (see bridge.sandboxes.story.control)
        sb.state      # the live StorySandboxState: world, clock, keys, request log

The listening socket is bound in the constructor, so `port` is known (and reserved) before start.
"""

from __future__ import annotations

from bridge.sandboxes.kit.server import ThreadedServer, serve_app
from bridge.sandboxes.story.app import BASE_PATH, create_app
from bridge.sandboxes.story.config import StorySandboxConfig
from bridge.sandboxes.story.state import StorySandboxState


class StorySandboxServer(ThreadedServer[StorySandboxState]):
    """uvicorn on loopback in its own thread with its own event loop (bridge.sandboxes.kit)."""

    thread_name = "story-sandbox"
    base_path = BASE_PATH

    def __init__(
        self, config: StorySandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or StorySandboxConfig()
        super().__init__(create_app(self.config), host, port)


def serve(
    config: StorySandboxConfig | None = None, host: str = "127.0.0.1", port: int = 8000
) -> None:
    """Serve in the foreground until Ctrl-C / SIGTERM, for `storybridge sandbox`."""
    serve_app(create_app(config), host, port)
