"""Each command is declared once, in its handler row (handlers/base.py): model, API call, how it
takes effect at most once, the watches it starts. What else names a command's route agrees with it."""

from __future__ import annotations

import re

import pytest

from bridge import plugins
from handlers import HANDLERS
from schemas.catalog import COMMAND_MODELS, COMMAND_ROUTES

ROUTE_IN_PROSE = re.compile(r"\(((?:GET|POST|PATCH|PUT|DELETE) /[^)]+)\)")


def _shape(route: str) -> str:
    method, _, path = route.partition(" ")
    return method + " " + re.sub(r"\{[^}]*\}", "{}", path.removeprefix("/api/v1"))


def test_every_provider_command_declares_its_call() -> None:
    """A provider's command calls its API: its row says which route; the core's own call none."""
    for item in plugins.installed():
        for name, handler in item.provider.commands.items():
            assert handler.endpoint is not None, (item.name, name)
            assert COMMAND_ROUTES[name] == str(handler.endpoint)
    assert {name for name, route in COMMAND_ROUTES.items() if route is None} == {
        name for name, handler in HANDLERS.items() if handler.endpoint is None
    }


@pytest.mark.parametrize("name", sorted(COMMAND_MODELS))
def test_a_route_named_in_prose_is_the_declared_one(name: str) -> None:
    """A model's docstring may say the route for a reader; it must say the declared one."""
    written = ROUTE_IN_PROSE.search(COMMAND_MODELS[name].__doc__ or "")
    if written is not None:
        assert _shape(written.group(1)) == _shape(str(COMMAND_ROUTES[name])), name


def test_only_a_provider_with_a_reconciler_declares_the_ledger() -> None:
    """A "ledger" row needs its provider's reconciler (bridge/ledger); a provider with keys needs
    none, and every mutating call of it sends one."""
    for item in plugins.installed():
        declared = {h.endpoint.idempotency for h in item.provider.commands.values() if h.endpoint}
        assert ("ledger" in declared) == (item.provider.reconciler is not None), item.name
