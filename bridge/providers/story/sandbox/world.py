"""The sandbox's in-memory Story API account: every resource and its lazily advanced state.

One account: every key shares the world. Resource behaviour lives in one mixin per concern
(world_projects, world_sources, world_plans, world_jobrun + world_jobs, world_artifact_core,
world_artifacts, world_media, world_script); the shared
records, indexes, scheduler and ledger in world_state / world_base. Each public method takes the
world lock and first applies every transition due by the sandbox clock, so reads always agree.
"""

from __future__ import annotations

from typing import Any

from bridge.providers.story.sandbox.auth import SCOPES
from bridge.providers.story.sandbox.config import SandboxConfig
from bridge.providers.story.sandbox.errors import SandboxError
from bridge.providers.story.sandbox.world_artifacts import ArtifactOpsMixin
from bridge.providers.story.sandbox.world_media import MediaMixin
from bridge.providers.story.sandbox.world_plans import PlansMixin
from bridge.providers.story.sandbox.world_projects import ProjectsMixin
from bridge.providers.story.sandbox.world_publishing import PublishingMixin, ReleaseRec
from bridge.providers.story.sandbox.world_resume import ResumeMixin
from bridge.providers.story.sandbox.world_script import ScriptMixin
from bridge.providers.story.sandbox.world_sources import SourcesMixin
from bridge.sandboxkit.clock import SandboxClock

MAX_INLINE_BYTES = 1_000_000


class World(
    ResumeMixin,
    PublishingMixin,
    ProjectsMixin,
    SourcesMixin,
    PlansMixin,
    ScriptMixin,
    MediaMixin,
    ArtifactOpsMixin,
):
    """`World(config, clock)`; the app holds one and hands it to every endpoint as `call.world`."""

    def __init__(self, config: SandboxConfig, clock: SandboxClock) -> None:
        super().__init__(config, clock)
        self.releases: dict[str, ReleaseRec] = {}
        self.series_releases: dict[str, list[ReleaseRec]] = {}
        self.resumed_plans: set[str] = set()

    def agent_guidance(self) -> dict[str, Any]:
        """`GET /agent-guidance`: admin-managed workflow guidance (a stable sandbox text)."""
        return {
            "guidance": {
                "version": "sandbox-1",
                "updatedAt": "2026-12-01T00:00:00.000Z",
                "sections": [
                    {
                        "id": "happy-path",
                        "title": "Happy path",
                        "body": "project -> source -> plan -> approve -> job -> finalize(audio)",
                    },
                    {
                        "id": "polling",
                        "title": "Polling",
                        "body": "Sources every 2-5 s, plans and jobs every 5-15 s; honour Retry-After.",
                    },
                ],
            }
        }

    def start_live(self, token: str) -> dict[str, Any]:
        """The share token of a READY table read starts its live read in a Daily room."""
        with self.lock:
            self.sync()
            for art in self.artifacts.values():
                manifest = art.body.get("manifest") or {}
                if token and manifest.get("shareToken") == token:
                    room = f"https://sleeperhit.daily.co/tr-{art.id.lower()}"
                    return {"dailyRoomUrl": room, "artifactId": art.id}
            raise SandboxError(
                "invalid_share_token",
                "The share token is unknown or expired.",
                status=401,
            )

    def capabilities(self) -> dict[str, Any]:
        with self.lock:
            source_types: list[dict[str, Any]] = []
            for kind, availability in self.source_type_availability.items():
                entry: dict[str, Any] = {"type": kind, "availability": availability}
                if kind in ("text", "markdown"):
                    entry["maxInlineBytes"] = MAX_INLINE_BYTES
                else:
                    entry["note"] = "Fetched asynchronously behind SSRF, redirect and size guards."
                source_types.append(entry)
            artifacts: dict[str, Any] = {
                kind: {"availability": availability}
                for kind, availability in self.artifact_type_availability.items()
            }
            artifacts["table_read"].update(
                outputs=["theater_url", "theater_fullscreen_url", "live_audio", "video"],
                modes=["documentary", "podcast", "drama"],
            )
            docs = {
                name: {"url": url, "availability": "available"}
                for name, url in (
                    ("openapi", "/api/v1/openapi.json"),
                    ("examples", "/api/v1/examples"),
                    ("llms", "/llms.txt"),
                )
            }
            return {
                "version": "v1",
                "status": "foundation",
                "auth": {
                    "schemes": ["bearer_api_key"],
                    "scopes": list(SCOPES),
                    "supportsIdempotency": True,
                },
                "projects": {
                    "available": True,
                    "crudScopes": {"read": "story:read", "write": "story:write"},
                },
                "sources": {
                    "types": source_types,
                    "retentionPolicies": ["EXTRACTED_ONLY", "STORE_ORIGINAL", "METADATA_ONLY"],
                    "digest": {
                        "availability": "available",
                        "statuses": [
                            "NOT_STARTED",
                            "PENDING",
                            "RUNNING",
                            "READY",
                            "FAILED",
                            "SKIPPED",
                        ],
                        "fields": [
                            "summary",
                            "thesis",
                            "claims",
                            "evidence",
                            "gaps",
                            "rightsNotes",
                        ],
                    },
                },
                "artifacts": artifacts,
                "jobs": {
                    "available": True,
                    "statuses": [
                        "PENDING",
                        "RESERVED",
                        "RUNNING",
                        "PARTIAL",
                        "READY",
                        "FAILED",
                        "CANCELED",
                    ],
                    "artifactStatuses": ["PENDING", "RUNNING", "READY", "FAILED"],
                },
                "docs": docs,
            }
