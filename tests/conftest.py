from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

pytest_plugins = [
    "tests.fixtures.nats",
    "tests.fixtures.sandbox",
    "tests.fixtures.syllaby_sandbox",
    "tests.fixtures.client",
    "tests.fixtures.bridge",
    "tests.fixtures.syllaby_bridge",
    "tests.fixtures.process",
    "tests.fixtures.cluster",
    "tests.fixtures.leaks",
    "tests.fixtures.plugins",
]


@pytest.fixture(autouse=True)
def clean_environ() -> Iterator[None]:
    """Settings read the environment: strip ours per test so a developer's shell cannot leak in
    (OTEL_* too: an exporter endpoint there would turn tracing on in every bridge)."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("STORYBRIDGE_", "SLEEPERHIT_", "SYLLABY_", "OTEL_")):
            del os.environ[name]
    yield
    os.environ.clear()
    os.environ.update(saved)
