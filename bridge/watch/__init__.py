"""Watches: poll what the bridge started (or was told to watch) and publish each change once.

`WatchEngine` is provider-neutral; each provider (bridge.providers.*) plugs in behind the `Provider` seam.
"""

from bridge.watch.engine import EngineSnapshot, WatchEngine
from bridge.watch.model import Observation, ReadError, Snapshot, WatchSpec
from bridge.watch.provider import Provider
from bridge.watch.settings import WatchSettings

__all__ = [
    "EngineSnapshot",
    "Observation",
    "Provider",
    "ReadError",
    "Snapshot",
    "WatchEngine",
    "WatchSettings",
    "WatchSpec",
]
