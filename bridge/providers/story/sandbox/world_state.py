"""The world's records and indexes, shared by the resource mixins that make up `World`.

Each record keeps its wire body (`body`, the exact JSON the API returns) plus what the sandbox needs
behind it. Indexes are lists appended at creation, so they stay sorted by `seq` for pagination,
and a per-project or per-plan list answers a filtered list read without scanning every job.
"""

from __future__ import annotations

import copy
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from bridge.providers.story.sandbox.config import SandboxConfig
from bridge.providers.story.sandbox.errors import SandboxError
from bridge.providers.story.sandbox.world_base import Ids, Ledger, Reservation, iso
from bridge.sandboxkit.clock import SandboxClock
from bridge.sandboxkit.scheduler import Scheduler

ARTIFACT_TYPES = ("table_read", "pitch_deck", "storyboard", "trailer", "production_video")


@dataclass
class SourceRec:
    seq: int
    id: str
    project_id: str
    body: dict[str, Any]
    text: str = ""
    deleted: bool = False


@dataclass
class PlanRec:
    seq: int
    id: str
    project_id: str
    body: dict[str, Any]
    jobs: list[JobRec] = field(default_factory=list)


@dataclass
class ArtifactRec:
    seq: int
    id: str
    job_id: str
    request: dict[str, Any]
    body: dict[str, Any]
    credits: int = 0
    revisions: list[dict[str, Any]] = field(default_factory=list)
    cast: list[tuple[str, str]] = field(default_factory=list)
    avatar_style: str = "painterly portrait"
    avatars: dict[str, dict[str, Any]] = field(default_factory=dict)
    music: dict[str, Any] = field(default_factory=dict)
    scene_directions: dict[int, dict[str, Any]] = field(default_factory=dict)
    cues: list[dict[str, Any]] = field(default_factory=list)
    coverage: list[dict[str, Any]] = field(default_factory=list)
    render_token: int = 0  # bumps per video render / finalize run, so stale stage events skip


@dataclass
class JobRec:
    seq: int
    id: str
    project_id: str
    plan_id: str
    body: dict[str, Any]
    reservation: Reservation
    kind: str = "generate"  # or "refine": re-generates an existing artifact in place
    artifacts: list[ArtifactRec] = field(default_factory=list)
    refine_target: str | None = None


@dataclass
class ProjectRec:
    seq: int
    id: str
    body: dict[str, Any]
    deleted: bool = False
    sources: list[SourceRec] = field(default_factory=list)
    plans: list[PlanRec] = field(default_factory=list)
    jobs: list[JobRec] = field(default_factory=list)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)


def view(body: dict[str, Any]) -> dict[str, Any]:
    """A copy for the wire: callers never hold a reference into the world."""
    return copy.deepcopy(body)


class WorldState:
    """Stores, indexes and the shared services; the mixins add behaviour per resource."""

    def __init__(self, config: SandboxConfig, clock: SandboxClock) -> None:
        self.config = config
        self.clock = clock
        self.durations = config.durations
        self.ids = Ids(config.seed)
        self.scheduler = Scheduler()
        self.ledger = Ledger(config.initial_credits, self.ids)
        self.lock = threading.RLock()
        self._seq = itertools.count(1)
        self.source_type_availability: dict[str, str] = {
            kind: "available" for kind in ("text", "markdown", "url", "pdf")
        }
        self.artifact_type_availability: dict[str, str] = {
            kind: ("available" if kind == "table_read" else "planned") for kind in ARTIFACT_TYPES
        }
        self.projects: dict[str, ProjectRec] = {}
        self.project_list: list[ProjectRec] = []
        self.sources: dict[str, SourceRec] = {}
        self.plans: dict[str, PlanRec] = {}
        self.jobs: dict[str, JobRec] = {}
        self.job_list: list[JobRec] = []
        self.artifacts: dict[str, ArtifactRec] = {}

    # -- shared helpers -------------------------------------------------------------------------

    def next_seq(self) -> int:
        return next(self._seq)

    def sync(self) -> float:
        """Apply every transition due by now; call first in every public operation."""
        now = self.clock.now()
        self.scheduler.run_until(now)
        return now

    def stamp(self, body: dict[str, Any], at: float) -> None:
        body["updatedAt"] = iso(at)

    def available_artifact_types(self) -> set[str]:
        return {k for k, v in self.artifact_type_availability.items() if v == "available"}

    def project(self, project_id: str) -> ProjectRec:
        rec = self.projects.get(project_id)
        if rec is None or rec.deleted:
            raise SandboxError(
                "project_not_found",
                f"Story project {project_id} does not exist, was deleted, or is owned by another account.",
            )
        return rec

    def set_balance(self, balance: int) -> None:
        with self.lock:
            self.ledger.set_balance(balance)

    def credits_view(self) -> dict[str, Any]:
        with self.lock:
            self.sync()
            return self.ledger.view()
