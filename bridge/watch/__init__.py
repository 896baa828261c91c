"""Watches: poll what the bridge started (or was told to watch) and publish each change once.

`WatchEngine` is provider-neutral; `StoryProvider` is the Story API behind the `Provider` seam.
"""

from bridge.watch.engine import EngineSnapshot, WatchEngine
from bridge.watch.model import Observation, ReadError, Snapshot, WatchSpec
from bridge.watch.provider import Provider
from bridge.watch.settings import WatchSettings
from bridge.watch.story import StoryProvider

__all__ = [
    "EngineSnapshot",
    "Observation",
    "Provider",
    "ReadError",
    "Snapshot",
    "StoryProvider",
    "WatchEngine",
    "WatchSettings",
    "WatchSpec",
]
