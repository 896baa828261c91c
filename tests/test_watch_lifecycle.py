"""The watch engine's lifecycle rules against a real nats-server, with the in-test toy provider:
one record per resource whatever watches overlap, 404s confirmed before watch.gone, max age,
recovery, provider pauses, bounded records and backoff of a failing apply."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from bridge.watch import WatchEngine, WatchSpec
from bridge.watch.model import Observation, ReadError, Reading, WatchRecord
from tests.fixtures.waiting import until
from tests.test_watch_engine import SUBJECTS, ToyProvider, events, settings, spec


class NestingToy(ToyProvider):
    """A toy whose "box" resources embed "thing"s, as a Story API job embeds its artifacts:
    reading a box also shows the status of every thing listed in `contents[box]`."""

    resources = ("thing", "box")

    def __init__(self) -> None:
        super().__init__()
        self.contents: dict[str, list[str]] = {}

    def observe(self, spec: WatchSpec, reading: Reading) -> list[Observation]:
        if spec.resource != "box":
            return super().observe(spec, reading)
        out = [Observation("box", spec.id, None, reading.data["status"], project_id="prj")]
        for inner in self.contents.get(spec.id, []):
            if inner in self.status:
                out.append(Observation("thing", inner, None, self.status[inner], project_id="prj"))
        return out

    def event_subject(self, obs: Observation) -> str:
        return f"{obs.resource}.{obs.status}"

    def event_type(self, obs: Observation) -> str:
        return f"{self.type_prefix}.{obs.resource}.{obs.status}"


class CircuitOpen(Exception):
    """What a provider client raises while its circuit is open (duck-typed for the engine)."""

    pauses_polling = True


class PausingToy(ToyProvider):
    def __init__(self) -> None:
        super().__init__()
        self.circuit_open = False

    async def read(self, specs: Sequence[WatchSpec]) -> dict[str, Reading | ReadError]:
        if self.circuit_open:
            self.reads += 1
            raise CircuitOpen("account disabled")
        return await super().read(specs)


class BrokenObserve(ToyProvider):
    def __init__(self) -> None:
        super().__init__()
        self.observed = 0

    def observe(self, spec: WatchSpec, reading: Reading) -> list[Observation]:
        self.observed += 1
        raise RuntimeError("a provider bug")


@pytest.fixture
async def start_engine(js: JetStreamContext, kv: KeyValue) -> AsyncIterator[Any]:
    engines: list[WatchEngine] = []

    async def start(provider: ToyProvider, **kw: Any) -> WatchEngine:
        paused = kw.pop("paused", None)
        eng = WatchEngine(js, kv, {"toy": provider}, SUBJECTS, settings(**kw), paused=paused)
        await eng.start()
        engines.append(eng)
        return eng

    yield start
    for eng in engines:
        await eng.stop()


def box(id: str = "b1") -> WatchSpec:
    return WatchSpec(provider="toy", resource="box", id=id)


async def of(js: JetStreamContext, id: str) -> list[dict[str, Any]]:
    return [e for e, _ in await events(js) if e["data"].get("id") == id]


async def record(kv: KeyValue, key: str) -> WatchRecord:
    return WatchRecord.decode((await kv.get(key)).value)


async def test_a_resource_seen_by_two_watches_has_one_chain_and_unique_ids(
    start_engine: Any, js: JetStreamContext, kv: KeyValue
) -> None:
    """A thing followed by its own watch AND seen inside a watched box: each of its transitions is
    published once, ids unique, previousStatus chained, even when a status recurs."""
    toy = NestingToy()
    engine = await start_engine(toy)
    toy.status.update({"b1": "open", "t1": "pending"})
    toy.contents["b1"] = ["t1"]
    await engine.add(box())
    await until(lambda: _statuses_of(js, "t1", ["pending"]))
    await engine.add(spec("t1"))  # watch.add on a thing the box watch already follows
    for status in ("running", "ready", "running", "done"):
        toy.status["t1"] = status
        await until(lambda s=status: _last_status_of(js, "t1", s))
    toy.status["b1"] = "done"
    await until(lambda: _statuses_of(js, "b1", ["open", "done"]))
    await until(lambda: _settled(kv, spec("t1").key))
    got = await of(js, "t1")
    assert [e["data"]["status"] for e in got] == ["pending", "running", "ready", "running", "done"]
    assert [e["data"]["previousStatus"] for e in got] == [
        None,
        "pending",
        "running",
        "ready",
        "running",
    ]
    assert len({e["id"] for e in got}) == len(got)
    assert (await record(kv, box().key)).refs == [spec("t1").key]
    assert "thing:t1:status" not in (await record(kv, box().key)).states


async def test_a_resource_first_seen_inside_another_is_recorded_but_not_polled(
    start_engine: Any, js: JetStreamContext, kv: KeyValue
) -> None:
    """The embedded thing gets its own record (its chain), not a poll of its own."""
    toy = NestingToy()
    engine = await start_engine(toy)
    toy.status.update({"b1": "open", "t1": "done"})
    toy.contents["b1"] = ["t1"]
    await engine.add(box())
    await until(lambda: _statuses_of(js, "t1", ["done"]))
    inner = await record(kv, spec("t1").key)
    assert inner.polled is False and inner.done is True
    assert all("t1" not in batch for batch in toy.batches)


async def test_a_stalled_watch_that_reads_again_publishes_one_watch_recovered(
    start_engine: Any, js: JetStreamContext, kv: KeyValue
) -> None:
    toy = ToyProvider()
    engine = await start_engine(toy)
    toy.status["t1"] = "pending"
    toy.failing.add("t1")
    await engine.add(spec())
    await until(lambda: _types(js, ["example.toy.watch.stalled"]))
    toy.failing.clear()
    await until(lambda: _types(js, ["example.toy.watch.stalled", "example.toy.watch.recovered"]))
    toy.status["t1"] = "done"
    await until(lambda: _has_type(js, "example.toy.thing.done"))
    types = [e["type"] for e, _ in await events(js)]
    assert types.count("example.toy.watch.recovered") == 1
    assert types.index("example.toy.watch.stalled") < types.index("example.toy.watch.recovered")
    assert not (await record(kv, spec().key)).stalled


async def test_a_watch_past_its_max_age_ends_with_one_watch_expired(
    start_engine: Any, js: JetStreamContext, kv: KeyValue
) -> None:
    toy = ToyProvider()
    engine = await start_engine(toy, max_age=0.5)
    toy.status["t1"] = "pending"
    await engine.add(spec())
    await until(lambda: _settled(kv, spec().key))
    got = await events(js)
    assert [e["type"] for e, _ in got] == ["example.toy.thing.pending", "example.toy.watch.expired"]
    done = await record(kv, spec().key)
    assert done.done_reason == "expired"
    reads = toy.reads
    await until(lambda: engine.stats().active == 0)
    assert toy.reads == reads


async def test_a_paused_provider_is_not_read_and_its_watches_neither_stall_nor_expire(
    start_engine: Any, js: JetStreamContext, kv: KeyValue
) -> None:
    """While `paused(provider)` is True nothing is read; the pause does not count towards the
    stall threshold, the 404 count or the max age; reads resume where they were."""
    toy = ToyProvider()
    asked: list[str] = []
    state = {"paused": False}

    def paused(name: str) -> bool:
        asked.append(name)
        return state["paused"]

    engine = await start_engine(toy, paused=paused, max_age=1.0)
    toy.status["t1"] = "pending"
    await engine.add(spec())
    await until(lambda: _has_type(js, "example.toy.thing.pending"))
    state["paused"] = True
    reads = toy.reads
    asked_before = len(asked)
    await until(lambda: len(asked) > asked_before + 5)  # the engine looked, and did not read
    paused_reads = toy.reads
    assert paused_reads <= reads + 1  # at most a read already under way when the pause began
    await until(lambda: len(asked) > asked_before + 40, limit=60)
    assert toy.reads == paused_reads
    state["paused"] = False
    toy.status["t1"] = "done"
    await until(lambda: _has_type(js, "example.toy.thing.done"))
    types = [e["type"] for e, _ in await events(js)]
    assert "example.toy.watch.expired" not in types
    assert "example.toy.watch.stalled" not in types
    assert "toy" in asked


async def test_a_read_raising_pauses_polling_is_not_counted_as_a_failure(
    start_engine: Any, js: JetStreamContext, kv: KeyValue
) -> None:
    toy = PausingToy()
    engine = await start_engine(toy)
    toy.status["t1"] = "pending"
    await engine.add(spec())
    await until(lambda: _has_type(js, "example.toy.thing.pending"))
    toy.circuit_open = True
    reads = toy.reads
    await until(lambda: toy.reads >= reads + 10)  # stall_after is 3
    slot = engine._slots[spec().key]
    assert slot.failures == 0
    assert not any(e["type"].endswith("watch.stalled") for e, _ in await events(js))
    toy.circuit_open = False
    toy.status["t1"] = "done"
    await until(lambda: _has_type(js, "example.toy.thing.done"))


async def test_an_apply_that_keeps_failing_backs_off_like_a_failed_read(
    start_engine: Any, kv: KeyValue
) -> None:
    toy = BrokenObserve()
    engine = await start_engine(toy)
    toy.status["t1"] = "pending"
    await engine.add(spec())
    await until(lambda: toy.observed >= 4)
    slot = engine._slots[spec().key]
    low = toy.interval_bounds("thing")[0] * engine.settings.interval_scale
    assert slot.failures >= 3
    assert slot.interval >= 4 * low
    assert slot.next_at - slot.last_poll_at >= slot.interval * 0.5


async def test_a_snapshot_larger_than_a_record_can_hold_still_publishes_its_transitions(
    start_engine: Any, js: JetStreamContext, kv: KeyValue
) -> None:
    """The KV value limit is the server's max_payload; an event carrying a bigger snapshot is
    staged and published with the snapshot cut down to its scalar fields."""

    class HugeToy(ToyProvider):
        async def read(self, specs: Sequence[WatchSpec]) -> dict[str, Reading | ReadError]:
            got = await super().read(specs)
            for key, value in got.items():
                if isinstance(value, Reading):
                    got[key] = Reading({**value.data, "blob": "x" * (3 * 1024 * 1024)})
            return got

    toy = HugeToy()
    engine = await start_engine(toy)
    toy.status["t1"] = "pending"
    await engine.add(spec())
    await until(lambda: _has_type(js, "example.toy.thing.pending"))
    toy.status["t1"] = "done"
    await until(lambda: _has_type(js, "example.toy.thing.done"))
    got = [e for e, _ in await events(js)]
    assert [e["data"]["status"] for e in got] == ["pending", "done"]
    assert all(e["data"]["snapshotTruncated"] is True for e in got)
    assert got[1]["data"]["snapshot"] == {"id": "t1", "status": "done"}


# -- helpers ---------------------------------------------------------------------------------------


async def _statuses_of(js: JetStreamContext, id: str, wanted: list[str]) -> bool:
    return [e["data"]["status"] for e in await of(js, id) if "status" in e["data"]] == wanted


async def _last_status_of(js: JetStreamContext, id: str, status: str) -> bool:
    got = [e["data"]["status"] for e in await of(js, id) if "status" in e["data"]]
    return bool(got) and got[-1] == status


async def _types(js: JetStreamContext, wanted: list[str]) -> bool:
    got = [e["type"] for e, _ in await events(js) if ".watch." in e["type"]]
    return got == wanted


async def _has_type(js: JetStreamContext, type: str) -> bool:
    return any(e["type"] == type for e, _ in await events(js))


async def _settled(kv: KeyValue, key: str) -> bool:
    got = await record(kv, key)
    return got.done and not got.outbox
