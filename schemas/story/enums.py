"""The API's enumerations, with the exact wire values, and the terminal sets watches stop at.

Response models type statuses as `str`, not these enums, so a value the API adds tomorrow parses
today; compare against the enums.
"""

from __future__ import annotations

from enum import StrEnum


class SourceType(StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    URL = "url"
    PDF = "pdf"


class SourceStatus(StrEnum):
    PENDING = "PENDING"
    EXTRACTING = "EXTRACTING"
    READY = "READY"
    FAILED = "FAILED"


class DigestStatus(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    READY = "READY"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


class PlanStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    REQUIRES_APPROVAL = "REQUIRES_APPROVAL"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"
    SUPERSEDED = "SUPERSEDED"


class JobStatus(StrEnum):
    PENDING = "PENDING"
    RESERVED = "RESERVED"
    RUNNING = "RUNNING"
    PARTIAL = "PARTIAL"
    READY = "READY"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class ArtifactStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    READY = "READY"
    FAILED = "FAILED"


class FinalizeStage(StrEnum):
    NEEDS_RECORDING = "needs_recording"
    QUEUED = "queued"
    RENDERING = "rendering"
    UPLOADING = "uploading"
    COMPLETE = "complete"
    FAILED = "failed"


class VideoStatus(StrEnum):
    NOT_RENDERED = "not_rendered"
    QUEUED = "queued"
    RENDERING = "rendering"
    COMPLETE = "complete"
    FAILED = "failed"
    STALE = "stale"


class MusicStatus(StrEnum):
    NONE = "none"
    GENERATING = "generating"
    READY = "ready"


class CoverageStatus(StrEnum):
    GENERATING = "generating"
    COMPLETE = "complete"
    FAILED = "failed"


class RetentionPolicy(StrEnum):
    EXTRACTED_ONLY = "EXTRACTED_ONLY"
    STORE_ORIGINAL = "STORE_ORIGINAL"
    METADATA_ONLY = "METADATA_ONLY"


class ArtifactType(StrEnum):
    TABLE_READ = "table_read"
    PITCH_DECK = "pitch_deck"
    STORYBOARD = "storyboard"
    TRAILER = "trailer"
    PRODUCTION_VIDEO = "production_video"


class TableReadMode(StrEnum):
    DOCUMENTARY = "documentary"
    PODCAST = "podcast"
    DRAMA = "drama"


class NarrationPolicy(StrEnum):
    AUTO = "auto"
    INCLUDE = "include"
    SUPPRESS = "suppress"


class RefineScope(StrEnum):
    AUTO = "auto"
    SCREENPLAY = "screenplay"
    PLAN = "plan"


class FinalizeMode(StrEnum):
    AUDIO = "audio"
    VIDEO = "video"


class SfxOp(StrEnum):
    ADD = "add"
    UPDATE = "update"
    REMOVE = "remove"


SOURCE_TERMINAL = frozenset({SourceStatus.READY, SourceStatus.FAILED})
DIGEST_TERMINAL = frozenset({DigestStatus.READY, DigestStatus.FAILED, DigestStatus.SKIPPED})
# REQUIRES_APPROVAL waits on a person, so a watch keeps following the plan through it.
PLAN_TERMINAL = frozenset(
    {PlanStatus.APPROVED, PlanStatus.REJECTED, PlanStatus.FAILED, PlanStatus.SUPERSEDED}
)
# PARTIAL is progress, not an end: more artifacts may still land.
JOB_TERMINAL = frozenset({JobStatus.READY, JobStatus.FAILED, JobStatus.CANCELED})
ARTIFACT_TERMINAL = frozenset({ArtifactStatus.READY, ArtifactStatus.FAILED})
# needs_recording moves only when a person records the live read.
FINALIZE_TERMINAL = frozenset(
    {FinalizeStage.COMPLETE, FinalizeStage.FAILED, FinalizeStage.NEEDS_RECORDING}
)
VIDEO_TERMINAL = frozenset({VideoStatus.COMPLETE, VideoStatus.FAILED})
MUSIC_TERMINAL = frozenset({MusicStatus.READY})
COVERAGE_TERMINAL = frozenset({CoverageStatus.COMPLETE, CoverageStatus.FAILED})
