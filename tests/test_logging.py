"""configure_logging: JSON lines, stdlib routed through structlog, secrets redacted everywhere."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from bridge.ops.logging import configure_logging, redact_value

PREFIX = "sh_0123456789abcdef01"
SECRET = "c0ffee" * 10 + "abcd"
RAW = f"{PREFIX}_{SECRET}"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Configure logging into a buffer and restore the previous setup afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    buf = io.StringIO()
    yield buf
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    structlog.reset_defaults()


def lines(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


class TestJson:
    def test_structlog_events_are_json_with_timestamp_and_level(self, stream: io.StringIO) -> None:
        """Our own events render as one JSON object with the shared keys."""
        configure_logging("json", stream=stream)
        structlog.get_logger("bridge.test").info("hello", answer=42)
        [line] = lines(stream)
        assert line["event"] == "hello" and line["answer"] == 42
        assert line["level"] == "info" and "timestamp" in line

    def test_stdlib_records_are_json_too(self, stream: io.StringIO) -> None:
        """httpx/nats/uvicorn log through stdlib; their lines are JSON as well."""
        configure_logging("json", stream=stream)
        logging.getLogger("nats").warning("reconnecting to %s", "nats://x")
        [line] = lines(stream)
        assert line["event"] == "reconnecting to nats://x"
        assert line["logger"] == "nats"

    def test_secrets_are_redacted_in_nested_values(self, stream: io.StringIO) -> None:
        """Keys in strings, dicts, lists and objects are masked, prefix kept."""
        configure_logging("json", stream=stream)
        structlog.get_logger().warning(
            f"sent {RAW}", headers={"Authorization": f"Bearer {RAW}"}, seen=[SECRET, ("x", RAW)]
        )
        out = stream.getvalue()
        assert SECRET not in out
        assert f"{PREFIX}_***" in out

    def test_stdlib_messages_and_args_are_redacted(self, stream: io.StringIO) -> None:
        """A library that logs the header still cannot leak it."""
        configure_logging("json", stream=stream)
        logging.getLogger("httpx").warning("headers: %s", {"authorization": f"Bearer {RAW}"})
        assert SECRET not in stream.getvalue()
        assert lines(stream)

    def test_exception_text_is_redacted_and_has_no_locals(self, stream: io.StringIO) -> None:
        """Tracebacks are plain text (no local variables) and pass the redaction."""
        configure_logging("json", stream=stream)
        secret_local = RAW  # a traceback renderer with locals would print this
        try:
            raise RuntimeError(f"boom with {secret_local}")
        except RuntimeError:
            structlog.get_logger().exception("failed")
            logging.getLogger("faststream").exception("lib failed")
        out = stream.getvalue()
        assert SECRET not in out
        assert "secret_local =" not in out and "secret_local': " not in out
        assert all("RuntimeError" in str(line["exception"]) for line in lines(stream))

    def test_configuring_twice_does_not_duplicate_lines(self, stream: io.StringIO) -> None:
        """configure_logging is idempotent: one handler, one line per event."""
        configure_logging("json", stream=stream)
        configure_logging("json", stream=stream)
        structlog.get_logger().info("once")
        assert len(lines(stream)) == 1

    def test_level_filters_events(self, stream: io.StringIO) -> None:
        """Below the configured level, nothing is written."""
        configure_logging("json", level="WARNING", stream=stream)
        structlog.get_logger().info("hidden")
        logging.getLogger("uvicorn").info("hidden too")
        assert stream.getvalue() == ""


class TestConsole:
    def test_console_format_redacts(self, stream: io.StringIO) -> None:
        """The human format goes through the same redaction."""
        configure_logging("console", stream=stream)
        structlog.get_logger().info("key", key=RAW)
        out = stream.getvalue()
        assert "key" in out and SECRET not in out and f"{PREFIX}_***" in out

    def test_rejects_unknown_formats(self) -> None:
        """A typo in the format is an error that names the choices."""
        with pytest.raises(ValueError, match="json"):
            configure_logging("yaml")  # type: ignore[arg-type]


def test_redact_value_keeps_non_strings() -> None:
    """Numbers, booleans and None pass through unchanged."""
    assert redact_value({"n": 1, "b": True, "z": None}) == {"n": 1, "b": True, "z": None}
