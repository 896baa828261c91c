"""The Syllaby Text-to-Scene sandbox: a faithful stand-in for the API, for development and tests.

Layout, by composition: `world` holds one store per resource (`account`: credits, charges,
subscription; `storyboards`: each storyboard with its video and their machines; `scenes`: the
scenes and their clip machine; `moodboard`), each owning its records and transitions on the
sandbox clock. The HTTP layer is thin over it: `routes` (every endpoint of the reference),
`app` (token, rate window, subscription gate, faults, request log around each route), `requests`
+ `validation` (bodies and Laravel's 422), `errors` (the error bodies), `control` (`/_sandbox`),
`server`. Clock, scheduler, fault rules, request log and the server runner are the shared
`bridge.sandboxes.kit`.
"""

from bridge.sandboxes.kit.faults import FaultRule
from bridge.sandboxes.syllaby.config import (
    Costs,
    Failures,
    SyllabyDurations,
    SyllabySandboxConfig,
)
from bridge.sandboxes.syllaby.server import SyllabySandboxServer, serve
from bridge.sandboxes.syllaby.state import SyllabySandboxState

__all__ = [
    "Costs",
    "Failures",
    "FaultRule",
    "SyllabyDurations",
    "SyllabySandboxConfig",
    "SyllabySandboxServer",
    "SyllabySandboxState",
    "serve",
]
