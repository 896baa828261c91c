"""Watches: poll what the bridge started (or was told to watch) and publish each change once.

`WatchEngine` is provider-neutral; each provider (bridge.providers.*) plugs in behind the `Provider` seam.
"""

from bridge.watch.engine import EngineStats, WatchEngine
from bridge.watch.model import Observation, ReadError, Reading, WatchSpec
from bridge.watch.provider import Provider
from bridge.watch.settings import WatchSettings

__all__ = [
    "EngineStats",
    "Observation",
    "Provider",
    "ReadError",
    "Reading",
    "WatchEngine",
    "WatchSettings",
    "WatchSpec",
]
