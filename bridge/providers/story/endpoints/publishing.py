"""Publishing releases and the live read (FIELD-NOTES and the concepts: live, not in the reference).

Releases hang off a publishing series: create one from a finished artifact, generate its
description, publish it (draft -> publishing -> published), list the series' releases (filtered
by status, cursor-paginated) and refresh its media from a newer artifact. Every POST accepts an
Idempotency-Key, as the production client sends one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bridge.http.ratelimit import Priority
from bridge.http.transport import ApiResponse
from bridge.providers.story.endpoints.base import ClientCore, Page, seg
from schemas.story import requests_publishing as q
from schemas.story.publishing import LiveRoom, Release

__all__ = ["PublishingMixin", "start_live_url"]

COMMAND = Priority.COMMAND
Body = Mapping[str, Any]
START_LIVE_PATH = "/api/share/table-read/start-live"


def start_live_url(base_url: str) -> str:
    """The share endpoint lives beside the versioned API (`/api/share`, not `/api/v1/share`)."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, START_LIVE_PATH, "", ""))


class PublishingMixin(ClientCore):
    """``/publishing-series/{id}/releases``, ``/publishing-releases/{id}/...`` and start-live."""

    async def create_release(
        self,
        series_id: str,
        body: q.ReleaseCreate | Body,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[Release]:
        """A draft release of ``series_id`` from a finished artifact (``{"release": ...}``)."""
        return await self._call(
            "POST", f"publishing-series/{seg(series_id)}/releases", Release, envelope="release",
            body=body, body_model=q.ReleaseCreate, idempotency_key=idempotency_key,
            priority=priority,
        )  # fmt: skip

    async def list_releases(
        self,
        series_id: str,
        *,
        status: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[Page[Release]]:
        """One page of the series' releases (``{"releases": [...], "nextCursor": ...}``)."""
        return await self._page(
            f"publishing-series/{seg(series_id)}/releases", Release, items_key="releases",
            cursor=cursor, limit=limit, params={"status": status}, priority=priority,
        )  # fmt: skip

    def iter_releases(
        self,
        series_id: str,
        *,
        status: str | None = None,
        limit: int | None = None,
        priority: Priority = COMMAND,
    ) -> AsyncIterator[Release]:
        return self._iterate(
            f"publishing-series/{seg(series_id)}/releases", Release, items_key="releases",
            limit=limit, params={"status": status}, priority=priority,
        )  # fmt: skip

    async def _release_action(
        self,
        release_id: str,
        action: str,
        body: Any,
        body_model: type[Any],
        idempotency_key: str | None,
        priority: Priority,
    ) -> ApiResponse[Release]:
        return await self._call(
            "POST", f"publishing-releases/{seg(release_id)}/{action}", Release,
            envelope="release", body=body if body is not None else {}, body_model=body_model,
            idempotency_key=idempotency_key, priority=priority,
        )  # fmt: skip

    async def describe_release(
        self,
        release_id: str,
        body: q.ReleaseDescribe | Body | None = None,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[Release]:
        """Generate the release description, steered by ``direction``."""
        return await self._release_action(
            release_id, "description/generate", body, q.ReleaseDescribe, idempotency_key, priority
        )

    async def publish_release(
        self,
        release_id: str,
        body: q.ReleasePublish | Body | None = None,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[Release]:
        """Publish (``{}``); the release goes publishing -> published."""
        return await self._release_action(
            release_id, "publish", body, q.ReleasePublish, idempotency_key, priority
        )

    async def refresh_release_media(
        self,
        release_id: str,
        body: q.ReleaseRefreshMedia | Body,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[Release]:
        """Point the release's media at ``sourceArtifactId`` (e.g. after a re-finalize)."""
        return await self._release_action(
            release_id, "refresh-media", body, q.ReleaseRefreshMedia, idempotency_key, priority
        )

    async def start_live(
        self, body: q.StartLive | Body, *, priority: Priority = COMMAND
    ) -> ApiResponse[LiveRoom]:
        """Start a table read's live performance with its share token; answers the Daily room.

        Outside ``/api/v1`` and authorized by the token, not the key; no Idempotency-Key (not
        paid, and starting a live read twice joins the same room).
        """
        base = self._transport.base_url
        return await self._call(
            "POST", start_live_url(base), LiveRoom, body=body, body_model=q.StartLive,
            priority=priority,
        )  # fmt: skip
