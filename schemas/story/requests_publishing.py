"""Request bodies of the publishing releases (FIELD-NOTES: live, used by the production client).

A release is one episode of a publishing series, made from a finished artifact, given a
description, then published. Limits are the ones the production client observes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas.wire.base import RequestModel

Id = Annotated[str, Field(min_length=1, max_length=200)]


class ReleaseCreate(RequestModel):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    sourceArtifactId: Id
    type: Literal["episode"] = "episode"
    seasonNumber: Annotated[int, Field(ge=1)] | None = None


class ReleaseDescribe(RequestModel):
    direction: Annotated[str, Field(max_length=2000)] | None = None


class ReleasePublish(RequestModel):
    """Sent as `{}`: publishing takes no options today."""


class ReleaseRefreshMedia(RequestModel):
    sourceArtifactId: Id


class StartLive(RequestModel):
    """`POST /api/share/table-read/start-live`: authorized by the artifact's share token."""

    token: Annotated[str, Field(min_length=1)]
