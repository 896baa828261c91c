"""The account: its Studio Credits, what it can use (source and artifact types), its guidance.

One account: every key shares it. The availability tables are what `/capabilities` shows and what
the other stores consult (a planned artifact type quotes at 0 and fails; a planned source type is
refused); the control API flips a source type's availability.
"""

from __future__ import annotations

from typing import Any

from bridge.sandboxes.story.auth import SCOPES
from bridge.sandboxes.story.world.kernel import Kernel, view
from bridge.sandboxes.story.world.ledger import Ledger

ARTIFACT_TYPES = ("table_read", "pitch_deck", "storyboard", "trailer", "production_video")
SOURCE_TYPES = ("text", "markdown", "url", "pdf")
MAX_INLINE_BYTES = 1_000_000
JOB_STATUSES = ["PENDING", "RESERVED", "RUNNING", "PARTIAL", "READY", "FAILED", "CANCELED"]
DIGEST_STATUSES = ["NOT_STARTED", "PENDING", "RUNNING", "READY", "FAILED", "SKIPPED"]
DIGEST_FIELDS = ["summary", "thesis", "claims", "evidence", "gaps", "rightsNotes"]
GUIDANCE: dict[str, Any] = {
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


class AccountStore:
    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.ledger = Ledger(kernel.config.initial_credits, kernel.ids)
        self.source_types: dict[str, str] = {kind: "available" for kind in SOURCE_TYPES}
        self.artifact_types: dict[str, str] = {
            kind: ("available" if kind == "table_read" else "planned") for kind in ARTIFACT_TYPES
        }

    def available_artifact_types(self) -> set[str]:
        return {k for k, v in self.artifact_types.items() if v == "available"}

    # -- operations -----------------------------------------------------------------------------

    def set_balance(self, balance: int) -> None:
        with self.k.lock:
            self.ledger.set_balance(balance)

    def credits(self) -> dict[str, Any]:
        with self.k.moment():
            return self.ledger.view()

    def guidance(self) -> dict[str, Any]:
        """`GET /agent-guidance`: admin-managed workflow guidance (a stable sandbox text)."""
        return {"guidance": view(GUIDANCE)}

    def capabilities(self) -> dict[str, Any]:
        with self.k.lock:
            source_types: list[dict[str, Any]] = []
            for kind, availability in self.source_types.items():
                entry: dict[str, Any] = {"type": kind, "availability": availability}
                if kind in ("text", "markdown"):
                    entry["maxInlineBytes"] = MAX_INLINE_BYTES
                else:
                    entry["note"] = "Fetched asynchronously behind SSRF, redirect and size guards."
                source_types.append(entry)
            artifacts: dict[str, Any] = {
                kind: {"availability": availability}
                for kind, availability in self.artifact_types.items()
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
                        "statuses": list(DIGEST_STATUSES),
                        "fields": list(DIGEST_FIELDS),
                    },
                },
                "artifacts": artifacts,
                "jobs": {
                    "available": True,
                    "statuses": list(JOB_STATUSES),
                    "artifactStatuses": ["PENDING", "RUNNING", "READY", "FAILED"],
                },
                "docs": docs,
            }
