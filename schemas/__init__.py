"""Pure data: pydantic models of the wire contract and the Story API resources. No I/O here."""

from schemas.commands import COMMAND_MODELS, Command, UnknownCommand, parse_command
from schemas.events import CONTENT_TYPE, EVENT_TYPE_PREFIX, CloudEvent, ResourceEventData
from schemas.outcome import Outcome, OutcomeError

__all__ = [
    "COMMAND_MODELS",
    "CONTENT_TYPE",
    "EVENT_TYPE_PREFIX",
    "CloudEvent",
    "Command",
    "Outcome",
    "OutcomeError",
    "ResourceEventData",
    "UnknownCommand",
    "parse_command",
]
