"""The core every resource mixin builds on: body validation, envelope unwrapping, pages.

Resource modules (``projects``, ``plans``, ``artifacts``, ...) describe endpoints in a few lines
each by calling :meth:`ClientCore._call`, :meth:`ClientCore._page` and :meth:`ClientCore._iterate`;
the rules live here once:

* request bodies are schema models; a plain mapping is validated into the model first and a
  failure raises :class:`RequestValidationError` naming the field, before anything is sent;
* responses are parsed tolerantly: unknown fields are kept (``extra="allow"`` models), and a
  response the model cannot validate is still returned (``model_construct``) with a warning,
  because the API already did the (possibly paid) work;
* envelopes (``{"project": ...}``) are unwrapped, ``raw`` keeps the JSON as returned.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import pydantic
import structlog

from bridge.http.errors import RequestValidationError
from bridge.http.ratelimit import Priority
from bridge.http.transport import ApiResponse, Transport

__all__ = ["ClientCore", "Page", "seg"]

M = TypeVar("M", bound=pydantic.BaseModel)
B = TypeVar("B", bound=pydantic.BaseModel)
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Page(Generic[M]):
    """One page of a cursor-paginated list. ``next_cursor`` is None on the last page."""

    items: list[M]
    next_cursor: str | None = None
    raw: Any = field(default=None, repr=False)


class ClientCore:
    """Shared plumbing for the resource mixins; :class:`StoryClient` is the facade."""

    _transport: Transport

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        priority: Priority = Priority.COMMAND,
    ) -> ApiResponse[Any]:
        """Raw escape hatch: any path under the base URL, JSON in, JSON out, same retry rules."""
        return await self._transport.send(
            method,
            path,
            json=json,
            params=params,
            idempotency_key=idempotency_key,
            priority=priority,
        )

    async def _call(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        envelope: str | None = None,
        body: Any = None,
        body_model: type[pydantic.BaseModel] | None = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        priority: Priority = Priority.COMMAND,
    ) -> ApiResponse[M]:
        """Send one request and parse the (unwrapped) answer into ``model``."""
        payload = _dump_body(body, body_model) if body is not None else None
        if payload is None and body_model is not None and method != "GET":
            payload = {}
        resp = await self.request(
            method,
            path,
            json=payload,
            params=params,
            idempotency_key=idempotency_key,
            priority=priority,
        )
        data = _unwrap(resp.raw, envelope)
        return resp.with_data(_parse(model, data))

    async def _call_optional(
        self,
        path: str,
        model: type[M],
        *,
        envelope: str,
        params: Mapping[str, Any] | None = None,
        priority: Priority = Priority.COMMAND,
    ) -> ApiResponse[M | None]:
        """A GET whose envelope may hold ``null`` (e.g. ``{"coverage": null}``)."""
        resp = await self.request("GET", path, params=params, priority=priority)
        data = _unwrap(resp.raw, envelope)
        return resp.with_data(None if data is None else _parse(model, data))

    async def _page(
        self,
        path: str,
        model: type[M],
        *,
        items_key: str,
        cursor: str | None = None,
        limit: int | None = None,
        params: Mapping[str, Any] | None = None,
        priority: Priority = Priority.COMMAND,
    ) -> ApiResponse[Page[M]]:
        """One page of a list endpoint (``{<items_key>: [...], "nextCursor": ...}``)."""
        query = {**(params or {}), "cursor": cursor, "limit": limit}
        resp = await self.request("GET", path, params=query, priority=priority)
        raw = resp.raw if isinstance(resp.raw, Mapping) else {}
        items = raw.get(items_key) or []
        next_cursor = raw.get("nextCursor")
        page = Page(
            items=[_parse(model, item) for item in items],
            next_cursor=str(next_cursor) if next_cursor else None,
            raw=resp.raw,
        )
        return resp.with_data(page)

    async def _iterate(
        self,
        path: str,
        model: type[M],
        *,
        items_key: str,
        limit: int | None = None,
        params: Mapping[str, Any] | None = None,
        priority: Priority = Priority.COMMAND,
    ) -> AsyncIterator[M]:
        """Every item of a list endpoint, following ``nextCursor`` until it is null."""
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            resp = await self._page(
                path,
                model,
                items_key=items_key,
                cursor=cursor,
                limit=limit,
                params=params,
                priority=priority,
            )
            for item in resp.data.items:
                yield item
            cursor = resp.data.next_cursor
            if cursor is None or cursor in seen:  # a repeating cursor would loop forever
                return
            seen.add(cursor)


def seg(value: str) -> str:
    """One path segment, percent-encoded: an id can never reach another path."""
    if not value:
        raise RequestValidationError("an id path parameter must not be empty", field="id")
    return quote(str(value), safe="")


def _dump_body(body: Any, body_model: type[pydantic.BaseModel] | None) -> Any:
    """The JSON a body model produces, validating mappings into the model first."""
    if isinstance(body, pydantic.BaseModel):
        if body_model is not None and not isinstance(body, body_model):
            raise RequestValidationError(
                f"expected a {body_model.__name__} body, got {type(body).__name__}"
            )
        model = body
    elif body_model is not None and isinstance(body, Mapping):
        error: RequestValidationError | None = None
        try:
            model = body_model.model_validate(dict(body))
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            # Raised outside the except: pydantic's error (the context) echoes input values.
            error = RequestValidationError(
                f"{body_model.__name__}.{where}: {first['msg']}", field=where
            )
        if error is not None:
            raise error
    else:
        return body
    # exclude_unset, not exclude_none: a PATCH clears a field with an explicit null.
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _unwrap(raw: Any, envelope: str | None) -> Any:
    if envelope is not None and isinstance(raw, Mapping) and envelope in raw:
        return raw[envelope]
    return raw


def _parse(model: type[M], data: Any) -> M:
    """Validate tolerantly: a response the model cannot validate is kept as it came."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        log.warning(
            "api.response_unparsed",
            model=model.__name__,
            errors=[".".join(map(str, e["loc"])) for e in exc.errors()][:5],
        )
    if isinstance(data, Mapping):
        return model.model_construct(**data)
    return model.model_construct()
