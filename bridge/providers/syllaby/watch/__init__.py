"""Syllaby Text-to-Scene behind the watch engine's `Provider` seam."""

from bridge.providers.syllaby.watch.provider import SyllabyProvider

__all__ = ["SyllabyProvider"]
