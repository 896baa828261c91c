"""storybridge runtime: configuration, the Story API client, the sandbox, NATS wiring, the poller."""

__version__ = "0.1.0"
