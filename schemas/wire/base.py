"""The two kinds of model: tolerant API resources, strict request bodies."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ApiModel(BaseModel):
    """A resource as the API returns it: unknown fields are kept, missing optional ones allowed.

    The API adds fields "all the time" (field notes); dropping them would lose data we forward in
    events and outcomes, and failing on them would break the bridge on every API release.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class RequestModel(BaseModel):
    """A request body: validated before it leaves, a typo named instead of silently dropped."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_body(self) -> dict[str, Any]:
        # exclude_unset, not exclude_none: PATCH uses an explicit null to clear a field.
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)
