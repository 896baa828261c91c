"""Syllaby Text-to-Scene: the second provider (reference: syllaby-text-to-scene.md)."""
