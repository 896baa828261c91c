"""The outcome document: the reply on request/reply and the `data` of every outcome event."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel


class OutcomeError(BaseModel):
    code: str
    message: str
    requestId: str | None = None
    status: int | None = None
    retryable: bool = False
    details: dict[str, Any] | None = None
    field: str | None = None


class Outcome(BaseModel):
    commandId: str
    command: str
    ok: bool
    status: int | None = None
    replayed: bool | None = None
    result: Any = None
    error: OutcomeError | None = None

    @classmethod
    def success(
        cls, *, command_id: str, command: str, status: int, replayed: bool, result: Any
    ) -> Outcome:
        return cls(
            commandId=command_id,
            command=command,
            ok=True,
            status=status,
            replayed=replayed,
            result=result,
        )

    @classmethod
    def failure(cls, *, command_id: str, command: str, error: OutcomeError) -> Outcome:
        return cls(commandId=command_id, command=command, ok=False, error=error)

    def to_dict(self) -> dict[str, Any]:
        """Exactly the contract's shape: success has status/replayed/result, failure has error."""
        doc: dict[str, Any] = {"commandId": self.commandId, "command": self.command, "ok": self.ok}
        if self.ok:
            doc.update(status=self.status, replayed=bool(self.replayed), result=self.result)
        else:
            assert self.error is not None
            error = self.error.model_dump(mode="json")
            for optional in ("details", "field"):
                if error.get(optional) is None:
                    error.pop(optional)
            doc["error"] = error
        return doc

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()
