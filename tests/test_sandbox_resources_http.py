"""The sandbox's resource endpoints over real HTTP, time moved through the control API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bridge.sandboxes.story import StorySandboxConfig, StorySandboxServer

TARGET = {"audience": "buyers", "objective": "explain the launch", "outcome": "book a demo"}
TEXT = "Acme cut onboarding time by sixty percent. Customers noticed within weeks. " * 8


@pytest.fixture
def sandbox_config() -> StorySandboxConfig:
    """A manual clock: time moves only when a test advances it."""
    return StorySandboxConfig(manual_clock=True, rate_limit_per_minute=100_000)


@pytest.fixture
def api(sandbox: StorySandboxServer, sandbox_key: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {sandbox_key}"}
    with httpx.Client(base_url=sandbox.base_url, headers=headers, timeout=10) as client:
        yield client


_n = iter(range(1_000_000))


def post(api: httpx.Client, path: str, body: Any = None) -> httpx.Response:
    return api.post(path, json=body, headers={"Idempotency-Key": f"k-{next(_n)}"})


def advance(sandbox: StorySandboxServer, seconds: float) -> None:
    sandbox.control.post("/clock/advance", json={"seconds": seconds}).raise_for_status()


def test_happy_path_from_project_to_ready_table_read(
    sandbox: StorySandboxServer, api: httpx.Client
) -> None:
    """Project, source, plan, approve, job: the READY job's artifact carries the manifest."""
    project = post(api, "/story-projects", {"name": "Launch"}).json()["project"]
    source = post(
        api, f"/story-projects/{project['id']}/sources", {"type": "text", "content": TEXT}
    )
    assert source.json()["source"]["status"] == "READY"
    plan = post(
        api,
        f"/story-projects/{project['id']}/story-plans",
        {
            "target": TARGET,
            "artifactRequests": [{"type": "table_read"}],
            "sourceIds": [source.json()["source"]["id"]],
        },
    ).json()["plan"]
    advance(sandbox, 21)
    assert api.get(f"/story-plans/{plan['id']}").json()["plan"]["status"] == "REQUIRES_APPROVAL"
    assert post(api, f"/story-plans/{plan['id']}/approve").json()["plan"]["status"] == "APPROVED"
    job = post(api, "/story-jobs", {"storyPlanId": plan["id"]}).json()["job"]
    advance(sandbox, 32)
    done = api.get(f"/story-jobs/{job['id']}").json()["job"]
    assert done["status"] == "READY"
    artifact = api.get(f"/artifacts/{done['artifacts'][0]['id']}").json()["artifact"]
    assert artifact["manifest"]["theaterUrl"].startswith(
        "https://sleeperhit.studio/share/table-read/"
    )
    listed = api.get(f"/story-jobs/{job['id']}/artifacts").json()["artifacts"]
    assert [a["id"] for a in listed] == [artifact["id"]]


def test_insufficient_credits_over_http_has_details(
    sandbox: StorySandboxServer, api: httpx.Client
) -> None:
    """PUT /credits 3, then a job: 402 insufficient_credits with required and available."""
    project = post(api, "/story-projects", {"name": "P"}).json()["project"]
    plan = post(
        api,
        f"/story-projects/{project['id']}/story-plans",
        {"target": TARGET, "artifactRequests": [{"type": "table_read"}]},
    ).json()["plan"]
    advance(sandbox, 21)
    post(api, f"/story-plans/{plan['id']}/approve")
    sandbox.control.put("/credits", json={"balance": 3}).raise_for_status()
    response = post(api, "/story-jobs", {"storyPlanId": plan["id"]})
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (402, "insufficient_credits")
    assert error["details"] == {"required": 11, "available": 3}
    assert api.get("/credits").json()["credits"]["balance"] == 3


def test_source_errors_over_http(sandbox: StorySandboxServer, api: httpx.Client) -> None:
    """Too large, unsupported (flipped to planned), SSRF, and a missing project."""
    pid = post(api, "/story-projects", {"name": "P"}).json()["project"]["id"]
    base = f"/story-projects/{pid}/sources"
    big = post(api, base, {"type": "text", "content": "x" * 1_000_001})
    assert (big.status_code, big.json()["error"]["details"]["maxBytes"]) == (422, 1_000_000)
    sandbox.control.put(
        "/capabilities/sources/pdf", json={"availability": "planned"}
    ).raise_for_status()
    pdf = post(api, base, {"type": "pdf", "uri": "https://example.com/a.pdf"})
    assert pdf.json()["error"]["code"] == "source_type_unsupported"
    ssrf = post(api, base, {"type": "url", "uri": "http://169.254.169.254/latest/meta-data"})
    assert ssrf.json()["error"]["details"] == {"reason": "ip_blocked"}
    missing = post(api, "/story-projects/cmp_nope/sources", {"type": "text", "content": "hi"})
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "project_not_found")


def test_project_list_pages_over_http(api: httpx.Client) -> None:
    """25 projects at limit 10: three pages, the last with nextCursor null."""
    for i in range(25):
        post(api, "/story-projects", {"name": f"P{i}"})
    names: list[str] = []
    params: dict[str, str] = {"limit": "10"}
    pages = 0
    while True:
        body = api.get("/story-projects", params=params).json()
        names += [p["name"] for p in body["projects"]]
        pages += 1
        if body["nextCursor"] is None:
            break
        params["cursor"] = body["nextCursor"]
    assert (pages, names) == (3, [f"P{i}" for i in range(25)])
    assert api.get("/story-projects", params={"limit": "101"}).status_code == 422


def test_discovery_endpoints_answer(api: httpx.Client) -> None:
    """capabilities lists table_read available; openapi.json and examples need no auth."""
    caps = api.get("/capabilities").json()
    assert caps["artifacts"]["table_read"]["availability"] == "available"
    assert caps["artifacts"]["pitch_deck"]["availability"] == "planned"
    bare = httpx.get(str(api.base_url).rstrip("/") + "/openapi.json")
    assert bare.status_code == 200 and "/story-jobs" in bare.json()["paths"]
    assert httpx.get(str(api.base_url).rstrip("/") + "/examples").json()["examples"]
