"""The Story API sandbox: a faithful stand-in for the real API, for development, demos and tests.

Layout: `server` (the shared kit's runner with this API's base URL), `app` (the request
pipeline), `auth` / `ratelimit` / `idempotency` / `faults` (one cross-cutting rule each),
`control` (the `/_sandbox` control API), `routes_*` (endpoints per resource), `world*` (resources
and their lazily advanced state machines on the sandbox clock), `config` (speed, limits,
durations, faults). Clock, scheduler, fault rules and matching, request log, network faults, rate
windows and the server runner are the shared `bridge.sandboxkit`.
"""

from bridge.providers.story.sandbox.config import Durations, FaultRule, SandboxConfig
from bridge.providers.story.sandbox.server import SandboxServer, serve
from bridge.providers.story.sandbox.state import SandboxState

__all__ = ["Durations", "FaultRule", "SandboxConfig", "SandboxServer", "SandboxState", "serve"]
