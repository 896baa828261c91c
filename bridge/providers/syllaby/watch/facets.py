"""How Syllaby objects split into facet observations, when they settle, what their events are named.

Pure functions over the JSON the API returned. Facets: a storyboard's `status` and its `video`
(`data.video.status`), a scene's `status`. The reference does not enumerate its statuses, so none
is a closed set here: every status the API reports is published (`data.status` exactly as sent;
the subject token lower-cased with `:` turned into `_`), and the contract's in-progress set decides
when a facet has settled. A video is settled only when its `url` is set or its status says it
failed: before any render the API already shows `status: "rendering"` with `url: null`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bridge.watch.events import subject_token
from bridge.watch.model import Observation, Reading, WatchSpec

PROVIDER = "syllaby"
TYPE_PREFIX = "io.syllaby"
IN_PROGRESS = frozenset({"processing", "queued", "rendering", "clip:queued", "clip:generating"})
UNKNOWN_STATUS = "unknown"  # the object carried no status at all


def in_progress(status: str) -> bool:
    lowered = status.lower()
    return lowered.startswith("generating") or lowered in IN_PROGRESS


def video_settled(video: Any) -> bool:
    if not isinstance(video, Mapping):
        return False
    return bool(video.get("url")) or "fail" in str(video.get("status") or "").lower()


def default_facets(spec: WatchSpec) -> tuple[str, ...]:
    """`facets=None` follows the status only; the video facet starts with a render command."""
    return ("status",)


def storyboard_path(id: str) -> str:
    return f"text-to-scene/{id}"


def scene_path(storyboard_id: str | None, id: str) -> str:
    return f"text-to-scene/{storyboard_id}/scenes/{id}"


def _status(obj: Any) -> str:
    value = obj.get("status") if isinstance(obj, Mapping) else None
    return str(value) if value not in (None, "") else UNKNOWN_STATUS


def _as_of(obj: Any) -> str | None:
    value = obj.get("updated_at") if isinstance(obj, Mapping) else None
    return value if isinstance(value, str) and value else None


def observe(spec: WatchSpec, snapshot: Reading) -> list[Observation]:
    obj = snapshot.data
    facets = spec.facets or default_facets(spec)
    if spec.resource == "scene":
        storyboard_id = spec.parents.get("storyboardId")
        return [
            Observation(
                resource="scene",
                id=spec.id,
                facet=None,
                status=_status(obj),
                subject_path=scene_path(storyboard_id, spec.id),
                snapshot=obj,
                as_of=_as_of(obj),
                data={"provider": PROVIDER, "storyboardId": storyboard_id},
            )
        ]
    out: list[Observation] = []
    path = storyboard_path(spec.id)
    if "status" in facets:
        out.append(
            Observation(
                resource="storyboard",
                id=spec.id,
                facet=None,
                status=_status(obj),
                subject_path=path,
                snapshot=obj,
                as_of=_as_of(obj),
                data={"provider": PROVIDER},
            )
        )
    video = obj.get("video") if isinstance(obj, Mapping) else None
    if "video" in facets and isinstance(video, Mapping):
        status = _status(video)
        out.append(
            Observation(
                resource="storyboard",
                id=spec.id,
                facet="video",
                status=status,
                subject_path=path,
                snapshot=obj,
                # The url landing is the change that ends a render, whatever the status says.
                token=f"{status}|{'url' if video.get('url') else ''}",
                as_of=_as_of(video),
                data={"provider": PROVIDER},
            )
        )
    return out


def is_terminal(spec: WatchSpec, observations: Sequence[Observation]) -> bool:
    if not observations:
        return False
    for obs in observations:
        if obs.facet == "video":
            video = obs.snapshot.get("video") if isinstance(obs.snapshot, Mapping) else None
            if not video_settled(video):
                return False
        elif in_progress(obs.status):
            return False
    return True


def event_subject(obs: Observation) -> str:
    facet = f".{obs.facet}" if obs.facet else ""
    return f"{PROVIDER}.{obs.resource}{facet}.{subject_token(obs.status)}"


def event_type(obs: Observation) -> str:
    facet = f".{obs.facet}" if obs.facet else ""
    return f"{TYPE_PREFIX}.{obs.resource}{facet}.{subject_token(obs.status)}"
