"""The provider-neutral watch engine against a real nats-server, with a tiny in-test provider.

The provider here is not a mock of the Story API: it is the second-provider seam, a resource whose
status the test sets directly, so the engine's guarantees can be checked one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from nats.js.api import DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError, NoKeysError
from nats.js.kv import KeyValue

from bridge.names import EVENTS_STREAM, Subjects
from bridge.watch import WatchEngine, WatchSettings, WatchSpec
from bridge.watch.events import event_id
from bridge.watch.model import Observation, PendingEvent, ReadError, Reading, WatchRecord
from bridge.watch.store import Conflict
from tests.fixtures.waiting import until

SUBJECTS = Subjects("story")


class ToyProvider:
    """Resources are entries of `self.status`; a status in `failing` makes reads fail."""

    name = "toy"
    resources = ("thing",)
    source = "http://toy.example/api"
    type_prefix = "example.toy"
    terminal = frozenset({"done", "failed"})

    def __init__(self) -> None:
        self.status: dict[str, str] = {}
        self.failing: set[str] = set()
        self.reads = 0
        self.batches: list[set[str]] = []

    async def read(self, specs: Sequence[WatchSpec]) -> dict[str, Reading | ReadError]:
        self.reads += 1
        self.batches.append({spec.id for spec in specs})
        out: dict[str, Reading | ReadError] = {}
        for spec in specs:
            if spec.id in self.failing:
                out[spec.key] = ReadError("HTTP 500")
            elif spec.id not in self.status:
                out[spec.key] = ReadError("404", not_found=True)
            else:
                out[spec.key] = Reading({"id": spec.id, "status": self.status[spec.id]})
        return out

    def batch_key(self, spec: WatchSpec) -> str | None:
        return spec.parents.get("group")

    def observe(self, spec: WatchSpec, reading: Reading) -> list[Observation]:
        status = reading.data["status"]
        return [
            Observation(
                resource="thing",
                id=spec.id,
                facet=None,
                status=status,
                project_id="prj",
                subject_path=f"things/{spec.id}",
                snapshot=reading.data,
                silent=status == "idle",
            )
        ]

    def is_terminal(self, spec: WatchSpec, observations: Sequence[Observation]) -> bool:
        return all(o.status in self.terminal for o in observations)

    def interval_bounds(self, resource: str) -> tuple[float, float]:
        return (1.0, 3.0)

    def event_subject(self, obs: Observation) -> str:
        return f"thing.{obs.status}"

    def event_type(self, obs: Observation) -> str:
        return f"{self.type_prefix}.thing.{obs.status}"

    def subject_path(self, spec: WatchSpec) -> str:
        return f"things/{spec.id}"

    def project_id(self, spec: WatchSpec) -> str | None:
        return "prj"

    async def discover(self) -> AsyncIterator[WatchSpec]:
        return
        yield  # pragma: no cover


class FileToyProvider(ToyProvider):
    """The toy provider reading its statuses from a JSON file, so another process can share it."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    async def read(self, specs: Sequence[WatchSpec]) -> dict[str, Reading | ReadError]:
        self.status = json.loads(await asyncio.to_thread(Path(self.path).read_text))
        return await super().read(specs)


async def replica_main(nats_url: str, path: str, replica_id: str) -> None:
    """Entry point of a replica subprocess (the kill -9 test): run an engine until killed."""
    import nats

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    kv = await js.key_value("STORYBRIDGE_WATCHES")
    eng = WatchEngine(
        js, kv, {"toy": FileToyProvider(path)}, SUBJECTS, settings(replica_id=replica_id)
    )
    await eng.start()
    await asyncio.Event().wait()


def settings(**kw: Any) -> WatchSettings:
    base: dict[str, Any] = {
        "interval_scale": 0.01,
        "stall_after": 3,
        "lease_seconds": 1.5,
        "jitter": 0.0,
        "gone_min_seconds": 0.2,
    }
    base.update(kw)
    return WatchSettings(**base)


@pytest.fixture
def toy() -> ToyProvider:
    return ToyProvider()


@pytest.fixture
async def engine(
    js: JetStreamContext, kv: KeyValue, toy: ToyProvider
) -> AsyncIterator[WatchEngine]:
    eng = WatchEngine(js, kv, {"toy": toy}, SUBJECTS, settings())
    await eng.start()
    yield eng
    await eng.stop()


async def events(
    js: JetStreamContext, subject: str = "story.evt.>"
) -> list[tuple[dict[str, Any], Any]]:
    """Every message on the events stream: (CloudEvent JSON, headers)."""
    info = await js.stream_info(EVENTS_STREAM)
    if not info.state.messages:
        return []
    sub = await js.subscribe(subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
    out = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.3)
            except TimeoutError:
                break
            out.append((json.loads(msg.data), msg.headers))
    finally:
        await sub.unsubscribe()
    return out


async def statuses(js: JetStreamContext) -> list[str]:
    return [e["data"]["status"] for e, _ in await events(js) if "status" in e["data"]]


def spec(id: str = "t1") -> WatchSpec:
    return WatchSpec(provider="toy", resource="thing", id=id)


async def test_changes_are_published_in_order_with_previous_status_chained(
    engine: WatchEngine, toy: ToyProvider, js: JetStreamContext
) -> None:
    """Each observed change is one event, in order, previousStatus pointing at the prior event."""
    toy.status["t1"] = "pending"
    await engine.add(spec())
    await until(lambda: _count(js, 1))
    for status in ("running", "done"):
        toy.status["t1"] = status
        await until(lambda n=status: _has(js, n))
    got = await events(js)
    assert [e["data"]["status"] for e, _ in got] == ["pending", "running", "done"]
    assert [e["data"]["previousStatus"] for e, _ in got] == [None, "pending", "running"]
    assert [e["type"] for e, _ in got][-1] == "example.toy.thing.done"
    for doc, headers in got:
        assert headers["Nats-Msg-Id"] == doc["id"]
        assert headers["Content-Type"] == "application/cloudevents+json"
    assert len({e["id"] for e, _ in got}) == 3


async def test_watches_sharing_a_batch_key_are_always_read_together(
    engine: WatchEngine, toy: ToyProvider, js: JetStreamContext
) -> None:
    """Added at different moments (so due at different moments), a group is still read as one:
    the first of them to fall due brings the others, which one list call would serve."""
    group = {"g1", "g2", "g3"}
    for n, id in enumerate(sorted(group), start=1):
        toy.status[id] = "pending"
        await engine.add(WatchSpec(provider="toy", resource="thing", id=id, parents={"group": "g"}))
        await until(lambda n=n: _count(js, n))
        await asyncio.sleep(0.02)
    toy.status["solo"] = "pending"
    await engine.add(spec("solo"))
    settled = len(toy.batches)
    toy.status["g2"] = "running"
    await until(lambda: _has(js, "running"))
    await until(lambda: len(toy.batches) >= settled + 5)
    for batch in toy.batches[settled:]:
        assert batch & group in (set(), group), batch
    assert any("solo" in batch for batch in toy.batches[settled:])


async def test_stop_returns_even_when_a_library_swallows_the_cancellation(
    js: JetStreamContext, kv: KeyValue, toy: ToyProvider
) -> None:
    """nats-py's publish turns a cancellation into TooManyStalledMsgsError; a loop caught in such a
    call must still end at stop() instead of running on (and hanging the shutdown)."""
    eng = WatchEngine(js, kv, {"toy": toy}, SUBJECTS, settings())
    await eng.start()
    inside = asyncio.Event()
    real_tick = eng.leases.tick

    async def swallowing_tick() -> None:
        inside.set()
        with contextlib.suppress(asyncio.CancelledError):  # what the library does
            await asyncio.sleep(0.5)
        await real_tick()

    eng.leases.tick = swallowing_tick  # type: ignore[method-assign]
    await asyncio.wait_for(inside.wait(), 10)
    loops = list(eng._tasks)
    await asyncio.wait_for(eng.stop(), 30)  # a guard against a hang, not a timing assertion
    assert loops and all(task.done() for task in loops)


async def test_a_slow_stop_still_hands_every_shard_back(
    js: JetStreamContext, kv: KeyValue, toy: ToyProvider
) -> None:
    """A task slow to end (a library swallowing the cancellation, then busy for a while) must not
    keep the shards: the runtime cuts the engine's stop after a bound, and releasing them only
    after the tasks ended made the next replica wait a whole lease for shards that were free."""
    eng = WatchEngine(js, kv, {"toy": toy}, SUBJECTS, settings(lease_seconds=10.0))
    await eng.start()
    assert eng.leases.owned(time.time())
    inside = asyncio.Event()

    async def stubborn_tick() -> None:
        inside.set()
        with contextlib.suppress(asyncio.CancelledError):  # what the library does
            await asyncio.sleep(30)
        await asyncio.sleep(30)

    eng.leases.tick = stubborn_tick  # type: ignore[method-assign]
    await asyncio.wait_for(inside.wait(), 10)
    stray = list(eng._tasks)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(eng.stop(), 2.0)  # the runtime's cut, shortened
    leases = [k for k in await _keys(kv) if k.startswith("l.")]
    assert leases == []
    for task in stray:
        task.cancel()
    await asyncio.wait(stray, timeout=5)


async def _keys(kv: KeyValue) -> list[str]:
    try:
        return list(await kv.keys())
    except NoKeysError:
        return []


async def test_a_watch_whose_writes_keep_conflicting_is_not_given_up_silently(
    js: JetStreamContext, kv: KeyValue, toy: ToyProvider
) -> None:
    """add(): ten conflicting writes in a row raise (the command is retried) instead of answering
    ok with no watch. A flush that loses its clearing write five times is queued again (the
    watch goes on: its next change is published), and both are surfaced."""
    surfaced: list[str] = []
    eng = WatchEngine(js, kv, {"toy": toy}, SUBJECTS, settings(), surfaced=surfaced.append)
    await eng.start()
    real_save = eng.store.save
    always: list[bool] = [True]

    async def conflicting(record: WatchRecord, rev: int | None) -> Any:
        if always[0]:
            raise Conflict("someone else wrote it")
        return await real_save(record, rev)

    eng.store.save = conflicting  # type: ignore[method-assign]
    with pytest.raises(Conflict):
        await eng.add(spec("never"))
    assert surfaced == ["watch_add_conflicts"]

    always[0] = False
    in_flush: contextvars.ContextVar[bool] = contextvars.ContextVar("in_flush", default=False)
    lost = [0]

    async def flush_conflicting(record: WatchRecord, rev: int | None) -> Any:
        if in_flush.get() and not record.outbox and lost[0] < 5:
            lost[0] += 1
            raise Conflict("someone else wrote it")
        return await real_save(record, rev)

    real_flush = eng._flush

    async def flush(key: str, **kw: Any) -> None:
        in_flush.set(True)
        await real_flush(key, **kw)

    eng.store.save = flush_conflicting  # type: ignore[method-assign]
    eng._flush = flush  # type: ignore[method-assign]
    toy.status["t1"] = "pending"
    await eng.add(spec())
    await until(lambda: _has(js, "pending"))
    await until(lambda: lost[0] == 5)
    toy.status["t1"] = "running"
    await until(lambda: _has(js, "running"))
    assert "flush_conflicts" in surfaced
    await eng.stop()


async def test_terminal_watch_is_done_and_polling_stops(
    engine: WatchEngine, toy: ToyProvider, js: JetStreamContext
) -> None:
    """A terminal state ends the watch: no more reads after it is recorded done."""
    toy.status["t1"] = "done"
    await engine.add(spec())
    await until(lambda: _count(js, 1))
    await until(lambda: engine.stats().active == 0)
    reads = toy.reads
    await asyncio.sleep(0.1)
    assert toy.reads == reads


async def test_silent_states_are_not_events_and_do_not_break_the_chain(
    engine: WatchEngine, toy: ToyProvider, js: JetStreamContext
) -> None:
    """A state the provider marks silent is no event; the next one has previousStatus null."""
    toy.status["t1"] = "idle"
    await engine.add(spec())
    await until(lambda: toy.reads >= 2)
    assert await events(js) == []
    toy.status["t1"] = "running"
    await until(lambda: _count(js, 1))
    ((doc, _),) = await events(js)
    assert doc["data"]["previousStatus"] is None


async def test_event_ids_are_deterministic_and_count_repeats(toy: ToyProvider) -> None:
    """Same transition, same id; a recurrence of the same status+revision gets a new id."""
    obs = Observation("thing", "t1", None, "ready", revision=2)
    assert event_id("toy", obs, 0) == event_id("toy", obs, 0)
    assert event_id("toy", obs, 0) != event_id("toy", obs, 1)
    assert event_id("toy", obs, 0) != event_id("toy", Observation("thing", "t1", None, "ready"), 0)


async def test_a_status_that_recurs_is_published_again_with_a_new_id(
    engine: WatchEngine, toy: ToyProvider, js: JetStreamContext
) -> None:
    """complete -> stale -> complete yields three events with three distinct ids."""
    toy.status["t1"] = "complete"
    await engine.add(spec())
    for n, status in enumerate(("stale", "complete"), start=2):
        await until(lambda n=n: _count(js, n - 1))
        toy.status["t1"] = status
    await until(lambda: _count(js, 3))
    got = await events(js)
    assert [e["data"]["status"] for e, _ in got] == ["complete", "stale", "complete"]
    assert len({e["id"] for e, _ in got}) == 3


async def test_add_is_idempotent_and_rearming_a_done_watch_republishes_nothing(
    engine: WatchEngine, toy: ToyProvider, js: JetStreamContext
) -> None:
    """Adding twice, or re-adding after the watch finished, publishes no duplicate."""
    toy.status["t1"] = "done"
    await engine.add(spec())
    await engine.add(spec())
    await until(lambda: engine.stats().active == 0)
    reads = toy.reads
    await engine.add(spec())
    await until(lambda: toy.reads > reads and engine.stats().active == 0)
    assert await statuses(js) == ["done"]


async def test_removed_watch_is_no_longer_polled(
    engine: WatchEngine, toy: ToyProvider, js: JetStreamContext
) -> None:
    """remove() ends the watch: later changes are not published."""
    toy.status["t1"] = "pending"
    await engine.add(spec())
    await until(lambda: _count(js, 1))
    assert await engine.remove("toy", "thing", "t1")
    assert not await engine.remove("toy", "thing", "t1")
    await until(lambda: engine.stats().active == 0)
    toy.status["t1"] = "running"
    reads = toy.reads
    await asyncio.sleep(0.1)
    assert toy.reads == reads
    assert await statuses(js) == ["pending"]


async def test_finished_records_are_deleted_after_the_retention(
    js: JetStreamContext, kv: KeyValue, toy: ToyProvider
) -> None:
    """A done record with nothing staged is removed from KV once retain_done_seconds passed."""
    eng = WatchEngine(js, kv, {"toy": toy}, SUBJECTS, settings(retain_done_seconds=0.0))
    await eng.start()
    try:
        toy.status["t1"] = "done"
        await eng.add(spec())
        await until(lambda: _count(js, 1))
        await until(lambda: spec().key not in eng.store.entries)
    finally:
        await eng.stop()
    with pytest.raises(KeyNotFoundError):
        await kv.get(spec().key)


async def test_outbox_left_by_a_crash_is_flushed_once_on_start(
    js: JetStreamContext, kv: KeyValue, toy: ToyProvider
) -> None:
    """A record whose event was published but not cleared (crash) is flushed without a duplicate."""
    toy.status["t1"] = "running"
    pending = _pending("t1", "running", staged_at=time.time())
    await kv.create(spec().key, _record(pending).encode())
    await js.publish(
        pending.subject, json.dumps(pending.payload).encode(), headers={"Nats-Msg-Id": pending.id}
    )
    eng = WatchEngine(js, kv, {"toy": toy}, SUBJECTS, settings())
    await eng.start()
    try:
        await until(lambda: _outbox_empty(kv))
        await asyncio.sleep(0.05)
        assert [e["id"] for e, _ in await events(js)] == [pending.id]
    finally:
        await eng.stop()


async def test_pending_event_beyond_dedup_window_is_not_republished_when_already_in_stream(
    js: JetStreamContext, kv: KeyValue, toy: ToyProvider
) -> None:
    """Staged longer ago than the window: found in the stream by id and skipped, not re-sent."""
    toy.status["t1"] = "running"
    old = time.time() - 600
    pending = _pending("t1", "running", staged_at=old)
    await kv.create(spec().key, _record(pending).encode())
    # Published WITHOUT Nats-Msg-Id: JetStream dedup cannot catch a re-publish, only the scan.
    await js.publish(pending.subject, json.dumps(pending.payload).encode())
    eng = WatchEngine(js, kv, {"toy": toy}, SUBJECTS, settings())
    await eng.start()
    try:
        await until(lambda: _outbox_empty(kv))
        assert [e["id"] for e, _ in await events(js)] == [pending.id]
    finally:
        await eng.stop()


async def test_pending_event_beyond_window_missing_from_stream_is_published(
    js: JetStreamContext, kv: KeyValue, toy: ToyProvider
) -> None:
    """The scan does not swallow an event that never made it out."""
    toy.status["t1"] = "running"
    pending = _pending("t1", "running", staged_at=time.time() - 600)
    await kv.create(spec().key, _record(pending).encode())
    eng = WatchEngine(js, kv, {"toy": toy}, SUBJECTS, settings())
    await eng.start()
    try:
        await until(lambda: _outbox_empty(kv))
        assert [e["id"] for e, _ in await events(js)] == [pending.id]
    finally:
        await eng.stop()


async def test_stalled_is_published_once_then_the_watch_recovers(
    engine: WatchEngine, toy: ToyProvider, js: JetStreamContext
) -> None:
    """Unreadable for stall_after probes: exactly one watch.stalled; the next good read goes on."""
    toy.status["t1"] = "pending"
    toy.failing.add("t1")
    await engine.add(spec())
    await until(lambda: _has_type(js, "example.toy.watch.stalled"))
    reads = toy.reads
    await until(lambda: toy.reads >= reads + 2)  # still probing, still no second stall event
    toy.failing.clear()
    toy.status["t1"] = "running"
    await until(lambda: _has(js, "running"))
    got = await events(js)
    stalled = [e for e, _ in got if e["type"] == "example.toy.watch.stalled"]
    assert len(stalled) == 1
    assert stalled[0]["data"]["failures"] >= 3
    assert stalled[0]["data"]["lastError"] == "HTTP 500"
    assert [e["data"]["status"] for e, _ in got if "status" in e["data"]] == ["running"]


async def test_a_resource_answering_404_repeatedly_ends_with_one_watch_gone(
    engine: WatchEngine, toy: ToyProvider, js: JetStreamContext, kv: KeyValue
) -> None:
    """404 on `gone_after` reads spread over `gone_min_seconds`: the watch ends, one watch.gone."""
    await engine.add(spec("ghost"))
    await until(lambda: _record_done(kv, spec("ghost").key))
    await until(lambda: _outbox_empty(kv, spec("ghost").key))
    got = await events(js)
    assert [e["type"] for e, _ in got] == ["example.toy.watch.gone"]
    assert got[0][0]["data"]["notFound"] >= 3
    record = WatchRecord.decode((await kv.get(spec("ghost").key)).value)
    assert record.done_reason == "gone"
    assert record.done_at - record.first_not_found_at >= 0.2


async def test_a_single_404_does_not_end_a_watch_and_the_next_change_is_published(
    js: JetStreamContext, kv: KeyValue, toy: ToyProvider
) -> None:
    """A resource that is briefly invisible (404) and then READY publishes its change."""
    engine = WatchEngine(js, kv, {"toy": toy}, SUBJECTS, settings(gone_min_seconds=60.0))
    await engine.start()
    try:
        await engine.add(spec())
        await until(lambda: _not_found_count(kv, spec().key, 1))
        toy.status["t1"] = "done"
        await until(lambda: _has(js, "done"))
    finally:
        await engine.stop()
    record = WatchRecord.decode((await kv.get(spec().key)).value)
    assert record.done_reason == "terminal" and record.not_found == 0
    assert [e["type"] for e, _ in await events(js)] == ["example.toy.thing.done"]


async def test_two_engines_polling_one_record_commit_each_change_once(
    js: JetStreamContext, kv: KeyValue, toy: ToyProvider
) -> None:
    """Both engines believe they own the watch: the record CAS lets one commit each transition."""
    engines = [
        WatchEngine(js, kv, {"toy": toy}, SUBJECTS, settings(replica_id=r)) for r in ("a", "b")
    ]
    for eng in engines:
        await eng.start()
        eng.leases.owns_key = lambda key, margin=0.0: True  # type: ignore[method-assign]
    try:
        toy.status["t1"] = "pending"
        await engines[0].add(spec())
        for n, status in enumerate(("running", "done"), start=1):
            await until(lambda n=n: _count(js, n))
            toy.status["t1"] = status
        await until(lambda: _record_done(kv, spec().key))
        await until(lambda: _outbox_empty(kv))
    finally:
        for eng in engines:
            await eng.stop()
    got = await events(js)
    assert [e["data"]["previousStatus"] for e, _ in got] == [None, "pending", "running"]
    record = WatchRecord.decode((await kv.get(spec().key)).value)
    assert record.states["thing:t1:status"].seq == 3


async def test_a_replica_that_stops_renewing_is_taken_over_without_loss_or_duplicate(
    js: JetStreamContext, kv: KeyValue, toy: ToyProvider
) -> None:
    """Kill one engine's leases (no release): the other takes its watches over and carries on."""
    a = WatchEngine(js, kv, {"toy": toy}, SUBJECTS, settings(replica_id="a"))
    b = WatchEngine(js, kv, {"toy": toy}, SUBJECTS, settings(replica_id="b"))
    await a.start()
    await b.start()
    try:
        ids = [f"t{i}" for i in range(8)]
        for id in ids:
            toy.status[id] = "pending"
            await a.add(spec(id))
        await until(lambda: _count(js, 8))
        await until(lambda: a.stats().owned > 0 and b.stats().owned > 0)
        await a.stop(release=False)  # as if killed: its leases must expire
        for id in ids:
            toy.status[id] = "running"
        await until(lambda: _count(js, 16))
        assert b.stats().owned == 8
        got = await events(js)
        assert len({e["id"] for e, _ in got}) == 16
        for id in ids:
            mine = [e["data"]["status"] for e, _ in got if e["data"]["id"] == id]
            assert mine == ["pending", "running"]
    finally:
        await b.stop()


# -- helpers ---------------------------------------------------------------------------------------


def _pending(id: str, status: str, *, staged_at: float) -> PendingEvent:
    obs = Observation("thing", id, None, status)
    eid = event_id("toy", obs, 0)
    doc = {
        "specversion": "1.0",
        "id": eid,
        "source": ToyProvider.source,
        "type": f"example.toy.thing.{status}",
        "subject": f"things/{id}",
        "data": {"resource": "thing", "id": id, "status": status, "previousStatus": None},
    }
    return PendingEvent(
        id=eid, subject=f"story.evt.thing.{status}", payload=doc, staged_at=staged_at
    )


def _record(pending: PendingEvent) -> WatchRecord:
    from bridge.watch.model import FacetState

    status = pending.payload["data"]["status"]
    state = FacetState(status=status, token=status, seq=1, occurrences={f"{status}@1": 1})
    return WatchRecord(spec=spec(), states={"thing:t1:status": state}, outbox=[pending])


async def _count(js: JetStreamContext, n: int) -> bool:
    return (await js.stream_info(EVENTS_STREAM)).state.messages >= n


async def _has(js: JetStreamContext, status: str) -> bool:
    return status in await statuses(js)


async def _has_type(js: JetStreamContext, type: str) -> bool:
    return any(e["type"] == type for e, _ in await events(js))


async def _outbox_empty(kv: KeyValue, key: str | None = None) -> bool:
    return not WatchRecord.decode((await kv.get(key or spec().key)).value).outbox


async def _not_found_count(kv: KeyValue, key: str, n: int) -> bool:
    with contextlib.suppress(KeyNotFoundError):
        return WatchRecord.decode((await kv.get(key)).value).not_found >= n
    return False


async def _record_done(kv: KeyValue, key: str) -> bool:
    return WatchRecord.decode((await kv.get(key)).value).done


@pytest.mark.slow
async def test_a_killed_replica_is_taken_over_and_no_change_is_lost_or_doubled(
    js: JetStreamContext, kv: KeyValue, nats_server: Any, tmp_path: Any
) -> None:
    """kill -9 a replica process mid-watch: the survivor takes over, exactly once."""
    import sys

    path = tmp_path / "status.json"
    ids = [f"k{i}" for i in range(6)]
    path.write_text(json.dumps(dict.fromkeys(ids, "pending")))
    code = (
        "import asyncio, sys; from tests.test_watch_engine import replica_main; "
        "asyncio.run(replica_main(sys.argv[1], sys.argv[2], 'victim'))"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, nats_server.url, str(path)
    )
    try:
        survivor = WatchEngine(
            js, kv, {"toy": FileToyProvider(str(path))}, SUBJECTS, settings(replica_id="survivor")
        )
        await survivor.start()
        for id in ids:
            await survivor.add(spec(id))
        await until(lambda: _count(js, 6), limit=30)
        await until(lambda: survivor.stats().owned < 6, limit=30)  # the victim holds some
        proc.kill()
        await proc.wait()
        path.write_text(json.dumps(dict.fromkeys(ids, "done")))
        await until(lambda: _count(js, 12), limit=30)
        await until(lambda: survivor.stats().active == 0, limit=30)
        await survivor.stop()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    got = await events(js)
    assert len(got) == 12
    assert len({e["id"] for e, _ in got}) == 12
    for id in ids:
        assert [e["data"]["status"] for e, _ in got if e["data"]["id"] == id] == ["pending", "done"]
