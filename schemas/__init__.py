"""Pure data: pydantic models of the wire contract and the Story API resources. No I/O here."""

from schemas.catalog import COMMAND_MODELS, parse_command
from schemas.story.envelopes import ENVELOPE_KEYS, PAGE_KEYS, Page, unwrap
from schemas.story.errors import (
    ERROR_CODES,
    KNOWN_ERROR_CODES,
    ErrorBody,
    ErrorEnvelope,
    is_ambiguous,
)
from schemas.wire.base import ApiModel, RequestModel
from schemas.wire.commands import Command, UnknownCommand
from schemas.wire.events import CONTENT_TYPE, EVENT_TYPE_PREFIX, CloudEvent, ResourceEventData
from schemas.wire.outcome import Outcome, OutcomeError

__all__ = [
    "COMMAND_MODELS",
    "CONTENT_TYPE",
    "ENVELOPE_KEYS",
    "ERROR_CODES",
    "EVENT_TYPE_PREFIX",
    "KNOWN_ERROR_CODES",
    "PAGE_KEYS",
    "ApiModel",
    "CloudEvent",
    "Command",
    "ErrorBody",
    "ErrorEnvelope",
    "Outcome",
    "OutcomeError",
    "Page",
    "RequestModel",
    "ResourceEventData",
    "UnknownCommand",
    "is_ambiguous",
    "parse_command",
    "unwrap",
]
