"""How Story API objects split into facet observations, when they are terminal, what they are named.

Pure functions over the JSON the API returned (never over typed models: the snapshot in the event is
the object as returned, unknown fields included).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bridge.watch.model import Observation, Reading, WatchSpec
from schemas.story import enums


def _values(statuses: Iterable[Any], *extra: str) -> frozenset[str]:
    return frozenset({str(getattr(v, "value", v)).lower() for v in statuses} | set(extra))


# The API's terminal sets (schemas.story.enums), plus, for a WATCH, the states in which nothing is in
# flight and nothing will move by itself: no finalize/video/music/coverage requested yet, a stale
# video (re-rendered only on request). A digest that has not started is NOT among them: the API
# queues one for every READY source (SKIPPED where it cannot run); only a FAILED source never gets
# one (see `is_terminal`).
SOURCE_TERMINAL = _values(enums.SOURCE_TERMINAL)
DIGEST_TERMINAL = _values(enums.DIGEST_TERMINAL)
PLAN_TERMINAL = _values(enums.PLAN_TERMINAL)  # REQUIRES_APPROVAL is followed through
JOB_TERMINAL = _values(enums.JOB_TERMINAL)
ARTIFACT_TERMINAL = _values(enums.ARTIFACT_TERMINAL)
FINALIZE_TERMINAL = _values(enums.FINALIZE_TERMINAL, "none")
VIDEO_TERMINAL = _values(enums.VIDEO_TERMINAL, "stale", "not_rendered", "none")
MUSIC_TERMINAL = _values(enums.MUSIC_TERMINAL, "none")
COVERAGE_TERMINAL = _values(enums.COVERAGE_TERMINAL, "none")

# Facet states that are not events (nothing started yet).
SILENT: dict[tuple[str, str | None], frozenset[str]] = {
    ("source", "digest"): frozenset({"not_started"}),
    ("artifact", "video"): frozenset({"not_rendered", "none"}),
    ("artifact", "music"): frozenset({"none"}),
    ("artifact", "finalize"): frozenset({"none"}),
    ("artifact", "coverage"): frozenset({"none"}),
}
TERMINAL: dict[tuple[str, str | None], frozenset[str]] = {
    ("source", None): SOURCE_TERMINAL,
    ("source", "digest"): DIGEST_TERMINAL,
    ("plan", None): PLAN_TERMINAL,
    ("job", None): JOB_TERMINAL,
    ("artifact", None): ARTIFACT_TERMINAL,
    ("artifact", "finalize"): FINALIZE_TERMINAL,
    ("artifact", "video"): VIDEO_TERMINAL,
    ("artifact", "music"): MUSIC_TERMINAL,
    ("artifact", "coverage"): COVERAGE_TERMINAL,
}
ARTIFACT_FACETS = ("status", "finalize", "video", "music", "coverage", "revised")


def default_facets(spec: WatchSpec) -> tuple[str, ...]:
    """`facets=None`: all facets needing no extra request, plus coverage when a report is named."""
    if spec.resource == "source":
        return ("status", "digest")
    if spec.resource == "artifact":
        base = ("status", "finalize", "video", "revised")
        return (*base, "coverage") if "reportId" in spec.parents else base
    return ("status",)


def lower(value: Any, default: str = "none") -> str:
    return str(value).lower() if value not in (None, "") else default


def dig(obj: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(part)
    return obj


def _version(obj: Any) -> int:
    try:
        return max(1, int(dig(obj, "currentVersion") or 1))
    except (TypeError, ValueError):
        return 1


def _as_of(obj: Any) -> str | None:
    """The API's modification time of `obj` (ISO 8601 in UTC, so strings compare in time order)."""
    value = dig(obj, "updatedAt")
    return value if isinstance(value, str) and value else None


def subject_path(resource: str, id: str, project_id: str | None) -> str:
    if resource == "source":
        return f"story-projects/{project_id}/sources/{id}"
    if resource == "artifact":
        return f"artifacts/{id}"
    return f"story-{resource}s/{id}"


def _obs(
    resource: str, obj: Any, facet: str | None, status: str, project_id: str | None, **kw: Any
) -> Observation:
    # An explicit id (the artifact's, for its music/coverage facets) wins over the object's own.
    explicit = kw.pop("id", None)
    id = str(explicit or dig(obj, "id") or "")
    return Observation(
        resource=resource,
        id=id,
        facet=facet,
        status=status,
        revision=kw.pop("revision", _version(obj)),
        project_id=project_id,
        subject_path=subject_path(resource, id, project_id),
        snapshot=obj,
        silent=status in SILENT.get((resource, facet), frozenset()),
        as_of=_as_of(obj),
        **kw,
    )


def observe(spec: WatchSpec, reading: Reading) -> list[Observation]:
    """Every followed facet of the reading, parent first, then embedded artifacts."""
    obj = reading.data
    facets = spec.facets or default_facets(spec)
    project = dig(obj, "projectId") or spec.parents.get("projectId")
    if spec.resource == "source":
        out = []
        if "status" in facets:  # a READY source has been seen without `status` (FIELD-NOTES)
            out.append(_obs("source", obj, None, lower(dig(obj, "status"), "ready"), project))
        if "digest" in facets:
            digest = lower(dig(obj, "digestStatus"), "not_started")
            out.append(_obs("source", obj, "digest", digest, project))
        return out
    if spec.resource in ("plan", "job"):
        out = [_obs(spec.resource, obj, None, lower(dig(obj, "status"), "pending"), project)]
        if spec.resource == "job":
            for art in dig(obj, "artifacts") or []:
                out.extend(_artifact(art, project, ("status", "revised"), reading))
        return out
    return _artifact(obj, project, facets, reading)


def _artifact(
    art: Any, project: str | None, facets: Sequence[str], reading: Reading
) -> list[Observation]:
    out: list[Observation] = []
    version = _version(art)
    if "status" in facets:
        out.append(_obs("artifact", art, None, lower(dig(art, "status"), "pending"), project))
    if "finalize" in facets:
        stage = lower(dig(art, "manifest", "audio", "finalize", "status"))
        out.append(_obs("artifact", art, "finalize", stage, project))
    if "video" in facets:
        out.append(
            _obs("artifact", art, "video", lower(dig(art, "manifest", "video", "status")), project)
        )
    if "music" in facets and "music" in reading.extra:
        music = reading.extra["music"]
        status = lower(dig(music, "status"))
        out.append(
            _obs("artifact", music, "music", status, project, id=dig(art, "id"), revision=version)
        )
    if "coverage" in facets and "coverage" in reading.extra:
        cov = reading.extra["coverage"]
        status = lower(dig(cov, "status"))
        out.append(
            _obs("artifact", cov, "coverage", status, project, id=dig(art, "id"), revision=version)
        )
    if "revised" in facets:
        # One event per new version; version 1 is the initial generation, not a revision.
        out.append(
            Observation(
                resource="artifact",
                id=str(dig(art, "id") or ""),
                facet="revised",
                status="revised",
                revision=version,
                project_id=project,
                subject_path=f"artifacts/{dig(art, 'id')}",
                snapshot=art,
                silent=version <= 1,
                token=str(version),
                as_of=_as_of(art),
            )
        )
    return out


def is_terminal(spec: WatchSpec, observations: Sequence[Observation]) -> bool:
    """Every followed facet terminal; a job also waits for its embedded artifacts."""
    for obs in observations:
        if obs.facet == "revised":
            # A revision lands through a refine job; follow the artifact until it is settled.
            if lower(dig(obs.snapshot, "status"), "ready") not in ARTIFACT_TERMINAL:
                return False
            continue
        if (obs.resource, obs.facet, obs.status) == ("source", "digest", "not_started"):
            if lower(dig(obs.snapshot, "status"), "ready") != "failed":
                return False
            continue
        terminal = TERMINAL.get((obs.resource, obs.facet))
        if terminal is not None and obs.status not in terminal:
            return False
    return bool(observations) or spec.resource == "artifact"


def event_subject(obs: Observation) -> str:
    from bridge.watch.events import subject_token

    if obs.facet == "revised":
        return f"{obs.resource}.revised"
    facet = f".{obs.facet}" if obs.facet else ""
    return f"{obs.resource}{facet}.{subject_token(obs.status)}"


# The poll policy's odds of change (bridge.watch.policy): work in flight is read first; what waits
# for a person, or has settled while still watched, last.
WAITING_FOR_PERSON = {
    ("plan", "status", "requires_approval"),
    ("artifact", "finalize", "needs_recording"),
}
QUEUED = frozenset({"pending", "reserved", "queued", "not_started"})
# For facets without a terminal set (`revised`, the project's added facets): these are work.
IN_FLIGHT = frozenset(
    {"running", "rendering", "generating", "processing", "uploading", "publishing"}
)


def poll_class(spec: WatchSpec, statuses: Mapping[str, str]) -> int:
    """HOT (0) while something is in flight, NORMAL (1) queued or not read yet, COLD (2) when
    every followed facet waits for a person or has settled and the watch still runs."""
    from bridge.watch.policy import COLD, HOT, NORMAL

    own = f"{spec.resource}:{spec.id}:"
    queued = False
    seen = False
    for key, status in statuses.items():
        if not key.startswith(own):
            continue
        seen = True
        facet = key[len(own) :].split(":", 1)[0]
        if (spec.resource, facet, status) in WAITING_FOR_PERSON:
            continue
        if status in QUEUED:
            queued = True
            continue
        terminal = TERMINAL.get((spec.resource, None if facet == "status" else facet))
        silent = SILENT.get((spec.resource, None if facet == "status" else facet), frozenset())
        if spec.resource == "job" and facet == "status" and terminal and status in terminal:
            return HOT  # a finished job still watched: its artifacts are being made
        if terminal is None:
            if status in IN_FLIGHT:
                return HOT
        elif status not in terminal and status not in silent:
            return HOT
    return NORMAL if queued or not seen else COLD
