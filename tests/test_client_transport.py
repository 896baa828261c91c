"""Transport failures against a real closed port: retried, sanitized, bounded by the budget."""

from __future__ import annotations

import socket
import traceback

import pytest

from bridge.http.errors import ApiTransportError, UpstreamError, UpstreamUnavailable
from bridge.http.keys import ApiKey
from bridge.http.ratelimit import RateBudget
from bridge.http.transport import RetryPolicy, Transport
from bridge.providers.story import errors as story_errors

SECRET = "5e" * 32
KEY = ApiKey.parse(f"sh_0123456789abcdef01_{SECRET}")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in out:
        out.append(seen)
        seen = seen.__cause__ or seen.__context__
    return out


def leaks(exc: BaseException) -> bool:
    texts = []
    for item in chain(exc):
        texts += [str(item), repr(item), repr(vars(item)) if hasattr(item, "__dict__") else ""]
    texts.append("".join(traceback.format_exception(exc)))
    return any(SECRET in t for t in texts)


@pytest.fixture
async def transport() -> Transport:
    t = Transport(
        f"http://127.0.0.1:{closed_port()}/api/v1",
        KEY,
        budget=RateBudget(per_minute=1000),
        retry=RetryPolicy(budget_seconds=0.3, base_delay=0.01, max_delay=0.05),
        errors=story_errors.from_response,
    )
    yield t  # type: ignore[misc]
    await t.aclose()


async def test_get_is_retried_until_the_budget_is_exhausted(transport: Transport) -> None:
    """Connection refused on a GET is ambiguous: retried, then UpstreamUnavailable."""
    with pytest.raises(UpstreamUnavailable) as info:
        await transport.send("GET", "capabilities")
    err = info.value
    assert err.code == "upstream_unavailable"
    assert isinstance(err.last, ApiTransportError)
    assert err.attempts > 1


async def test_post_without_key_is_retried_when_the_connection_was_never_made(
    transport: Transport,
) -> None:
    """Connection refused: the POST provably never left, so even without an Idempotency-Key it is
    retried, and the final error says that no attempt took effect (`unapplied`)."""
    with pytest.raises(UpstreamUnavailable) as info:
        await transport.send("POST", "story-projects", json={"name": "x"})
    assert info.value.unapplied is True
    assert isinstance(info.value.last, ApiTransportError) and info.value.last.unapplied
    assert transport.budget.granted[0] > 1


async def test_transport_errors_do_not_carry_the_secret(transport: Transport) -> None:
    """No str, repr, attribute or chained exception holds the key's secret."""
    for method, key in [("GET", None), ("POST", None), ("POST", "k-1")]:
        with pytest.raises(UpstreamError) as info:
            await transport.send(method, "story-jobs", json={"a": 1}, idempotency_key=key)
        assert not leaks(info.value)
        assert all("httpx" not in type(e).__module__ for e in chain(info.value))


def test_transport_repr_shows_only_the_prefix() -> None:
    """The transport's repr names the key by prefix."""
    t = Transport("http://127.0.0.1:1/api/v1", KEY, errors=story_errors.from_response)
    assert SECRET not in repr(t) and "sh_0123456789abcdef01" in repr(t)
