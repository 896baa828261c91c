"""Nothing a command carries leaves its place (CONTRACT.md "Ids are values, never paths", "The same
commandId is the same operation", "Outcomes are bounded").

Hostile ids against a running bridge and the sandbox over HTTP (no request may be sent, or only one
whose path matches its route); a property test over every route of both clients; the ledger's
order; surrogates, oversized results and broken rate headers, each with exactly one outcome.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import unquote
from uuid import uuid4

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client as NatsClient

from bridge.http.errors import RequestValidationError
from bridge.http.paths import check_path, seg
from bridge.http.routes import ClientRoute
from bridge.providers.story.client import StoryClient, story_transport
from schemas.catalog import COMMAND_MODELS
from schemas.wire.outcome import Outcome
from tests.fixtures.bridge import Outcomes, StartBridge, send
from tests.fixtures.requestlog import requests_of
from tests.fixtures.sandbox import SandboxApi, any_key
from tests.fixtures.syllaby_bridge import StartSyllabyBridge

PATHS = ["request", "durable"]
DOTTY = [".", "..", "../..", "a/..", "../x", "%2e%2e", "%2E", "a/b", "a?b", "a#b", " ", "a b", "\t"]


def _requests(sandbox: Any) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = requests_of(sandbox)
    return log


# --- the rule, unit by unit --------------------------------------------------------------------


@pytest.mark.parametrize("value", [".", "..", ""])
def test_seg_refuses_what_no_encoding_keeps_in_its_segment(value: str) -> None:
    with pytest.raises(RequestValidationError):
        seg(value)


def test_seg_encodes_everything_else_into_one_segment() -> None:
    assert seg("a/../b") == "a%2F..%2Fb"
    assert seg("job_1") == "job_1"


@pytest.mark.parametrize(
    ("final", "template", "ok"),
    [
        ("/api/v1/story-jobs/j1/cancel", "story-jobs/{job_id}/cancel", True),
        ("/api/v1/story-jobs/cancel", "story-jobs/{job_id}/cancel", False),  # `.` resolved
        ("/api/v1/cancel", "story-jobs/{job_id}/cancel", False),  # `..` resolved
        ("/api/v1/story-projects/P", "story-projects/{p}/sources/{s}", False),
        ("/api/v1/story-jobs/%2E%2E/cancel", "story-jobs/{job_id}/cancel", False),
        ("/api/v1/story-jobs//cancel", "story-jobs/{job_id}/cancel", False),
        ("/elsewhere/story-jobs/j1", None, False),
        ("/api/v1/story-jobs/a%2Fb", None, True),
    ],
)
def test_check_path_holds_every_request_to_its_route(
    final: str, template: str | None, ok: bool
) -> None:
    if ok:
        check_path(final, "/api/v1/", template)
    else:
        with pytest.raises(RequestValidationError):
            check_path(final, "/api/v1/", template)


# --- every path parameter of every command follows one rule ------------------------------------

PATH_PARAMETERS = sorted(
    (name, field)
    for name, model in COMMAND_MODELS.items()
    for field in getattr(model, "path_fields", ())
)


@pytest.mark.parametrize(("command", "field"), PATH_PARAMETERS)
@pytest.mark.parametrize("value", [*DOTTY, "x" * 129, "é", "\x00", "\ud800"])
def test_every_path_parameter_refuses_what_is_not_an_id(
    command: str, field: str, value: str
) -> None:
    """Validated alone, the field refuses the value, so no command carrying it reaches a handler."""
    model = COMMAND_MODELS[command]
    errors: list[Any] = []
    try:
        model.model_validate({field: value})
    except Exception as exc:  # pydantic's ValidationError
        errors = exc.errors()  # type: ignore[attr-defined]
    assert any(error["loc"][:1] == (field,) for error in errors), (command, field, value)


@given(st.text(max_size=140))
@settings(max_examples=300, deadline=None)
def test_the_id_rule_is_the_contracts(value: str) -> None:
    """`[A-Za-z0-9_-]{1,128}`: exactly what job.get's jobId takes."""
    model = COMMAND_MODELS["job.get"]
    fits = 1 <= len(value) <= 128 and all(c.isascii() and (c.isalnum() or c in "_-") for c in value)
    try:
        model.model_validate({"jobId": value})
        taken = True
    except Exception:
        taken = False
    assert taken == fits


# --- the transport: whatever the id, the path sent matches its route --------------------------

STORY_ROUTES = sorted(
    name
    for name in dir(StoryClient)
    if isinstance(getattr(StoryClient, name, None), ClientRoute)
    and getattr(StoryClient, name).route.ids
)
ids_strategy = st.one_of(st.sampled_from(DOTTY), st.text(min_size=0, max_size=20))


def _recording_client() -> tuple[StoryClient, list[httpx.Request]]:
    """A StoryClient whose requests are captured as httpx would put them on the wire (the URL
    after httpx's own path resolution): the socket is the only part replaced."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    transport = story_transport(
        "http://api.test/api/v1", any_key(), transport=httpx.MockTransport(answer)
    )
    return StoryClient(transport), sent


@pytest.mark.parametrize("route_name", STORY_ROUTES)
@given(data=st.data())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
async def test_no_request_leaves_its_route_whatever_the_ids(route_name: str, data: Any) -> None:
    client, sent = _recording_client()
    route = getattr(StoryClient, route_name).route
    ids = [data.draw(ids_strategy, label=name) for name in route.ids]
    try:
        await client.serve(route, *ids)
    except RequestValidationError:
        assert sent == []  # refused before anything left
        return
    finally:
        await client.aclose()
    assert len(sent) == 1
    segments = sent[0].url.raw_path.decode().split("?")[0].split("/")[3:]
    expected = route.path.split("/")
    assert len(segments) == len(expected)
    values = iter(ids)
    for want, got in zip(expected, segments, strict=True):
        if want.startswith("{"):
            assert unquote(got) == next(values)
            assert got not in (".", "..")
        else:
            assert got == want


# --- against a running bridge ------------------------------------------------------------------

HOSTILE_COMMANDS = [  # P and S stand for a real project and source
    ("source.delete", {"projectId": "P", "sourceId": ".."}, "sourceId"),
    ("source.delete", {"projectId": "P", "sourceId": "."}, "sourceId"),
    ("source.delete", {"projectId": "P", "sourceId": "../.."}, "sourceId"),
    ("source.get", {"projectId": "..", "sourceId": "S"}, "projectId"),
    ("job.get", {"jobId": "."}, "jobId"),
    ("job.cancel", {"jobId": ".."}, "jobId"),
    ("job.cancel", {"jobId": "."}, "jobId"),
    ("plan.approve", {"planId": "a/../b"}, "planId"),
    ("artifact.get", {"artifactId": "%2e%2e"}, "artifactId"),
    ("project.delete", {"projectId": "p?x=1"}, "projectId"),
    ("release.publish", {"releaseId": ".."}, "releaseId"),
    ("release.list", {"seriesId": "."}, "seriesId"),
]


@pytest.mark.parametrize("path", PATHS)
async def test_hostile_ids_are_refused_and_reach_no_endpoint(
    path: str,
    start_bridge: StartBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    sandbox: Any,
    sandbox_api: SandboxApi,
) -> None:
    """The issue's reproductions: `source.delete` with `..` used to delete the PROJECT and say
    ok; `job.get .` answered the listing. Now each is `invalid_command` naming its field, no
    request is sent, and the project is still there."""
    project = sandbox_api.project("kept")
    source = sandbox_api.text_source(project)
    await start_bridge()
    before = len(_requests(sandbox))
    real = {"P": project, "S": source}
    for command, fields, field in HOSTILE_COMMANDS:
        body = {name: real.get(value, value) for name, value in fields.items()}
        outcome = await send(nc, outcomes, path, command, body)
        assert outcome["ok"] is False, (command, fields, outcome)
        assert outcome["error"]["code"] == "invalid_command"
        assert outcome["error"]["field"] == field
    assert len(_requests(sandbox)) == before  # nothing was sent
    assert sandbox_api.get(f"/story-projects/{project}").status_code == 200
    kept = sandbox_api.get(f"/story-projects/{project}/sources/{source}")
    assert kept.status_code == 200


async def test_watch_ids_follow_the_same_rule(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    await start_bridge()
    before = len(_requests(sandbox))
    for body, field in [
        ({"resource": "job", "id": ".."}, "id"),
        ({"resource": "source", "id": "s1", "projectId": "../x"}, "projectId"),
        ({"resource": "release", "id": "r1", "seriesId": "."}, "seriesId"),
        ({"provider": "syllaby", "resource": "storyboard", "id": "²"}, "id"),
    ]:
        for command in ("watch.add", "watch.remove"):
            outcome = await send(nc, outcomes, "request", command, body)
            assert outcome["error"]["code"] == "invalid_command", (body, outcome)
            assert outcome["error"]["field"].startswith(field)
    assert len(_requests(sandbox)) == before


async def test_the_transport_refuses_a_dot_id_even_past_the_commands(
    sandbox: Any, sandbox_key: str
) -> None:
    """Defence in depth: the client called directly (no command validation in front), against
    the real sandbox: nothing is sent for `..`."""
    before = len(_requests(sandbox))
    async with StoryClient(story_transport(sandbox.base_url, sandbox_key)) as api:
        for call in (
            api.delete_source("cmp_1", ".."),
            api.get_job("."),
            api.cancel_job(".."),
        ):
            with pytest.raises(RequestValidationError):
                await call
        # Past `seg` too: a path built by hand still has to keep its route's shape.
        template = "story-projects/{project_id}/sources/{source_id}"
        for path, shape in [
            ("story-projects/cmp_1/sources/..", template),
            ("story-projects/cmp_1/sources/%2E%2E", template),
            ("story-jobs/../credits", None),
        ]:
            with pytest.raises(RequestValidationError):
                await api.request("DELETE", path, template=shape)
    assert len(_requests(sandbox)) == before


# --- bodies and headers that used to escape the executor ---------------------------------------

SURROGATE = b'{"name": "s", "metadata": {"note": "\\ud800"}}'


@pytest.mark.parametrize("path", PATHS)
async def test_a_lone_surrogate_is_answered_invalid_command(
    path: str, start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    await start_bridge()
    before = len(_requests(sandbox))
    outcome = await send(nc, outcomes, path, "project.create", SURROGATE, command_id=f"sur-{path}")
    assert outcome["ok"] is False and outcome["error"]["code"] == "invalid_command"
    assert "surrogate" in outcome["error"]["message"]
    assert len(_requests(sandbox)) == before


async def test_an_oversized_result_is_trimmed_and_flagged(
    start_bridge: StartBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    sandbox: Any,
    sandbox_api: SandboxApi,
) -> None:
    """A 2 MB answer cannot ride a NATS message (it used to fail every publish and re-run the
    command until dead-lettered): the reply and the outcome event carry a trimmed `result` and
    `resultTruncated: true`, once."""
    project_id = sandbox_api.project("big")
    await start_bridge(max_outcome_bytes=64 * 1024)
    sandbox.control.put(
        "/faults", json=[{"path": "/story-projects/*", "method": "GET", "pad_bytes": 2_000_000}]
    )
    for path in PATHS:
        outcome = await send(nc, outcomes, path, "project.get", {"projectId": project_id})
        assert outcome["ok"] is True and outcome["resultTruncated"] is True, path
        assert len(json.dumps(outcome)) <= 64 * 1024
        assert outcome["result"]["project"]["id"] == project_id
        assert len(outcomes.for_command(outcome["commandId"])) == 1
    gets = [r for r in _requests(sandbox) if r["method"] == "GET" and project_id in r["path"]]
    assert len(gets) == 2  # once per path: nothing was re-run


@pytest.fixture
def rate_headers() -> list[str]:
    return ["nan", "inf", "1e400", "-5", "soon"]


async def test_rate_headers_that_do_not_parse_never_fail_a_call(
    start_bridge: StartBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    sandbox: Any,
    rate_headers: list[str],
) -> None:
    """`RateLimit-Remaining: nan` on a 200 used to raise after the call took effect."""
    await start_bridge()
    for value in rate_headers:
        sandbox.control.put(
            "/faults",
            json=[
                {
                    "path": "/story-projects",
                    "method": "POST",
                    "headers": {"RateLimit-Remaining": value, "RateLimit-Reset": value},
                    "times": 1,
                }
            ],
        )
        outcome = await send(nc, outcomes, "request", "project.create", {"name": f"h-{value}"})
        assert outcome["ok"] is True, (value, outcome)


# --- any input, exactly one outcome ------------------------------------------------------------

# Text with lone surrogates too: legal JSON (`"\ud800"`), no UTF-8 text.
any_text = st.text(
    alphabet=st.characters() | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    max_size=40,
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=12,
)
# Header names as nats-py sends them (it refuses separators itself); values: any printable text.
header_names = st.one_of(
    st.sampled_from(["Nats-Msg-Id", "traceparent", "tracestate", "baggage"]),
    st.text(alphabet="abcXYZ019-_", min_size=1, max_size=12),
)
FUZZED = sorted(name for name in COMMAND_MODELS if not name.startswith("admin."))


@given(
    command=st.sampled_from([*FUZZED, "nope.nothing"]),
    payload=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"commandId": st.text(max_size=30), "jobId": st.text(max_size=10)},
            optional={"projectId": st.text(max_size=10), "note": st.text(max_size=10)},
        ),
    ),
    headers=st.dictionaries(header_names, st.text(max_size=30).map(str.strip), max_size=3),
)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_any_command_body_and_headers_get_exactly_one_outcome(
    command: str,
    payload: Any,
    headers: dict[str, str],
    running_bridge: None,
    nc: NatsClient,
) -> None:
    """Whatever the subject, JSON and headers: exactly one reply, a well-formed outcome document
    within the size limit, and the bridge keeps answering."""
    data = json.dumps(payload).encode()
    clean = {k: v.replace("\r", "").replace("\n", "") for k, v in headers.items()}
    replies: asyncio.Queue[Any] = asyncio.Queue()
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=replies.put)
    try:
        await nc.publish(f"story.req.{command}", data, reply=inbox, headers=clean or None)
        reply = await asyncio.wait_for(replies.get(), 30)
        await asyncio.sleep(0.02)  # a second answer would arrive about as fast as the first
        assert replies.empty()
    finally:
        await sub.unsubscribe()
    assert len(reply.data) <= 256 * 1024
    doc = json.loads(reply.data)
    assert isinstance(doc["commandId"], str) and doc["commandId"]
    assert doc["command"] == command
    assert isinstance(doc["ok"], bool)
    if not doc["ok"]:
        assert isinstance(doc["error"]["code"], str) and isinstance(doc["error"]["retryable"], bool)


@given(
    command=st.sampled_from(["project.create", "job.cancel", "watch.add", "nope.nothing"]),
    payload=json_values,
)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_any_durable_command_gets_exactly_one_outcome(
    command: str, payload: Any, running_bridge: None, nc: NatsClient, outcomes: Outcomes
) -> None:
    """The durable path: one final outcome event per message, whatever it carries (a message is
    named by its Nats-Msg-Id: the bridge's fallback commandId when the body has none)."""
    if isinstance(payload, dict):
        payload.pop("commandId", None)  # the message is named by its header, readable or not
    named = f"m-{uuid4()}"
    await nc.jetstream().publish(
        f"story.cmd.{command}", json.dumps(payload).encode(), headers={"Nats-Msg-Id": named}
    )
    [outcome] = await outcomes.wait_for(named, timeout=30)
    await asyncio.sleep(0.05)
    assert len(outcomes.for_command(named)) == 1
    assert outcome["command"] == command


def test_an_answer_with_an_escaped_lone_surrogate_is_bounded_and_sent() -> None:
    """An API may answer `"\ud800"` (legal JSON): measuring and trimming it must not raise."""
    outcome = Outcome.success(
        command_id="c", command="job.get", status=200, replayed=False, result={"n": "\ud800" * 9000}
    )
    bounded = outcome.bounded(4096)
    assert bounded.resultTruncated is True and len(bounded.to_json()) <= 4096


async def test_an_enormous_field_name_is_answered_within_the_limit(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes
) -> None:
    """A 600 KB unknown key is echoed in `error.field` and `error.message`: both are capped."""
    await start_bridge()
    outcome = await send(nc, outcomes, "request", "job.get", {"jobId": "j1", "k" * 600_000: 1})
    assert outcome["error"]["code"] == "invalid_command"
    assert len(json.dumps(outcome)) <= 256 * 1024


@pytest.fixture
async def running_bridge(start_bridge: StartBridge) -> None:
    await start_bridge()


async def test_syllaby_ids_are_integers_and_nothing_else(
    start_syllaby_bridge: StartSyllabyBridge, nc: NatsClient, outcomes: Outcomes, syllaby_api: Any
) -> None:
    await start_syllaby_bridge()
    for command, body, field in [
        ("syllaby.storyboard.get", {"storyboard_id": ".."}, "storyboard_id"),
        ("syllaby.storyboard.render", {"storyboard_id": "1/../2"}, "storyboard_id"),
        ("syllaby.scene.delete", {"storyboard_id": 1, "scene_id": "."}, "scene_id"),
    ]:
        outcome = await send(nc, outcomes, "request", command, body)
        assert outcome["error"]["code"] == "invalid_command", outcome
        assert outcome["error"]["field"] == field
    assert requests_of(syllaby_api.sandbox) == []
