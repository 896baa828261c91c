"""Logging: structlog for our code; stdlib loggers (httpx, nats, faststream, uvicorn) go through it.

One pipeline of small processors: context vars, logger name, level, timestamp, exception text
(never with local variables), then :func:`redact_processor` which scrubs every string value
recursively, then the JSON or console renderer. stdlib records pass the same chain through
``structlog.stdlib.ProcessorFormatter`` so every line, ours or a library's, is one JSON object and
has been redacted.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, Literal

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from bridge.redaction import redact

__all__ = ["configure_logging", "redact_processor", "redact_value"]

LogFormat = Literal["json", "console"]
_HANDLER_NAME = "storybridge"
_PASSTHROUGH = frozenset({"exc_info", "_record", "_from_structlog"})
NOISY_LOGGERS = {"httpx": "WARNING", "httpcore": "WARNING"}


def redact_value(value: Any) -> Any:
    """Redact API secrets from strings inside any JSON-ish structure (dict, list, tuple, set)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(redact_value(v) for v in value)
    if isinstance(value, list | set | frozenset):
        return [redact_value(v) for v in value]
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}")
    if isinstance(value, bool | int | float | bytes) or value is None:
        return value
    # Anything else would be str()/repr()'d by the renderer: do it here, before redaction.
    return redact(str(value))


def redact_processor(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: scrub every value (and formatted exception text) of the event.

    ``exc_info`` is left alone for ``format_exc_info`` to turn into text; that text (the
    ``exception`` key) is scrubbed when this processor runs again after it.
    """
    return {
        key: value if key in _PASSTHROUGH else redact_value(value)
        for key, value in event_dict.items()
    }


def _drop_duplicates(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """uvicorn repeats its message with ANSI codes in ``color_message``; other handlers may have
    set ``record.message`` already. Both duplicate ``event``."""
    event_dict.pop("color_message", None)
    event_dict.pop("message", None)
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_duplicates,
    ]


def _renderer(fmt: LogFormat) -> Processor:
    if fmt == "console":
        # Plain tracebacks: rich/better-exceptions renderers can print local variables.
        return structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    return structlog.processors.JSONRenderer()


def configure_logging(
    format: LogFormat = "json",  # the contract's name for the option
    level: str | int = "INFO",
    *,
    stream: Any = None,
) -> None:
    """Set up structlog and route stdlib logging through it. Safe to call more than once."""
    if format not in ("json", "console"):
        raise ValueError(f"log format must be 'json' or 'console', not {format!r}")
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}; use DEBUG, INFO, WARNING or ERROR")
    shared = _shared_processors()
    # Exceptions are formatted to text (no locals) BEFORE redaction, so the text is scrubbed too.
    tail: list[Processor] = [structlog.processors.format_exc_info, redact_processor]

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            redact_processor,  # early too, so any other handler (pytest's caplog) sees it redacted
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *tail,
            _renderer(format),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name, noisy_level in NOISY_LOGGERS.items():
        logging.getLogger(name).setLevel(max(numeric, logging.getLevelName(noisy_level)))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "nats", "faststream"):
        lib = logging.getLogger(name)
        # uvicorn's own dictConfig sets levels and handlers: inherit ours instead.
        lib.handlers = [h for h in lib.handlers if not isinstance(h, logging.StreamHandler)]
        lib.setLevel(logging.NOTSET)
        lib.propagate = True
