"""How the sandbox says no: one exception, rendered as the API's error envelope."""

from __future__ import annotations

from typing import Any

from schemas.story.errors import ERROR_CODES, FIELD_NOTE_CODES


class StorySandboxError(Exception):
    """Raise from any endpoint; the app renders `{error: {code, message, requestId, details?}}`."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.status = status or ERROR_CODES.get(code) or FIELD_NOTE_CODES.get(code) or 400
        self.headers = headers or {}

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "requestId": request_id,
        }
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}
