"""Request validation with Laravel's messages: a pydantic model per body, errors per dotted field.

Laravel ignores fields no rule names (so do the models: `extra="ignore"`), treats null and "" as
missing for a required field, and names a field in a message with spaces for underscores. A body
that is not a JSON object reads as an empty one, as Laravel's request input would.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from bridge.sandboxes.syllaby.errors import SyllabySandboxError, invalid

M = TypeVar("M", bound=BaseModel)

_TYPE_MESSAGES = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be an array",
    "dict_type": "must be an array",
    "model_type": "must be an array",
    "model_attributes_type": "must be an array",
}


def _message(err: ErrorDetails) -> str:
    field = ".".join(str(p) for p in err["loc"])
    name = field.replace("_", " ")
    kind, ctx = err["type"], err.get("ctx") or {}
    given = err.get("input")
    if kind == "missing" or (given is None and kind in _TYPE_MESSAGES):
        return f"The {name} field is required."
    if kind in _TYPE_MESSAGES:
        return f"The {name} field {_TYPE_MESSAGES[kind]}."
    if kind == "string_too_short" or (kind == "too_short" and not given):
        return f"The {name} field is required."
    if kind == "string_too_long":
        return f"The {name} field must not be greater than {ctx['max_length']} characters."
    if kind == "too_short":
        return f"The {name} field must have at least {ctx['min_length']} items."
    if kind == "too_long":
        return f"The {name} field must not have more than {ctx['max_length']} items."
    if kind in ("literal_error", "enum"):
        return f"The selected {name} is invalid."
    if kind == "greater_than_equal":
        return f"The {name} field must be at least {ctx['ge']}."
    if kind == "value_error":
        return str(ctx.get("error", "The given data was invalid."))
    return f"The {name} field is invalid."


def validate(model: type[M], data: Any) -> M:
    """`data` as `model`, or 422 with `errors` keyed by dotted field path."""
    if not isinstance(data, dict):
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "body"
            errors.setdefault(field, []).append(_message(err))
        raise invalid(errors) from None


def field_error(field: str, message: str) -> SyllabySandboxError:
    """A 422 for one field, for rules a model cannot check alone (`exists` in this storyboard)."""
    return invalid({field: [message]})


def selected_invalid(field: str) -> SyllabySandboxError:
    return field_error(field, f"The selected {field.replace('_', ' ')} is invalid.")
