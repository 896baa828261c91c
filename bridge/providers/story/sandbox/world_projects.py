"""Projects (CRUD, archive, soft delete) and their documents: the series bible and the cast canon."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.providers.story.sandbox.world_base import iso, paginate
from bridge.providers.story.sandbox.world_content import series_bible_content
from bridge.providers.story.sandbox.world_state import ProjectRec, WorldState, view

DOCUMENT_TITLES = {"series_bible": "Series Bible", "cast_canon": "Cast Canon"}


class ProjectsMixin(WorldState):
    def _project_view(self, rec: ProjectRec) -> dict[str, Any]:
        body = view(rec.body)
        body["sourceCount"] = sum(1 for s in rec.sources if not s.deleted)
        return body

    def create_project(self, fields: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            rec = ProjectRec(
                seq=self.next_seq(),
                id=self.ids.next("cmp"),
                body={
                    "name": fields["name"],
                    "description": fields.get("description"),
                    "metadata": fields.get("metadata"),
                    "archivedAt": None,
                    "sourceCount": 0,
                    "createdAt": iso(now),
                    "updatedAt": iso(now),
                },
            )
            rec.body = {"id": rec.id, **rec.body}
            self.projects[rec.id] = rec
            self.project_list.append(rec)
            return self._project_view(rec)

    def list_projects(self, query: Mapping[str, str]) -> tuple[list[dict[str, Any]], str | None]:
        with self.lock:
            self.sync()
            page, cursor = paginate(self.project_list, query, lambda r: not r.deleted)
            return [self._project_view(r) for r in page], cursor

    def get_project(self, project_id: str) -> dict[str, Any]:
        with self.lock:
            self.sync()
            return self._project_view(self.project(project_id))

    def update_project(self, project_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """`changes` holds only the fields the caller sent; an explicit null clears a field."""
        with self.lock:
            now = self.sync()
            rec = self.project(project_id)
            for name in ("name", "description", "metadata"):
                if name in changes:
                    rec.body[name] = changes[name]
            if changes.get("archived") is True and rec.body["archivedAt"] is None:
                rec.body["archivedAt"] = iso(now)
            elif changes.get("archived") is False:
                rec.body["archivedAt"] = None
            self.stamp(rec.body, now)
            return self._project_view(rec)

    def delete_project(self, project_id: str) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            rec = self.project(project_id)
            rec.deleted = True
            return {"id": rec.id, "deletedAt": iso(now)}

    # -- documents ------------------------------------------------------------------------------

    def get_document(self, project_id: str, kind: str) -> dict[str, Any] | None:
        with self.lock:
            self.sync()
            doc = self.project(project_id).documents.get(kind)
            return view(doc) if doc is not None else None

    def _blank_document(self, rec: ProjectRec, kind: str, now: float) -> dict[str, Any]:
        return {
            "id": self.ids.next("cmdoc"),
            "projectId": rec.id,
            "kind": kind,
            "title": DOCUMENT_TITLES[kind],
            "generatedFrom": None,
            "currentVersion": 0,
            "createdAt": iso(now),
            "updatedAt": iso(now),
            "content": {} if kind == "series_bible" else {"characters": []},
        }

    def generate_document(
        self, project_id: str, kind: str, instructions: str | None
    ) -> dict[str, Any]:
        """Generate or refresh from project context: a new version replacing the content."""
        with self.lock:
            now = self.sync()
            rec = self.project(project_id)
            doc = rec.documents.get(kind) or self._blank_document(rec, kind, now)
            doc["content"] = series_bible_content(str(rec.body["name"]), instructions)
            doc["generatedFrom"] = {
                "sources": [s.id for s in rec.sources if not s.deleted],
                "plans": [p.id for p in rec.plans],
            }
            doc["currentVersion"] += 1
            doc["updatedAt"] = iso(now)
            rec.documents[kind] = doc
            return view(doc)

    def patch_document(
        self, project_id: str, kind: str, title: str | None, content: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Save caller-authored content: a shallow merge over the current content, a new version."""
        with self.lock:
            now = self.sync()
            rec = self.project(project_id)
            doc = rec.documents.get(kind) or self._blank_document(rec, kind, now)
            if title is not None:
                doc["title"] = title
            if content:
                doc["content"] = {**doc["content"], **content}
            doc["currentVersion"] += 1
            doc["updatedAt"] = iso(now)
            rec.documents[kind] = doc
            return view(doc)
