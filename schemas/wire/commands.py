"""The command base of the wire contract, and the provider-neutral commands (watches, admin).

Every command is a `Command`: path parameters + request body fields + the optional `commandId`.
Providers' command models live beside their other schemas (`schemas.story.commands`, ...);
`schemas.catalog` registers them all under their contract names.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from bridge import plugins
from schemas.wire.base import RequestModel
from schemas.wire.extra_fields import allowing_extra

CommandId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]

# The contract's id rule ("Ids are values, never paths"): the shapes both APIs use. An id goes into a
# URL path, so `.`, `..`, `/`, `?`, `%` or a space would name another endpoint; none is an id.
ID_CHARS = r"[A-Za-z0-9_-]"
ID_MAX_LENGTH = 128
ID_PATTERN = rf"^{ID_CHARS}+$"
Id = Annotated[str, Field(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(value: str, *, now: datetime | None = None) -> datetime:
    """An ISO 8601 time (naive = UTC) or a duration back from now (`90s`, `30m`, `2h`, `7d`)."""
    text = value.strip()
    match = _DURATION.match(text)
    if match:
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{value!r} is neither an ISO 8601 time nor a duration like 30m, 2h, 7d"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class UnknownCommand(ValueError):
    """The subject names no command of the contract."""


class Command(RequestModel):
    """Base of every command: the optional `commandId` that names the logical operation."""

    command: ClassVar[str]
    """The contract name, `<resource>.<action>` (not `name`: project.create has a `name` field)."""
    path_fields: ClassVar[tuple[str, ...]] = ()
    """Fields that go into the URL path, in path order."""
    body_model: ClassVar[type[RequestModel] | None] = None
    """The request body model; None for commands that send no body."""

    commandId: CommandId | None = None

    def path(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.path_fields}

    def body(self) -> RequestModel | None:
        """The request body built from the fields that were set (path fields and commandId excluded).

        Built from `exclude_unset` so a PATCH keeps an explicit null and sends nothing it was not given.
        """
        if self.body_model is None:
            return None
        data = self.model_dump(exclude={*self.path_fields, "commandId"}, exclude_unset=True)
        # Fields the bridge does not know, let through by the extra-fields policy, go along.
        body_model = allowing_extra(self.body_model) if self.model_extra else self.body_model
        return body_model.model_validate(data)


# --- watches --------------------------------------------------------------------------------------
STORY_WATCHED = frozenset({"source", "plan", "job", "artifact", "release"})
SYLLABY_WATCHED = frozenset({"storyboard", "scene"})


def _targets(info: ValidationInfo) -> plugins.WatchTargets | None:
    """The watch targets of the provider validated so far (None: it failed, or watches nothing)."""
    name = info.data.get("provider")
    provider = plugins.provider(name) if isinstance(name, str) else None
    return provider.watch_targets if provider is not None else None


class WatchCommand(Command):
    """Start or stop watching a resource created elsewhere."""

    # Which API the resource lives in: a registered provider (bridge/plugins.py), story by default.
    provider: Annotated[str, Field(min_length=1, max_length=64)] = "story"
    # Each provider's own (`release` is a project addition, docs/CONTRACT.md "Project additions").
    resource: Annotated[str, Field(min_length=1, max_length=64)]
    # Syllaby's ids are integers; either spelling names the same resource.
    id: Id | Annotated[int, Field(ge=0, strict=True)]
    # A Syllaby scene is read under its storyboard.
    storyboard_id: Annotated[int, Field(ge=1, strict=True)] | None = Field(
        default=None, validate_default=True
    )

    @field_validator("provider")
    @classmethod
    def _registered(cls, value: str) -> str:
        if plugins.provider(value) is None:
            known = ", ".join(sorted(plugins.providers()))
            raise ValueError(f"unknown provider {value!r}; installed: {known}")
        return value

    @field_validator("resource")
    @classmethod
    def _resource_of_provider(cls, value: str, info: ValidationInfo) -> str:
        targets = _targets(info)
        allowed = targets.resources if targets is not None else frozenset()
        if value not in allowed:
            provider = info.data.get("provider", "story")
            raise ValueError(
                f"provider {provider!r} has no resource {value!r}; it watches {sorted(allowed)}"
            )
        return value

    @field_validator("id")
    @classmethod
    def _id_text(cls, value: str | int | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        text = str(value)
        targets = _targets(info)
        if targets is not None and targets.integer_ids and not text.isdigit():
            raise ValueError(f"a {info.data.get('provider')} id is an integer")
        return text

    @field_validator("storyboard_id")
    @classmethod
    def _scenes_need_storyboard(cls, value: int | None, info: ValidationInfo) -> int | None:
        if info.data.get("resource") == "scene" and value is None:
            raise ValueError("storyboard_id is required to watch a scene")
        return value

    # Sources are read under their project (GET /story-projects/{projectId}/sources/{id}).
    projectId: Id | None = Field(default=None, validate_default=True)
    # Releases are read from their series' listing (GET /publishing-series/{seriesId}/releases).
    seriesId: Id | None = Field(default=None, validate_default=True)

    @field_validator("projectId")
    @classmethod
    def _sources_need_project(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("resource") == "source" and not value:
            raise ValueError("projectId is required to watch a source")
        return value

    @field_validator("seriesId")
    @classmethod
    def _releases_need_series(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("resource") == "release" and not value:
            raise ValueError("seriesId is required to watch a release")
        return value


WATCH_ADD_MAX_IDS = 1000
"""The most ids one bulk `watch.add` takes (CONTRACT.md "Onboarding many watches")."""


class WatchAddCommand(WatchCommand):
    """Watch a resource until it reaches a terminal state: one `id`, or up to 1,000 `ids` of one
    resource type (the bulk form; its result names what is watched and what was not found)."""

    command = "watch.add"

    # Exactly one of `id` and `ids`; `id` stays the contract's single form.
    id: Id | Annotated[int, Field(ge=0, strict=True)] | None = None  # type: ignore[assignment]
    ids: (
        Annotated[
            list[Id | Annotated[int, Field(ge=0, strict=True)]],
            Field(min_length=1, max_length=WATCH_ADD_MAX_IDS),
        ]
        | None
    ) = None

    @field_validator("ids")
    @classmethod
    def _ids_text(cls, value: list[str | int] | None, info: ValidationInfo) -> list[str] | None:
        if value is None:
            return None
        texts = [str(item) for item in value]
        targets = _targets(info)
        integers = targets is not None and targets.integer_ids
        if integers and not all(t.isdigit() for t in texts):
            raise ValueError(f"a {info.data.get('provider')} id is an integer")
        return list(dict.fromkeys(texts))  # one watch per id, in the order given

    @model_validator(mode="after")
    def _one_form(self) -> WatchAddCommand:
        if (self.id is None) == (self.ids is None):
            raise ValueError("give exactly one of `id` and `ids`")
        if self.ids is not None and self.resource == "scene" and self.storyboard_id is None:
            raise ValueError("storyboard_id is required to watch scenes")
        return self

    def targets(self) -> list[str]:
        """The ids to watch, whichever form was given."""
        return [str(i) for i in self.ids] if self.ids is not None else [str(self.id)]


class WatchRemoveCommand(WatchCommand):
    """Stop watching a resource."""

    command = "watch.remove"


# --- admin (request/reply; they touch no API) -----------------------------------------------------
class AdminRedriveCommand(Command):
    """Put dead letters back on their command subjects (CONTRACT.md, "Redrive")."""

    command = "admin.redrive"
    # A command name (`plan.approve`), and an ISO 8601 time or a duration back from now (`2h`).
    filter_command: str | None = Field(
        default=None, alias="command", max_length=200, pattern=r"^[a-z_]+(\.[a-z_]+)+$"
    )
    since: datetime | None = None
    dryRun: bool = False

    @field_validator("since", mode="before")
    @classmethod
    def _since(cls, value: object) -> object:
        return parse_since(value) if isinstance(value, str) else value


class AdminWatchesCommand(Command):
    """List watches of every replica, filtered, a page at a time (`nextCursor` for the next)."""

    command = "admin.watches"

    provider: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    resource: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    state: Literal["active", "stalled", "done"] | None = None
    cursor: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    limit: int = Field(default=100, ge=1, le=1000)


# --- reads (contract "Read commands"): one GET each, served by one table-driven handler ----------
PageLimit = Annotated[int, Field(ge=1, le=100)]


class ReadCommand(Command):
    """Base of the read commands: one GET, its JSON the outcome's `result`."""

    route: ClassVar[str]
    query_fields: ClassVar[tuple[str, ...]] = ()

    def query(self) -> dict[str, object]:
        values = {name: getattr(self, name) for name in self.query_fields}
        return {k: v for k, v in values.items() if v is not None}


class PagedRead(ReadCommand):
    """A read of one page of a listing (`cursor`, `limit`)."""

    query_fields: ClassVar[tuple[str, ...]] = ("cursor", "limit")
    cursor: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    limit: PageLimit | None = None
