"""Sources: inline text READY at once, url/pdf extracted in the background, then the digest pass.

Failure triggers (the sandbox has no real upstream): a url/pdf whose host contains "fail" or whose
path looks like a 404 (`/404`, `notfound`) lands at FAILED with source_fetch_failed; a private,
loopback, link-local or metadata host is refused synchronously (422, details.reason "ip_blocked");
text containing "[digest:fail]" gets digestStatus FAILED.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from bridge.sandboxes.story.errors import StorySandboxError
from bridge.sandboxes.story.world.account import AccountStore
from bridge.sandboxes.story.world.content import digest_for, url_text
from bridge.sandboxes.story.world.kernel import Kernel, iso, stamp, view
from bridge.sandboxes.story.world.paging import paginate
from bridge.sandboxes.story.world.projects import ProjectStore
from schemas.story.requests import MAX_CONTENT_BYTES, SourceCreate

PREVIEW_CHARS = 4000
MIN_DIGEST_CHARS = 200
BLOCKED_HOSTS = {"localhost", "metadata.google.internal", "metadata"}
PDF_PAGES = 12
DIGEST_FAIL_MARK = "[digest:fail]"  # put in a source's text to make its digest FAILED


def blocked_host(host: str) -> bool:
    """The SSRF guard: loopback, private, link-local (cloud metadata), multicast and friends."""
    host = host.strip("[]").lower().rstrip(".")
    if host in BLOCKED_HOSTS or host.endswith(".localhost") or host.endswith(".internal"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def fetch_failure(uri: str) -> str | None:
    """Why the background fetch fails, if it does: a host containing "fail" or a 404-ish path."""
    parsed = urlparse(uri)
    host, path = parsed.hostname or "", parsed.path.lower()
    if "fail" in host:
        return f"The upstream host {host} did not answer with usable content."
    if "/404" in path or "notfound" in path or "not-found" in path:
        return f"The upstream answered HTTP 404 for {parsed.path}."
    return None


@dataclass
class SourceRec:
    seq: int
    id: str
    project_id: str
    body: dict[str, Any]
    text: str = ""
    deleted: bool = False


class SourceStore:
    def __init__(self, kernel: Kernel, projects: ProjectStore, account: AccountStore) -> None:
        self.k = kernel
        self.projects = projects
        self.account = account
        self.records: dict[str, SourceRec] = {}
        self.by_project: dict[str, list[SourceRec]] = {}

    def of(self, project_id: str) -> list[SourceRec]:
        """The project's sources in creation order, deleted ones included."""
        return self.by_project.get(project_id, [])

    def find(self, source_id: str) -> SourceRec | None:
        return self.records.get(source_id)

    # -- operations -----------------------------------------------------------------------------

    def precheck(self, raw: Any) -> None:
        """Checks the documented codes before the request model, which would say validation_failed.

        An unknown or not-yet-available type is `source_type_unsupported`, an oversized inline body
        `source_too_large` with details.maxBytes.
        """
        if not isinstance(raw, dict):
            return
        kind = raw.get("type")
        if isinstance(kind, str) and self.account.source_types.get(kind) != "available":
            raise StorySandboxError(
                "source_type_unsupported",
                f"Source type {kind!r} is not supported yet; see /api/v1/capabilities sources.types.",
                details={"type": kind},
            )
        content = raw.get("content")
        if isinstance(content, str) and len(content.encode("utf-8")) > MAX_CONTENT_BYTES:
            raise StorySandboxError(
                "source_too_large",
                f"content exceeds the {MAX_CONTENT_BYTES}-byte limit.",
                details={"maxBytes": MAX_CONTENT_BYTES},
            )

    def create(self, project_id: str, req: SourceCreate) -> dict[str, Any]:
        with self.k.moment() as now:
            project = self.projects.record(project_id)
            kind = req.type.value
            if req.uri and kind in ("url", "pdf"):
                host = urlparse(req.uri).hostname or ""
                if blocked_host(host):
                    raise StorySandboxError(
                        "source_fetch_failed",
                        f"The address {host} is blocked (private, loopback, link-local or metadata).",
                        details={"reason": "ip_blocked"},
                    )
            retention = req.retentionPolicy.value if req.retentionPolicy else "EXTRACTED_ONLY"
            rec = SourceRec(
                seq=self.k.next_seq(),
                id=self.k.ids.next("cmq"),
                project_id=project.id,
                body={},
            )
            rec.body = {
                "id": rec.id,
                "projectId": project.id,
                "type": kind.upper(),
                "label": req.label,
                "uri": req.uri if kind in ("url", "pdf") else None,
                "status": "PENDING",
                "retentionPolicy": retention,
                "byteSize": None,
                "tokenEstimate": None,
                "contentHash": None,
                "extractedTextPreview": None,
                "extractedAt": None,
                "failureCode": None,
                "failureMessage": None,
                "metadata": req.metadata,
                "digestStatus": "NOT_STARTED",
                "digest": None,
                "digestFailureCode": None,
                "digestFailureMessage": None,
                "digestedAt": None,
                "createdAt": iso(now),
                "updatedAt": iso(now),
            }
            self.records[rec.id] = rec
            self.by_project.setdefault(project.id, []).append(rec)
            project.source_count += 1
            if kind in ("text", "markdown"):
                self._extracted(rec, str(req.content), now)
            else:
                self._schedule_extraction(rec, now)
            return view(rec.body)

    def _schedule_extraction(self, rec: SourceRec, now: float) -> None:
        half = self.k.durations.source_extract / 2

        def extracting(at: float) -> None:
            if rec.body["status"] == "PENDING":
                rec.body["status"] = "EXTRACTING"
                stamp(rec.body, at)

        def finish(at: float) -> None:
            if rec.body["status"] != "EXTRACTING":
                return
            why = fetch_failure(str(rec.body["uri"]))
            if why is not None:
                rec.body.update(
                    status="FAILED", failureCode="source_fetch_failed", failureMessage=why
                )
                stamp(rec.body, at)
                return
            if rec.body["type"] == "PDF":
                rec.body["metadata"] = {**(rec.body["metadata"] or {}), "pageCount": PDF_PAGES}
            self._extracted(rec, url_text(str(rec.body["uri"])), at)

        self.k.at(now + half, extracting)
        self.k.at(now + 2 * half, finish)

    def _extracted(self, rec: SourceRec, text: str, at: float) -> None:
        """READY with the text's facts, then the digest pass (or SKIPPED when it cannot help)."""
        data = text.encode("utf-8")
        keep_text = rec.body["retentionPolicy"] != "METADATA_ONLY"
        rec.text = text
        rec.body.update(
            status="READY",
            byteSize=len(data),
            tokenEstimate=max(1, len(data) // 4),
            contentHash=hashlib.sha256(data).hexdigest(),
            extractedTextPreview=text[:PREVIEW_CHARS] if keep_text else None,
            extractedAt=iso(at),
        )
        stamp(rec.body, at)
        quarter = self.k.durations.digest / 4
        skip = len(text) < MIN_DIGEST_CHARS or not keep_text
        fails = DIGEST_FAIL_MARK in text

        def step(expect: str, target: str) -> Any:
            def apply(when: float) -> None:
                if rec.deleted or rec.body["digestStatus"] != expect:
                    return
                status = "FAILED" if target == "READY" and fails else target
                if status == "FAILED":
                    rec.body.update(
                        digestFailureCode="digest_failed",
                        digestFailureMessage="The digest did not validate against the schema.",
                    )
                rec.body["digestStatus"] = status
                if status == "READY":
                    rec.body["digest"] = digest_for(rec.text)
                    rec.body["digestedAt"] = iso(when)
                stamp(rec.body, when)

            return apply

        if skip:
            self.k.at(at + quarter, step("NOT_STARTED", "SKIPPED"))
            return
        self.k.at(at + quarter, step("NOT_STARTED", "PENDING"))
        self.k.at(at + 2 * quarter, step("PENDING", "RUNNING"))
        self.k.at(at + 4 * quarter, step("RUNNING", "READY"))

    def _record(self, project_id: str, source_id: str) -> SourceRec:
        self.projects.record(project_id)
        rec = self.records.get(source_id)
        if rec is None or rec.deleted or rec.project_id != project_id:
            raise StorySandboxError(
                "source_not_found",
                f"Story source {source_id} does not exist, was deleted, or is owned by another account.",
            )
        return rec

    def get(self, project_id: str, source_id: str) -> dict[str, Any]:
        with self.k.moment():
            return view(self._record(project_id, source_id).body)

    def page(
        self, project_id: str, query: Mapping[str, str]
    ) -> tuple[list[dict[str, Any]], str | None]:
        with self.k.moment():
            project = self.projects.record(project_id)
            page, cursor = paginate(self.of(project.id), query, lambda r: not r.deleted)
            return [view(r.body) for r in page], cursor

    def delete(self, project_id: str, source_id: str) -> dict[str, Any]:
        with self.k.moment() as now:
            rec = self._record(project_id, source_id)
            rec.deleted = True
            self.projects.record(project_id).source_count -= 1
            return {"id": rec.id, "deletedAt": iso(now)}
