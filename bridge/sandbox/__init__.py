"""The Story API sandbox: a faithful stand-in for the real API, for development, demos and tests."""

from bridge.sandbox.config import Durations, FaultRule, SandboxConfig
from bridge.sandbox.server import SandboxServer

__all__ = ["Durations", "FaultRule", "SandboxConfig", "SandboxServer"]
