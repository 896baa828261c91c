"""Sandbox time: real time times `speed`, plus whatever the control API advanced it by."""

from __future__ import annotations

import threading
import time


class SandboxClock:
    def __init__(self, speed: float = 1.0, *, manual: bool = False) -> None:
        self.speed = speed
        self.manual = manual
        self._started = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Sandbox seconds since start."""
        with self._lock:
            moved = 0.0 if self.manual else (time.monotonic() - self._started) * self.speed
            return moved + self._offset

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._offset += seconds
        return self.now()
