"""Publishing releases (FIELD-NOTES): episodes of a publishing series, made from a finished artifact.

A release is created as `draft`, may get a generated description, and `publish` moves it through
`publishing` to `published`. Series are not created through the API (the account has them); the
sandbox opens a series the first time a release is made in it. Lists are cursor-paginated and
filter by `status`, as the production client reads them (`?status=published&limit=100&cursor=`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.sandboxes.story.errors import StorySandboxError
from bridge.sandboxes.story.world.artifacts import ArtifactStore
from bridge.sandboxes.story.world.kernel import Kernel, iso, stamp, view
from bridge.sandboxes.story.world.paging import paginate
from schemas.story.requests_publishing import ReleaseCreate


@dataclass
class ReleaseRec:
    seq: int
    id: str
    series_id: str
    body: dict[str, Any]


class ReleaseStore:
    def __init__(self, kernel: Kernel, artifacts: ArtifactStore) -> None:
        self.k = kernel
        self.artifacts = artifacts
        self.records: dict[str, ReleaseRec] = {}
        self.by_series: dict[str, list[ReleaseRec]] = {}

    def _record(self, release_id: str) -> ReleaseRec:
        rec = self.records.get(release_id)
        if rec is None:
            # Not in the documented code table: a 404 like every other unknown resource.
            raise StorySandboxError(
                "release_not_found",
                f"Publishing release {release_id} does not exist or is owned by another account.",
                status=404,
            )
        return rec

    def _media(self, artifact_id: str, now: float) -> dict[str, Any]:
        audio = (self.artifacts.record(artifact_id).body["manifest"] or {}).get("audio") or {}
        return {
            "audioUrl": audio.get("recordingUrl") or audio.get("liveUrl"),
            "refreshedAt": iso(now),
        }

    # -- operations -----------------------------------------------------------------------------

    def create(self, series_id: str, req: ReleaseCreate) -> dict[str, Any]:
        with self.k.moment() as now:
            media = self._media(req.sourceArtifactId, now)
            series = self.by_series.setdefault(series_id, [])
            rec = ReleaseRec(self.k.next_seq(), self.k.ids.next("cmrel"), series_id, {})
            rec.body = {
                "id": rec.id,
                "seriesId": series_id,
                "title": req.title,
                "type": req.type,
                "seasonNumber": req.seasonNumber,
                "episodeNumber": 1 + sum(1 for r in series if r.body["type"] == "episode"),
                "sourceArtifactId": req.sourceArtifactId,
                "status": "draft",
                "description": None,
                "media": media,
                "publishedAt": None,
                "createdAt": iso(now),
                "updatedAt": iso(now),
            }
            self.records[rec.id] = rec
            series.append(rec)
            return view(rec.body)

    def describe(self, release_id: str, direction: str | None) -> dict[str, Any]:
        with self.k.moment() as now:
            rec = self._record(release_id)
            title = rec.body["title"]
            angle = f" {direction.strip()}" if direction and direction.strip() else ""
            rec.body["description"] = f"{title}: an episode of the series.{angle}"[:4000]
            stamp(rec.body, now)
            return view(rec.body)

    def publish(self, release_id: str) -> dict[str, Any]:
        """Replay-safe: publishing a release already publishing or published changes nothing."""
        with self.k.moment() as now:
            rec = self._record(release_id)
            if rec.body["status"] == "draft":
                rec.body["status"] = "publishing"
                stamp(rec.body, now)

                def published(at: float) -> None:
                    rec.body.update(status="published", publishedAt=iso(at))
                    stamp(rec.body, at)

                self.k.at(now + self.k.durations.publish, published)
            return view(rec.body)

    def refresh_media(self, release_id: str, artifact_id: str) -> dict[str, Any]:
        with self.k.moment() as now:
            rec = self._record(release_id)
            rec.body["media"] = self._media(artifact_id, now)
            rec.body["sourceArtifactId"] = artifact_id
            stamp(rec.body, now)
            return view(rec.body)

    def page(
        self, series_id: str, query: Mapping[str, str]
    ) -> tuple[list[dict[str, Any]], str | None]:
        with self.k.moment():
            wanted = query.get("status")
            page, cursor = paginate(
                self.by_series.get(series_id, []),
                query,
                lambda r: not wanted or r.body["status"] == wanted,
            )
            return [view(r.body) for r in page], cursor
