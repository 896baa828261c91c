"""A project's documents: the series bible and the cast canon, one of each per project.

Generating (series bible only, over HTTP) writes fresh content from the project's context and
records what it was made from; a patch shallow-merges caller-authored content. Both are a new
version; the document is made blank on first use.
"""

from __future__ import annotations

from typing import Any

from bridge.sandboxes.story.world.content import series_bible_content
from bridge.sandboxes.story.world.kernel import Kernel, iso, view
from bridge.sandboxes.story.world.plans import PlanStore
from bridge.sandboxes.story.world.projects import ProjectRec, ProjectStore
from bridge.sandboxes.story.world.sources import SourceStore

DOCUMENT_TITLES = {"series_bible": "Series Bible", "cast_canon": "Cast Canon"}


class DocumentStore:
    def __init__(
        self, kernel: Kernel, projects: ProjectStore, sources: SourceStore, plans: PlanStore
    ) -> None:
        self.k = kernel
        self.projects = projects
        self.sources = sources
        self.plans = plans
        self.records: dict[tuple[str, str], dict[str, Any]] = {}  # (projectId, kind) -> body

    def _blank(self, rec: ProjectRec, kind: str, now: float) -> dict[str, Any]:
        return {
            "id": self.k.ids.next("cmdoc"),
            "projectId": rec.id,
            "kind": kind,
            "title": DOCUMENT_TITLES[kind],
            "generatedFrom": None,
            "currentVersion": 0,
            "createdAt": iso(now),
            "updatedAt": iso(now),
            "content": {} if kind == "series_bible" else {"characters": []},
        }

    # -- operations -----------------------------------------------------------------------------

    def get(self, project_id: str, kind: str) -> dict[str, Any] | None:
        with self.k.moment():
            self.projects.record(project_id)
            doc = self.records.get((project_id, kind))
            return view(doc) if doc is not None else None

    def generate(self, project_id: str, kind: str, instructions: str | None) -> dict[str, Any]:
        """Generate or refresh from project context: a new version replacing the content."""
        with self.k.moment() as now:
            rec = self.projects.record(project_id)
            doc = self.records.get((rec.id, kind)) or self._blank(rec, kind, now)
            doc["content"] = series_bible_content(str(rec.body["name"]), instructions)
            doc["generatedFrom"] = {
                "sources": [s.id for s in self.sources.of(rec.id) if not s.deleted],
                "plans": [p.id for p in self.plans.of(rec.id)],
            }
            doc["currentVersion"] += 1
            doc["updatedAt"] = iso(now)
            self.records[(rec.id, kind)] = doc
            return view(doc)

    def patch(
        self, project_id: str, kind: str, title: str | None, content: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Save caller-authored content: a shallow merge over the current content, a new version."""
        with self.k.moment() as now:
            rec = self.projects.record(project_id)
            doc = self.records.get((rec.id, kind)) or self._blank(rec, kind, now)
            if title is not None:
                doc["title"] = title
            if content:
                doc["content"] = {**doc["content"], **content}
            doc["currentVersion"] += 1
            doc["updatedAt"] = iso(now)
            self.records[(rec.id, kind)] = doc
            return view(doc)
