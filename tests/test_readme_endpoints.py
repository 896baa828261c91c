"""README's endpoint table lists every Story API endpoint the vendored docs name, each with a
command (or why none), a client method, a sandbox module and a test that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bridge.providers.story.client import StoryClient
from bridge.sandboxes.story import app as sandbox_app
from bridge.sandboxes.story import routes_share

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "tests" / "data" / "api-docs"
METHOD = r"(GET|POST|PATCH|DELETE|GET/PATCH|GET/POST)"
# A path ends at a space, backtick, bracket or punctuation, or where prose is glued on ("orPOST").
PATH = r"(/[A-Za-z0-9/{}._-]+?)(?=or[A-Z]|[\s`|):,]|$)"
# Top-level resources of the API; shorthands in prose ("GET /coverage") are not endpoints.
ROOTS = {
    "capabilities", "credits", "openapi.json", "examples", "agent-guidance", "story-projects",
    "story-plans", "story-jobs", "artifacts", "publishing-series", "publishing-releases", "api",
}  # fmt: skip


def _norm(method: str, path: str) -> set[tuple[str, str]]:
    path = path.split("?")[0].removeprefix("/api/v1").rstrip(".,")
    path = re.sub(r"\{[^}]*\}", "{}", path)
    if path.split("/")[1] not in ROOTS:
        return set()
    return {(m, path) for m in method.split("/")}


def documented() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    reference = (DOCS / "sleeperhit-api-reference.txt").read_text()
    for m in re.finditer(rf"^{METHOD} (/\S*)", reference, re.M):
        found |= _norm(*m.groups())
    for name in ("FIELD-NOTES.md", "sleeperhit-agent-guide.md", "sleeperhit-concepts.txt"):
        text = (DOCS / name).read_text()
        for m in re.finditer(rf"`?{METHOD} {PATH}", text, re.M):
            found |= _norm(*m.groups())
    concepts = (DOCS / "sleeperhit-concepts.txt").read_text()
    assert "/api/share/table-read/start-live" in concepts
    found |= _norm("POST", "/api/share/table-read/start-live")
    return found


def table() -> dict[tuple[str, str], list[str]]:
    text = (ROOT / "README.md").read_text().partition("## Every Story API endpoint")[2]
    rows: dict[tuple[str, str], list[str]] = {}
    for line in text.partition("\n## ")[0].splitlines():
        m = re.match(rf"^\| `{METHOD} (/[^`]+)` \|(.*)\|\s*$", line)
        if m:
            (key,) = _norm(m.group(1), m.group(2))
            rows[key] = [cell.strip() for cell in m.group(3).split("|")]
    return rows


def test_every_documented_endpoint_has_a_row() -> None:
    """No endpoint of the reference, concepts, agent guide or FIELD-NOTES is left out."""
    missing = documented() - set(table())
    assert not missing, sorted(missing)


@pytest.mark.parametrize("endpoint", sorted(table()), ids=" ".join)
def test_each_row_is_complete_and_true(endpoint: tuple[str, str]) -> None:
    """Command (or a reason), client method, sandbox module and test are all given; the client
    method, the sandbox route and the test exist."""
    command, client, sandbox, test = table()[endpoint]
    assert command and client and sandbox and test
    for name in re.findall(r"`(\w+)`", client):
        assert hasattr(StoryClient, name), name
    module = getattr(sandbox_app, sandbox.strip("`"), None) or routes_share
    method, path = endpoint
    routes = {(e.method, re.sub(r"\{[^}]*\}", "{}", e.path)) for e in module.ENDPOINTS}
    share = path.removeprefix(routes_share.SHARE_PREFIX)
    assert (method, path) in routes or (method, share) in routes, (sandbox, endpoint)
    file, _, node = test.strip("`").partition("::")
    source = (ROOT / "tests" / file).read_text()
    for part in node.split("::"):
        assert re.search(rf"(def|class) {part}\b", source), test
