"""`storybridge demo`: a provider's happy path through NATS, narrated, on embedded defaults.

Each provider declares its walk (`demo` on its bundle: Story's in bridge/providers/story/demo.py,
Syllaby's in bridge/providers/syllaby/demo.py); this runs the one asked for over the demo kit.
"""

from __future__ import annotations

from rich.console import Console

from bridge import plugins
from bridge.cli.demo_kit import narrate
from bridge.plugins import Demo


def demos() -> dict[str, Demo]:
    """The installed providers that declare a demo, by name."""
    found = ((item.name, getattr(item.provider, "demo", None)) for item in plugins.installed())
    return {name: demo for name, demo in found if isinstance(demo, Demo)}


async def run_demo(console: Console, *, timeout: float = 300.0, provider: str = "story") -> bool:
    return await narrate(console, demos()[provider], timeout=timeout)
