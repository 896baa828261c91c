"""HTTP endpoints against a real uvicorn instance in the test's event loop."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bridge.ops.health import HttpServer, create_http_app
from bridge.ops.metrics import Metrics


class Toggle:
    """A readiness callable whose answer the test flips."""

    def __init__(self) -> None:
        self.ok = False

    async def __call__(self) -> tuple[bool, dict[str, Any]]:
        return self.ok, {"nats": self.ok, "intake": True}


def _document() -> dict[str, Any]:
    return {"asyncapi": "3.0.0", "info": {"title": "storybridge", "version": "0.1.0"}}


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def readiness() -> Toggle:
    return Toggle()


@pytest.fixture
async def server(metrics: Metrics, readiness: Toggle) -> AsyncIterator[HttpServer]:
    app = create_http_app(ready=readiness, metrics=metrics, asyncapi=_document)
    srv = HttpServer(app, host="127.0.0.1", port=0)
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def http(server: HttpServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        yield client


async def test_port_zero_binds_a_free_port_and_exposes_it(server: HttpServer) -> None:
    """port=0 is replaced by the bound port, which accepts connections."""
    assert server.port > 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass


async def test_healthz_answers_ok_while_not_ready(http: httpx.AsyncClient) -> None:
    """Liveness does not depend on readiness: a starting bridge is alive."""
    resp = await http.get("/healthz")
    assert (resp.status_code, resp.json()) == (200, {"status": "ok"})


async def test_readyz_flips_from_503_to_200_with_the_checks(
    http: httpx.AsyncClient, readiness: Toggle
) -> None:
    """Readiness follows the callable, and both answers carry the checks."""
    before = await http.get("/readyz")
    readiness.ok = True
    after = await http.get("/readyz")
    assert before.status_code == 503
    assert before.json()["checks"] == {"nats": False, "intake": True}
    assert after.status_code == 200
    assert after.json()["checks"] == {"nats": True, "intake": True}


async def test_readyz_answers_503_when_the_check_raises(metrics: Metrics) -> None:
    """A readiness check that raises means not ready, never a 500."""

    async def broken() -> tuple[bool, dict[str, Any]]:
        raise ConnectionError("nats gone")

    app = create_http_app(ready=broken, metrics=metrics, asyncapi=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        resp = await client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json()["checks"] == {"error": "ConnectionError"}


async def test_metrics_shows_a_counter_after_increment(
    http: httpx.AsyncClient, metrics: Metrics
) -> None:
    """/metrics serves the bridge's own registry in the Prometheus text format."""
    metrics.watch_stalled()
    metrics.watch_stalled()
    resp = await http.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    assert "storybridge_watch_stalled_total 2.0" in resp.text


async def test_asyncapi_serves_the_configured_document(http: httpx.AsyncClient) -> None:
    """/asyncapi is the JSON document the callable returns."""
    resp = await http.get("/asyncapi")
    assert resp.status_code == 200
    assert resp.json() == _document()


async def test_asyncapi_is_404_when_not_configured(metrics: Metrics, readiness: Toggle) -> None:
    """Without a document source the endpoint says so with a 404."""
    app = create_http_app(ready=readiness, metrics=metrics, asyncapi=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        resp = await client.get("/asyncapi")
    assert resp.status_code == 404


async def test_stop_releases_the_port(metrics: Metrics, readiness: Toggle) -> None:
    """After stop() nothing listens on the port any more, and a second stop is harmless."""
    srv = HttpServer(create_http_app(ready=readiness, metrics=metrics), host="127.0.0.1", port=0)
    await srv.start()
    port = srv.port
    await srv.stop()
    await srv.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


async def test_a_busy_port_fails_start_with_oserror(
    server: HttpServer, metrics: Metrics, readiness: Toggle
) -> None:
    """Binding a taken port raises OSError from start(), not a SystemExit from uvicorn."""
    app = create_http_app(ready=readiness, metrics=metrics)
    clash = HttpServer(app, host="127.0.0.1", port=server.port)
    with pytest.raises(OSError):
        await clash.start()
