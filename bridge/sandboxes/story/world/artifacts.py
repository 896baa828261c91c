"""Artifacts: the records a job run makes, their read (with ?revision=N), the READY/FAILED guard
every operation on one uses, and the share token that starts a live read.

An artifact's own record is its wire body, the request that made it and its revisions; what the
operations on a READY table read add (cast and avatars, renders, music, coverage, sound effects,
script voice modifications) lives in the sub-store of that operation, keyed by the artifact's id.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from bridge.sandboxes.story.errors import StorySandboxError
from bridge.sandboxes.story.world.kernel import Kernel, iso, view
from bridge.sandboxes.story.world.projects import ProjectStore


@dataclass
class ArtifactRec:
    seq: int
    id: str
    job_id: str
    project_id: str
    request: dict[str, Any]
    body: dict[str, Any]
    credits: int = 0
    revisions: list[dict[str, Any]] = field(default_factory=list)


class ArtifactStore:
    def __init__(self, kernel: Kernel, projects: ProjectStore) -> None:
        self.k = kernel
        self.projects = projects
        self.records: dict[str, ArtifactRec] = {}

    def new(self, job_id: str, project_id: str, request: dict[str, Any], at: float) -> ArtifactRec:
        """A RUNNING artifact of a job that just started."""
        art_id = self.k.ids.next("cma")
        body = {
            "id": art_id,
            "storyJobId": job_id,
            "type": request["type"],
            "status": "RUNNING",
            "manifest": None,
            "currentVersion": 1,
            "refineCount": 0,
            "tableReadShareLinkId": None,
            "failureCode": None,
            "failureMessage": None,
            "createdAt": iso(at),
            "updatedAt": iso(at),
        }
        art = ArtifactRec(self.k.next_seq(), art_id, job_id, project_id, request, body)
        self.records[art_id] = art
        return art

    def record(self, artifact_id: str, *, ready: bool = True) -> ArtifactRec:
        """The artifact; with `ready`, 422 unless READY (the guard of every operation on one)."""
        art = self.records.get(artifact_id)
        if art is None or not self.projects.live(art.project_id):
            raise StorySandboxError(
                "artifact_not_found",
                f"Artifact {artifact_id} does not exist or is owned by another account.",
            )
        status = art.body["status"]
        if ready and status == "FAILED":
            raise StorySandboxError(
                "artifact_generation_failed",
                f"Artifact {artifact_id} failed: {art.body['failureCode']}.",
                details={"status": status, "failureCode": art.body["failureCode"]},
            )
        if ready and status != "READY":
            raise StorySandboxError(
                "artifact_not_ready",
                f"Artifact {artifact_id} is {status}; poll until READY.",
                details={"status": status},
            )
        return art

    # -- operations -----------------------------------------------------------------------------

    def get(self, artifact_id: str, revision: str | None = None) -> dict[str, Any]:
        with self.k.moment():
            art = self.record(artifact_id, ready=False)
            body = view(art.body)
            if revision is None or revision == "":
                return body
            try:
                number = int(revision)
            except ValueError:
                number = 0
            if not 1 <= number <= len(art.revisions):
                raise StorySandboxError(
                    "validation_failed",
                    f"revision: {revision} is not a revision of artifact {artifact_id} "
                    f"(1..{len(art.revisions)})",
                    details={"field": "revision"},
                )
            if number < len(art.revisions):
                body["manifest"] = copy.deepcopy(art.revisions[number - 1])
            body["revision"] = number
            return body

    def start_live(self, token: str) -> dict[str, Any]:
        """The share token of a READY table read starts its live read in a Daily room."""
        with self.k.moment():
            for art in self.records.values():
                manifest = art.body.get("manifest") or {}
                if token and manifest.get("shareToken") == token:
                    room = f"https://sleeperhit.daily.co/tr-{art.id.lower()}"
                    return {"dailyRoomUrl": room, "artifactId": art.id}
            raise StorySandboxError(
                "invalid_share_token",
                "The share token is unknown or expired.",
                status=401,
            )
