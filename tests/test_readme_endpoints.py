"""README's endpoint table lists every Story API endpoint the vendored docs name, each with a
command (or why none), a client method, a sandbox module and a test that exists; its rows and the
Syllaby commands table say what each command's handler row declares (route, ledger)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bridge import plugins
from bridge.http.routes import Endpoint
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


# --- the rows against the declarations (each command's handler row, handlers/base.py) ------------
def _declared(provider: str) -> dict[str, Endpoint]:
    found = plugins.provider(provider)
    assert found is not None, provider
    return {
        name: handler.endpoint
        for name, handler in found.commands.items()
        if handler.endpoint is not None
    }


def _key(endpoint: Endpoint) -> tuple[str, str]:
    (key,) = _norm(endpoint.method, "/" + endpoint.path)
    return key


def test_every_declared_story_command_has_its_row() -> None:
    """Each Story command's row in the README is at the endpoint its handler row declares."""
    rows = table()
    missing = {
        name: str(endpoint)
        for name, endpoint in _declared("story").items()
        if f"`{name}`" not in (rows.get(_key(endpoint)) or [""])[0]
    }
    assert not missing, f"README rows to add or fix (command: declared call): {missing}"


def test_each_row_names_the_command_that_calls_it() -> None:
    """A row's command is the one whose handler row declares that endpoint (no stale row)."""
    declared = _declared("story")
    for endpoint, (command, *_) in table().items():
        named = re.match(r"`([a-z_.]+)`", command)
        if named and named.group(1) in declared:
            assert _key(declared[named.group(1)]) == endpoint, (named.group(1), endpoint)


def syllaby_table() -> dict[str, tuple[str, str, bool]]:
    """README's Syllaby commands table: command -> (method, path as written, ledger?)."""
    header = "| command | API call | repeated safely? |"
    text = (ROOT / "README.md").read_text().partition(header)[2]
    rows: dict[str, tuple[str, str, bool]] = {}
    for line in text.partition("\n\n")[0].splitlines()[1:]:
        names_cell, call, safe = (cell.strip() for cell in line.strip("|").split("|")[:3])
        names = re.findall(r"`([a-z_.]+)`", names_cell)
        if not names or not names[0].startswith("syllaby."):
            continue
        first = names[0]
        full = [first] + [first.rsplit(".", 1)[0] + n for n in names[1:]]
        methods = re.findall(r"\b(GET|POST|PATCH|PUT|DELETE)\b", call)
        paths = re.findall(r"(?:\.\.\.)?/[\w/{}-]+", call)
        for i, name in enumerate(full):
            rows[name] = (
                methods[min(i, len(methods) - 1)],
                paths[min(i, len(paths) - 1)],
                "the ledger" in safe,
            )
    return rows


def test_the_syllaby_table_says_what_each_row_declares() -> None:
    """Each Syllaby command is in README's table with its declared method, route and ledger."""
    rows = syllaby_table()
    for name, endpoint in _declared("syllaby").items():
        assert name in rows, f"README's Syllaby table has no row for {name} ({endpoint})"
        method, path, ledger = rows[name]
        tail = re.sub(r"\{[^}]*\}", "{}", path.removeprefix("..."))
        route = re.sub(r"\{[^}]*\}", "{}", "/" + endpoint.path)
        assert method == endpoint.method, (name, method, str(endpoint))
        assert route.endswith(tail), (name, path, str(endpoint))
        assert ledger == (endpoint.idempotency == "ledger"), (name, endpoint.idempotency)
