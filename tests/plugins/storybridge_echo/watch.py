"""Echo things behind the watch engine's `Provider` seam: one GET per thing, `status` its one facet,
`ready` the end."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from bridge.http.errors import UpstreamError
from bridge.http.ratelimit import Priority
from bridge.providers.read_errors import read_error
from bridge.watch.events import subject_token
from bridge.watch.model import Observation, ReadError, Reading, WatchSpec

NAME = "echo"
TYPE_PREFIX = "dev.storybridge.echo"
SETTLED = frozenset({"ready", "failed"})


class EchoWatch:
    name = NAME
    resources: tuple[str, ...] = ("thing",)
    type_prefix = TYPE_PREFIX

    def __init__(self, client: Any, base_url: str) -> None:
        self.client = client
        self.source = base_url.rstrip("/")

    async def read(self, specs: Sequence[WatchSpec]) -> dict[str, Reading | ReadError]:
        out: dict[str, Reading | ReadError] = {}
        for spec in specs:
            try:
                resp = await self.client.get_thing(spec.id, priority=Priority.POLL)
            except UpstreamError as err:
                out[spec.key] = read_error(err)
            else:
                out[spec.key] = Reading(resp.raw)
        return out

    def batch_key(self, spec: WatchSpec) -> str | None:
        return None

    def observe(self, spec: WatchSpec, reading: Reading) -> list[Observation]:
        data = reading.data if isinstance(reading.data, dict) else {}
        status = str(data.get("status") or "unknown")
        return [
            Observation(
                resource="thing",
                id=spec.id,
                facet=None,
                status=status,
                subject_path=f"things/{spec.id}",
                snapshot=data,
                data={"provider": NAME},
            )
        ]

    def is_terminal(self, spec: WatchSpec, observations: Sequence[Observation]) -> bool:
        return bool(observations) and all(o.status in SETTLED for o in observations)

    def interval_bounds(self, resource: str) -> tuple[float, float]:
        return (1.0, 5.0)

    def event_subject(self, obs: Observation) -> str:
        return f"{NAME}.{obs.resource}.{subject_token(obs.status)}"

    def event_type(self, obs: Observation) -> str:
        return f"{TYPE_PREFIX}.{obs.resource}.{subject_token(obs.status)}"

    def subject_path(self, spec: WatchSpec) -> str:
        return f"things/{spec.id}"

    def project_id(self, spec: WatchSpec) -> str | None:
        return None

    def lifecycle_data(self, spec: WatchSpec) -> dict[str, Any]:
        return {"provider": NAME}

    async def discover(self) -> AsyncIterator[WatchSpec]:
        """Echo lists nothing: only what a command started is watched."""
        for spec in ():
            yield spec
