"""What crosses NATS: the command base, outcomes, CloudEvents and their data, the typed contract."""
