"""The consumer library: typed commands, and a service that sees every event exactly once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from nats.aio.client import Client as NatsClient
from rich.console import Console

from bridge.cli.demo_kit import EventWaiter, Session
from bridge.client import Event, Storybridge
from bridge.names import EVENTS_STREAM
from bridge.providers.story.demo import walk_happy_path
from schemas.story.commands import PlanApproveCommand, ProjectCreateCommand
from schemas.wire.events import ResourceEventData
from schemas.wire.outcome import Outcome
from tests.fixtures.bridge import SUBJECTS, Outcomes, StartBridge
from tests.fixtures.waiting import until


async def _stream_ids(nc: NatsClient) -> list[str]:
    js = nc.jetstream()
    info = await js.stream_info(EVENTS_STREAM)
    ids = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(EVENTS_STREAM, seq)
        ids.append(json.loads(msg.data)["id"])
    return ids


async def test_request_and_send_take_the_schemas_models_and_answer_typed_outcomes(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes
) -> None:
    await start_bridge()
    sb = Storybridge(nc)
    outcome = await sb.request(ProjectCreateCommand(name="typed"))
    assert (
        isinstance(outcome, Outcome) and outcome.ok and outcome.result["project"]["name"] == "typed"
    )
    failed = await sb.request(PlanApproveCommand(planId="cmpl_missing"))
    assert not failed.ok and failed.error is not None and failed.error.status == 404
    command_id = await sb.send(ProjectCreateCommand(name="durable", commandId="lib-durable-1"))
    assert command_id == "lib-durable-1"
    assert (await outcomes.wait_for(command_id))[0]["ok"]


async def test_a_service_receives_every_happy_path_event_once_across_its_restart(
    start_bridge: StartBridge, nc: NatsClient
) -> None:
    """The service stops after a few events and starts again on the same durable name: in the
    end it has handled each event of the stream exactly once, typed, and a re-published event
    (same CloudEvent id, new Nats-Msg-Id, as after a long outage) is not handled again."""
    await start_bridge()
    sb = Storybridge(nc)
    handled: list[Event] = []

    async def handler(event: Event) -> None:
        handled.append(event)

    first_run = asyncio.Event()
    consumer = sb.events("happy-service")
    running = asyncio.create_task(consumer.run(handler, stop=first_run))
    waiter = EventWaiter(Console(quiet=True))
    await nc.subscribe(SUBJECTS.event(">"), cb=waiter.on_msg)
    walking = asyncio.create_task(
        walk_happy_path(Session(nc, SUBJECTS, Console(quiet=True), waiter, 60))
    )
    await until(lambda: len(handled) >= 5)
    first_run.set()  # the service goes down mid-flow
    await running
    await walking  # the flow finishes while it is down

    # A re-publish of an event already handled: the stream cannot dedup it (new Nats-Msg-Id).
    original = await nc.jetstream().get_msg(EVENTS_STREAM, 1)
    await nc.jetstream().publish(
        original.subject, original.data, headers={"Nats-Msg-Id": "republished-1"}
    )

    second_run = asyncio.Event()
    restarted = sb.events("happy-service")
    running = asyncio.create_task(restarted.run(handler, stop=second_run))
    stream_ids = await _stream_ids(nc)
    await until(lambda: restarted.handled + restarted.skipped >= len(stream_ids) - consumer.handled)
    second_run.set()
    await running

    ids = Counter(event.id for event in handled)
    assert [i for i, n in ids.items() if n > 1] == [], "no event handled twice"
    assert set(ids) == set(stream_ids)
    assert restarted.skipped >= 1  # the re-publish
    kinds = {type(event.data) for event in handled}
    assert kinds == {Outcome, ResourceEventData}


async def test_a_failing_handler_gets_the_event_again_and_handles_it_once(
    start_bridge: StartBridge, nc: NatsClient
) -> None:
    """The handler raises on its first call: the consumer keeps running, the event comes back,
    and once handled it is not handled again."""
    await start_bridge()
    sb = Storybridge(nc)
    await sb.request(ProjectCreateCommand(name="flaky", commandId="flaky-1"))
    calls: list[str] = []

    async def flaky(event: Event) -> None:
        calls.append(event.id)
        if len(calls) == 1:
            raise RuntimeError("downstream hiccup")

    stop = asyncio.Event()
    consumer = sb.events("flaky-service")
    running = asyncio.create_task(consumer.run(flaky, stop=stop, retry_delay=0.2))
    await until(lambda: consumer.handled == 1)
    await sb.request(ProjectCreateCommand(name="after", commandId="flaky-2"))
    await until(lambda: consumer.handled == 2)
    stop.set()
    await running
    assert len(calls) == 3 and calls[0] == calls[1] != calls[2]
