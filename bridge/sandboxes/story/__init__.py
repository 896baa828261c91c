"""The Story API sandbox: a faithful stand-in for the real API, for development, demos and tests.

Layout, by composition: `world` holds one store per resource (account and credits, projects,
sources, plans, documents, artifacts, cast, jobs with their run, renders, script, music,
coverage, sfx, releases), each owning its records and transitions on the sandbox clock (see
`bridge.sandboxes.story.world`). The HTTP layer is thin over it: `routes_*` (endpoints
per resource, each one store operation through `call.world`), `core` (`StoryEndpoint`,
`StoryCall`, `Answer`), `app` (the request pipeline), `auth` / `ratelimit` / `idempotency` /
`faults` / `quirks` (one cross-cutting rule each), `control` (the `/_sandbox` control API),
`server` (uvicorn runner), `config` (speed, limits, durations, faults). Clock, scheduler, fault
rules, the pipeline's fault phases, rate windows, request log and the server runner are the
shared `bridge.sandboxes.kit`.
"""

from bridge.sandboxes.kit.faults import FaultRule
from bridge.sandboxes.story.config import StoryDurations, StorySandboxConfig
from bridge.sandboxes.story.server import StorySandboxServer, serve
from bridge.sandboxes.story.state import StorySandboxState

__all__ = [
    "FaultRule",
    "StoryDurations",
    "StorySandboxConfig",
    "StorySandboxServer",
    "StorySandboxState",
    "serve",
]
