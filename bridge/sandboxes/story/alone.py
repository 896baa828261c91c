"""`storybridge sandbox --provider story` (the default): the Story API sandbox served alone."""

from __future__ import annotations

import functools
from typing import Any

from bridge.plugins import SandboxAlone, SandboxOptions
from bridge.sandboxes.kit.config import knobs_given
from bridge.sandboxes.story.config import StorySandboxConfig
from bridge.sandboxes.story.server import serve
from bridge.sandboxes.story.state import StorySandboxState


def _scopes(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _key(spec: str) -> tuple[str, list[str] | None]:
    """`KEY` (every scope) or `KEY=scope,scope`; the secret is never printed back."""
    raw, sep, scopes = spec.partition("=")
    return raw.strip(), (_scopes(scopes) if sep else None)


def sandbox_alone(options: SandboxOptions) -> SandboxAlone:
    keys = dict(_key(spec) for spec in options.keys)
    any_key = options.accept_any_key if options.accept_any_key is not None else not keys
    scopes = _scopes(options.scopes) if options.scopes is not None else None
    fields: dict[str, Any] = {
        **knobs_given(options),
        "accept_any_key": any_key,
        "any_key_scopes": scopes,
        "keys": keys,
    }
    config = StorySandboxConfig.model_validate(fields)
    StorySandboxState(config)  # bad keys or scopes raise ValueError here, naming the problem
    accepted = "any sh_<18 hex>_<64 hex> key" if any_key else f"{len(keys)} listed key(s)"
    granted = f"scopes {', '.join(scopes)}" if scopes is not None else "every scope"
    host, port = options.host, options.port
    return SandboxAlone(
        f"Story API sandbox on http://{host}:{port}/api/v1 ({accepted}; {granted} for any key)",
        functools.partial(serve, config, host=host, port=port),
    )
