"""`storybridge sandbox --provider syllaby`: serve the Syllaby Text-to-Scene sandbox alone."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console

from bridge.sandboxes.syllaby import SyllabySandboxConfig, serve
from bridge.sandboxes.syllaby.app import BASE_PATH


def serve_syllaby(
    host: str,
    port: int,
    faults: str | None,
    scopes: str | None,
    tokens: list[str],
    accept_any: bool | None,
    speed: float,
    rate_limit: int | None,
    credits: int,
    seed: int,
) -> None:
    """`--key` lists tokens; any well-formed token is accepted unless some are listed."""
    if scopes is not None:
        Console(stderr=True).print(
            "storybridge sandbox: Syllaby tokens have no scopes; drop --scopes"
        )
        raise typer.Exit(2)
    any_token = accept_any if accept_any is not None else not tokens
    fields: dict[str, Any] = {
        "speed": speed,
        "initial_credits": credits,
        "seed": seed,
        "faults": json.loads(faults) if faults else [],
        "accept_any_token": any_token,
        "tokens": tokens,
    }
    if rate_limit is not None:  # else the sandbox's own default (30, as the API's)
        fields["rate_limit_per_minute"] = rate_limit
    config = SyllabySandboxConfig.model_validate(fields)
    # The tokens themselves are secrets: say how many, never which.
    accepted = "any <id>|<secret> token" if any_token else f"{len(tokens)} listed token(s)"
    Console().print(
        f"Syllaby sandbox on http://{host}:{port}{BASE_PATH} ({accepted}; "
        f"{config.rate_limit_per_minute} requests/min per token; control on /_sandbox)"
    )
    serve(config, host=host, port=port)
