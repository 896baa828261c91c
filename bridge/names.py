"""The names of the contract's subjects and of every stream, consumer and KV bucket.

On the ground floor, importing nothing of the project: the watch engine, the providers and the
AsyncAPI builder need the names without the NATS wiring that declares them (bridge/nats/streams.py),
which sits above the command path.
"""

from __future__ import annotations

from dataclasses import dataclass

COMMANDS_STREAM = "STORYBRIDGE_COMMANDS"
EVENTS_STREAM = "STORYBRIDGE_EVENTS"
DEAD_LETTERS_STREAM = "STORYBRIDGE_DEAD_LETTERS"
# Durable commands waiting for their next attempt (bridge/nats/parking.py), with their own consumer.
PARKED_STREAM = "STORYBRIDGE_PARKED"
PARKED_CONSUMER = "storybridge-parked"
WATCHES_BUCKET = "STORYBRIDGE_WATCHES"
CIRCUITS_BUCKET = "STORYBRIDGE_CIRCUITS"
LEDGER_BUCKET = "STORYBRIDGE_LEDGER"
STATUS_BUCKET = "STORYBRIDGE_STATUS"
COMMANDS_CONSUMER = "storybridge"
QUEUE_GROUP = "storybridge"


@dataclass(frozen=True)
class Subjects:
    """The contract's subject names for one prefix."""

    prefix: str = "story"

    @property
    def commands(self) -> str:
        return f"{self.prefix}.cmd.>"

    @property
    def requests(self) -> str:
        return f"{self.prefix}.req.>"

    @property
    def events(self) -> str:
        return f"{self.prefix}.evt.>"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}.dlq.>"

    @property
    def route_recovered(self) -> str:
        """Core NATS, between replicas: a route that answers again (bridge/nats/gates.py)."""
        return f"{self.prefix}.ctl.route.recovered"

    @property
    def parked_all(self) -> str:
        return f"{self.prefix}.parked.>"

    def parked(self, name: str) -> str:
        return f"{self.prefix}.parked.{name}"

    def command(self, name: str) -> str:
        return f"{self.prefix}.cmd.{name}"

    def dead_letter(self, name: str) -> str:
        return f"{self.prefix}.dlq.{name}"

    def max_deliveries_advisory(self) -> str:
        return f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{COMMANDS_STREAM}.{COMMANDS_CONSUMER}"

    def request(self, name: str) -> str:
        return f"{self.prefix}.req.{name}"

    def event(self, suffix: str) -> str:
        return f"{self.prefix}.evt.{suffix}"

    def command_name(self, subject: str) -> str | None:
        """`story.cmd.plan.approve` -> `plan.approve`; None when the subject is not ours."""
        for kind in ("cmd", "req", "dlq"):
            head = f"{self.prefix}.{kind}."
            if subject.startswith(head):
                return subject[len(head) :]
        return None
