"""Publishing releases as the API returns them (FIELD-NOTES; tolerant like every response model)."""

from __future__ import annotations

from schemas.wire.base import ApiModel


class Release(ApiModel):
    """One release of a publishing series: status draft -> publishing -> published."""

    id: str
    seriesId: str | None = None
    title: str | None = None
    type: str | None = None
    seasonNumber: int | None = None
    episodeNumber: int | None = None
    sourceArtifactId: str | None = None
    status: str | None = None
    description: str | None = None
    publishedAt: str | None = None


class LiveRoom(ApiModel):
    """`POST /api/share/table-read/start-live`: the Daily room the live read plays in."""

    dailyRoomUrl: str | None = None
