"""The outcome document: the reply on request/reply and the `data` of every outcome event."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, model_validator

from schemas.wire.trim import clip, shrink, size_of

# The most characters of an error's `message` or `field` an outcome carries.
TEXT_LIMIT = 4096


class OutcomeError(BaseModel):
    """Why a command failed. `code` is the API's stable code, or the bridge's own
    (`invalid_command`, `upstream_unavailable`); `retryable` says whether re-sending can help.
    `details` and `field` are additions to the contract, emitted only when set."""

    code: str
    message: str
    requestId: str | None = None
    status: int | None = None
    retryable: bool = False
    details: dict[str, Any] | None = None
    field: str | None = None
    # `details` (the API's error body) was cut to fit the outcome's byte limit.
    detailsTruncated: bool | None = None


class Outcome(BaseModel):
    """One command's result. Build it with `success()` / `failure()`; emit it with `to_json()`."""

    commandId: str
    command: str
    ok: bool
    status: int | None = None
    replayed: bool | None = None
    result: Any = None
    error: OutcomeError | None = None
    # Syllaby (CONTRACT.md): the ledger settled an earlier attempt by reading the resource.
    reconciled: bool | None = None
    # CONTRACT.md "Outcomes are bounded": `result` was cut to fit STORYBRIDGE_MAX_OUTCOME_BYTES.
    resultTruncated: bool | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Outcome:
        if self.ok and (self.status is None or self.error is not None):
            raise ValueError("an ok outcome has a status and no error")
        if not self.ok and self.error is None:
            raise ValueError("a failed outcome has an error")
        return self

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
    def failure(
        cls, *, command_id: str, command: str, error: OutcomeError, result: Any = None
    ) -> Outcome:
        return cls(commandId=command_id, command=command, ok=False, error=error, result=result)

    @property
    def retryable(self) -> bool:
        return self.error is not None and self.error.retryable

    def to_dict(self) -> dict[str, Any]:
        """Exactly the contract's shape: success has status/replayed/result, failure has error."""
        doc: dict[str, Any] = {"commandId": self.commandId, "command": self.command, "ok": self.ok}
        if self.ok:
            doc.update(status=self.status, replayed=bool(self.replayed), result=self.result)
            if self.reconciled:
                doc["reconciled"] = True
            if self.resultTruncated:
                doc["resultTruncated"] = True
        else:
            if self.replayed:
                doc["replayed"] = True  # a failure answered again from the command ledger
            error = self.error.model_dump(mode="json") if self.error else {}
            for optional in ("details", "field", "detailsTruncated"):
                if error.get(optional) is None:
                    error.pop(optional)
            doc["error"] = error
            if self.result is not None:
                # The API said yes before something of ours failed: the caller must see what it did.
                doc["result"] = self.result
            if self.resultTruncated:
                doc["resultTruncated"] = True
        return doc

    def bounded(self, limit: int) -> Outcome:
        """This outcome cut to at most `limit` bytes of JSON: the error's text fields capped, then
        `result`, then the error's `details` shortened (schemas.wire.trim) and flagged, never
        dropped silently."""
        outcome = self
        if self.error is not None:
            # The message and field can echo what a caller sent (an unknown field's name) or what
            # the API said: text, not data, and never worth more than a line or two.
            capped = self.error.model_copy(
                update={
                    "message": clip(self.error.message, TEXT_LIMIT),
                    "field": clip(self.error.field, TEXT_LIMIT) if self.error.field else None,
                }
            )
            outcome = self.model_copy(update={"error": capped})
        if size_of(outcome.to_dict()) <= limit:
            return outcome
        has_result = self.result is not None
        bare = outcome.model_copy(
            update={"result": None, "resultTruncated": True if has_result else None}
        )
        if bare.error is not None and bare.error.details is not None:
            error = bare.error.model_copy(update={"details": None})
            skeleton = bare.model_copy(update={"error": error})
            room = limit - size_of(skeleton.to_dict()) - 64
            room = room // 4 if has_result else room  # the result gets the most of what is left
            details, cut = shrink(self.error.details if self.error else None, max(room, 0))
            error = error.model_copy(
                update={"details": details, "detailsTruncated": True if cut else None}
            )
            bare = bare.model_copy(update={"error": error})
        if not has_result:
            return bare
        room = limit - size_of(bare.to_dict()) - 32
        result, _ = shrink(self.result, max(room, 0))
        return bare.model_copy(update={"result": result})

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()
