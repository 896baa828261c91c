"""Discovery, projects, sources and the project documents (series bible, cast canon)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from bridge.http.ratelimit import Priority
from bridge.http.transport import ApiResponse
from bridge.providers.story.endpoints.base import ClientCore, Page, seg
from schemas.story import requests as q
from schemas.story import resources as r

__all__ = ["ProjectsMixin"]

COMMAND = Priority.COMMAND


class ProjectsMixin(ClientCore):
    """``/capabilities``, ``/credits``, ``/story-projects`` and what hangs off a project."""

    # --- discovery -----------------------------------------------------------------------------

    async def get_capabilities(
        self, *, priority: Priority = COMMAND
    ) -> ApiResponse[r.Capabilities]:
        """The live feature manifest (cache it for at most a minute)."""
        return await self._call("GET", "capabilities", r.Capabilities, priority=priority)

    async def get_credits(self, *, priority: Priority = COMMAND) -> ApiResponse[r.Credits]:
        """The Studio Credit balance (``{"credits": ...}``)."""
        return await self._call("GET", "credits", r.Credits, envelope="credits", priority=priority)

    # --- projects ------------------------------------------------------------------------------

    async def create_project(
        self,
        body: q.ProjectCreate | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.Project]:
        return await self._call(
            "POST",
            "story-projects",
            r.Project,
            envelope="project",
            body=body,
            body_model=q.ProjectCreate,
            idempotency_key=idempotency_key,
            priority=priority,
        )

    async def list_projects(
        self, *, cursor: str | None = None, limit: int | None = None, priority: Priority = COMMAND
    ) -> ApiResponse[Page[r.Project]]:
        return await self._page(
            "story-projects",
            r.Project,
            items_key="projects",
            cursor=cursor,
            limit=limit,
            priority=priority,
        )

    def iter_projects(
        self, *, limit: int | None = None, priority: Priority = COMMAND
    ) -> AsyncIterator[r.Project]:
        return self._iterate(
            "story-projects", r.Project, items_key="projects", limit=limit, priority=priority
        )

    async def get_project(
        self, project_id: str, *, priority: Priority = COMMAND
    ) -> ApiResponse[r.Project]:
        return await self._call(
            "GET", f"story-projects/{seg(project_id)}", r.Project, envelope="project",
            priority=priority,
        )  # fmt: skip

    async def update_project(
        self,
        project_id: str,
        body: q.ProjectUpdate | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.Project]:
        return await self._call(
            "PATCH",
            f"story-projects/{seg(project_id)}",
            r.Project,
            envelope="project",
            body=body,
            body_model=q.ProjectUpdate,
            idempotency_key=idempotency_key,
            priority=priority,
        )

    async def delete_project(
        self,
        project_id: str,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.Deleted]:
        return await self._call(
            "DELETE",
            f"story-projects/{seg(project_id)}",
            r.Deleted,
            idempotency_key=idempotency_key,
            priority=priority,
        )

    # --- sources -------------------------------------------------------------------------------

    async def create_source(
        self,
        project_id: str,
        body: q.SourceCreate | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.Source]:
        return await self._call(
            "POST",
            f"story-projects/{seg(project_id)}/sources",
            r.Source,
            envelope="source",
            body=body,
            body_model=q.SourceCreate,
            idempotency_key=idempotency_key,
            priority=priority,
        )

    async def list_sources(
        self,
        project_id: str,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[Page[r.Source]]:
        return await self._page(
            f"story-projects/{seg(project_id)}/sources",
            r.Source,
            items_key="sources",
            cursor=cursor,
            limit=limit,
            priority=priority,
        )

    def iter_sources(
        self, project_id: str, *, limit: int | None = None, priority: Priority = COMMAND
    ) -> AsyncIterator[r.Source]:
        return self._iterate(
            f"story-projects/{seg(project_id)}/sources",
            r.Source,
            items_key="sources",
            limit=limit,
            priority=priority,
        )

    async def get_source(
        self, project_id: str, source_id: str, *, priority: Priority = COMMAND
    ) -> ApiResponse[r.Source]:
        return await self._call(
            "GET",
            f"story-projects/{seg(project_id)}/sources/{seg(source_id)}",
            r.Source,
            envelope="source",
            priority=priority,
        )

    async def delete_source(
        self,
        project_id: str,
        source_id: str,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.Deleted]:
        return await self._call(
            "DELETE",
            f"story-projects/{seg(project_id)}/sources/{seg(source_id)}",
            r.Deleted,
            idempotency_key=idempotency_key,
            priority=priority,
        )

    # --- project documents (field notes: live but undocumented) --------------------------------

    async def get_series_bible(
        self, project_id: str, *, priority: Priority = COMMAND
    ) -> ApiResponse[r.SeriesBible]:
        return await self._call(
            "GET",
            f"story-projects/{seg(project_id)}/series-bible",
            r.SeriesBible,
            envelope="document",
            priority=priority,
        )

    async def generate_series_bible(
        self,
        project_id: str,
        body: q.SeriesBibleGenerate | Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.SeriesBible]:
        """POST: generate or refresh the bible from the project's context."""
        return await self._call(
            "POST",
            f"story-projects/{seg(project_id)}/series-bible",
            r.SeriesBible,
            envelope="document",
            body=body,
            body_model=q.SeriesBibleGenerate,
            idempotency_key=idempotency_key,
            priority=priority,
        )

    async def update_series_bible(
        self,
        project_id: str,
        body: q.SeriesBibleUpdate | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.SeriesBible]:
        """PATCH: save caller-authored bible content."""
        return await self._call(
            "PATCH",
            f"story-projects/{seg(project_id)}/series-bible",
            r.SeriesBible,
            envelope="document",
            body=body,
            body_model=q.SeriesBibleUpdate,
            idempotency_key=idempotency_key,
            priority=priority,
        )

    async def get_cast_canon(
        self, project_id: str, *, priority: Priority = COMMAND
    ) -> ApiResponse[Any]:
        """The project's cast canon (undocumented shape: raw JSON)."""
        return await self.request(
            "GET", f"story-projects/{seg(project_id)}/cast-canon", priority=priority
        )

    async def update_cast_canon(
        self,
        project_id: str,
        body: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[Any]:
        """PATCH the project's cast canon (undocumented shape: raw JSON in and out)."""
        return await self.request(
            "PATCH",
            f"story-projects/{seg(project_id)}/cast-canon",
            json=dict(body),
            idempotency_key=idempotency_key,
            priority=priority,
        )
