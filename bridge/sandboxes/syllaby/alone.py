"""`storybridge sandbox --provider syllaby`: the Syllaby Text-to-Scene sandbox served alone."""

from __future__ import annotations

import functools
from typing import Any

from bridge.plugins import SandboxAlone, SandboxOptions
from bridge.sandboxes.kit.config import knobs_given
from bridge.sandboxes.syllaby.app import BASE_PATH
from bridge.sandboxes.syllaby.config import SyllabySandboxConfig
from bridge.sandboxes.syllaby.server import serve


def sandbox_alone(options: SandboxOptions) -> SandboxAlone:
    """`--key` lists tokens; any well-formed token is accepted unless some are listed."""
    if options.scopes is not None:
        raise ValueError("Syllaby tokens have no scopes; drop --scopes")
    tokens = list(options.keys)
    any_token = options.accept_any_key if options.accept_any_key is not None else not tokens
    fields: dict[str, Any] = {
        **knobs_given(options),
        "accept_any_token": any_token,
        "tokens": tokens,
    }
    config = SyllabySandboxConfig.model_validate(fields)
    # The tokens themselves are secrets: say how many, never which.
    accepted = "any <id>|<secret> token" if any_token else f"{len(tokens)} listed token(s)"
    host, port = options.host, options.port
    return SandboxAlone(
        f"Syllaby sandbox on http://{host}:{port}{BASE_PATH} ({accepted}; "
        f"{config.rate_limit_per_minute} requests/min per token; control on /_sandbox)",
        functools.partial(serve, config, host=host, port=port),
    )
