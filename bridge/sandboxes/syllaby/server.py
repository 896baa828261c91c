"""Run the Syllaby sandbox: in a background thread for tests and the bridge, or in the foreground.

with SyllabySandboxServer(SyllabySandboxConfig(speed=50)) as sb:   # a free port on 127.0.0.1
    sb.base_url   # "http://127.0.0.1:PORT/v2": the reference's /text-to-scene/... paths
    sb.control    # httpx.Client on "/_sandbox" (see bridge.sandboxes.syllaby.control)
    sb.state      # the live SyllabySandboxState: world, clock, tokens, request log
"""

from __future__ import annotations

from bridge.sandboxes.kit.server import ThreadedServer, serve_app
from bridge.sandboxes.syllaby.app import BASE_PATH, create_app
from bridge.sandboxes.syllaby.config import SyllabySandboxConfig
from bridge.sandboxes.syllaby.state import SyllabySandboxState


class SyllabySandboxServer(ThreadedServer[SyllabySandboxState]):
    """uvicorn on loopback in its own thread with its own event loop (bridge.sandboxes.kit)."""

    thread_name = "syllaby-sandbox"
    base_path = BASE_PATH

    def __init__(
        self, config: SyllabySandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or SyllabySandboxConfig()
        super().__init__(create_app(self.config), host, port)


def serve(
    config: SyllabySandboxConfig | None = None, host: str = "127.0.0.1", port: int = 8001
) -> None:
    """Serve in the foreground until Ctrl-C / SIGTERM, for `storybridge sandbox --provider syllaby`."""
    serve_app(create_app(config), host, port)
