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

    def freeze(self) -> float:
        """Stop time where it is (a bench's setup must not eat its measured window)."""
        with self._lock:
            if not self.manual:
                self._offset += (time.monotonic() - self._started) * self.speed
                self.manual = True
            return self._offset

    def resume(self) -> None:
        """Let time run again from where `freeze` stopped it."""
        with self._lock:
            if self.manual:
                self._offset -= (time.monotonic() - self._started) * self.speed
                self.manual = False

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._offset += seconds
        return self.now()
