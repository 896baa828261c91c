"""storybridge runtime: configuration, the providers' clients and sandboxes, NATS wiring, the poller."""

import importlib.metadata

try:
    # pyproject.toml is the one place the version is written.
    __version__ = importlib.metadata.version("storybridge")
except importlib.metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
