"""Projects: CRUD, archive and soft delete; the root every other resource hangs from.

A deleted project hides everything under it: the other stores ask `live(project_id)` (or
`record`, which raises the API's 404) before they answer for a source, plan, job or artifact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.sandboxes.story.errors import StorySandboxError
from bridge.sandboxes.story.world.kernel import Kernel, iso, stamp, view
from bridge.sandboxes.story.world.paging import paginate


@dataclass
class ProjectRec:
    seq: int
    id: str
    body: dict[str, Any]
    deleted: bool = False
    source_count: int = 0  # live sources, kept by the source store as it attaches and deletes


class ProjectStore:
    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.records: dict[str, ProjectRec] = {}
        self.order: list[ProjectRec] = []

    def record(self, project_id: str) -> ProjectRec:
        """The live project, or 404 project_not_found."""
        rec = self.records.get(project_id)
        if rec is None or rec.deleted:
            raise StorySandboxError(
                "project_not_found",
                f"Story project {project_id} does not exist, was deleted, or is owned by another account.",
            )
        return rec

    def live(self, project_id: str) -> bool:
        rec = self.records.get(project_id)
        return rec is not None and not rec.deleted

    def _view(self, rec: ProjectRec) -> dict[str, Any]:
        body = view(rec.body)
        body["sourceCount"] = rec.source_count
        return body

    # -- operations -----------------------------------------------------------------------------

    def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        with self.k.moment() as now:
            rec = ProjectRec(seq=self.k.next_seq(), id=self.k.ids.next("cmp"), body={})
            rec.body = {
                "id": rec.id,
                "name": fields["name"],
                "description": fields.get("description"),
                "metadata": fields.get("metadata"),
                "archivedAt": None,
                "sourceCount": 0,
                "createdAt": iso(now),
                "updatedAt": iso(now),
            }
            self.records[rec.id] = rec
            self.order.append(rec)
            return self._view(rec)

    def page(self, query: Mapping[str, str]) -> tuple[list[dict[str, Any]], str | None]:
        with self.k.moment():
            page, cursor = paginate(self.order, query, lambda r: not r.deleted)
            return [self._view(r) for r in page], cursor

    def get(self, project_id: str) -> dict[str, Any]:
        with self.k.moment():
            return self._view(self.record(project_id))

    def update(self, project_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """`changes` holds only the fields the caller sent; an explicit null clears a field."""
        with self.k.moment() as now:
            rec = self.record(project_id)
            for name in ("name", "description", "metadata"):
                if name in changes:
                    rec.body[name] = changes[name]
            if changes.get("archived") is True and rec.body["archivedAt"] is None:
                rec.body["archivedAt"] = iso(now)
            elif changes.get("archived") is False:
                rec.body["archivedAt"] = None
            stamp(rec.body, now)
            return self._view(rec)

    def delete(self, project_id: str) -> dict[str, Any]:
        with self.k.moment() as now:
            rec = self.record(project_id)
            rec.deleted = True
            return {"id": rec.id, "deletedAt": iso(now)}
