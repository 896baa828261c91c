"""Coverage reports on a READY table read: a reader's notes, generating -> complete.

Each request makes a new report; a read names one (`reportId`) or gets the newest. Reads work
mid-refine. Never moves a share URL.
"""

from __future__ import annotations

from typing import Any

from bridge.sandboxes.story.errors import StorySandboxError
from bridge.sandboxes.story.world.artifacts import ArtifactStore
from bridge.sandboxes.story.world.content import coverage_report
from bridge.sandboxes.story.world.kernel import Kernel, iso, view


class CoverageStore:
    def __init__(self, kernel: Kernel, artifacts: ArtifactStore) -> None:
        self.k = kernel
        self.artifacts = artifacts
        self.records: dict[str, list[dict[str, Any]]] = {}  # artifact id -> reports, oldest first

    def start(self, artifact_id: str, focus: str | None) -> dict[str, Any]:
        with self.k.moment() as now:
            art = self.artifacts.record(artifact_id)
            report_id = self.k.ids.next("cmcov")
            record: dict[str, Any] = {
                "id": report_id,
                "reportId": report_id,
                "artifactId": art.id,
                "status": "generating",
                "focusPrompt": focus,
                "report": None,
                "createdAt": iso(now),
                "completedAt": None,
            }
            self.records.setdefault(art.id, []).append(record)

            def complete(at: float) -> None:
                record.update(status="complete", report=coverage_report(focus), completedAt=iso(at))

            self.k.at(now + self.k.durations.coverage, complete)
            return {"reportId": report_id, "status": "generating"}

    def get(self, artifact_id: str, report_id: str | None) -> dict[str, Any] | None:
        with self.k.moment():
            art = self.artifacts.record(artifact_id, ready=False)
            reports = self.records.get(art.id, [])
            if report_id:
                for record in reports:
                    if record["reportId"] == report_id:
                        return view(record)
                raise StorySandboxError(
                    "validation_failed",
                    f"reportId: {report_id} is not a coverage report of artifact {artifact_id}",
                    details={"field": "reportId"},
                )
            return view(reports[-1]) if reports else None
