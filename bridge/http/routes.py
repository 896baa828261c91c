"""A provider's endpoints declared once, as data: a :class:`Route` per endpoint, served by a client.

A client class lists its endpoints as class attributes built with :func:`call`, :func:`pages` and
:func:`items`; each becomes a method of the client (``api.get_project("cmp_1")``) whose arguments
are always the same: the route's path ids positionally, then the body (routes that take one), then
``idempotency_key=`` (mutating routes only), ``priority=`` and the route's query parameters by
keyword. Every rule lives here once, for every provider:

* request bodies are schema models; a plain mapping is validated into the route's body model first
  and a failure raises :class:`RequestValidationError` naming the field, before anything is sent;
* responses are parsed tolerantly: unknown fields are kept (``extra="allow"`` models), and a
  response the model cannot validate is still returned (``model_construct``) with a warning,
  because the API already did the (possibly paid) work;
* envelopes (``{"project": ...}``) are unwrapped, ``raw`` keeps the JSON as returned;
* path ids are percent-encoded one segment each (:func:`seg`): an id never reaches another path.
"""

from __future__ import annotations

import string
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, overload
from urllib.parse import urlsplit, urlunsplit

import pydantic
import structlog

from bridge.http.errors import RequestValidationError
from bridge.http.keys import Credential
from bridge.http.paths import seg
from bridge.http.ratelimit import Priority
from bridge.http.transport import ApiResponse, TransportClient

__all__ = [
    "ClientRoute",
    "ClientRouteItems",
    "Endpoint",
    "Idempotency",
    "ListPage",
    "Method",
    "Route",
    "RouteClient",
    "RouteMethod",
    "call",
    "items",
    "pages",
    "seg",
]

M = TypeVar("M", bound=pydantic.BaseModel)
T = TypeVar("T")
log = structlog.get_logger("bridge.api")

Method = Literal["GET", "POST", "PATCH", "PUT", "DELETE"]
Shape = Literal["one", "optional", "page"]
Idempotency = Literal["key", "ledger", "none"]
"""How a command's call takes effect at most once: ``key``, an Idempotency-Key derived from the
commandId; ``ledger``, the command ledger (the API takes no key and a repeat would act again);
``none``, nothing to guard (a read, or a call that sets a value and is safe to repeat)."""
RouteMethod = Callable[..., Awaitable[ApiResponse[T]]]
"""What a route is on a client instance: ids, body, then keywords (see the module docstring)."""


@dataclass(frozen=True)
class ListPage(Generic[M]):
    """One page of a cursor-paginated list. ``next_cursor`` is None on the last page."""

    items: list[M]
    next_cursor: str | None = None
    raw: Any = field(default=None, repr=False)


@dataclass(frozen=True)
class Route:
    """One endpoint: what is sent and how the answer is read.

    ``path`` is relative to the client's base URL, with ``{name}`` placeholders filled from the
    positional ids in order (``origin=True``: relative to the base URL's origin instead, for an
    endpoint beside the versioned API). ``model`` None: the JSON as returned. ``query`` maps a
    keyword of the method to the query parameter it sends (``open_query``: any other keyword goes
    along as is). ``idempotent`` routes carry an ``Idempotency-Key`` when given one; a read or an
    unpaid call that is safe to repeat does not take one. ``empty_body``: send ``{}`` when a route
    with a body model is called without one (False: send no body at all).
    """

    method: Method
    path: str
    model: type[pydantic.BaseModel] | None = None
    envelope: str | None = None
    body: type[pydantic.BaseModel] | None = None
    raw_body: bool = False  # a body of undocumented shape: any mapping, sent as given
    empty_body: bool = True
    shape: Shape = "one"
    items_key: str | None = None
    cursor_key: str = "nextCursor"
    query: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    open_query: bool = False
    priority: Priority = Priority.COMMAND
    idempotent: bool | None = None  # None: every method but GET
    origin: bool = False

    @property
    def ids(self) -> tuple[str, ...]:
        """The path's placeholders, in order."""
        return tuple(name for _, name, _, _ in string.Formatter().parse(self.path) if name)

    @property
    def takes_key(self) -> bool:
        return self.idempotent if self.idempotent is not None else self.method != "GET"

    @property
    def endpoint(self) -> Endpoint:
        """What a command sending this route declares: a key when the route takes one."""
        return Endpoint(self.method, self.path, "key" if self.takes_key else "none")

    @property
    def takes_body(self) -> bool:
        return self.body is not None or self.raw_body

    def target(self, ids: tuple[Any, ...], base_url: str) -> str:
        """The path (or, for an ``origin`` route, the absolute URL) with ``ids`` filled in."""
        names = self.ids
        if len(ids) != len(names):
            raise TypeError(f"{self.path} takes {len(names)} id(s), got {len(ids)}")
        path = self.path.format(
            **{name: seg(value) for name, value in zip(names, ids, strict=True)}
        )
        if not self.origin:
            return path
        parts = urlsplit(base_url)
        return urlunsplit((parts.scheme, parts.netloc, "/" + path.lstrip("/"), "", ""))

    def params(self, keywords: Mapping[str, Any]) -> dict[str, Any]:
        """The query parameters for a method's keywords (unknown keywords are a TypeError)."""
        values = {**self.defaults, **keywords}
        unknown = [k for k in values if k not in self.query and not self.open_query]
        if unknown:
            raise TypeError(f"{self.method} {self.path} takes no keyword {', '.join(unknown)}")
        return {self.query.get(k, k): v for k, v in values.items()}


@dataclass(frozen=True)
class Endpoint:
    """The API call a command makes, as its handler row declares it (handlers/base.py): the route
    table, the catalog's routes, the AsyncAPI document and the README checks all read it."""

    method: Method
    path: str  # the template, relative to the provider's base URL
    idempotency: Idempotency

    def __str__(self) -> str:
        return f"{self.method} /{self.path}"

    def named(self, names: tuple[str, ...]) -> Endpoint:
        """The same call with its placeholders, in order, named as the command names its path
        fields (`{projectId}`, not the client's `{project_id}`): logs, metrics, the route gates and
        the docs then speak the caller's names. Unchanged when the counts differ."""
        parts = list(string.Formatter().parse(self.path))
        if sum(1 for _, field, _, _ in parts if field) != len(names):
            return self
        given = iter(names)
        path = "".join(
            text + (f"{{{next(given)}}}" if field else "") for text, field, _, _ in parts
        )
        return Endpoint(self.method, path, self.idempotency)


class RouteClient(TransportClient):
    """A client that serves :class:`Route` attributes as methods over one :class:`Transport`.

    The transport owns every connection setting (budget, retry policy, timeouts, circuit, hooks);
    a provider's client takes it ready-made and adds nothing but its routes.
    """

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r}, key={self.key!r})"

    @property
    def key(self) -> Credential:
        return self._transport.key

    async def request(self, method: str, path: str, **options: Any) -> ApiResponse[Any]:
        """Raw escape hatch: any path under the base URL, JSON in, JSON out, same retry rules
        (``options`` are :meth:`Transport.send`'s: json, params, idempotency_key, priority)."""
        return await self._transport.send(method, path, **options)

    async def serve(
        self, route: Route, *args: Any, cursor: str | None = None, **keywords: Any
    ) -> ApiResponse[Any]:
        """Send one request for ``route`` and read its answer by the route's shape."""
        n = len(route.ids)
        ids, rest = args[:n], args[n:]
        if len(rest) > (1 if route.takes_body else 0):
            raise TypeError(f"{route.method} {route.path} takes {n} id(s) and no more arguments")
        body = rest[0] if rest else keywords.pop("body", None)
        priority = keywords.pop("priority", route.priority)
        idempotency_key = keywords.pop("idempotency_key", None)
        if idempotency_key is not None and not route.takes_key:
            raise TypeError(f"{route.method} {route.path} takes no idempotency_key")
        params = route.params(keywords)
        if route.shape == "page":
            params = {**params, "cursor": cursor}
        resp = await self.request(
            route.method,
            route.target(ids, self.base_url),
            json=_payload(route, body),
            params=params or None,
            idempotency_key=idempotency_key,
            priority=priority,
            template=route.path,
        )
        return resp.with_data(_read(route, resp.raw))

    async def walk(self, route: Route, *args: Any, **keywords: Any) -> AsyncIterator[Any]:
        """Every item of a ``pages`` route, following its cursor until it is null."""
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            resp = await self.serve(route, *args, cursor=cursor, **keywords)
            for item in resp.data.items:
                yield item
            cursor = resp.data.next_cursor
            if cursor is None or cursor in seen:  # a repeating cursor would loop forever
                return
            seen.add(cursor)


class ClientRoute(Generic[T]):
    """A route as a client attribute: bound to an instance it is that instance's method."""

    def __init__(self, route: Route, doc: str | None) -> None:
        self.route = route
        self.__doc__ = doc or f"{route.method} {route.path}"

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> ClientRoute[T]: ...
    @overload
    def __get__(self, obj: RouteClient, owner: type) -> RouteMethod[T]: ...
    def __get__(self, obj: RouteClient | None, owner: type) -> ClientRoute[T] | RouteMethod[T]:
        if obj is None:
            return self
        route = self.route

        async def method(*args: Any, **keywords: Any) -> ApiResponse[T]:
            return await obj.serve(route, *args, **keywords)

        method.__name__ = self.name
        method.__doc__ = self.__doc__
        return method


class ClientRouteItems(Generic[M]):
    """A ``pages`` route's every item, as a client attribute (``iter_*``)."""

    def __init__(self, paged: ClientRoute[ListPage[M]], doc: str | None) -> None:
        self.route = paged.route
        self.__doc__ = doc or f"every item of {paged.route.method} {paged.route.path}"

    @overload
    def __get__(self, obj: None, owner: type) -> ClientRouteItems[M]: ...
    @overload
    def __get__(self, obj: RouteClient, owner: type) -> Callable[..., AsyncIterator[M]]: ...
    def __get__(
        self, obj: RouteClient | None, owner: type
    ) -> ClientRouteItems[M] | Callable[..., AsyncIterator[M]]:
        if obj is None:
            return self
        route = self.route

        def method(*args: Any, **keywords: Any) -> AsyncIterator[M]:
            return obj.walk(route, *args, **keywords)

        return method


@overload
def call(
    method: Method, path: str, model: type[M], *, optional: Literal[False] = ..., **options: Any
) -> ClientRoute[M]: ...
@overload
def call(
    method: Method, path: str, model: type[M], *, optional: Literal[True], **options: Any
) -> ClientRoute[M | None]: ...
@overload
def call(method: Method, path: str, model: None = None, **options: Any) -> ClientRoute[Any]: ...
def call(
    method: Method,
    path: str,
    model: type[pydantic.BaseModel] | None = None,
    *,
    optional: bool = False,
    doc: str | None = None,
    **options: Any,
) -> ClientRoute[Any]:
    """One request, one answer: ``model`` (None: raw JSON); ``optional``: the envelope may be null.

    ``options`` are :class:`Route` fields (``envelope``, ``body``, ``query``, ``idempotent``...).
    """
    shape: Shape = "optional" if optional else "one"
    return ClientRoute(Route(method, path, model, shape=shape, **options), doc)


def pages(
    path: str, model: type[M], items_key: str, *, doc: str | None = None, **options: Any
) -> ClientRoute[ListPage[M]]:
    """A GET of one page (``{<items_key>: [...], "nextCursor": ...}``); takes ``cursor``, ``limit``."""
    query = {"limit": "limit", **options.pop("query", {})}
    route = Route("GET", path, model, shape="page", items_key=items_key, query=query, **options)
    return ClientRoute(route, doc)


def items(paged: ClientRoute[ListPage[M]], *, doc: str | None = None) -> ClientRouteItems[M]:
    """Every item of ``paged``, page after page."""
    return ClientRouteItems(paged, doc)


def _payload(route: Route, body: Any) -> Any:
    """The JSON a route sends for ``body`` (validated into the body model first)."""
    if route.raw_body:
        return dict(body) if body is not None else None
    model = route.body
    if body is None:
        return {} if model is not None and route.empty_body and route.method != "GET" else None
    if isinstance(body, pydantic.BaseModel):
        if model is not None and not isinstance(body, model):
            raise RequestValidationError(
                f"expected a {model.__name__} body, got {type(body).__name__}"
            )
        checked = body
    elif model is not None and isinstance(body, Mapping):
        checked = _validated(model, body)
    else:
        return body
    # exclude_unset, not exclude_none: a PATCH clears a field with an explicit null.
    return checked.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _validated(model: type[pydantic.BaseModel], body: Mapping[str, Any]) -> pydantic.BaseModel:
    error: RequestValidationError | None = None
    try:
        return model.model_validate(dict(body))
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        # Raised outside the except: pydantic's error (the context) echoes input values.
        error = RequestValidationError(f"{model.__name__}.{where}: {first['msg']}", field=where)
    raise error


def _read(route: Route, raw: Any) -> Any:
    """The answer as the route's shape: a model, a model or None, or a page of models."""
    if route.shape == "page":
        body = raw if isinstance(raw, Mapping) else {}
        found = body.get(route.items_key or "") or []
        next_cursor = body.get(route.cursor_key)
        return ListPage(
            items=[_parse(route.model, item) for item in found],
            next_cursor=str(next_cursor) if next_cursor else None,
            raw=raw,
        )
    data = raw
    if route.envelope is not None and isinstance(raw, Mapping) and route.envelope in raw:
        data = raw[route.envelope]
    if data is None and route.shape == "optional":
        return None
    return _parse(route.model, data)


def _parse(model: type[pydantic.BaseModel] | None, data: Any) -> Any:
    """Validate tolerantly: a response the model cannot validate is kept as it came."""
    if model is None:
        return data
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
