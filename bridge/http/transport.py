"""One Story API request, with the retry policy the API's idempotency rules allow.

Ambiguous failures (no answer, timeouts, 408, 425, 429, 5xx) may have been accepted upstream, so
they are retried only when a retry cannot duplicate work: GET, or a request carrying an
``Idempotency-Key``, always re-sent with the same key and the same body bytes. A 429 waits exactly
``Retry-After`` through the shared :class:`RateBudget` (so nobody else sends either); other
ambiguous failures back off exponentially with jitter. A ``409 idempotency_conflict`` that says the
first request with this key is still processing is waited out the same way (asking again later with
the same key is the documented move). Other terminal 4xx raise at once. When the time budget runs
out the caller gets :class:`UpstreamUnavailable`.

With a :class:`~bridge.http.circuit.Circuit`, an account-level answer opens it and every later request
fails fast with :class:`CircuitOpen` until a probe gets through.

Every success is also appended to the list that :func:`recording_responses` installed, so a caller
that fails after the API said yes still knows what the API answered.

httpx exceptions hold the request, and the request holds the Authorization header: they are
turned into our own :class:`ApiTransportError` outside the ``except`` block so no chain keeps them.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json as jsonlib
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

import httpx
import structlog
from pydantic import SecretStr

from bridge import __version__
from bridge.http.errors import (
    ApiTransportError,
    CircuitOpen,
    ErrorMapper,
    IdempotencyConflict,
    RateLimited,
    RequestValidationError,
    UpstreamError,
    UpstreamUnavailable,
)
from bridge.http.keys import ApiKey, Credential
from bridge.http.paths import check_path
from bridge.http.ratelimit import Priority, RateBudget
from bridge.ops.tracing import client_span
from bridge.redaction import redact

if TYPE_CHECKING:
    from bridge.http.circuit import Circuit

__all__ = [
    "ApiResponse",
    "RequestHook",
    "RetryPolicy",
    "Transport",
    "TransportClient",
    "before_sending",
    "one_try",
    "recording_responses",
]

T = TypeVar("T")
log = structlog.get_logger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Called once per HTTP attempt: (method, path, HTTP status or None when no answer, seconds).
RequestHook = Callable[[str, str, int | None, float], None]


USER_AGENT = f"storybridge/{__version__}"


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep retrying ambiguous failures, and how to space the attempts."""

    budget_seconds: float = 60.0
    base_delay: float = 0.5
    max_delay: float = 10.0

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based): exponential, half of it jittered."""
        ceiling = min(self.max_delay, self.base_delay * (2.0 ** max(0, attempt - 1)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class ApiResponse(Generic[T]):
    """A successful answer: the parsed model plus what callers need for outcomes and logs."""

    status: int
    data: T
    raw: Any
    request_id: str | None = None
    replayed: bool = False
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    def with_data(self, data: Any) -> ApiResponse[Any]:
        """The same response carrying a parsed model instead of the raw JSON."""
        return ApiResponse(
            self.status, data, self.raw, self.request_id, self.replayed, self.headers
        )


_responses: contextvars.ContextVar[list[ApiResponse[Any]] | None] = contextvars.ContextVar(
    "storybridge_responses", default=None
)


@contextlib.contextmanager
def recording_responses() -> Iterator[list[ApiResponse[Any]]]:
    """Collect every successful response sent from this context (the command executor uses it)."""
    seen: list[ApiResponse[Any]] = []
    token = _responses.set(seen)
    try:
        yield seen
    finally:
        _responses.reset(token)


SendHook = Callable[[], Awaitable[None]]
_before_send: contextvars.ContextVar[tuple[SendHook, SendHook | None] | None] = (
    contextvars.ContextVar("storybridge_before_send", default=None)
)
# Set by the durable intake around a command: the durable schedule is the retry, so an ambiguous
# failure is answered after ONE try instead of being retried in-process for the whole budget (a
# route answering 503 would otherwise spend the key's rate budget on one command's retries). A 429
# is still waited out (exactly Retry-After, in the shared budget) and sent again.
_one_try: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "storybridge_one_try", default=False
)


@contextlib.contextmanager
def before_sending(hook: SendHook, *, unsent: SendHook | None = None) -> Iterator[None]:
    """Await `hook` right before each request that can change something (any method but GET)
    leaves this context, after its rate wait: the command ledger marks its claim "sent" there, so
    a claim whose request never left (a stop during the wait) is known never to have left. A hook
    that raises stops the request unsent. `unsent` is awaited after an attempt that provably had
    no effect (a 429, no connection), when no earlier attempt may have had one either."""
    token = _before_send.set((hook, unsent))
    try:
        yield
    finally:
        _before_send.reset(token)


@contextlib.contextmanager
def one_try() -> Iterator[None]:
    """Within this block a request is sent once: a retryable failure is raised at once, except
    a 429 (waited out in the budget, then sent again) and our own "still processing" 409."""
    token = _one_try.set(True)
    try:
        yield
    finally:
        _one_try.reset(token)


def _still_processing(error: UpstreamError, *, ours: bool) -> bool | None:
    """Whether a 409 idempotency_conflict means the first request with this key still runs:
    True when the API says so in a structured field, or when an earlier attempt of THIS call got
    no answer (same key, same body bytes: it can only be our own attempt); None when it cannot be
    told (the API's own message covers both meanings); False for a different body."""
    if not isinstance(error, IdempotencyConflict):
        return False
    said = error.in_progress
    if said is not None:
        return said
    return True if ours else None


class Transport:
    """A pooled ``httpx.AsyncClient`` plus the retry loop. One per provider client.

    `errors` maps an error response to the provider's error tree (its one `from_response`);
    `key` is any credential with an `authorization` header value (the Story key, a Syllaby token).
    """

    def __init__(
        self,
        base_url: str,
        key: Credential | str | SecretStr,
        *,
        budget: RateBudget | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | httpx.Timeout = 30.0,
        limits: httpx.Limits | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        on_request: RequestHook | None = None,
        circuit: Circuit | None = None,
        errors: ErrorMapper,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # A bare string is the Story API's key format; other providers pass their Credential.
        self._key: Credential = ApiKey.parse(key) if isinstance(key, str | SecretStr) else key
        self._on_request = on_request
        self.circuit = circuit
        self._errors = errors
        self.budget = budget or RateBudget()
        self.retry = retry or RetryPolicy()
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            timeout=timeout,
            limits=limits or httpx.Limits(max_connections=64, max_keepalive_connections=16),
            transport=transport,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
        )

    @property
    def key(self) -> Credential:
        return self._key

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r}, key={self._key!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        priority: Priority = Priority.COMMAND,
        retry_safe: bool = False,
        template: str | None = None,
    ) -> ApiResponse[Any]:
        """Send one logical request, retrying ambiguous failures when that is safe.

        `retry_safe`: repeating this request leaves the same state (a PUT or PATCH that sets
        values), so it is retried like a GET. Whatever the method, a failure that provably never
        took effect (`error.unapplied`: no connection made, a 429) is retried. `template`: the
        route's path with its `{placeholders}`; the path as it will be sent must still match it
        (bridge.http.paths), or nothing is sent.
        """
        method = method.upper()
        self._check_path(method, path, template)
        headers = {"Authorization": self._key.authorization}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        content: bytes | None = None
        if json is not None:
            content = jsonlib.dumps(json, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        retry_allowed = method in SAFE_METHODS or idempotency_key is not None or retry_safe
        never_applied = True  # every attempt so far provably took no effect
        deadline = time.monotonic() + self.retry.budget_seconds
        attempt = 0
        unanswered = False  # an earlier attempt may have reached the API without an answer
        while True:
            attempt += 1
            if self.circuit is not None:
                self.circuit.check()
            await self.budget.acquire(priority)
            hooks = _before_send.get() if method not in SAFE_METHODS else None
            if hooks is not None:
                await hooks[0]()
            # A span (and `traceparent`) per attempt when a traced command made this call.
            with client_span(method, path, headers, attempt=attempt) as traced:
                response, error = await self._attempt(method, path, traced.headers, content, query)
                traced.finish(response.status_code if response is not None else None, error)
            if response is not None:
                self._observe_budget(response)
                body = _json_or_none(response)
                if response.is_success:
                    if self.circuit is not None:
                        self.circuit.observe(None)
                    return _record(_success(response, body))
                error = self._errors(response.status_code, body, response.headers)
                if self.circuit is not None:
                    error = self.circuit.observe(error)
                if isinstance(error, RateLimited):
                    self.budget.block_for(self._rate_wait(error, attempt))
            assert error is not None
            if isinstance(error, CircuitOpen):
                raise error  # retryable for a command, never for this HTTP call: nothing was sent
            processing = (
                _still_processing(error, ours=unanswered) if idempotency_key is not None else False
            )
            never_applied = never_applied and error.unapplied
            if never_applied and hooks is not None and hooks[1] is not None:
                await hooks[1]()  # nothing reached the API: the claim is unsent again
            if not (
                (error.retryable or processing is not False) and (retry_allowed or error.unapplied)
            ):
                raise error
            if self.circuit is not None and self.circuit.probing_now:
                raise error  # a probe is one request: the next one comes a probe interval later
            if _one_try.get() and processing is False and not isinstance(error, RateLimited):
                # "Still processing" (ours) is waited out as before: it is this command's own
                # first attempt, not a failing route, and a later try would find the same. So is
                # a 429: the whole key waits exactly Retry-After in the budget, then this goes.
                raise error
            # A request that never left cannot be the "first attempt still processing".
            unanswered = unanswered or (
                (response is None or error.retryable) and not error.unapplied
            )
            delay = self._delay(error, attempt)
            if time.monotonic() + delay > deadline:
                if processing is None:
                    raise error  # it never cleared, and nothing says it was ours: a conflict
                # Still "processing" after the whole budget is not a failure either: the first
                # attempt may yet land, and a later try with the same key replays it.
                raise UpstreamUnavailable(
                    f"{method} {path} failed after {attempt} attempt(s) within the "
                    f"{self.retry.budget_seconds:g}s retry budget; last: {error.code}",
                    last=error,
                    attempts=attempt,
                    unapplied=never_applied,
                ) from error
            log.warning(
                "api.retry",
                method=method,
                path=path,
                attempt=attempt,
                delay=round(delay, 3),
                code=error.code,
                status=getattr(error, "status", None),
                request_id=getattr(error, "request_id", None),
                idempotency_key=idempotency_key,
            )
            if not isinstance(error, RateLimited):  # a 429 waits in the budget's block instead
                await asyncio.sleep(delay)

    def _observe_budget(self, response: httpx.Response) -> None:
        """What the rate headers teach; a header that breaks the reading never breaks the call
        (a 2xx may have taken effect and must be recorded as such)."""
        try:
            self.budget.observe(response.headers)
        except Exception as err:
            log.warning("rate limit headers ignored", error=repr(err)[:200])

    def _check_path(self, method: str, path: str, template: str | None) -> None:
        """Defence in depth for "ids are values, never paths": the URL httpx will really send
        (after its own dot-segment resolution) still has the route's shape."""
        url = self._http.build_request(method, path.lstrip("/")).url
        absolute = httpx.URL(path).is_absolute_url
        if absolute and url.host != self._http.base_url.host:
            # The credential goes with every request: never to another host.
            raise RequestValidationError(f"{method} to another host than {self.base_url}")
        base = "/" if absolute else self._http.base_url.raw_path.decode("ascii")
        check_path(url.raw_path.decode("ascii").split("?", 1)[0], base, template, given=path)

    def _delay(self, error: UpstreamError, attempt: int) -> float:
        """A 429 waits exactly Retry-After; anything else at least the backoff, so a
        `Retry-After: 0` on a 409 or 503 cannot turn the loop into a spin."""
        if isinstance(error, RateLimited):
            return self._rate_wait(error, attempt)
        return max(getattr(error, "retry_after", None) or 0.0, self.retry.backoff(attempt))

    def _rate_wait(self, error: RateLimited, attempt: int) -> float:
        return error.retry_after if error.retry_after is not None else self.retry.backoff(attempt)

    async def _attempt(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        content: bytes | None,
        params: dict[str, Any],
    ) -> tuple[httpx.Response | None, UpstreamError | None]:
        """One HTTP exchange. httpx errors become a sanitized ApiTransportError, never re-raised."""
        failure: str | None = None
        unapplied = False
        started = time.perf_counter()
        try:
            response = await self._http.request(
                method, path.lstrip("/"), content=content, params=params, headers=headers
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # No connection was made (refused, unreachable, no pool slot): nothing was sent.
            failure = f"{type(exc).__name__}: {redact(str(exc))[:200]}"
            unapplied = True
        except httpx.TimeoutException as exc:
            failure = f"timeout ({type(exc).__name__})"
        except httpx.TransportError as exc:
            failure = f"{type(exc).__name__}: {redact(str(exc))[:200]}"
        except httpx.HTTPError as exc:  # InvalidURL, decoding errors: still no request reprs
            failure = f"{type(exc).__name__}"
        else:
            self._report(method, path, response.status_code, started)
            log.debug(
                "api.response",
                method=method,
                path=path,
                status=response.status_code,
                request_id=response.headers.get("x-request-id"),
            )
            return response, None
        self._report(method, path, None, started)
        # Built outside the except block: no __context__ pointing at the httpx exception.
        message = f"{method} {path}: {failure}"
        return None, ApiTransportError(message, method=method, path=path, unapplied=unapplied)

    def _report(self, method: str, path: str, status: int | None, started: float) -> None:
        """Hand one attempt to `on_request`; a failing hook is logged, never fails the call."""
        if self._on_request is None:
            return
        try:
            self._on_request(method, path, status, time.perf_counter() - started)
        except Exception:
            log.exception("api request hook failed", method=method, path=path)


class TransportClient:
    """A provider's client over one :class:`Transport`, which it owns: closing the client closes
    the transport, and the client is its own async context manager (``async with ... as api:``)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    @property
    def transport(self) -> Transport:
        """The connection: its budget, retry policy and circuit are the transport's."""
        return self._transport

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def budget(self) -> RateBudget:
        """The key's rate budget: a poller paces itself by its `poll_capacity`."""
        return self._transport.budget

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _record(response: ApiResponse[Any]) -> ApiResponse[Any]:
    seen = _responses.get()
    if seen is not None:
        seen.append(response)
    return response


def _json_or_none(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _success(response: httpx.Response, body: Any) -> ApiResponse[Any]:
    headers = dict(response.headers.items())
    return ApiResponse(
        status=response.status_code,
        data=body,
        raw=body,
        request_id=response.headers.get("x-request-id"),
        replayed=response.headers.get("idempotency-replayed", "").lower() == "true",
        headers=headers,
    )
